"""Atomic file writes and content digests shared by runs and caches."""

import hashlib
import json
import os
import tempfile
import zipfile
from typing import Any, Dict, Optional, Sequence

import numpy as np


def _atomic_write(path: str, write_fn, mode: str) -> None:
    """Writes via a temp file in the same folder, then renames: readers see
    either the old file or the complete new one, never a partial file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; results are for sharing.
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json_atomic(path: str, data: Any) -> None:
    _atomic_write(path, lambda f: json.dump(data, f, indent=2, sort_keys=False,
                                            allow_nan=False), "w")


def write_text_atomic(path: str, text: str) -> None:
    _atomic_write(path, lambda f: f.write(text), "w")


def write_bytes_atomic(path: str, data: bytes) -> None:
    _atomic_write(path, lambda f: f.write(data), "wb")


def save_arrays_atomic(path: str, **arrays: np.ndarray) -> None:
    """Saves arrays as an uncompressed .npz atomically."""
    _atomic_write(path, lambda f: np.savez(f, **arrays), "wb")


# Entries of a keyed cache file besides its arrays.
_CACHE_KEY = "__cache_key__"
_CACHE_DIGEST = "__content_digest__"


def save_cache_atomic(path: str, key: str, **arrays: np.ndarray) -> None:
    """Saves arrays with the key they were computed for and their digest."""
    save_arrays_atomic(path, **arrays, **{_CACHE_KEY: np.array(key),
                                          _CACHE_DIGEST: np.array(digest_arrays(*arrays.values()))})


def load_cache(path: str, key: str, names: Sequence[str]) -> Optional[Dict[str, np.ndarray]]:
    """The arrays `names` of a cache file, or None if they cannot be trusted.

    A missing, unreadable or truncated file, one made for another key, and
    one whose contents no longer match their digest all give None: the
    caller rebuilds the cache instead of using it.
    """
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored[_CACHE_KEY]) != key:
                return None
            arrays = {name: stored[name] for name in names}
            digest = str(stored[_CACHE_DIGEST])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # A truncated .npz is not even a zip file.
    return arrays if digest_arrays(*arrays.values()) == digest else None


def save_npy_atomic(path: str, array: np.ndarray) -> None:
    _atomic_write(path, lambda f: np.save(f, array), "wb")


def read_text(path: str) -> Optional[str]:
    """The file's text, or None if there is no such file."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read()


def read_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def digest_arrays(*arrays: np.ndarray) -> str:
    """A short digest of array contents, shapes and dtypes (for cache keys)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def digest_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def cache_dir() -> str:
    """Where generated data lives: $TF_KDBIAS_CACHE_DIR or ~/.cache/tf_kdbias.

    Not the data dir, which may be read-only (it is in CI).
    """
    path = os.environ.get("TF_KDBIAS_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "tf_kdbias")
    os.makedirs(path, exist_ok=True)
    return path
