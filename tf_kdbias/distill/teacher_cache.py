"""Teacher logits computed once in inference mode and cached beside the teacher."""

import os

import keras
import numpy as np

from tf_kdbias import io_utils

CACHE_FOLDER = "logit_cache"


def cache_key(model_path: str, inputs: np.ndarray, dtype: str) -> str:
    """Identifies the logits: teacher checkpoint bytes, input arrays, dtype.

    A retrained teacher or changed data/preprocessing gets a new key, so
    stale logits are never used.
    """
    return f"{io_utils.digest_file(model_path)}_{io_utils.digest_arrays(inputs)}_{dtype}"


def cache_path(teacher_dir: str, split_name: str, key: str) -> str:
    return os.path.join(teacher_dir, CACHE_FOLDER, f"{split_name}_{key}.npz")


def teacher_logits(teacher: keras.Model, teacher_dir: str, model_path: str,
                   split_name: str, inputs: np.ndarray, dtype: str = "float32",
                   batch_size: int = 1000) -> np.ndarray:
    """Returns the teacher's logits on `inputs`, from cache when present.

    The cache file stores its key and a digest of the logits; a file that
    does not match them (another teacher or data, a damaged or half-copied
    file) is recomputed, never trusted.
    """
    if dtype not in ("float16", "float32"):
        raise ValueError(f"Teacher logit cache dtype {dtype!r}: use float16 or float32.")
    key = cache_key(model_path, inputs, dtype)
    path = cache_path(teacher_dir, split_name, key)
    cached = io_utils.load_cache(path, key, ["logits"])
    if cached is not None and len(cached["logits"]) == len(inputs):
        return cached["logits"]
    print(f"Caching teacher logits for {split_name} ({len(inputs)} examples) at {path}",
          flush=True)
    logits = teacher.predict(inputs, batch_size=batch_size, verbose=0).astype(dtype)
    io_utils.save_cache_atomic(path, key, logits=logits)
    return logits
