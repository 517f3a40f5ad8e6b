import os

import numpy as np
import pytest

from tests.data.mnist_files import copy_of_mnist, rewrite_gz
from tf_kdbias.data.mnist import load_mnist, load_mnist_idx
from tf_kdbias.errors import UserError


def test_real_mnist_shapes_and_labels(data_dir):
    train = load_mnist_idx(data_dir, "train")
    test = load_mnist_idx(data_dir, "test")
    assert train.images.shape == (60000, 28, 28, 1) and train.images.dtype == np.uint8
    assert test.images.shape == (10000, 28, 28, 1)
    # Known facts of MNIST: label counts of the test set.
    assert np.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert test.labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_validation_is_carved_from_train_with_a_seed(data_dir):
    a = load_mnist(data_dir, validation_size=1000, seed=3)
    b = load_mnist(data_dir, validation_size=1000, seed=3)
    c = load_mnist(data_dir, validation_size=1000, seed=4)
    assert len(a.train) == 59000 and len(a.validation) == 1000 and len(a.test) == 10000
    np.testing.assert_array_equal(a.validation.images, b.validation.images)
    assert not np.array_equal(a.validation.images, c.validation.images)
    # Disjoint from train, and not the test set.
    train_keys = {img.tobytes() for img in a.train.images}
    overlap = sum(img.tobytes() in train_keys for img in a.validation.images)
    assert overlap <= 5  # MNIST has a handful of exact duplicate images.
    test_keys = {img.tobytes() for img in a.test.images[:2000]}
    assert sum(img.tobytes() in test_keys for img in a.validation.images) == 0


@pytest.mark.parametrize("name,transform,message", [
    ("t10k-labels-idx1-ubyte.gz", lambda raw: b"\x00\x00\x08\x03" + raw[4:], "magic number"),
    ("t10k-labels-idx1-ubyte.gz", lambda raw: raw[:-10], "truncated"),
    ("t10k-images-idx3-ubyte.gz", lambda raw: raw[:8] + b"\x00\x00\x00\x1c\x00\x00\x00\x1b" + raw[16:],
     "28x28"),
    ("t10k-labels-idx1-ubyte.gz", lambda raw: raw[:-1] + bytes([(raw[-1] + 1) % 10]), "md5"),
])
def test_broken_idx_files_are_named(data_dir, tmp_path, name, transform, message):
    root = copy_of_mnist(data_dir, tmp_path)
    rewrite_gz(root / "mnist" / name, transform)
    with pytest.raises(UserError, match=message) as error:
        load_mnist_idx(str(root), "test")
    assert name in str(error.value)


def test_missing_file_and_missing_dir_are_named(data_dir, tmp_path):
    root = copy_of_mnist(data_dir, tmp_path)
    os.remove(root / "mnist" / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte.gz.*missing"):
        load_mnist_idx(str(root), "test")
    with pytest.raises(UserError, match="does not exist"):
        load_mnist(str(tmp_path / "nowhere"))


def test_validation_size_zero_trains_on_all_60k_images(data_dir):
    """The paper's runs: every training image, no validation split."""
    from tf_kdbias.data.mnist import load_mnist

    splits = load_mnist(data_dir, validation_size=0, seed=3)
    assert len(splits.train.labels) == 60000 and len(splits.validation.labels) == 0
    assert np.bincount(splits.train.labels, minlength=10).sum() == 60000
