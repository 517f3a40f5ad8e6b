"""Shared fixtures: the real data folder and small slices of real MNIST."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def data_dir():
    """The shared data folder ($TF_KDBIAS_DATA_DIR or ../shared/data); CI always has it."""
    path = os.environ.get("TF_KDBIAS_DATA_DIR") or os.path.join(REPO_ROOT, "..", "shared", "data")
    path = os.path.abspath(path)
    assert os.path.isdir(os.path.join(path, "mnist")), (
        f"No MNIST under {path}; set TF_KDBIAS_DATA_DIR to the shared data folder.")
    return path


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory):
    """Generated data (MNIST-C) goes to a per-session cache, not the user's."""
    previous = os.environ.get("TF_KDBIAS_CACHE_DIR")
    os.environ["TF_KDBIAS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("TF_KDBIAS_CACHE_DIR", None)
    else:
        os.environ["TF_KDBIAS_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def mnist_test(data_dir):
    from tf_kdbias.data.mnist import load_mnist_idx
    return load_mnist_idx(data_dir, "test")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, data_dir):
    """(run_dir, metrics) of one uninterrupted tiny MLP run, made in-process."""
    from tests.tiny_runs import run_in_process

    run_dir = tmp_path_factory.mktemp("tiny") / "uninterrupted"
    return run_dir, run_in_process(run_dir, data_dir)
