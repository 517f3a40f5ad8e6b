import numpy as np
import pytest

from tf_kdbias.models.channel_maxout import ChannelMaxout


def test_maxout_matches_numpy_groups():
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 12)).astype(np.float32)
    got = np.asarray(ChannelMaxout(num_units=4)(x))
    expected = x.reshape(2, 3, 3, 4, 3).max(axis=-1)
    np.testing.assert_array_equal(got, expected)


def test_maxout_with_as_many_units_as_channels_is_identity():
    x = np.random.default_rng(1).normal(size=(5, 8)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(ChannelMaxout(num_units=8)(x)), x)


def test_maxout_rejects_indivisible_channels():
    with pytest.raises(ValueError, match="divisible by 3"):
        ChannelMaxout(num_units=3)(np.zeros((1, 4), np.float32))


def test_maxout_config_round_trip():
    layer = ChannelMaxout(num_units=2, name="m")
    clone = ChannelMaxout.from_config(layer.get_config())
    assert clone.num_units == 2 and clone.name == "m"
