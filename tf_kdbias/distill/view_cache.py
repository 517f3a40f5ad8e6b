"""Teacher logits on V augmented views per training example, cached beside the teacher.

Views are a pure function of (view seed, example index, view index) (see
`tf_kdbias.data.views`), so only the teacher's logits are stored, as float16
[N, V, classes] (V = 32 on the 55 000 MNIST training images: 35 MB); the
images are regenerated when the student trains on them. The cache key covers
everything the logits depend on: the teacher checkpoint's bytes, the
training images, the view settings (augmentations, their parameters, the
view seed, the view recipe's version) and V. A file made for another key, or
damaged, is recomputed, never trusted.
"""

import hashlib
import json
import os

import keras
import numpy as np

from tf_kdbias import io_utils
from tf_kdbias.data import views
from tf_kdbias.distill.teacher_run import TeacherRun
from tf_kdbias.errors import UserError

DTYPE = "float16"
VIEW_CHUNK = 10000  # Views made at once when caching.
LOGITS = "logits"


def cache_key(checkpoint_digest: str, images: np.ndarray, spec: views.ViewSpec,
              num_views: int) -> str:
    """Teacher checkpoint, training images, view settings and V, as one string."""
    settings = hashlib.sha256(json.dumps(spec.describe(), sort_keys=True).encode()).hexdigest()
    return (f"{checkpoint_digest}_{io_utils.digest_arrays(images)}_"
            f"views{settings[:12]}_V{num_views}_{DTYPE}")


def cache_path(teacher: TeacherRun, split_name: str, key: str) -> str:
    return os.path.join(teacher.cache_dir, f"{split_name}_{key}.npz")


def compute_view_logits(teacher: keras.Model, images: np.ndarray, spec: views.ViewSpec,
                        num_views: int, batch_size: int = 1000) -> np.ndarray:
    """The teacher's inference-mode logits on views 0..num_views-1 of every image.

    Returns:
      float16 [N, num_views, classes].
    """
    columns = []
    for view_index in range(num_views):
        # Views made in chunks (mixing uses float64 temporaries), predicted in one call.
        batch = np.concatenate([
            views.make_views(images, spec, np.arange(start, min(start + VIEW_CHUNK, len(images))),
                             view_index)
            for start in range(0, len(images), VIEW_CHUNK)])
        logits = teacher.predict(batch, batch_size=batch_size, verbose=0)
        columns.append(np.asarray(logits, np.float32).astype(DTYPE))
    return np.stack(columns, axis=1)


def view_logits(teacher: TeacherRun, split_name: str,
                images: np.ndarray, spec: views.ViewSpec, num_views: int,
                batch_size: int = 1000) -> np.ndarray:
    """float16 [N, V, classes] teacher logits on the views, from cache when present.

    Args:
      teacher: the teacher run (its model runs in inference mode; its
        checkpoint digest keys the cache, which goes in its logit_cache/).
      split_name: e.g. 'train'.
      images: uint8 [N, 28, 28, 1], the whole training split.
      spec: how views are made.
      num_views: V.
    """
    if not isinstance(num_views, int) or num_views < 1:
        raise UserError(f"FunctionMatching.cache_views={num_views!r}: use a whole number "
                        ">= 1 of cached views per example (32 on MNIST is ~35 MB), or None "
                        "for a live teacher.")
    key = cache_key(teacher.digest, images, spec, num_views)
    path = cache_path(teacher, split_name, key)
    cached = io_utils.load_cache(path, key, [LOGITS])
    if cached is not None and cached[LOGITS].shape[:2] == (len(images), num_views):
        return cached[LOGITS]
    print(f"Caching teacher logits on {num_views} views of each of {len(images)} "
          f"{split_name} examples at {path}", flush=True)
    logits = compute_view_logits(teacher.model, images, spec, num_views, batch_size)
    io_utils.save_cache_atomic(path, key, **{LOGITS: logits})
    return logits
