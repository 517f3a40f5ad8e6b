"""Tests of the MNIST-C corruptions on real MNIST test images.

The images are read from `$TF_KDBIAS_DATA_DIR` (default `../shared/data`,
taken relative to the repository root when relative) with a tiny IDX reader,
so these tests do not depend on the package's own MNIST loader. The data is
always present in CI: a missing file is a failure, not a skip.
"""

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from tf_kdbias.data import mnist_c_reference as R
from tf_kdbias.data.corruptions import common, geometric, noise_blur, overlays, registry

REPO_ROOT = Path(__file__).resolve().parents[2]
NUM_IMAGES = 32
NUM_STAT_IMAGES = 96  # For distribution comparisons with the reference.

DETERMINISTIC = ("scale", "brightness", "stripe", "canny_edges", "identity")
RANDOM = tuple(name for name in registry.CORRUPTION_NAMES if name not in DETERMINISTIC)


def read_idx_images(path: Path, count: int) -> np.ndarray:
    """First `count` images of a gzip IDX3 file, uint8 [count, 28, 28, 1]."""
    with gzip.open(path, "rb") as f:
        magic, total, rows, cols = np.frombuffer(f.read(16), ">u4")
        assert (magic, rows, cols) == (2051, 28, 28), f"{path} is not MNIST images"
        assert total >= count
        pixels = np.frombuffer(f.read(count * 28 * 28), np.uint8)
    return pixels.reshape(count, 28, 28, 1)


@pytest.fixture(scope="module")
def stat_images() -> np.ndarray:
    data_dir = Path(os.environ.get("TF_KDBIAS_DATA_DIR", "../shared/data"))
    if not data_dir.is_absolute():
        data_dir = REPO_ROOT / data_dir
    path = data_dir / "mnist" / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        pytest.fail(f"MNIST test images not found at {path}; set "
                    "TF_KDBIAS_DATA_DIR to the folder holding mnist/.")
    return read_idx_images(path, NUM_STAT_IMAGES)


@pytest.fixture(scope="module")
def images(stat_images) -> np.ndarray:
    return stat_images[:NUM_IMAGES]


