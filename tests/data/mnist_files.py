"""Writable copies of the real MNIST files, for tests that damage them."""

import gzip
import os
import shutil


def copy_of_mnist(data_dir, tmp_path):
    """A data folder under `tmp_path` holding a copy of `data_dir/mnist`."""
    target = tmp_path / "data"
    shutil.copytree(os.path.join(data_dir, "mnist"), target / "mnist")
    return target


def rewrite_gz(path, transform):
    """Replaces a .gz file's bytes by `transform(bytes)`."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(transform(raw))
