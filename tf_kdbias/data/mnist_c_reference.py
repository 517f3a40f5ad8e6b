"""Independent reference implementation of the 15 MNIST-C corruptions.

An independent, slow, straight transcription of the official MNIST-C
formulas (google-research/mnist-c), used only to cross-check our corruption
code (`tf_kdbias.data.corruptions`): by tests/data/test_corruptions.py and
scripts/crosscheck_mnist_c.py. Training and evaluation never use it. It needs
scikit-image (the `test` extra of setup.py).

It is written along a different code path on purpose: scikit-image's warp /
Gaussian / HSV / Canny / salt-and-pepper, scipy's affine_transform, shift and
correlate, scipy.stats for Poisson draws, and plain Python loops where the
production code vectorises. It shares no code with the production package,
only the parameter tables (transcribed separately from google-research/mnist-c, corruptions.py)
and the output convention (clip to [0, 255], round half up, uint8).

Random corruptions consume their generator differently from the production
code, so outputs agree in distribution, not bit for bit. The `*_with_*`
functions take the random draws as arguments so that the deterministic part
can be compared exactly.
"""

import math
import zlib

import numpy as np
import scipy.ndimage as ndi
import scipy.stats
import skimage.color
import skimage.feature
import skimage.filters
import skimage.transform
import skimage.util

SIZE = 28
MID = 13.5

# name -> (release severity or None, per-severity parameters or None)
TABLES = {
    "shot_noise": (5, [60, 25, 12, 5, 3]),
    "impulse_noise": (4, [0.03, 0.06, 0.09, 0.17, 0.27]),
    "glass_blur": (1, [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)]),
    "motion_blur": (1, [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)]),
    "shear": (2, [0.2, 0.4, 0.6, 0.8, 1.0]),
    "scale": (3, [1 / 0.9, 1 / 0.8, 1 / 0.7, 1 / 0.6, 1 / 0.5]),
    "rotate": (2, [0.2, 0.4, 0.6, 0.8, 1.0]),
    "brightness": (5, [0.1, 0.2, 0.3, 0.4, 0.5]),
    "translate": (3, [1, 2, 3, 4, 5]),
    "stripe": (None, None),
    "fog": (5, [(1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)]),
    "spatter": (4, [(0.65, 0.3, 4, 0.69, 0.6), (0.65, 0.3, 3, 0.68, 0.6),
                    (0.65, 0.3, 2, 0.68, 0.5), (0.65, 0.3, 1, 0.65, 1.5),
                    (0.67, 0.4, 1, 0.65, 1.5)]),
    "dotted_line": (None, None),
    "zigzag": (None, None),
    "canny_edges": (None, None),
    "identity": (None, None),
}


def to_uint8(unit_image):
    """[0, 1] floats -> uint8, clipped, rounded half up."""
    return np.floor(np.clip(np.asarray(unit_image) * 255.0, 0, 255) + 0.5).astype(np.uint8)


def params(name, severity):
    release, table = TABLES[name]
    if table is None:
        return None
    return table[(release if severity is None else severity) - 1]


def unit(image):
    return np.asarray(image, dtype=np.float64) / 255.0


# ---------------------------------------------------------------- affine ---

def _warp_xy(image, matrix_xy):
    """skimage warp with an (x, y) inverse map fixing the centre."""
    matrix = np.eye(3)
    matrix[:2, :2] = matrix_xy
    matrix[:2, 2] = MID - matrix[:2, :2] @ np.array([MID, MID])
    return skimage.transform.warp(unit(image), skimage.transform.AffineTransform(matrix=matrix),
                                  order=1, mode="constant", cval=0.0)


def shear_with_angle(image, angle):
    # scikit-image < 0.19 AffineTransform(shear=angle): [[1, -sin], [0, cos]].
    return to_uint8(_warp_xy(image, [[1.0, -math.sin(angle)], [0.0, math.cos(angle)]]))


def rotate_with_angle(image, angle):
    c, s = math.cos(angle), math.sin(angle)
    return to_uint8(_warp_xy(image, [[c, -s], [s, c]]))


def scale_with_zoom(image, zoom):
    """zoom = sampling-grid stretch (1/0.7 shrinks the digit to 0.7)."""
    matrix = np.eye(2) * zoom
    offset = MID - matrix @ np.array([MID, MID])
    out = ndi.affine_transform(unit(image), matrix, offset=offset, order=1,
                               mode="grid-constant", cval=0.0)
    return to_uint8(out)


def translate_with_shift(image, down, right):
    return to_uint8(ndi.shift(unit(image), (down, right), order=1, mode="grid-constant", cval=0.0))


def ref_shear(image, rng, severity=None):
    return shear_with_angle(image, params("shear", severity) * rng.choice([-1, 1]))


