"""A tiny trained workdir shared by the analysis tests (built once, ~10 s)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiny_workdir  # noqa: E402


@pytest.fixture(scope="session")
def tiny_workdir_path(tmp_path_factory, data_dir) -> Path:
    return tiny_workdir.make_tiny_workdir(tmp_path_factory.mktemp("workdir"), data_dir)
