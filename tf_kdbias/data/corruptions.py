"""MNIST-C corruptions (Mu & Gilmer, 2019), reimplemented with numpy/scipy.

The official MNIST-C release is a fixed set of images made by the authors'
scripts (google-research/mnist-c, `corruptions.py`), which depend on
ImageMagick (wand), OpenCV and an old scikit-image. This module regenerates the
15 corruptions from MNIST without those dependencies, with the release's
parameter tables and, for each corruption, the severity the release used
(`RELEASE_SEVERITY`: the default `severity` argument of each release function).

Conventions:
  * Every corruption is `fn(image, rng, severity) -> image` on one 28x28 uint8
    image, with `rng` a `np.random.Generator` and `severity` in 1..5. The
    corruptions without levels (stripe, dotted_line, zigzag, canny_edges,
    identity) accept and ignore a severity.
  * Results are computed in float, clipped to [0, 255] and rounded to the
    nearest integer. The release stored float32 arrays that were later turned
    into uint8 by its packaging; that conversion may have truncated instead,
    so a pixel here can be one grey level above the release's.
  * `corrupt_images` draws every image's randomness from its own generator,
    seeded by (seed, corruption name, image index), so a result never depends
    on the batch size or on which other images are corrupted with it.

Quirks of the release that are reproduced on purpose (they define the data
set):
  * glass_blur blurs vertically only: the release called scikit-image's
    `gaussian(..., multichannel=True)` on a 2-D image, which treats the
    columns as colour channels. Its pixel swaps also only move by
    -max_delta..max_delta-1 (an exclusive upper bound).
  * shear uses scikit-image's old (<0.19) shear parametrisation, whose
    inverse map is x' = x - sin(s) y, y' = cos(s) y.
  * fog's plasma noise has amplitude wibble**2 and is cut from a 256x256
    map normalised as a whole.
  * dotted_line's line stops before the last column.
"""

import zlib
from typing import Callable, Dict, Optional, Sequence

import numpy as np
from scipy import ndimage

IMAGE_SIZE = 28
# Pixel centres are integers, so the image centre is (13.5, 13.5).
CENTER = (IMAGE_SIZE - 1) / 2.0

CORRUPTION_NAMES = (
    "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear",
    "scale", "rotate", "brightness", "translate", "stripe", "fog", "spatter",
    "dotted_line", "zigzag", "canny_edges", "identity",
)

# Severity tables (index = severity - 1), from the release's corruption
# functions.
SHOT_NOISE_PHOTONS = (60, 25, 12, 5, 3)  # Photons per unit intensity: fewer = noisier.
IMPULSE_NOISE_AMOUNTS = (0.03, 0.06, 0.09, 0.17, 0.27)  # Fraction of pixels hit.
GLASS_BLUR_PARAMS = (  # (Gaussian sigma, max swap distance, swap passes)
    (0.7, 1, 2), (0.9, 2, 1), (1.0, 2, 3), (1.1, 3, 2), (1.5, 4, 2))
MOTION_BLUR_PARAMS = (  # (kernel radius in px, Gaussian sigma in px)
    (10, 3), (15, 5), (15, 8), (15, 12), (20, 15))
SHEAR_ANGLES = (0.2, 0.4, 0.6, 0.8, 1.0)  # Radians, sign random.
SCALE_FACTORS = (0.9, 0.8, 0.7, 0.6, 0.5)  # Size of the digit after scaling.
ROTATE_ANGLES = (0.2, 0.4, 0.6, 0.8, 1.0)  # Radians, sign random.
BRIGHTNESS_OFFSETS = (0.1, 0.2, 0.3, 0.4, 0.5)  # Added to intensity in [0, 1].
TRANSLATE_PIXELS = (1, 2, 3, 4, 5)  # Shift per axis, signs random.
FOG_PARAMS = (  # (fog thickness, plasma roughness decay)
    (1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))
SPATTER_PARAMS = (  # (noise mean, noise std, noise blur sigma, wet threshold, mask blur sigma)
    (0.65, 0.3, 4, 0.69, 0.6), (0.65, 0.3, 3, 0.68, 0.6),
    (0.65, 0.3, 2, 0.68, 0.5), (0.65, 0.3, 1, 0.65, 1.5),
    (0.67, 0.4, 1, 0.65, 1.5))

