"""The view cache: logits of the live teacher on regenerated views, keyed on everything."""

import os

import keras
import numpy as np
import pytest

from tests.distill.test_teacher_cache import as_teacher_run
from tf_kdbias import io_utils
from tf_kdbias.data import views
from tf_kdbias.distill import view_cache
from tf_kdbias.errors import UserError
from tf_kdbias.models.cnn import build_cnn

NUM_VIEWS = 3


def float16_rounding_bound(values):
    """Half a float16 spacing at each value (relative 2^-11 for normal numbers),
    plus the smallest subnormal step for values near zero."""
    return np.abs(values) * 2.0 ** -11 + 2.0 ** -25


@pytest.fixture
def setup(tmp_path, mnist_test):
    keras.utils.set_random_seed(0)
    teacher = build_cnn(filters=(4, 4, 4), maxout_units=(4, 4, 4), name="teacher")
    path = str(tmp_path / "model.keras")
    teacher.save(path)
    return teacher, str(tmp_path), path, mnist_test.images[:120]


def cache(setup, images=None, spec=views.ViewSpec(seed=0), num_views=NUM_VIEWS):
    teacher, teacher_dir, path, default_images = setup
    return view_cache.view_logits(as_teacher_run(teacher, teacher_dir, path), "train",
                                  default_images if images is None else images, spec, num_views,
                                  batch_size=50)


def test_cached_logits_are_the_live_teachers_on_regenerated_views(setup, capsys):
    teacher, _, _, images = setup
    spec = views.ViewSpec(mixup_alpha=0.4, seed=5)
    logits = cache(setup, spec=spec)
    assert logits.dtype == np.float16 and logits.shape == (120, NUM_VIEWS, 10)
    assert "Caching teacher logits on 3 views" in capsys.readouterr().out
    views._mixup_table.cache_clear()
    for view_index in range(NUM_VIEWS):
        # Regenerated from (seed, example, view) alone, in a different batch order.
        order = np.random.default_rng(view_index).permutation(120)
        live = np.asarray(teacher(views.make_views(images, spec, order, view_index),
                                  training=False), np.float32)
        stored = logits[order, view_index].astype(np.float32)
        assert np.all(np.abs(stored - live) <= float16_rounding_bound(live))
    # The views really differ from one another, so the check above means something.
    assert np.abs(logits[:, 0].astype(np.float32) - logits[:, 1]).max() > 1e-2


def test_the_cache_is_reused_and_invalidated_by_every_key_change(setup, capsys):
    teacher, teacher_dir, path, images = setup
    first = cache(setup)
    capsys.readouterr()
    np.testing.assert_array_equal(cache(setup), first)
    assert capsys.readouterr().out == ""  # Read back, not recomputed.

    changed_images = images.copy()
    changed_images[7, 14, 14, 0] ^= 1
    changes = {
        "data": dict(images=changed_images),
        "mixup_alpha": dict(spec=views.ViewSpec(mixup_alpha=0.5, seed=0)),
        "view seed": dict(spec=views.ViewSpec(seed=1)),
        "augmentations": dict(spec=views.ViewSpec(augmentations=("mixup", "pixel_noise"),
                                                  noise_std=8.0, seed=0)),
        "number of views": dict(num_views=NUM_VIEWS + 1),
    }
    keys = {"base": view_cache.cache_key(io_utils.digest_file(path), images,
                                         views.ViewSpec(seed=0), NUM_VIEWS)}
    for name, change in changes.items():
        cache(setup, **change)
        assert "Caching teacher logits" in capsys.readouterr().out, name
        keys[name] = view_cache.cache_key(io_utils.digest_file(path), change.get("images", images),
                                          change.get("spec", views.ViewSpec(seed=0)),
                                          change.get("num_views", NUM_VIEWS))
    # Another checkpoint: same architecture, other weights, other bytes.
    teacher.set_weights([w + 0.01 for w in teacher.get_weights()])
    teacher.save(path)
    retrained = cache(setup)
    assert "Caching teacher logits" in capsys.readouterr().out
    assert np.abs(retrained.astype(np.float32) - first).max() > 1e-3
    keys["checkpoint"] = view_cache.cache_key(io_utils.digest_file(path), images,
                                              views.ViewSpec(seed=0), NUM_VIEWS)
    assert len(set(keys.values())) == len(keys)  # Every change gives another key.
    files = os.listdir(os.path.join(teacher_dir, "logit_cache"))
    assert len(files) == len(keys)


def test_a_damaged_cache_file_is_recomputed(setup, capsys):
    _, teacher_dir, path, images = setup
    first = cache(setup)
    (cache_file,) = os.listdir(os.path.join(teacher_dir, "logit_cache"))
    with open(os.path.join(teacher_dir, "logit_cache", cache_file), "r+b") as f:
        f.seek(400)
        f.write(b"\x00garbage\x00")
    capsys.readouterr()
    np.testing.assert_array_equal(cache(setup), first)
    assert "Caching teacher logits" in capsys.readouterr().out


def test_a_bad_number_of_views_is_a_user_error(setup):
    with pytest.raises(UserError, match="cache_views=0"):
        cache(setup, num_views=0)
