"""Fixtures shared by the run-level tests."""

import pytest

from tests.experiments.tiny_runs import run_in_process


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, data_dir):
    """(run_dir, metrics) of one uninterrupted tiny MLP run, made in-process."""
    run_dir = tmp_path_factory.mktemp("tiny") / "uninterrupted"
    return run_dir, run_in_process(run_dir, data_dir)