# The severity the official release used for each corruption; None where the
# corruption has no levels.
RELEASE_SEVERITY: Dict[str, Optional[int]] = {
    "shot_noise": 5, "impulse_noise": 4, "glass_blur": 1, "motion_blur": 1,
    "shear": 2, "scale": 3, "rotate": 2, "brightness": 5, "translate": 3,
    "stripe": None, "fog": 5, "spatter": 4, "dotted_line": None,
    "zigzag": None, "canny_edges": None, "identity": None,
}

STRIPE_COLUMNS = np.r_[0:7, 21:IMAGE_SIZE]  # Inverted by `stripe`.
SPATTER_GREY = 63.0  # Grey level of the mud.
LINE_HALF_WIDTH = 2.3  # Distance (px) at which a drawn line's profile ends.
PLASMA_SIZE = 256  # The release cuts fog from a map of this size.
CHUNK = 1000  # Images per vectorised step: bounds memory for glass_blur.


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Clips float grey levels to [0, 255] and rounds half up."""
    return np.floor(np.clip(pixels, 0.0, 255.0) + 0.5).astype(np.uint8)


def _level(table: Sequence, severity: int):
    return table[severity - 1]


# --------------------------------------------------------------------------
# Affine warps (shear, scale, rotate, translate)
# --------------------------------------------------------------------------

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


def _shear_batch(images, rngs, severity):
    angles = _level(SHEAR_ANGLES, severity) * _random_signs(rngs, 1)[:, 0]
    return _to_uint8(apply_shear(images.astype(np.float64), angles))


def _scale_batch(images, rngs, severity):
    del rngs  # Deterministic.
    return _to_uint8(apply_scale(images.astype(np.float64),
                                 _level(SCALE_FACTORS, severity)))


def _rotate_batch(images, rngs, severity):
    angles = _level(ROTATE_ANGLES, severity) * _random_signs(rngs, 1)[:, 0]
    return _to_uint8(apply_rotation(images.astype(np.float64), angles))


def _translate_batch(images, rngs, severity):
    shifts = _level(TRANSLATE_PIXELS, severity) * _random_signs(rngs, 2)
    return _to_uint8(apply_translation(images.astype(np.float64), shifts))


# --------------------------------------------------------------------------
# Pixel-wise corruptions
# --------------------------------------------------------------------------

def shot_noise(image: np.ndarray, rng: np.random.Generator,
               severity: int = RELEASE_SEVERITY["shot_noise"]) -> np.ndarray:
    """Poisson photon noise: intensity = Poisson(photons * x) / photons."""
    photons = _level(SHOT_NOISE_PHOTONS, severity)
    counts = rng.poisson(image.astype(np.float64) / 255.0 * photons)
    return _to_uint8(counts / photons * 255.0)


def impulse_noise(image: np.ndarray, rng: np.random.Generator,
                  severity: int = RELEASE_SEVERITY["impulse_noise"]) -> np.ndarray:
    """Salt-and-pepper: a random fraction of pixels become 0 or 255 (50/50)."""
    amount = _level(IMPULSE_NOISE_AMOUNTS, severity)
    hit = rng.random(image.shape) < amount
    salt = rng.random(image.shape) < 0.5
    out = image.copy()
    out[hit & salt] = 255
    out[hit & ~salt] = 0
    return out


def _brightness_batch(images, rngs, severity):
    del rngs  # Deterministic.
    # Raising HSV value on a grey image is adding to the grey level.
    return _to_uint8(images.astype(np.float64)
                     + 255.0 * _level(BRIGHTNESS_OFFSETS, severity))


def _stripe_batch(images, rngs, severity):
    del rngs, severity  # Deterministic, no levels.
    out = images.copy()
    out[..., STRIPE_COLUMNS] = 255 - images[..., STRIPE_COLUMNS]
    return out


def _identity_batch(images, rngs, severity):
    del rngs, severity
    return images.copy()


# --------------------------------------------------------------------------
# Blurs
# --------------------------------------------------------------------------

def _vertical_gaussian(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur along rows only (see the module docstring), edges
    replicated, kernel truncated at 4 sigma."""
    return ndimage.gaussian_filter1d(images, sigma, axis=-2, mode="nearest",
                                     truncate=4.0)


