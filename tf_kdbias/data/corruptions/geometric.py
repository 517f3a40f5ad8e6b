"""Geometric MNIST-C corruptions: shear, scale, rotate and translate, as
bilinear inverse-map affine warps about the image centre with zero fill.

shear uses scikit-image's old (<0.19) shear parametrisation, as the release
did (see `apply_shear`).
"""

from typing import Optional, Sequence

import numpy as np

from tf_kdbias.data.corruptions.common import (CENTER, IMAGE_SIZE, RELEASE_SEVERITY,
                                               level, to_uint8)

# Severity tables (index = severity - 1), from the release's corruption
# functions.
SHEAR_ANGLES = (0.2, 0.4, 0.6, 0.8, 1.0)  # Radians, sign random.
SCALE_FACTORS = (0.9, 0.8, 0.7, 0.6, 0.5)  # Size of the digit after scaling.
ROTATE_ANGLES = (0.2, 0.4, 0.6, 0.8, 1.0)  # Radians, sign random.
TRANSLATE_PIXELS = (1, 2, 3, 4, 5)  # Shift per axis, signs random.


def _bilinear_taps(matrix: np.ndarray, offset: np.ndarray):
    """Flat source indices and weights [4, 784] of one inverse affine map.

    Taps that fall outside the image get weight 0 (zero fill). For integer
    translations the weights are exactly 0 or 1, so shifts are exact.
    """
    rows, cols = np.meshgrid(np.arange(IMAGE_SIZE, dtype=np.float64),
                             np.arange(IMAGE_SIZE, dtype=np.float64), indexing="ij")
    src_r, src_c = matrix @ np.stack([rows.ravel(), cols.ravel()]) + offset[:, None]
    top, left = np.floor(src_r), np.floor(src_c)
    frac_r, frac_c = src_r - top, src_c - left
    indices, weights = [], []
    for dr, dc, weight in ((0, 0, (1 - frac_r) * (1 - frac_c)),
                           (0, 1, (1 - frac_r) * frac_c),
                           (1, 0, frac_r * (1 - frac_c)),
                           (1, 1, frac_r * frac_c)):
        r = (top + dr).astype(np.int64)
        c = (left + dc).astype(np.int64)
        inside = (r >= 0) & (r < IMAGE_SIZE) & (c >= 0) & (c < IMAGE_SIZE)
        indices.append(np.where(inside, r * IMAGE_SIZE + c, 0))
        weights.append(np.where(inside, weight, 0.0))
    return np.stack(indices), np.stack(weights)


def warp_affine(images: np.ndarray, matrices: np.ndarray,
                offsets: np.ndarray) -> np.ndarray:
    """Bilinear inverse-map warp with zero fill.

    Output pixel (r, c) of image n samples the input at
    `matrices[n] @ (r, c) + offsets[n]`; samples outside the image read 0.

    Args:
      images: [N, 28, 28] float.
      matrices: [N, 2, 2] in (row, col) order.
      offsets: [N, 2] in (row, col) order.
    Returns:
      [N, 28, 28] float64.
    """
    n = len(images)
    flat = images.reshape(n, -1).astype(np.float64)
    out = np.empty_like(flat)
    maps = np.concatenate([np.reshape(matrices, (n, 4)),
                           np.reshape(offsets, (n, 2))], axis=1)
    # The corruptions use one to four distinct maps (random signs), so the
    # taps are computed once per distinct map, not once per image.
    unique_maps, which = np.unique(maps, axis=0, return_inverse=True)
    for k, warp_map in enumerate(unique_maps):
        members = np.flatnonzero(which.ravel() == k)
        indices, weights = _bilinear_taps(warp_map[:4].reshape(2, 2), warp_map[4:])
        sources = flat[members]
        out[members] = sum(weights[t] * sources[:, indices[t]] for t in range(4))
    return out.reshape(images.shape)


def _centre_fixed(matrices_xy: np.ndarray):
    """Converts (x=col, y=row) inverse maps that fix the image centre to the
    (row, col) matrices and offsets `warp_affine` takes."""
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    matrices = swap @ matrices_xy @ swap
    centre = np.full(2, CENTER)
    offsets = centre - matrices @ centre
    return matrices, offsets


