"""How the fit benchmark times a row (fit_timing)."""

import pytest

from tf_kdbias.benchmarks import fit_timing
from tf_kdbias.errors import UserError


def test_median_leaves_out_the_first_epoch():
    # The slow first epoch (tracing) would be the median if it counted.
    assert fit_timing.median_epoch_time([10.0, 1.0, 3.0, 2.0]) == 2.0
    assert fit_timing.median_epoch_time([9.0, 1.0, 2.0]) == 1.5
    with pytest.raises(UserError, match="at least 2"):
        fit_timing.median_epoch_time([4.0])


def test_robust_epoch_time_ignores_a_burst_and_the_first_epoch():
    steps = [[9.0, 9.0, 9.0], [1.0, 1.2, 30.0], [1.1, 0.9, 1.0]]  # Tracing; a burst.
    assert fit_timing.robust_epoch_time(steps) == pytest.approx(1.05 * 3)
    with pytest.raises(UserError, match="at least 2"):
        fit_timing.robust_epoch_time([[1.0]])
