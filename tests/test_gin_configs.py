"""Every shipped gin file parses, and source files compose as documented."""

import glob
import os

import gin
import pytest

from tf_kdbias.data.sva.sources import GrammarSource
from tf_kdbias.gin_utils import REPO_ROOT, parse_gin

GIN_FILES = sorted(os.path.relpath(p, REPO_ROOT) for p in
                   glob.glob(os.path.join(REPO_ROOT, "gin_configs", "**", "*.gin"), recursive=True))


@pytest.fixture(autouse=True)
def clean_gin():
    yield
    gin.clear_config()


@pytest.mark.parametrize("path", GIN_FILES)
def test_every_gin_config_parses(path):
    parse_gin([path], [])  # Raises on an unknown name, a bad include or a missing macro.


def test_fronted_source_fronts_both_splits_and_keeps_the_deeper_test_grammar():
    parse_gin(["gin_configs/sva/quick_classification.gin",
               "gin_configs/sva/source_grammar_fronted.gin"], [])
    # The experiment passes this file to every run, after the model file.
    assert gin.query_parameter("%SOURCE_GIN") == "gin_configs/sva/source_grammar_fronted.gin"
    source = GrammarSource()
    assert tuple(source.grammar.fronted_distribution) == (0.5, 0.3, 0.2)
    assert tuple(source.test_grammar.fronted_distribution) == (0.5, 0.3, 0.2)
    # Test split still from source_grammar.gin's deeper, all-attractor grammar.
    assert tuple(source.test_grammar.intervening_distribution) == (0.2,) * 5
    assert source.test_grammar.all_attractors_probability == 1.0
    assert tuple(source.grammar.intervening_distribution) == (0.6, 0.25, 0.15)
