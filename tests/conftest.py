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
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # pytest-xdist: the workers' temp folders share a parent; so does the
        # cache (written atomically), so MNIST-C is generated once per session.
        cache = tmp_path_factory.getbasetemp().parent / "cache"
        cache.mkdir(exist_ok=True)
    else:
        cache = tmp_path_factory.mktemp("cache")
    os.environ["TF_KDBIAS_CACHE_DIR"] = str(cache)
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


# The slowest test modules (most of their time in trained runs and script
# processes), slowest first. With pytest-xdist (`-n 2`, which schedules whole
# modules, see .ci/run) they start first, so the workers finish together
# instead of one running a long module alone at the end.
SLOW_MODULES = (
    "tests/training/test_seed_group.py",
    "tests/training/test_jax_path.py",
    "tests/training/test_fused_engine.py",
    "tests/training/test_recipes.py",
    "tests/reproduce/test_killed_during_evaluation.py",
    "tests/analysis/test_report.py",
    "tests/tasks/test_sva_task.py",
    "tests/reproduce/test_reproduce_sweep.py",
    "tests/scripts/test_end_to_end.py",
    "tests/training/test_distribute.py",
    "tests/distill/test_backends.py",
    "tests/scripts/test_bad_inputs.py",
    "tests/training/test_function_matching.py",
    "tests/test_quiet_start.py",
)


def pytest_configure(config):
    """`-n 2` alone schedules whole modules (`--dist loadfile`) in the order
    below, so each module-scoped run is made once; an explicit --dist wins."""
    explicit = any(str(arg).startswith("--dist") for arg in config.invocation_params.args)
    if getattr(config.option, "dist", "no") == "load" and not explicit:
        config.option.dist = "loadfile"
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, slow modules first (a stable sort: each module's
    tests keep their order); a plain run keeps pytest's order."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rank = {path: i for i, path in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
