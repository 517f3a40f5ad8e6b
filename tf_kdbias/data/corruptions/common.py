"""Conventions shared by the MNIST-C corruptions (see the package docstring):
image geometry, the release's severity per corruption and the output rule
(clip to [0, 255], round half up, uint8)."""

from typing import Dict, Optional, Sequence

import numpy as np

IMAGE_SIZE = 28
# Pixel centres are integers, so the image centre is (13.5, 13.5).
CENTER = (IMAGE_SIZE - 1) / 2.0

# The severity the official release used for each corruption; None where the
# corruption has no levels.
RELEASE_SEVERITY: Dict[str, Optional[int]] = {
    "shot_noise": 5, "impulse_noise": 4, "glass_blur": 1, "motion_blur": 1,
    "shear": 2, "scale": 3, "rotate": 2, "brightness": 5, "translate": 3,
    "stripe": None, "fog": 5, "spatter": 4, "dotted_line": None,
    "zigzag": None, "canny_edges": None, "identity": None,
}


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Clips float grey levels to [0, 255] and rounds half up."""
    return np.floor(np.clip(pixels, 0.0, 255.0) + 0.5).astype(np.uint8)


def level(table: Sequence, severity: int):
    return table[severity - 1]
