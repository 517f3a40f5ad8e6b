"""RectifiedAdam against Liu et al.'s update rule written out in numpy."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tests.optimizers import radam_steps
from tf_kdbias.optimizers.radam import RectifiedAdam

THRESHOLDS = (5.0, 4.0)


def test_trajectory_covers_both_regimes():
    """Early steps use the un-adapted update, later ones the rectified one."""
    rhos = [radam_steps.rho(t) for t in range(1, radam_steps.STEPS + 1)]
    for threshold in THRESHOLDS:
        assert sum(r < threshold for r in rhos) >= 3
        assert sum(r >= threshold for r in rhos) >= 20


def test_thresholds_give_different_trajectories():
    """The threshold matters at the switching step, so testing both means something."""
    four, five = (radam_steps.reference_trajectory(t) for t in (4.0, 5.0))
    assert not np.allclose(four, five, rtol=1e-6)


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_tensorflow_backend_matches_numpy(threshold):
    ours = radam_steps.keras_trajectory(threshold)
    np.testing.assert_allclose(ours, radam_steps.reference_trajectory(threshold), rtol=1e-6,
                               atol=1e-9)


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_jax_backend_matches_numpy(threshold, tmp_path):
    out = str(tmp_path / "jax.npy")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join([REPO_ROOT, env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "tests", "optimizers", "radam_steps.py"),
         str(threshold), out], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(np.load(out), radam_steps.reference_trajectory(threshold),
                               rtol=1e-6, atol=1e-9)


def test_round_trips_through_get_config():
    optimizer = RectifiedAdam(1e-4, epsilon=1e-8, rectify_threshold=4.0)
    clone = RectifiedAdam.from_config(optimizer.get_config())
    assert (clone.epsilon, clone.rectify_threshold) == (1e-8, 4.0)
    assert keras.optimizers.get({"class_name": "tf_kdbias>RectifiedAdam",
                                 "config": optimizer.get_config()}).epsilon == 1e-8
