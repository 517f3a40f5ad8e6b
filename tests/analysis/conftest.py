"""A tiny trained workdir shared by the analysis tests (built once, ~10 s)."""

from pathlib import Path

import pytest

from tests.analysis import tiny_workdir


@pytest.fixture(scope="session")
def tiny_workdir_path(tmp_path_factory, data_dir) -> Path:
    return tiny_workdir.make_tiny_workdir(tmp_path_factory.mktemp("workdir"), data_dir)
