"""Pixel-wise MNIST-C corruptions (shot and impulse noise, brightness,
stripe, identity) and blurs (glass and motion blur).

glass_blur blurs vertically only: the release called scikit-image's
`gaussian(..., multichannel=True)` on a 2-D image, which treats the columns
as colour channels. Its pixel swaps also only move by -max_delta..max_delta-1
(an exclusive upper bound).
"""

from typing import Optional

import numpy as np
from scipy import ndimage

from tf_kdbias.data.corruptions.common import IMAGE_SIZE, RELEASE_SEVERITY, level, to_uint8

# Severity tables (index = severity - 1), from the release's corruption
# functions.
SHOT_NOISE_PHOTONS = (60, 25, 12, 5, 3)  # Photons per unit intensity: fewer = noisier.
IMPULSE_NOISE_AMOUNTS = (0.03, 0.06, 0.09, 0.17, 0.27)  # Fraction of pixels hit.
GLASS_BLUR_PARAMS = (  # (Gaussian sigma, max swap distance, swap passes)
    (0.7, 1, 2), (0.9, 2, 1), (1.0, 2, 3), (1.1, 3, 2), (1.5, 4, 2))
MOTION_BLUR_PARAMS = (  # (kernel radius in px, Gaussian sigma in px)
    (10, 3), (15, 5), (15, 8), (15, 12), (20, 15))
BRIGHTNESS_OFFSETS = (0.1, 0.2, 0.3, 0.4, 0.5)  # Added to intensity in [0, 1].

STRIPE_COLUMNS = np.r_[0:7, 21:IMAGE_SIZE]  # Inverted by `stripe`.


# --------------------------------------------------------------------------
# Pixel-wise corruptions
# --------------------------------------------------------------------------

def shot_noise(image: np.ndarray, rng: np.random.Generator,
               severity: int = RELEASE_SEVERITY["shot_noise"]) -> np.ndarray:
    """Poisson photon noise: intensity = Poisson(photons * x) / photons."""
    photons = level(SHOT_NOISE_PHOTONS, severity)
    counts = rng.poisson(image.astype(np.float64) / 255.0 * photons)
    return to_uint8(counts / photons * 255.0)


def impulse_noise(image: np.ndarray, rng: np.random.Generator,
                  severity: int = RELEASE_SEVERITY["impulse_noise"]) -> np.ndarray:
    """Salt-and-pepper: a random fraction of pixels become 0 or 255 (50/50)."""
    amount = level(IMPULSE_NOISE_AMOUNTS, severity)
    hit = rng.random(image.shape) < amount
    salt = rng.random(image.shape) < 0.5
    out = image.copy()
    out[hit & salt] = 255
    out[hit & ~salt] = 0
    return out


def brightness_batch(images, rngs, severity):
    del rngs  # Deterministic.
    # Raising HSV value on a grey image is adding to the grey level.
    return to_uint8(images.astype(np.float64)
                    + 255.0 * level(BRIGHTNESS_OFFSETS, severity))


def stripe_batch(images, rngs, severity):
    del rngs, severity  # Deterministic, no levels.
    out = images.copy()
    out[..., STRIPE_COLUMNS] = 255 - images[..., STRIPE_COLUMNS]
    return out


def identity_batch(images, rngs, severity):
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


def glass_blur_batch(images, rngs, severity):
    sigma, max_delta, passes = level(GLASS_BLUR_PARAMS, severity)
    visits = np.tile(_glass_visit_order(max_delta), (passes, 1))
    moves = np.stack([_glass_moves(rng, len(visits), max_delta) for rng in rngs])
    blurred = _vertical_gaussian(images.astype(np.float64) / 255.0, sigma)
    # The release truncates to uint8 between the two blurs.
    pixels = (blurred * 255.0).astype(np.uint8)
    pixels = _swap_locally(pixels, visits, moves)
    return to_uint8(_vertical_gaussian(pixels / 255.0, sigma) * 255.0)


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
    radius, sigma = level(MOTION_BLUR_PARAMS, severity)
    angle = rng.uniform(-45.0, 45.0)
    return to_uint8(apply_motion_blur(image.astype(np.float64), angle,
                                      radius, sigma))


# The per-image functions of the batched corruptions are the batch versions
# applied to a batch of one.

def glass_blur(image: np.ndarray, rng: np.random.Generator,
               severity: int = RELEASE_SEVERITY["glass_blur"]) -> np.ndarray:
    """Blur, swap neighbouring pixels at random, blur again (both blurs
    vertical only, as in the release)."""
    return glass_blur_batch(image[None], [rng], severity)[0]


def brightness(image: np.ndarray, rng: Optional[np.random.Generator] = None,
               severity: int = RELEASE_SEVERITY["brightness"]) -> np.ndarray:
    """Adds 0.5 of the range (release severity) to every pixel."""
    return brightness_batch(image[None], [rng], severity)[0]


def stripe(image: np.ndarray, rng: Optional[np.random.Generator] = None,
           severity: Optional[int] = None) -> np.ndarray:
    """Inverts columns 0-6 and 21-27."""
    return stripe_batch(image[None], [rng], severity)[0]


def identity(image: np.ndarray, rng: Optional[np.random.Generator] = None,
             severity: Optional[int] = None) -> np.ndarray:
    """The clean image (a copy)."""
    return identity_batch(image[None], [rng], severity)[0]