def ref_rotate(image, rng, severity=None):
    return rotate_with_angle(image, params("rotate", severity) * rng.choice([-1, 1]))


def ref_scale(image, rng, severity=None):
    return scale_with_zoom(image, params("scale", severity))


def ref_translate(image, rng, severity=None):
    d = params("translate", severity)
    down, right = rng.choice([-d, d], size=2)
    return translate_with_shift(image, down, right)


# ------------------------------------------------------------ pixel-wise ---

def ref_shot_noise(image, rng, severity=None):
    c = params("shot_noise", severity)
    counts = scipy.stats.poisson.rvs(unit(image) * c, random_state=rng)
    return to_uint8(counts / c)


def ref_impulse_noise(image, rng, severity=None):
    noisy = skimage.util.random_noise(unit(image), mode="s&p",
                                      amount=params("impulse_noise", severity), rng=rng)
    return to_uint8(noisy)


def ref_brightness(image, rng, severity=None):
    hsv = skimage.color.rgb2hsv(skimage.color.gray2rgb(unit(image)))
    hsv[..., 2] = np.clip(hsv[..., 2] + params("brightness", severity), 0, 1)
    return to_uint8(skimage.color.rgb2gray(skimage.color.hsv2rgb(hsv)))


def ref_stripe(image, rng=None, severity=None):
    image = np.asarray(image)
    cols = np.arange(SIZE)[None, :]
    inverted = (cols < 7) | (cols >= 21)
    return np.where(inverted, 255 - image.astype(np.int32), image).astype(np.uint8)


def ref_identity(image, rng=None, severity=None):
    return np.array(image, dtype=np.uint8)


# ----------------------------------------------------------------- blurs ---

def ref_glass_blur(image, rng, severity=None):
    sigma, delta, iterations = params("glass_blur", severity)
    # channel_axis=-1 on a 2-D image reproduces the release's
    # multichannel=True call: only axis 0 (rows) is blurred.
    x = np.uint8(skimage.filters.gaussian(unit(image), sigma=sigma, channel_axis=-1) * 255)
    x = x.tolist()
    for _ in range(iterations):
        for h in range(SIZE - delta, delta, -1):
            for w in range(SIZE - delta, delta, -1):
                if rng.random() < 0.5:
                    dx = int(rng.integers(-delta, delta))
                    dy = int(rng.integers(-delta, delta))
                    x[h][w], x[h + dy][w + dx] = x[h + dy][w + dx], x[h][w]
    x = np.array(x, dtype=np.float64) / 255.0
    return to_uint8(skimage.filters.gaussian(x, sigma=sigma, channel_axis=-1))


def motion_kernel(angle_deg, radius, sigma):
    """Dense correlation kernel of ImageMagick's one-sided motion blur."""
    width = 2 * math.ceil(radius) + 1
    kernel = np.zeros((2 * width + 1, 2 * width + 1))
    a = math.radians(angle_deg)
    total = sum(math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(width))
    for i in range(width):
        x = math.ceil(i * math.cos(a) - 0.5)
        y = math.ceil(i * math.sin(a) - 0.5)
        kernel[width + y, width + x] += math.exp(-(i * i) / (2 * sigma * sigma)) / total
    return kernel


def motion_blur_with_angle(image, angle_deg, severity=None):
    radius, sigma = params("motion_blur", severity)
    out = ndi.correlate(np.asarray(image, np.float64), motion_kernel(angle_deg, radius, sigma),
                        mode="nearest")
    return to_uint8(out / 255.0)


def ref_motion_blur(image, rng, severity=None):
    return motion_blur_with_angle(image, rng.uniform(-45, 45), severity)


# -------------------------------------------------------------- overlays ---

def plasma(rng, size=256, decay=2.0):
    """Diamond-square with modular index arithmetic (no np.roll)."""
    grid = np.zeros((size, size))
    step, wibble = size, 100.0
    while step >= 2:
        half = step // 2
        lo = np.arange(0, size, step)
        mid = lo + half
        nxt = (lo + step) % size
        prv = (mid - step) % size
        # squares
        avg = (grid[np.ix_(lo, lo)] + grid[np.ix_(nxt, lo)]
               + grid[np.ix_(lo, nxt)] + grid[np.ix_(nxt, nxt)]) / 4
        grid[np.ix_(mid, mid)] = avg + rng.uniform(-wibble * wibble, wibble * wibble, avg.shape)
        # diamonds at (lo, mid)
        avg = (grid[np.ix_(lo, lo)] + grid[np.ix_(lo, nxt)]
               + grid[np.ix_(mid, mid)] + grid[np.ix_(prv, mid)]) / 4
        grid[np.ix_(lo, mid)] = avg + rng.uniform(-wibble * wibble, wibble * wibble, avg.shape)
        # diamonds at (mid, lo)
        avg = (grid[np.ix_(lo, lo)] + grid[np.ix_(nxt, lo)]
               + grid[np.ix_(mid, mid)] + grid[np.ix_(mid, prv)]) / 4
        grid[np.ix_(mid, lo)] = avg + rng.uniform(-wibble * wibble, wibble * wibble, avg.shape)
        step //= 2
        wibble /= decay
    grid = grid - grid.min()
    return grid / grid.max()


