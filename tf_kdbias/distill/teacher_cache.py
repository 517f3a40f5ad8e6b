"""Teacher logits computed once in inference mode and cached beside the teacher."""

import os

import keras
import numpy as np

from tf_kdbias import io_utils

CACHE_FOLDER = "logit_cache"


def cache_path(teacher_dir: str, split_name: str, model_path: str,
               inputs: np.ndarray, dtype: str) -> str:
    """The cache file for (teacher checkpoint, inputs, dtype).

    The key digests the checkpoint bytes and the input arrays, so a retrained
    teacher or changed data/preprocessing gets a new file instead of stale
    logits.
    """
    key = f"{io_utils.digest_file(model_path)}_{io_utils.digest_arrays(inputs)}_{dtype}"
    return os.path.join(teacher_dir, CACHE_FOLDER, f"{split_name}_{key}.npy")


def teacher_logits(teacher: keras.Model, teacher_dir: str, model_path: str,
                   split_name: str, inputs: np.ndarray, dtype: str = "float32",
                   batch_size: int = 1000) -> np.ndarray:
    """Returns the teacher's logits on `inputs`, from cache when present."""
    if dtype not in ("float16", "float32"):
        raise ValueError(f"Teacher logit cache dtype {dtype!r}: use float16 or float32.")
    path = cache_path(teacher_dir, split_name, model_path, inputs, dtype)
    if os.path.exists(path):
        try:
            logits = np.load(path)
            if len(logits) == len(inputs):
                return logits
        except (OSError, ValueError):
            pass  # Damaged: recompute below.
    print(f"Caching teacher logits for {split_name} ({len(inputs)} examples) at {path}",
          flush=True)
    logits = teacher.predict(inputs, batch_size=batch_size, verbose=0).astype(dtype)
    io_utils.save_npy_atomic(path, logits)
    return logits
