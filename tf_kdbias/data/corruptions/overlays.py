"""MNIST-C corruptions that lay content over the digit or replace it: fog
and spatter, drawn lines (dotted_line, zigzag) and Canny edges.

Reproduced quirks of the release: fog's plasma noise has amplitude wibble**2
and is cut from a 256x256 map normalised as a whole; dotted_line's line
stops before the last column.
"""

from typing import Optional

import numpy as np
from scipy import ndimage

from tf_kdbias.data.corruptions.common import IMAGE_SIZE, RELEASE_SEVERITY, level, to_uint8

# Severity tables (index = severity - 1), from the release's corruption
# functions.
FOG_PARAMS = (  # (fog thickness, plasma roughness decay)
    (1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))
SPATTER_PARAMS = (  # (noise mean, noise std, noise blur sigma, wet threshold, mask blur sigma)
    (0.65, 0.3, 4, 0.69, 0.6), (0.65, 0.3, 3, 0.68, 0.6),
    (0.65, 0.3, 2, 0.68, 0.5), (0.65, 0.3, 1, 0.65, 1.5),
    (0.67, 0.4, 1, 0.65, 1.5))

SPATTER_GREY = 63.0  # Grey level of the mud.
LINE_HALF_WIDTH = 2.3  # Distance (px) at which a drawn line's profile ends.
PLASMA_SIZE = 256  # The release cuts fog from a map of this size.


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
    thickness, decay = level(FOG_PARAMS, severity)
    x = image.astype(np.float64) / 255.0
    peak = x.max()
    x = x + thickness * plasma_fractal(rng, PLASMA_SIZE, decay)[:IMAGE_SIZE, :IMAGE_SIZE]
    return to_uint8(x * peak / (peak + thickness) * 255.0)


def spatter(image: np.ndarray, rng: np.random.Generator,
            severity: int = RELEASE_SEVERITY["spatter"]) -> np.ndarray:
    """Grey mud blobs: thresholded smooth noise, feathered and pasted."""
    mean, std, noise_sigma, threshold, mask_sigma = level(SPATTER_PARAMS, severity)
    liquid = rng.normal(mean, std, size=image.shape)
    liquid = ndimage.gaussian_filter(liquid, noise_sigma, mode="nearest")
    wet = (liquid > threshold).astype(np.float64)
    mask = ndimage.gaussian_filter(wet, mask_sigma, mode="nearest")
    mask[mask < 0.8] = 0.0  # Only the solid core of each blob is kept.
    out = image.astype(np.float64) * (1.0 - mask) + SPATTER_GREY * mask
    return to_uint8(out)


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
    return to_uint8(image + 255.0 * dotted_line_overlay(r0, r1))


def zigzag(image: np.ndarray, rng: np.random.Generator,
           severity: Optional[int] = None) -> np.ndarray:
    """Adds a zigzag starting at a random row, tilted by up to 5 rows."""
    del severity  # No levels.
    r0 = rng.integers(0, IMAGE_SIZE - 1)
    r1 = r0 + rng.integers(-5, 5)
    # Clipping once equals the release's clip after every stroke, because
    # every stroke is non-negative.
    return to_uint8(image + 255.0 * zigzag_overlay(r0, r1))


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