def ref_fog(image, rng, severity=None):
    t, decay = params("fog", severity)
    x = unit(image)
    top = x.max()
    x = x + t * plasma(rng, 256, decay)[:SIZE, :SIZE]
    return to_uint8(x * top / (top + t))


def ref_spatter(image, rng, severity=None):
    loc, scl, sigma, thr, msigma = params("spatter", severity)
    liquid = skimage.filters.gaussian(rng.normal(loc, scl, (SIZE, SIZE)), sigma=sigma)
    liquid[liquid < thr] = 0
    m = skimage.filters.gaussian((liquid > thr).astype(np.float64), sigma=msigma)
    m[m < 0.8] = 0
    x = unit(image) * (1 - m) + (63 / 255.0) * m
    return to_uint8(x)


def soft_line(c0, r0, c1, r1):
    """Column-by-column rendering of the release's soft line."""
    out = np.zeros((SIZE, SIZE))
    if c0 == c1:
        return out
    slope = (r1 - r0) / (c1 - c0)
    for col in range(max(math.floor(c0), 0), min(math.ceil(c1), SIZE)):
        centre = r0 + slope * (col - c0)
        for row in range(SIZE):
            d = min(abs(row - centre), 2.3 - 1e-10)
            out[row, col] = min(max(math.log(1 - d / 2.3) + 1, 0.0), 1.0)
    return out


def dotted_line_with_rows(image, r0, r1):
    line = soft_line(0, r0, 27, r1)
    for start in range(0, SIZE, 4):  # two columns off, two on
        line[:, start:start + 2] = 0
    return to_uint8(unit(image) + line)


def zigzag_with_rows(image, r0, r1):
    a = b = 2.0
    c0, c1 = 2, 25
    theta = math.atan((r1 - r0) / (c1 - c0))
    d = (c1 - c0) / math.cos(theta)
    pts = [(0.0, 0.0)]
    i = 0
    while (2 * i + 1) * a <= d:  # teeth whose tip fits in the length
        pts.append(((2 * i + 1) * a, b if i % 2 == 0 else -b))
        i += 1
    full = 2 * a * math.floor(d / (2 * a))
    if d != full:
        pts.append((d, pts[-1][1] / (2 * (d - full))))
    ct, st = math.cos(theta), math.sin(theta)
    pts = [(x * ct - y * st + c0, x * st + y * ct + r0) for x, y in pts]
    x = unit(image)
    for (ca, ra), (cb, rb) in zip(pts[:-1], pts[1:]):
        x = np.clip(x + soft_line(ca, ra, cb, rb), 0, 1)
    return to_uint8(x)


def ref_dotted_line(image, rng, severity=None):
    r0, r1 = rng.integers(0, 27, size=2)
    return dotted_line_with_rows(image, int(r0), int(r1))


def ref_zigzag(image, rng, severity=None):
    r0 = int(rng.integers(0, 27))
    return zigzag_with_rows(image, r0, r0 + int(rng.integers(-5, 5)))


def ref_canny_edges(image, rng=None, severity=None):
    return skimage.feature.canny(unit(image)).astype(np.uint8) * 255


REFERENCE_CORRUPTIONS = {
    "shot_noise": ref_shot_noise, "impulse_noise": ref_impulse_noise,
    "glass_blur": ref_glass_blur, "motion_blur": ref_motion_blur,
    "shear": ref_shear, "scale": ref_scale, "rotate": ref_rotate,
    "brightness": ref_brightness, "translate": ref_translate,
    "stripe": ref_stripe, "fog": ref_fog, "spatter": ref_spatter,
    "dotted_line": ref_dotted_line, "zigzag": ref_zigzag,
    "canny_edges": ref_canny_edges, "identity": ref_identity,
}


def reference_corrupt_images(images, name, seed, severity=None):
    """uint8 [N, 28, 28, 1] -> uint8 [N, 28, 28, 1], one generator per image
    (seeded differently from production, so random draws are independent)."""
    fn = REFERENCE_CORRUPTIONS[name]
    out = np.empty_like(images)
    tag = zlib.adler32(("reference/" + name).encode())
    for i, image in enumerate(images[..., 0]):
        rng = np.random.default_rng([seed, tag, i])
        out[i, ..., 0] = fn(image, rng, severity)
    return out
