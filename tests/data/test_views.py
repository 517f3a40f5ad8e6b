"""Augmented views: pure functions of (seed, example, view), exact mixing, no test shifts."""

import numpy as np
import pytest
from scipy import stats

from tf_kdbias.data import views
from tf_kdbias.errors import UserError


@pytest.fixture(scope="module")
def images(mnist_test):
    return mnist_test.images[:500], mnist_test.labels[:500]


def test_a_view_depends_only_on_seed_example_and_view_index(images):
    pixels, _ = images
    spec = views.ViewSpec(seed=3)
    whole = views.make_views(pixels, spec, np.arange(len(pixels)), view_index=2)
    picked = np.array([17, 4, 499, 17])
    # Any batch, in any order, gets the same view of an example.
    np.testing.assert_array_equal(views.make_views(pixels, spec, picked, 2), whole[picked])
    views._mixup_table.cache_clear()  # Recomputed from scratch: still the same.
    np.testing.assert_array_equal(views.make_views(pixels, spec, picked, 2), whole[picked])
    for other in (views.make_views(pixels, spec, np.arange(len(pixels)), 3),
                  views.make_views(pixels, views.ViewSpec(seed=4), np.arange(len(pixels)), 2)):
        assert np.mean(np.any(other != whole, axis=(1, 2, 3))) > 0.9


def test_mixup_is_the_rounded_convex_combination_of_two_training_images(images):
    pixels, _ = images
    spec = views.ViewSpec(mixup_alpha=1.0, seed=1)
    indices = np.arange(len(pixels))
    partners, levels = views.mixup_parameters(spec, len(pixels), indices, 0)
    out = views.make_views(pixels, spec, indices, 0)
    # Integer reference: (m x_i + (256 - m) x_j + 128) // 256 rounds half up exactly.
    a, b = pixels.astype(np.int64), pixels[partners].astype(np.int64)
    m = levels[:, None, None, None]
    expected = (m * a + (views.MIX_LEVELS - m) * b + views.MIX_LEVELS // 2) // views.MIX_LEVELS
    np.testing.assert_array_equal(out, expected.astype(np.uint8))
    assert partners.min() >= 0 and partners.max() < len(pixels)
    assert np.mean(partners == indices) < 0.02  # Partners are other images, almost always.


@pytest.mark.parametrize("alpha", [1.0, 0.2])
def test_mixing_weights_follow_the_beta_distribution(alpha):
    spec = views.ViewSpec(mixup_alpha=alpha, seed=0)
    n = 20000
    _, levels = views.mixup_parameters(spec, n, np.arange(n), 5)
    lam = levels / views.MIX_LEVELS
    for edge in (0.1, 0.3, 0.5, 0.8):
        # Rounding to 1/256 moves λ by at most 1/512 around each edge.
        assert np.mean(lam <= edge) == pytest.approx(stats.beta.cdf(edge, alpha, alpha), abs=0.02)


def test_labels_mix_with_the_same_weights_as_the_pixels(images):
    pixels, labels = images
    spec = views.ViewSpec(seed=2)
    indices = np.arange(0, 500, 7)
    partners, levels = views.mixup_parameters(spec, len(labels), indices, 1)
    dominant, soft = views.view_labels(labels, spec, indices, 1, num_classes=10)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    for row, (i, j, m) in enumerate(zip(indices, partners, levels)):
        expected = np.zeros(10)
        expected[labels[i]] += m / 256
        expected[labels[j]] += 1 - m / 256
        np.testing.assert_allclose(soft[row], expected, atol=1e-6)
        assert dominant[row] == (labels[i] if m >= 128 else labels[j])


def test_without_augmentations_the_view_is_the_image(images):
    pixels, labels = images
    spec = views.ViewSpec(augmentations=(), seed=0)
    np.testing.assert_array_equal(views.make_views(pixels, spec, np.arange(10), 4), pixels[:10])
    dominant, soft = views.view_labels(labels, spec, np.arange(10), 4, 10)
    np.testing.assert_array_equal(dominant, labels[:10])
    np.testing.assert_array_equal(soft.argmax(1), labels[:10])


def test_pixel_noise_is_per_example_and_marks_the_noise_corruptions(images):
    pixels, _ = images
    spec = views.ViewSpec(augmentations=("pixel_noise",), noise_std=20.0, seed=0)
    whole = views.make_views(pixels, spec, np.arange(50), 0)
    np.testing.assert_array_equal(views.make_views(pixels, spec, np.array([30, 3]), 0),
                                  whole[[30, 3]])
    residual = whole.astype(float) - pixels[:50]
    interior = (pixels[:50] > 40) & (pixels[:50] < 215)  # Away from the clipping bounds.
    assert np.std(residual[interior]) == pytest.approx(20.0, rel=0.1)
    assert spec.overlapping_corruptions == ("shot_noise", "impulse_noise")
    assert views.ViewSpec().overlapping_corruptions == ()


@pytest.mark.parametrize("name", ["translate", "shift", "zoom", "scale", "random_crop"])
def test_shift_and_zoom_augmentations_are_refused(name):
    with pytest.raises(UserError, match="MNIST-C test shifts"):
        views.ViewSpec(augmentations=("mixup", name))


def test_bad_settings_are_user_errors():
    with pytest.raises(UserError, match="Unknown augmentation 'cutout'"):
        views.ViewSpec(augmentations=("cutout",))
    with pytest.raises(UserError, match="α > 0"):
        views.ViewSpec(mixup_alpha=0.0)
    with pytest.raises(UserError, match="noise_std"):
        views.ViewSpec(augmentations=("pixel_noise",), noise_std=0.0)


def test_epochs_cycle_through_cached_views():
    assert [views.view_index_at(e, None) for e in range(5)] == [0, 1, 2, 3, 4]
    assert [views.view_index_at(e, 3) for e in range(7)] == [0, 1, 2, 0, 1, 2, 0]
