"""The engine benchmark's setups and engine choices (engine_setups)."""

import pytest

from tf_kdbias.benchmarks import engine_setups
from tf_kdbias.errors import UserError


def test_setups_and_engines_are_named():
    assert engine_setups.parse_setup("cnn_to_mlp") == ("mlp", "cnn")
    assert engine_setups.parse_setup("mlp") == ("mlp", None)
    with pytest.raises(UserError, match="Unknown setup 'lstm'"):
        engine_setups.parse_setup("lstm")
    assert engine_setups.engines_for("both") == ["standard", "fused"]
    with pytest.raises(UserError, match="--engine='fast'"):
        engine_setups.engines_for("fast")