def _glass_visit_order(max_delta: int) -> np.ndarray:
    """Pixels visited by one swap pass: rows then columns, both descending,
    from 27 - max_delta down to max_delta + 1."""
    span = np.arange(IMAGE_SIZE - max_delta, max_delta, -1)
    rows, cols = np.meshgrid(span, span, indexing="ij")
    return np.stack([rows.ravel(), cols.ravel()], -1)


def _glass_moves(rng: np.random.Generator, count: int, max_delta: int) -> np.ndarray:
    """[count, 2] (d_row, d_col) swap offsets; (0, 0) when the coin says no."""
    moves = rng.random(count) < 0.5
    offsets = rng.integers(-max_delta, max_delta, size=(count, 2))
    offsets[~moves] = 0
    return offsets


def _swap_locally(pixels: np.ndarray, visits: np.ndarray,
                  moves: np.ndarray) -> np.ndarray:
    """Sequentially swaps pixel `visits[k]` with `visits[k] + moves[n, k]` in
    every image n. The order matters (a pixel can travel several times), so
    the loop runs over visits and is vectorised over images only."""
    index = np.arange(len(pixels))
    for k, (row, col) in enumerate(visits):
        row2 = row + moves[:, k, 0]
        col2 = col + moves[:, k, 1]
        here = pixels[index, row, col]
        pixels[index, row, col] = pixels[index, row2, col2]
        pixels[index, row2, col2] = here
    return pixels


def _glass_blur_batch(images, rngs, severity):
    sigma, max_delta, passes = _level(GLASS_BLUR_PARAMS, severity)
    visits = np.tile(_glass_visit_order(max_delta), (passes, 1))
    moves = np.stack([_glass_moves(rng, len(visits), max_delta) for rng in rngs])
    blurred = _vertical_gaussian(images.astype(np.float64) / 255.0, sigma)
    # The release truncates to uint8 between the two blurs.
    pixels = (blurred * 255.0).astype(np.uint8)
    pixels = _swap_locally(pixels, visits, moves)
    return _to_uint8(_vertical_gaussian(pixels / 255.0, sigma) * 255.0)


def motion_blur_taps(angle_degrees: float, radius: float, sigma: float):
    """Our line kernel: (weights, d_row, d_col) of a one-sided motion blur.

    Tap i = 0 .. 2*ceil(radius) sits i pixels along the direction
    (cos a, sin a) (x right, y down), rounded to the nearest pixel (ties
    towards -inf), and weighs exp(-i^2 / (2 sigma^2)), normalised to sum 1.
    """
    width = 2 * int(np.ceil(radius)) + 1
    steps = np.arange(width, dtype=np.float64)
    weights = np.exp(-steps ** 2 / (2.0 * sigma ** 2))
    angle = np.deg2rad(angle_degrees)
    d_col = np.ceil(steps * np.cos(angle) - 0.5).astype(np.int64)
    d_row = np.ceil(steps * np.sin(angle) - 0.5).astype(np.int64)
    return weights / weights.sum(), d_row, d_col


def apply_motion_blur(image: np.ndarray, angle_degrees: float, radius: float,
                      sigma: float) -> np.ndarray:
    """Blurs one float image along `angle_degrees` with `motion_blur_taps`;
    pixels beyond the border repeat the edge. Returns float."""
    weights, d_row, d_col = motion_blur_taps(angle_degrees, radius, sigma)
    reach = int(max(np.abs(d_row).max(), np.abs(d_col).max()))
    padded = np.pad(image.astype(np.float64), reach, mode="edge")
    out = np.zeros(image.shape, np.float64)
    for weight, dr, dc in zip(weights, d_row, d_col):
        out += weight * padded[reach + dr:reach + dr + IMAGE_SIZE,
                               reach + dc:reach + dc + IMAGE_SIZE]
    return out


def motion_blur(image: np.ndarray, rng: np.random.Generator,
                severity: int = RELEASE_SEVERITY["motion_blur"]) -> np.ndarray:
    """Motion blur at a random angle in [-45, 45) degrees.

    The release used ImageMagick's MotionBlurImage (via wand) on a PNG. Our
    line kernel (`motion_blur_taps`) follows the same geometry: a one-sided
    Gaussian-weighted line of 2*ceil(radius)+1 taps at rounded pixel
    offsets, so the digit is smeared to one side rather than symmetrically.
    It differs from ImageMagick in that (1) it sums in float64 on the 8-bit
    input and rounds once, where ImageMagick works at its quantum depth
    and re-encodes to 8-bit PNG; (2) off-image taps always repeat the edge
    pixel, where ImageMagick uses the image's virtual-pixel method (edge by
    default, and MNIST borders are black either way); (3) no colourspace or
    alpha handling, the input being plain grey.
    """
    radius, sigma = _level(MOTION_BLUR_PARAMS, severity)
    angle = rng.uniform(-45.0, 45.0)
    return _to_uint8(apply_motion_blur(image.astype(np.float64), angle,
                                       radius, sigma))


