"""The MNIST-C corruption registry and batch entry point.

`corrupt_images` applies one corruption to a batch of images, drawing every
image's randomness from its own generator (`image_rng`), so a result never
depends on the batch size or on which other images are corrupted with it.
"""

import zlib
from typing import Callable, Dict, Optional, Sequence

import numpy as np

from tf_kdbias.data.corruptions import geometric, noise_blur, overlays
from tf_kdbias.data.corruptions.common import IMAGE_SIZE, RELEASE_SEVERITY

CORRUPTION_NAMES = (
    "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear",
    "scale", "rotate", "brightness", "translate", "stripe", "fog", "spatter",
    "dotted_line", "zigzag", "canny_edges", "identity",
)

CHUNK = 1000  # Images per vectorised step: bounds memory for glass_blur.

BatchFn = Callable[[np.ndarray, Sequence[np.random.Generator], Optional[int]],
                   np.ndarray]

# Corruptions computed for many images at once (fast for 10k images); the
# per-image functions (in their modules) call these, so both paths agree
# exactly.
_BATCHED: Dict[str, BatchFn] = {
    "glass_blur": noise_blur.glass_blur_batch,
    "shear": geometric.shear_batch,
    "scale": geometric.scale_batch,
    "rotate": geometric.rotate_batch,
    "brightness": noise_blur.brightness_batch,
    "translate": geometric.translate_batch,
    "stripe": noise_blur.stripe_batch,
    "identity": noise_blur.identity_batch,
}

# Corruptions that draw nothing: no generators are made for them.
_DETERMINISTIC = frozenset({"scale", "brightness", "stripe", "canny_edges",
                            "identity"})

# Per-image functions `fn(image, rng, severity) -> image`.
CORRUPTIONS: Dict[str, Callable] = {
    "shot_noise": noise_blur.shot_noise, "impulse_noise": noise_blur.impulse_noise,
    "glass_blur": noise_blur.glass_blur, "motion_blur": noise_blur.motion_blur,
    "shear": geometric.shear, "scale": geometric.scale, "rotate": geometric.rotate,
    "brightness": noise_blur.brightness, "translate": geometric.translate,
    "stripe": noise_blur.stripe, "fog": overlays.fog, "spatter": overlays.spatter,
    "dotted_line": overlays.dotted_line, "zigzag": overlays.zigzag,
    "canny_edges": overlays.canny_edges, "identity": noise_blur.identity,
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
