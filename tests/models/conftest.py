"""Model tests build with the builders' own defaults: no gin binding left by an earlier test."""

import gin
import pytest


@pytest.fixture(autouse=True)
def no_gin_bindings():
    gin.clear_config()
    yield
