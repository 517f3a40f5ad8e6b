"""The fit benchmark's presets and command-line overrides (fit_settings)."""

from tf_kdbias.benchmarks import fit_settings


def test_command_line_overrides_keep_the_preset_where_unset():
    quick = fit_settings.quick_settings()
    assert not quick.jit and quick.sva is None
    assert fit_settings.with_overrides(quick) == quick
    changed = fit_settings.with_overrides(quick, jit=True, sva=True, epochs=5,
                                          variants=["ours_cached"])
    assert changed.jit and changed.sva == fit_settings.SvaSettings()
    assert changed.epochs == 5 and changed.variants == ["ours_cached"]
    full = fit_settings.full_settings()
    assert fit_settings.with_overrides(full, sva=True).sva == full.sva  # Full sizes kept.
    assert fit_settings.with_overrides(full, jit=False, sva=False).sva is None