# --------------------------------------------------------------------------
# Weather-like overlays
# --------------------------------------------------------------------------

def plasma_fractal(rng: np.random.Generator, size: int = PLASMA_SIZE,
                   decay: float = 2.0) -> np.ndarray:
    """Periodic diamond-square height map, normalised to [0, 1].

    Each new point is the mean of its four neighbours plus uniform noise in
    [-amp^2, amp^2], amp starting at 100 and divided by `decay` per level.
    """
    if size & (size - 1):
        raise ValueError(f"plasma size must be a power of two, got {size}")
    height = np.zeros((size, size))
    step, amp = size, 100.0

    def noisy_mean(neighbour_sum):
        return neighbour_sum / 4.0 + amp * amp * rng.uniform(-1.0, 1.0,
                                                             neighbour_sum.shape)

    while step >= 2:
        half = step // 2
        corners = height[0::step, 0::step]
        # Square step: centre of each cell from its four corners.
        around = corners + np.roll(corners, -1, axis=0)
        around = around + np.roll(around, -1, axis=1)
        height[half::step, half::step] = noisy_mean(around)
        centres = height[half::step, half::step]
        # Diamond step, points between horizontal corner pairs: corners left
        # and right, cell centres above and below.
        height[0::step, half::step] = noisy_mean(
            corners + np.roll(corners, -1, axis=1)
            + centres + np.roll(centres, 1, axis=0))
        # Points between vertical corner pairs: corners above and below,
        # cell centres left and right.
        height[half::step, 0::step] = noisy_mean(
            corners + np.roll(corners, -1, axis=0)
            + centres + np.roll(centres, 1, axis=1))
        step, amp = half, amp / decay
    height -= height.min()
    return height / height.max()


def fog(image: np.ndarray, rng: np.random.Generator,
        severity: int = RELEASE_SEVERITY["fog"]) -> np.ndarray:
    """Adds plasma fog, then rescales so the brightest digit pixel keeps
    roughly its level."""
    thickness, decay = _level(FOG_PARAMS, severity)
    x = image.astype(np.float64) / 255.0
    peak = x.max()
    x = x + thickness * plasma_fractal(rng, PLASMA_SIZE, decay)[:IMAGE_SIZE, :IMAGE_SIZE]
    return _to_uint8(x * peak / (peak + thickness) * 255.0)


def spatter(image: np.ndarray, rng: np.random.Generator,
            severity: int = RELEASE_SEVERITY["spatter"]) -> np.ndarray:
    """Grey mud blobs: thresholded smooth noise, feathered and pasted."""
    mean, std, noise_sigma, threshold, mask_sigma = _level(SPATTER_PARAMS, severity)
    liquid = rng.normal(mean, std, size=image.shape)
    liquid = ndimage.gaussian_filter(liquid, noise_sigma, mode="nearest")
    wet = (liquid > threshold).astype(np.float64)
    mask = ndimage.gaussian_filter(wet, mask_sigma, mode="nearest")
    mask[mask < 0.8] = 0.0  # Only the solid core of each blob is kept.
    out = image.astype(np.float64) * (1.0 - mask) + SPATTER_GREY * mask
    return _to_uint8(out)


# --------------------------------------------------------------------------
# Drawn lines
# --------------------------------------------------------------------------

def line_overlay(c0: float, r0: float, c1: float, r1: float) -> np.ndarray:
    """Intensity in [0, 1] of a soft line from (col c0, row r0) to (c1, r1).

    The profile is 1 + log(1 - d / 2.3) of the vertical distance d to the
    line (about 3 px thick), kept in columns floor(c0) .. ceil(c1) - 1. A
    vertical segment (c0 == c1) draws nothing, as in the release.
    """
    overlay = np.zeros((IMAGE_SIZE, IMAGE_SIZE))
    if c1 == c0:
        return overlay
    cols = np.arange(IMAGE_SIZE, dtype=np.float64)
    rows = cols[:, None]
    line_rows = r0 + (r1 - r0) / (c1 - c0) * (cols - c0)
    # Capped just below 2.3 so the log stays finite.
    distance = np.minimum(np.abs(rows - line_rows), LINE_HALF_WIDTH - 1e-10)
    overlay = np.clip(1.0 + np.log1p(-distance / LINE_HALF_WIDTH), 0.0, 1.0)
    first, stop = max(int(np.floor(c0)), 0), int(np.ceil(c1))
    overlay[:, :first] = 0.0
    overlay[:, stop:] = 0.0
    return overlay