def mean_abs_change(corrupted: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Per image mean |corrupted - clean| in grey levels."""
    diff = corrupted.astype(np.float64) - clean.astype(np.float64)
    return np.abs(diff).reshape(len(clean), -1).mean(1)


def mass_moments(image: np.ndarray):
    """(centre of mass (row, col), total spread in px, mass) of a grey image."""
    grey = image.astype(np.float64)
    rows, cols = np.indices(grey.shape)
    mass = grey.sum()
    centre = np.array([(grey * rows).sum(), (grey * cols).sum()]) / mass
    spread = np.sqrt((grey * ((rows - centre[0]) ** 2
                              + (cols - centre[1]) ** 2)).sum() / mass)
    return centre, spread, mass


def shifted_with_zero_fill(image: np.ndarray, down: int, right: int) -> np.ndarray:
    out = np.roll(image, (down, right), axis=(0, 1))
    if down > 0:
        out[:down] = 0
    elif down < 0:
        out[down:] = 0
    if right > 0:
        out[:, :right] = 0
    elif right < 0:
        out[:, right:] = 0
    return out


# ------------------------------------------------------------------ names ---

def test_names_and_release_severities():
    assert registry.CORRUPTION_NAMES == (
        "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear",
        "scale", "rotate", "brightness", "translate", "stripe", "fog",
        "spatter", "dotted_line", "zigzag", "canny_edges", "identity")
    assert common.RELEASE_SEVERITY == {
        "shot_noise": 5, "impulse_noise": 4, "glass_blur": 1,
        "motion_blur": 1, "shear": 2, "scale": 3, "rotate": 2,
        "brightness": 5, "translate": 3, "stripe": None, "fog": 5,
        "spatter": 4, "dotted_line": None, "zigzag": None,
        "canny_edges": None, "identity": None}
    # The two corruptions the paper uses.
    assert geometric.SCALE_FACTORS[common.RELEASE_SEVERITY["scale"] - 1] == 0.7
    assert geometric.TRANSLATE_PIXELS[common.RELEASE_SEVERITY["translate"] - 1] == 3
    for name, release in common.RELEASE_SEVERITY.items():
        assert R.TABLES[name][0] == release, name


def test_parameter_tables_match_the_reference_transcription():
    """Both tables were transcribed separately from the release; a typo in
    either shows here even where it is too small for the statistics tests
    (fog's thickness, say)."""
    ours = {
        "shot_noise": noise_blur.SHOT_NOISE_PHOTONS,
        "impulse_noise": noise_blur.IMPULSE_NOISE_AMOUNTS,
        "glass_blur": noise_blur.GLASS_BLUR_PARAMS,
        "motion_blur": noise_blur.MOTION_BLUR_PARAMS,
        "shear": geometric.SHEAR_ANGLES,
        "scale": tuple(1 / f for f in geometric.SCALE_FACTORS),  # Reference: grid stretch.
        "rotate": geometric.ROTATE_ANGLES,
        "brightness": noise_blur.BRIGHTNESS_OFFSETS,
        "translate": geometric.TRANSLATE_PIXELS,
        "fog": overlays.FOG_PARAMS,
        "spatter": overlays.SPATTER_PARAMS,
    }
    for name, table in ours.items():
        np.testing.assert_allclose(np.array(table, float),
                                   np.array(R.TABLES[name][1], float), err_msg=name)
    levelless = {name for name, (_, table) in R.TABLES.items() if table is None}
    assert levelless == {name for name, s in common.RELEASE_SEVERITY.items() if s is None}


def test_unknown_name_raises_with_the_valid_names(images):
    with pytest.raises(ValueError, match="Unknown MNIST-C corruption 'blur'") as info:
        registry.corrupt_images(images, "blur", seed=0)
    for name in registry.CORRUPTION_NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(severity=6), "severity"),
    (dict(severity=0), "severity"),
    (dict(seed=-1), "seed"),
])
def test_bad_arguments_raise(images, kwargs, message):
    kwargs = {"seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        registry.corrupt_images(images, "shot_noise", **kwargs)


def test_bad_image_batches_raise(images):
    with pytest.raises(ValueError, match="uint8"):
        registry.corrupt_images(images.astype(np.float32), "scale", seed=0)
    with pytest.raises(ValueError, match=r"\[N, 28, 28, 1\]"):
        registry.corrupt_images(images[..., 0], "scale", seed=0)


# -------------------------------------------------------- common contract ---

@pytest.mark.parametrize("name", registry.CORRUPTION_NAMES)
def test_output_is_uint8_images_that_differ_from_the_input(images, name):
    out = registry.corrupt_images(images, name, seed=0)
    assert out.dtype == np.uint8 and out.shape == images.shape
    changed = (out != images).reshape(len(images), -1).any(1)
    if name == "identity":
        assert not changed.any()
    else:
        assert changed.all(), f"{name} left {np.flatnonzero(~changed)} unchanged"


@pytest.mark.parametrize("name", registry.CORRUPTION_NAMES)
def test_seeding(images, name):
    first = registry.corrupt_images(images, name, seed=3)
    assert first.tobytes() == registry.corrupt_images(images, name, seed=3).tobytes()
    other = registry.corrupt_images(images, name, seed=4)
    if name in RANDOM:
        assert first.tobytes() != other.tobytes()
        # Each image gets its own draws, not one draw for the batch (shear
        # and rotate draw only a sign, so about half the images change).
        per_image = (first != other).reshape(len(images), -1).any(1)
        assert per_image.mean() > 0.25
    else:
        assert first.tobytes() == other.tobytes()


@pytest.mark.parametrize("name", registry.CORRUPTION_NAMES)
def test_results_do_not_depend_on_batching(images, name, monkeypatch):
    whole = registry.corrupt_images(images, name, seed=5)
    np.testing.assert_array_equal(registry.corrupt_images(images[:3], name, seed=5), whole[:3])
    # Batched paths cross chunk borders; corrupt_images reads registry.CHUNK.
    monkeypatch.setattr(registry, "CHUNK", 7)
    np.testing.assert_array_equal(registry.corrupt_images(images, name, seed=5), whole)
    # The public per-image function with the same generator gives the same.
    for i in (0, 4):
        one = registry.CORRUPTIONS[name](images[i, ..., 0], registry.image_rng(5, name, i),
                                         common.RELEASE_SEVERITY[name])
        np.testing.assert_array_equal(one, whole[i, ..., 0])


# ---------------------------------------------------- scale and translate ---

def test_translate_is_an_exact_three_pixel_shift_with_zero_fill(images):
    out = registry.corrupt_images(images, "translate", seed=0)[..., 0]
    seen_shifts = set()
    for clean, moved in zip(images[..., 0], out):
        matches = [(down, right) for down in (-3, 3) for right in (-3, 3)
                   if np.array_equal(moved, shifted_with_zero_fill(clean, down, right))]
        assert len(matches) == 1
        down, right = matches[0]
        seen_shifts.add((down, right))
        if moved.astype(int).sum() == clean.astype(int).sum():  # Nothing cut off.
            shift = mass_moments(moved)[0] - mass_moments(clean)[0]
            np.testing.assert_allclose(shift, [down, right], atol=1e-9)
    # Signs are random per axis: all four combinations occur in 32 images.
    assert seen_shifts == {(-3, -3), (-3, 3), (3, -3), (3, 3)}


def test_scale_shrinks_the_digit_about_the_centre(images):
    out = registry.corrupt_images(images, "scale", seed=0)[..., 0]
    ratios = []
    for clean, small in zip(images[..., 0], out):
        centre_in, spread_in, mass_in = mass_moments(clean)
        centre_out, spread_out, mass_out = mass_moments(small)
        # The centre (13.5, 13.5) is fixed, so offsets from it scale by 0.7.
        np.testing.assert_allclose(centre_out - 13.5, 0.7 * (centre_in - 13.5), atol=0.35)
        ratios.append(spread_out / spread_in)
        assert 0.40 < mass_out / mass_in < 0.60  # Area shrinks by 0.7^2.
        rows_in, cols_in = np.nonzero(clean)
        rows_out, cols_out = np.nonzero(small)
        assert np.ptp(rows_out) <= np.ceil(0.7 * np.ptp(rows_in)) + 2
        assert np.ptp(cols_out) <= np.ceil(0.7 * np.ptp(cols_in)) + 2
    assert 0.6 < min(ratios) and max(ratios) < 0.8
    assert abs(np.mean(ratios) - 0.7) < 0.03


def test_scale_matches_scipy_affine_transform(images):
    out = registry.corrupt_images(images, "scale", seed=0)[..., 0].astype(int)
    stretch = 1 / 0.7  # Output pixel p samples the input at c + (p - c) / 0.7.
    for clean, ours in zip(images[..., 0], out):
        expected = ndimage.affine_transform(
            clean.astype(np.float64), np.eye(2) * stretch,
            offset=13.5 * (1 - stretch), order=1, mode="grid-constant", cval=0.0)
        assert np.abs(ours - np.clip(expected, 0, 255)).max() <= 1.0


# ------------------------------------------------- other exact properties ---

def test_stripe_inverts_exactly_the_outer_columns(images):
    out = registry.corrupt_images(images, "stripe", seed=0)[..., 0]
    clean = images[..., 0]
    np.testing.assert_array_equal(out[:, :, :7], 255 - clean[:, :, :7])
    np.testing.assert_array_equal(out[:, :, 7:21], clean[:, :, 7:21])
    np.testing.assert_array_equal(out[:, :, 21:], 255 - clean[:, :, 21:])


def test_brightness_adds_half_the_range(images):
    out = registry.corrupt_images(images, "brightness", seed=0)
    np.testing.assert_array_equal(out, np.minimum(images.astype(int) + 128, 255))


def test_canny_edges_are_binary_and_trace_the_outline(images):
    out = registry.corrupt_images(images, "canny_edges", seed=0)[..., 0]
    assert set(np.unique(out)) <= {0, 255}
    digit = images[..., 0] > 127
    edges = out == 255
    near_digit = ndimage.binary_dilation(digit, np.ones((1, 3, 3)), iterations=2)
    assert edges.sum() > 0 and (edges & ~near_digit).sum() == 0


MONOTONE = ("shot_noise", "impulse_noise", "glass_blur", "shear", "scale",
            "rotate", "brightness", "translate")


@pytest.mark.parametrize("name", MONOTONE + ("motion_blur", "fog", "spatter"))
def test_higher_severity_changes_images_more(images, name):
    change = [mean_abs_change(registry.corrupt_images(images, name, 0, severity), images).mean()
              for severity in range(1, 6)]
    if name in MONOTONE:
        assert np.all(np.diff(change) > 0), change
    else:
        assert change[4] > change[0], change


# ------------------------------------------------ against the reference ---

def test_deterministic_corruptions_match_the_reference(images):
    for name in DETERMINISTIC:
        ours = registry.corrupt_images(images, name, seed=0).astype(int)
        reference = R.reference_corrupt_images(images, name, seed=0).astype(int)
        assert np.abs(ours - reference).max() <= 1, name  # Rounding of x.5.


def test_warps_match_the_reference_for_each_random_draw(images):
    planes = images[..., 0]
    floats = planes.astype(np.float64)
    for angle in (0.4, -0.4):
        angles = np.full(len(planes), angle)
        for ours_fn, reference_fn in ((geometric.apply_shear, R.shear_with_angle),
                                      (geometric.apply_rotation, R.rotate_with_angle)):
            ours = common.to_uint8(ours_fn(floats, angles)).astype(int)
            reference = np.stack([reference_fn(p, angle) for p in planes]).astype(int)
            assert np.abs(ours - reference).max() <= 1, (ours_fn.__name__, angle)
    for shift in ((3, 3), (3, -3), (-3, 3), (-3, -3)):
        shifts = np.tile(shift, (len(planes), 1))
        ours = common.to_uint8(geometric.apply_translation(floats, shifts))
        reference = np.stack([R.translate_with_shift(p, *shift) for p in planes])
        np.testing.assert_array_equal(ours, reference)


@pytest.mark.parametrize("angle", [-45.0, -30.0, -7.5, 0.0, 22.5, 44.9])
def test_motion_blur_matches_the_reference_kernel(images, angle):
    radius, sigma = noise_blur.MOTION_BLUR_PARAMS[0]
    for plane in images[:8, ..., 0]:
        ours = common.to_uint8(noise_blur.apply_motion_blur(plane.astype(np.float64), angle,
                                                            radius, sigma))
        reference = R.motion_blur_with_angle(plane, angle, severity=1)
        assert np.abs(ours.astype(int) - reference).max() <= 1


def test_line_overlays_match_the_reference_for_every_draw(images):
    plane = images[1, ..., 0]
    for r0 in range(27):
        for r1 in range(27):
            ours = common.to_uint8(plane + 255.0 * overlays.dotted_line_overlay(r0, r1))
            np.testing.assert_array_equal(ours, R.dotted_line_with_rows(plane, r0, r1))
        for r1 in range(r0 - 5, r0 + 5):
            ours = common.to_uint8(plane + 255.0 * overlays.zigzag_overlay(r0, r1))
            np.testing.assert_array_equal(ours, R.zigzag_with_rows(plane, r0, r1))


@pytest.mark.parametrize("name", RANDOM)
def test_random_corruptions_match_the_reference_in_distribution(stat_images, name):
    """Per image, our change and the reference's change (independent draws)
    agree on average within 4 standard errors (plus half a grey level)."""
    ours = registry.corrupt_images(stat_images, name, seed=0)
    reference = R.reference_corrupt_images(stat_images, name, seed=0)
    for statistic in (mean_abs_change,
                      lambda x, clean: (x.astype(float) - clean).reshape(len(x), -1).mean(1)):
        paired = statistic(ours, stat_images) - statistic(reference, stat_images)
        standard_error = paired.std(ddof=1) / np.sqrt(len(paired))
        assert abs(paired.mean()) <= 4 * standard_error + 0.5, (
            name, paired.mean(), standard_error)


def test_plasma_fractal_is_normalised_and_seeded():
    first = overlays.plasma_fractal(np.random.default_rng(0), 64, 1.4)
    assert first.shape == (64, 64) and first.min() == 0.0 and first.max() == 1.0
    np.testing.assert_array_equal(
        first, overlays.plasma_fractal(np.random.default_rng(0), 64, 1.4))
    with pytest.raises(ValueError, match="power of two"):
        overlays.plasma_fractal(np.random.default_rng(0), 100)


# -------------------------------------------------- cross-check script ---

def _load_crosscheck_script():
    path = REPO_ROOT / "scripts" / "crosscheck_mnist_c.py"
    spec = importlib.util.spec_from_file_location("crosscheck_mnist_c", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_crosscheck_script_scores_and_reports(images):
    script = _load_crosscheck_script()
    labels = np.arange(len(images)) % 10

    def predict(batch):  # A fake model: the logits depend on the pixels.
        return np.eye(10)[batch.reshape(len(batch), -1).sum(1) % 10]

    rows = script.crosscheck(predict, images, labels, ["stripe", "identity"],
                             seed=0, batch_size=10, progress=False)
    assert [row.corruption for row in rows] == ["stripe", "identity"]
    assert all(row.diff == 0 and row.within for row in rows)  # Identical outputs.
    table = script.format_table(rows + [script.Row("fog", 0.50, 0.52)])
    assert table.splitlines()[0].startswith("| corruption | ours | reference |")
    assert table.splitlines()[-1] == "| fog | 0.5000 | 0.5200 | 0.0200 | NO | 0.0000 |"
    assert script.Row("zigzag", 0.797, 0.787).within  # 0.0100 up to float error.
    with pytest.raises(script.UserError, match="unknown"):
        script.parse_corruptions("shot_noise,blur")