def apply_shear(images: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Shears each image by `angles[n]` radians about the centre.

    Uses the release's (scikit-image < 0.19) convention: the inverse map is
    x' = x - sin(s) y, y' = cos(s) y, so the digit also shrinks vertically by
    cos(s).
    """
    matrices_xy = np.zeros((len(angles), 2, 2))
    matrices_xy[:, 0, 0] = 1.0
    matrices_xy[:, 0, 1] = -np.sin(angles)
    matrices_xy[:, 1, 1] = np.cos(angles)
    return warp_affine(images, *_centre_fixed(matrices_xy))


def apply_rotation(images: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotates each image by `angles[n]` radians about the centre."""
    cos, sin = np.cos(angles), np.sin(angles)
    matrices_xy = np.stack([np.stack([cos, -sin], -1),
                            np.stack([sin, cos], -1)], -2)
    return warp_affine(images, *_centre_fixed(matrices_xy))


def apply_scale(images: np.ndarray, factor: float) -> np.ndarray:
    """Resizes the digit by `factor` about the centre (< 1 shrinks it).

    output(p) = input(centre + (p - centre) / factor).
    """
    matrices_xy = np.broadcast_to(np.eye(2) / factor, (len(images), 2, 2))
    return warp_affine(images, *_centre_fixed(matrices_xy))


def apply_translation(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Moves the content of image n by `shifts[n] = (down, right)` pixels."""
    matrices = np.broadcast_to(np.eye(2), (len(images), 2, 2))
    return warp_affine(images, matrices, -np.asarray(shifts, np.float64))


def _random_signs(rngs: Sequence[np.random.Generator], count: int) -> np.ndarray:
    return np.stack([rng.integers(0, 2, size=count) * 2 - 1 for rng in rngs]
                    ).astype(np.float64)


def shear_batch(images, rngs, severity):
    angles = level(SHEAR_ANGLES, severity) * _random_signs(rngs, 1)[:, 0]
    return to_uint8(apply_shear(images.astype(np.float64), angles))


def scale_batch(images, rngs, severity):
    del rngs  # Deterministic.
    return to_uint8(apply_scale(images.astype(np.float64),
                                level(SCALE_FACTORS, severity)))


def rotate_batch(images, rngs, severity):
    angles = level(ROTATE_ANGLES, severity) * _random_signs(rngs, 1)[:, 0]
    return to_uint8(apply_rotation(images.astype(np.float64), angles))


def translate_batch(images, rngs, severity):
    shifts = level(TRANSLATE_PIXELS, severity) * _random_signs(rngs, 2)
    return to_uint8(apply_translation(images.astype(np.float64), shifts))


# The per-image functions are the batch versions applied to a batch of one.

def shear(image: np.ndarray, rng: np.random.Generator,
          severity: int = RELEASE_SEVERITY["shear"]) -> np.ndarray:
    """Shears by +-0.4 rad (release severity) about the centre."""
    return shear_batch(image[None], [rng], severity)[0]


def scale(image: np.ndarray, rng: Optional[np.random.Generator] = None,
          severity: int = RELEASE_SEVERITY["scale"]) -> np.ndarray:
    """Shrinks the digit to 0.7 of its size (release severity) about the
    centre (13.5, 13.5)."""
    return scale_batch(image[None], [rng], severity)[0]


def rotate(image: np.ndarray, rng: np.random.Generator,
           severity: int = RELEASE_SEVERITY["rotate"]) -> np.ndarray:
    """Rotates by +-0.4 rad (release severity) about the centre."""
    return rotate_batch(image[None], [rng], severity)[0]


def translate(image: np.ndarray, rng: np.random.Generator,
              severity: int = RELEASE_SEVERITY["translate"]) -> np.ndarray:
    """Shifts by 3 px (release severity) in x and in y, each sign random;
    zero fill."""
    return translate_batch(image[None], [rng], severity)[0]