def dotted_line_overlay(r0: int, r1: int) -> np.ndarray:
    """A line across the image from row r0 (left) to r1 (right), drawn only
    in column pairs 2-3, 6-7, ... (two on, two off)."""
    overlay = line_overlay(0, r0, IMAGE_SIZE - 1, r1)
    off = (np.arange(IMAGE_SIZE) // 2) % 2 == 0
    overlay[:, off] = 0.0
    return overlay


def _zigzag_vertices(r0: int, r1: int) -> np.ndarray:
    """[2, K] (cols, rows) of a zigzag from column 2 to about column 25.

    Teeth are 2 px long and 2 px high in the zigzag's own frame, which is
    then tilted so that it heads from row r0 towards row r1.
    """
    start_col, end_col, tooth = 2.0, 25.0, 2.0
    theta = np.arctan((r1 - r0) / (end_col - start_col))
    length = (end_col - start_col) / np.cos(theta)
    teeth = int((length - tooth) // (2 * tooth)) + 1
    k = np.arange(teeth)
    along = np.concatenate([[0.0], (2 * k + 1) * tooth])
    across = np.concatenate([[0.0], (-1.0) ** k * tooth])
    last_full_period = 2 * tooth * (length // (2 * tooth))
    if length != last_full_period:
        # The release ends with a short, flattened stroke up to `length`.
        along = np.append(along, length)
        across = np.append(across, across[-1] / (2 * (length - last_full_period)))
    cols = along * np.cos(theta) - across * np.sin(theta) + start_col
    rows = along * np.sin(theta) + across * np.cos(theta) + r0
    return np.stack([cols, rows])


def zigzag_overlay(r0: int, r1: int) -> np.ndarray:
    """Sum of the soft lines joining consecutive zigzag vertices (may exceed
    1 where strokes meet; callers clip)."""
    cols, rows = _zigzag_vertices(r0, r1)
    overlay = np.zeros((IMAGE_SIZE, IMAGE_SIZE))
    for k in range(1, len(cols)):
        overlay += line_overlay(cols[k - 1], rows[k - 1], cols[k], rows[k])
    return overlay


def dotted_line(image: np.ndarray, rng: np.random.Generator,
                severity: Optional[int] = None) -> np.ndarray:
    """Adds a dashed line between random rows on the left and right edges."""
    del severity  # No levels.
    r0, r1 = rng.integers(0, IMAGE_SIZE - 1, size=2)
    return _to_uint8(image + 255.0 * dotted_line_overlay(r0, r1))


def zigzag(image: np.ndarray, rng: np.random.Generator,
           severity: Optional[int] = None) -> np.ndarray:
    """Adds a zigzag starting at a random row, tilted by up to 5 rows."""
    del severity  # No levels.
    r0 = rng.integers(0, IMAGE_SIZE - 1)
    r1 = r0 + rng.integers(-5, 5)
    # Clipping once equals the release's clip after every stroke, because
    # every stroke is non-negative.
    return _to_uint8(image + 255.0 * zigzag_overlay(r0, r1))


# --------------------------------------------------------------------------
# Canny edges
# --------------------------------------------------------------------------

def _gradient_neighbours(grad_r: np.ndarray, grad_c: np.ndarray,
                         magnitude: np.ndarray, sign: int) -> np.ndarray:
    """Magnitude one pixel along (`sign`=1) or against (-1) the gradient,
    interpolated between the axial and the diagonal 8-neighbour that bracket
    the gradient direction."""
    step_r = sign * np.sign(grad_r).astype(np.int64)
    step_c = sign * np.sign(grad_c).astype(np.int64)
    abs_r, abs_c = np.abs(grad_r), np.abs(grad_c)
    rows_major = abs_r >= abs_c
    with np.errstate(divide="ignore", invalid="ignore"):
        diagonal_weight = np.where(rows_major, abs_c / abs_r, abs_r / abs_c)
    diagonal_weight = np.nan_to_num(diagonal_weight)
    axial_r = np.where(rows_major, step_r, 0)
    axial_c = np.where(rows_major, 0, step_c)
    rows, cols = np.indices(magnitude.shape)
    padded = np.pad(magnitude, 1)  # Border pixels are never edges anyway.
    axial = padded[rows + 1 + axial_r, cols + 1 + axial_c]
    diagonal = padded[rows + 1 + step_r, cols + 1 + step_c]
    return diagonal_weight * diagonal + (1.0 - diagonal_weight) * axial


def canny_edge_map(image01: np.ndarray, sigma: float = 1.0,
                   low: float = 0.1, high: float = 0.2) -> np.ndarray:
    """Canny edges (bool) of a [0, 1] image, as scikit-image's defaults.

    Gaussian smoothing with zero padding renormalised by the smoothed
    all-ones image; Sobel gradients; interpolated non-maximum suppression;
    the 1-px image border excluded; hysteresis with 8-connectivity.
    """
    smooth = ndimage.gaussian_filter(image01, sigma, mode="constant")
    coverage = ndimage.gaussian_filter(np.ones_like(image01), sigma, mode="constant")
    smooth = smooth / (coverage + np.finfo(np.float64).eps)
    grad_r = ndimage.sobel(smooth, axis=0)
    grad_c = ndimage.sobel(smooth, axis=1)
    magnitude = np.hypot(grad_r, grad_c)
    ridge = ((_gradient_neighbours(grad_r, grad_c, magnitude, 1) <= magnitude)
             & (_gradient_neighbours(grad_r, grad_c, magnitude, -1) <= magnitude))
    ridge[[0, -1], :] = False
    ridge[:, [0, -1]] = False
    weak = ridge & (magnitude >= low)
    labels, count = ndimage.label(weak, structure=np.ones((3, 3)))
    keep = np.zeros(count + 1, bool)
    keep[labels[weak & (magnitude >= high)]] = True
    keep[0] = False
    return keep[labels]


def canny_edges(image: np.ndarray, rng: Optional[np.random.Generator] = None,
                severity: Optional[int] = None) -> np.ndarray:
    """White Canny edges (sigma 1, thresholds 0.1 / 0.2) on black."""
    del rng, severity  # Deterministic, no levels.
    edges = canny_edge_map(image.astype(np.float64) / 255.0)
    return edges.astype(np.uint8) * 255


# --------------------------------------------------------------------------
# Registry and batch entry point
# --------------------------------------------------------------------------

BatchFn = Callable[[np.ndarray, Sequence[np.random.Generator], Optional[int]],
                   np.ndarray]

# Corruptions computed for many images at once (fast for 10k images); the
# per-image functions below call these, so both paths agree exactly.
_BATCHED: Dict[str, BatchFn] = {
    "glass_blur": _glass_blur_batch,
    "shear": _shear_batch,
    "scale": _scale_batch,
    "rotate": _rotate_batch,
    "brightness": _brightness_batch,
    "translate": _translate_batch,
    "stripe": _stripe_batch,
    "identity": _identity_batch,
}

# Corruptions that draw nothing: no generators are made for them.
_DETERMINISTIC = frozenset({"scale", "brightness", "stripe", "canny_edges",
                            "identity"})


# The per-image functions of the batched corruptions are the batch versions
# applied to a batch of one.

def glass_blur(image: np.ndarray, rng: np.random.Generator,
               severity: int = RELEASE_SEVERITY["glass_blur"]) -> np.ndarray:
    """Blur, swap neighbouring pixels at random, blur again (both blurs
    vertical only, as in the release)."""
    return _glass_blur_batch(image[None], [rng], severity)[0]


def shear(image: np.ndarray, rng: np.random.Generator,
          severity: int = RELEASE_SEVERITY["shear"]) -> np.ndarray:
    """Shears by +-0.4 rad (release severity) about the centre."""
    return _shear_batch(image[None], [rng], severity)[0]


def scale(image: np.ndarray, rng: Optional[np.random.Generator] = None,
          severity: int = RELEASE_SEVERITY["scale"]) -> np.ndarray:
    """Shrinks the digit to 0.7 of its size (release severity) about the
    centre (13.5, 13.5)."""
    return _scale_batch(image[None], [rng], severity)[0]


def rotate(image: np.ndarray, rng: np.random.Generator,
           severity: int = RELEASE_SEVERITY["rotate"]) -> np.ndarray:
    """Rotates by +-0.4 rad (release severity) about the centre."""
    return _rotate_batch(image[None], [rng], severity)[0]


def brightness(image: np.ndarray, rng: Optional[np.random.Generator] = None,
               severity: int = RELEASE_SEVERITY["brightness"]) -> np.ndarray:
    """Adds 0.5 of the range (release severity) to every pixel."""
    return _brightness_batch(image[None], [rng], severity)[0]


def translate(image: np.ndarray, rng: np.random.Generator,
              severity: int = RELEASE_SEVERITY["translate"]) -> np.ndarray:
    """Shifts by 3 px (release severity) in x and in y, each sign random;
    zero fill."""
    return _translate_batch(image[None], [rng], severity)[0]


def stripe(image: np.ndarray, rng: Optional[np.random.Generator] = None,
           severity: Optional[int] = None) -> np.ndarray:
    """Inverts columns 0-6 and 21-27."""
    return _stripe_batch(image[None], [rng], severity)[0]


def identity(image: np.ndarray, rng: Optional[np.random.Generator] = None,
             severity: Optional[int] = None) -> np.ndarray:
    """The clean image (a copy)."""
    return _identity_batch(image[None], [rng], severity)[0]


CORRUPTIONS: Dict[str, Callable] = {
    "shot_noise": shot_noise, "impulse_noise": impulse_noise,
    "glass_blur": glass_blur, "motion_blur": motion_blur, "shear": shear,
    "scale": scale, "rotate": rotate, "brightness": brightness,
    "translate": translate, "stripe": stripe, "fog": fog, "spatter": spatter,
    "dotted_line": dotted_line, "zigzag": zigzag, "canny_edges": canny_edges,
    "identity": identity,
}
assert tuple(CORRUPTIONS) == CORRUPTION_NAMES


def check_corruption_name(name: str) -> None:
    """Raises ValueError for an unknown corruption, listing the valid ones."""
    if name not in CORRUPTIONS:
        raise ValueError(f"Unknown MNIST-C corruption {name!r}; valid names: "
                         + ", ".join(CORRUPTION_NAMES))


def resolve_severity(name: str, severity: Optional[int]) -> Optional[int]:
    """The release severity when `severity` is None; checks 1..5 otherwise.
    Corruptions without levels get None."""
    check_corruption_name(name)
    if severity is not None and severity not in (1, 2, 3, 4, 5):
        raise ValueError(f"severity must be 1..5 or None, got {severity!r}")
    if RELEASE_SEVERITY[name] is None:
        return None
    return RELEASE_SEVERITY[name] if severity is None else int(severity)


def image_rng(seed: int, name: str, index: int) -> np.random.Generator:
    """The generator for image `index` of a batch corrupted with `name`."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), index])


def corrupt_images(images: np.ndarray, name: str, seed: int,
                   severity: Optional[int] = None) -> np.ndarray:
    """Applies corruption `name` to every image.

    Args:
      images: uint8 [N, 28, 28, 1].
      name: one of CORRUPTION_NAMES.
      seed: non-negative int; with (name, image index) it seeds each image's
        generator, so results do not depend on batch size.
      severity: 1..5, or None for the release's severity.
    Returns:
      uint8 [N, 28, 28, 1].
    """
    severity = resolve_severity(name, severity)
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (
            IMAGE_SIZE, IMAGE_SIZE, 1):
        raise ValueError("images must be uint8 [N, 28, 28, 1], got "
                         f"{images.dtype} {images.shape}")
    if int(seed) < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    planes = images[..., 0]
    out = np.empty_like(planes)

    def rngs(start, stop):
        if name in _DETERMINISTIC:
            return [None] * (stop - start)
        return [image_rng(seed, name, i) for i in range(start, stop)]

    if name in _BATCHED:
        for start in range(0, len(planes), CHUNK):
            stop = min(start + CHUNK, len(planes))
            out[start:stop] = _BATCHED[name](planes[start:stop],
                                             rngs(start, stop), severity)
    else:
        corrupt_one = CORRUPTIONS[name]
        for i, rng in enumerate(rngs(0, len(planes))):
            out[i] = corrupt_one(planes[i], rng, severity)
    return out[..., None]
