"""MNIST from local IDX files (offline) or from TFDS (download).

Validation data is always carved out of the training set with a seed; the test
set is never used for model selection.
"""

import dataclasses
import gzip
import hashlib
import os
from typing import Optional

import numpy as np

from tf_kdbias.data.paths import resolve_data_dir
from tf_kdbias.errors import UserError

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

# (file stem, expected count, md5 of the decompressed IDX bytes). The digests
# are those of the original LeCun files; the .gz wrappers may differ.
_IDX_FILES = {
    "train": (("train-images-idx3-ubyte", 60000, "6bbc9ace898e44ae57da46a324031adb"),
              ("train-labels-idx1-ubyte", 60000, "a25bea736e30d166cdddb491f175f624")),
    "test": (("t10k-images-idx3-ubyte", 10000, "2646ac647ad5339dbf082846283269ea"),
             ("t10k-labels-idx1-ubyte", 10000, "27ae3e4e09519cfbb04c329615203637")),
}


@dataclasses.dataclass(frozen=True)
class ImageSplit:
    """Images (uint8, [N, 28, 28, 1]) and integer labels ([N])."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices: np.ndarray) -> "ImageSplit":
        return ImageSplit(self.images[indices], self.labels[indices])


def _read_idx_file(path: str, magic: int, count: int, digest: str,
                   verify_digest: bool) -> np.ndarray:
    if not os.path.exists(path):
        raise UserError(
            f"MNIST file {path!r} is missing. Put the four MNIST IDX files "
            "(train/t10k images/labels, .gz) in <data_dir>/mnist/, or drop "
            "--data_dir to download MNIST from TFDS.")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise UserError(f"MNIST file {path!r} is not a readable gzip file "
                        f"({e}); replace it with a fresh copy.") from e
    header_words = 4 if magic == IMAGE_MAGIC else 2
    header = np.frombuffer(raw[:4 * header_words], dtype=">u4")
    if len(header) < header_words or header[0] != magic:
        found = int(header[0]) if len(header) else None
        raise UserError(
            f"MNIST file {path!r} has magic number {found}, expected {magic}: "
            "it is not an MNIST IDX file of this kind; replace it.")
    if header[1] != count:
        raise UserError(f"MNIST file {path!r} declares {header[1]} items, "
                        f"expected {count}; replace it with the original.")
    shape = (count,) + ((28, 28) if magic == IMAGE_MAGIC else ())
    if magic == IMAGE_MAGIC and tuple(header[2:]) != (28, 28):
        raise UserError(f"MNIST file {path!r} holds {tuple(header[2:])} "
                        "images, expected 28x28; replace it.")
    body = raw[4 * header_words:]
    if len(body) != int(np.prod(shape)):
        raise UserError(
            f"MNIST file {path!r} is truncated or padded: {len(body)} bytes "
            f"of data, expected {int(np.prod(shape))}; replace it.")
    if verify_digest and hashlib.md5(raw).hexdigest() != digest:
        raise UserError(
            f"MNIST file {path!r} does not match the original MNIST bytes "
            f"(md5 of the decompressed file should be {digest}); replace it.")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def load_mnist_idx(data_dir: str, split: str,
                   verify_digest: bool = True) -> ImageSplit:
    """Reads `split` ('train' or 'test') from `<data_dir>/mnist/*.gz`."""
    if split not in _IDX_FILES:
        raise UserError(f"Unknown MNIST split {split!r}; use 'train' or 'test'.")
    (image_stem, count, image_md5), (label_stem, _, label_md5) = _IDX_FILES[split]
    folder = os.path.join(data_dir, "mnist")
    images = _read_idx_file(os.path.join(folder, image_stem + ".gz"),
                            IMAGE_MAGIC, count, image_md5, verify_digest)
    labels = _read_idx_file(os.path.join(folder, label_stem + ".gz"),
                            LABEL_MAGIC, count, label_md5, verify_digest)
    if labels.max() >= NUM_CLASSES:
        raise UserError(f"MNIST labels in {folder!r} exceed 9; replace the file.")
    return ImageSplit(images[..., None].copy(), labels.astype(np.int64))


def load_mnist_tfds(split: str) -> ImageSplit:
    """Downloads (once) and reads the official TFDS `mnist` split."""
    from tf_kdbias.tf_support import require_tensorflow

    require_tensorflow("Reading MNIST through TFDS (no --data_dir / $TF_KDBIAS_DATA_DIR given)")
    import tensorflow_datasets as tfds  # Imported lazily: slow, needs TF.

    images, labels = tfds.as_numpy(
        tfds.load("mnist", split=split, batch_size=-1, as_supervised=True))
    return ImageSplit(images.astype(np.uint8), labels.astype(np.int64))


@dataclasses.dataclass(frozen=True)
class MnistSplits:
    train: ImageSplit
    validation: ImageSplit
    test: ImageSplit


def load_mnist(data_dir: Optional[str] = None, validation_size: int = 5000,
               seed: int = 0, train_size: Optional[int] = None) -> MnistSplits:
    """MNIST with a seeded validation split carved from the training set.

    Args:
      data_dir: folder with `mnist/*.gz`; None (and no $TF_KDBIAS_DATA_DIR)
        uses TFDS.
      validation_size: examples moved from train to validation.
      seed: seeds the train/validation partition.
      train_size: optionally keep only this many training examples (after
        carving validation), e.g. for quick runs.
    """
    data_dir = resolve_data_dir(data_dir)
    if data_dir is None:
        full_train, test = load_mnist_tfds("train"), load_mnist_tfds("test")
    else:
        full_train = load_mnist_idx(data_dir, "train")
        test = load_mnist_idx(data_dir, "test")
    if not 0 <= validation_size < len(full_train):
        raise UserError(f"validation_size={validation_size} must be in "
                        f"[0, {len(full_train)}).")
    order = np.random.default_rng(seed).permutation(len(full_train))
    validation = full_train.take(np.sort(order[:validation_size]))
    train_indices = np.sort(order[validation_size:])
    if train_size is not None:
        train_indices = np.sort(order[validation_size:validation_size + train_size])
    return MnistSplits(full_train.take(train_indices), validation, test)
