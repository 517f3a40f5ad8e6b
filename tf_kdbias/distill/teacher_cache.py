"""Teacher logits computed once in inference mode and cached beside the teacher."""

import os
from typing import Dict, Optional, Union

import keras
import numpy as np

from tf_kdbias import io_utils
from tf_kdbias.batch_format import TOP_K_INDICES, TOP_K_VALUES
from tf_kdbias.distill.teacher_run import TeacherRun
from tf_kdbias.errors import UserError

CachedLogits = Union[np.ndarray, Dict[str, np.ndarray]]


class CacheFormatError(UserError, ValueError):
    """A cache dtype or top-k the cache cannot store: a bad argument (ValueError)
    that the scripts report as a user error."""


def check_format(dtype: str, top_k: Optional[int]) -> None:
    """Raises CacheFormatError for a cache dtype or top-k the cache cannot store."""
    if dtype not in ("float16", "float32"):
        raise CacheFormatError(f"run_training.teacher_cache_dtype={dtype!r}: use 'float16' or "
                               "'float32'.")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise CacheFormatError(f"run_training.teacher_cache_top_k={top_k!r}: use None (keep "
                               "every logit) or a whole number >= 1.")


def cache_key(checkpoint_digest: str, inputs: np.ndarray, dtype: str,
              top_k: Optional[int] = None) -> str:
    """Identifies the logits: teacher checkpoint bytes, input arrays, dtype, top-k.

    A retrained teacher or changed data/preprocessing gets a new key, so
    stale logits are never used.
    """
    key = f"{checkpoint_digest}_{io_utils.digest_arrays(inputs)}_{dtype}"
    return key if top_k is None else f"{key}_top{top_k}"


def cache_path(teacher: TeacherRun, split_name: str, key: str) -> str:
    return os.path.join(teacher.cache_dir, f"{split_name}_{key}.npz")


def top_k_logits(logits: np.ndarray, k: int) -> Dict[str, np.ndarray]:
    """The k largest logits of each position and their indices, largest first."""
    k = min(k, logits.shape[-1])
    indices = np.argpartition(-logits, k - 1, axis=-1)[..., :k]
    values = np.take_along_axis(logits, indices, axis=-1)
    order = np.argsort(-values, axis=-1, kind="stable")
    return {TOP_K_VALUES: np.take_along_axis(values, order, axis=-1),
            TOP_K_INDICES: np.take_along_axis(indices, order, axis=-1).astype(np.int32)}


def _predict(teacher: keras.Model, inputs: np.ndarray, dtype: str, top_k: Optional[int],
             batch_size: int) -> CachedLogits:
    """The teacher's logits; for top-k, chunk by chunk so they never all exist at once."""
    if top_k is None:
        return teacher.predict(inputs, batch_size=batch_size, verbose=0).astype(dtype)
    parts = []
    for start in range(0, len(inputs), batch_size):
        # predict (not predict_on_batch): it splits batches across the
        # replicas of a tf.distribute strategy and gathers them back in order.
        logits = np.asarray(teacher.predict(inputs[start:start + batch_size],
                                            batch_size=batch_size, verbose=0))
        parts.append(top_k_logits(logits, top_k))
    return {TOP_K_VALUES: np.concatenate([p[TOP_K_VALUES] for p in parts]).astype(dtype),
            TOP_K_INDICES: np.concatenate([p[TOP_K_INDICES] for p in parts])}


def teacher_logits(teacher: TeacherRun, split_name: str, inputs: np.ndarray,
                   dtype: str = "float32",
                   batch_size: int = 1000, top_k: Optional[int] = None) -> CachedLogits:
    """Returns the teacher's logits on `inputs`, from cache when present.

    With `top_k`, only the k largest logits per example (per token for
    language models) and their indices are kept: a dict {"values",
    "indices"}, which the Distiller's KD reads directly. For a vocabulary of
    V tokens that stores 2k instead of V numbers per token.

    The cache file stores its key and a digest of the logits; a file that
    does not match them (another teacher or data, a damaged or half-copied
    file) is recomputed, never trusted.
    """
    check_format(dtype, top_k)
    key = cache_key(teacher.digest, inputs, dtype, top_k)
    path = cache_path(teacher, split_name, key)
    names = ["logits"] if top_k is None else [TOP_K_VALUES, TOP_K_INDICES]
    cached = io_utils.load_cache(path, key, names)
    if cached is not None and all(len(cached[n]) == len(inputs) for n in names):
        return cached["logits"] if top_k is None else {n: cached[n] for n in names}
    what = "teacher logits" if top_k is None else f"the teacher's top-{top_k} logits"
    print(f"Caching {what} for {split_name} ({len(inputs)} examples) at {path}", flush=True)
    logits = _predict(teacher.model, inputs, dtype, top_k, batch_size)
    if top_k is None:
        io_utils.save_cache_atomic(path, key, logits=logits)
    else:
        io_utils.save_cache_atomic(path, key, **logits)
    return logits
