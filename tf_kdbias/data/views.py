"""Augmented views of MNIST training images for consistent-view distillation.

A *view* of training example i is the image the teacher and the student both
see at one step: a mixup of image i with a partner image j, optionally with
pixel noise. Every view is a pure function of (view seed, example index i,
view index v) for a given training set, so that a cache can store only the
teacher's logits for views 0..V-1 and regenerate the images bit for bit.

Mixup (Zhang et al. 2018): view = λ x_i + (1 - λ) x_j with λ ~ Beta(α, α).
The default α = 1 (λ uniform on [0, 1]) is the value of Beyer et al. 2022's
released function-matching configs (big_vision, configs/proj/distill/*.py:
`config.mixup = dict(p=1.0)`, p being the Beta concentration). Unlike those
configs, which draw one λ per batch and mix a batch with itself rolled, λ and
the partner j are drawn per example here: a view has to be a function of its
example, not of the batch the example happens to land in.

λ is rounded to a multiple of 1/MIX_LEVELS before mixing, so the pixel
arithmetic is exact and the mixed label weights are the ones used.

No geometric augmentation exists here on purpose: MNIST-C `translate`
(±3-pixel shift) and `scale` are the test shifts of the paper, so a shift,
crop, zoom or rescale in training would test the augmentation, not the
teacher's bias. Asking for one is a UserError that says so.
"""

import dataclasses
import functools
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from tf_kdbias.errors import UserError

MIX_LEVELS = 256
# Bump when the view recipe changes, so cached teacher logits of old views are
# recomputed instead of trusted.
VIEW_VERSION = "1"

# Augmentations on offer -> MNIST-C corruptions they resemble; the robustness
# profile marks those cells of setups trained with the augmentation.
AUGMENTATION_OVERLAPS: Dict[str, Tuple[str, ...]] = {
    "mixup": (),
    "pixel_noise": ("shot_noise", "impulse_noise"),
}
# Names a user might reach for that reproduce a test shift.
FORBIDDEN_AUGMENTATIONS = ("translate", "shift", "crop", "random_crop", "inception_crop",
                           "scale", "zoom", "resize", "rescale", "affine")

# Separate random streams per purpose, so adding noise never changes the mixup.
_MIXUP_STREAM = 1
_NOISE_STREAM = 2


@dataclasses.dataclass(frozen=True)
class ViewSpec:
    """How views are made.

    Args:
      augmentations: names from AUGMENTATION_OVERLAPS, applied in that order
        (mixup, then noise). Empty: the view is the training image itself.
      mixup_alpha: α of Beta(α, α), the distribution of the mixing weight λ.
      noise_std: standard deviation of 'pixel_noise' in grey levels (0..255).
      seed: the view seed.
    """

    augmentations: Tuple[str, ...] = ("mixup",)
    mixup_alpha: float = 1.0
    noise_std: float = 0.0
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "augmentations", tuple(self.augmentations))
        check_augmentations(self.augmentations)
        if "mixup" in self.augmentations and not self.mixup_alpha > 0:
            raise UserError(f"FunctionMatching.mixup_alpha={self.mixup_alpha}: the Beta "
                            "distribution needs α > 0 (1.0 draws λ uniformly).")
        if "pixel_noise" in self.augmentations and not self.noise_std > 0:
            raise UserError(f"FunctionMatching.noise_std={self.noise_std} with 'pixel_noise': "
                            "set a positive standard deviation in grey levels (e.g. 16.0), "
                            "or drop 'pixel_noise' from FunctionMatching.augmentations.")

    def describe(self) -> Dict:
        """The settings a view depends on (JSON-able; part of cache keys)."""
        return {"augmentations": list(self.augmentations),
                "mixup_alpha": float(self.mixup_alpha) if "mixup" in self.augmentations else None,
                "noise_std": float(self.noise_std) if "pixel_noise" in self.augmentations else None,
                "seed": int(self.seed), "mix_levels": MIX_LEVELS, "version": VIEW_VERSION,
                # Generator algorithms may change between numpy releases.
                "numpy": ".".join(np.__version__.split(".")[:2])}

    @property
    def overlapping_corruptions(self) -> Tuple[str, ...]:
        return tuple(dict.fromkeys(c for a in self.augmentations
                                   for c in AUGMENTATION_OVERLAPS[a]))


def check_augmentations(names: Sequence[str]) -> None:
    """UserError for an unknown augmentation or one that reproduces a test shift."""
    for name in names:
        if name in FORBIDDEN_AUGMENTATIONS:
            raise UserError(
                f"Augmentation {name!r} is not offered: shifts, crops and zooms reproduce the "
                "MNIST-C test shifts (translate: ±3 pixels; scale), so scores on those sets "
                "would measure the augmentation instead of the teacher. Use "
                f"{sorted(AUGMENTATION_OVERLAPS)}.")
        if name not in AUGMENTATION_OVERLAPS:
            raise UserError(f"Unknown augmentation {name!r} in FunctionMatching.augmentations; "
                            f"choose among {sorted(AUGMENTATION_OVERLAPS)}.")


@functools.lru_cache(maxsize=4)
def _mixup_table(spec: ViewSpec, num_examples: int, view_index: int):
    """Partner index and mixing level of every example for one view index."""
    rng = np.random.default_rng([spec.seed, view_index, _MIXUP_STREAM])
    partners = rng.integers(0, num_examples, size=num_examples)
    lam = rng.beta(spec.mixup_alpha, spec.mixup_alpha, size=num_examples)
    levels = np.rint(lam * MIX_LEVELS).astype(np.int64)
    partners.setflags(write=False)
    levels.setflags(write=False)
    return partners, levels


def mixup_parameters(spec: ViewSpec, num_examples: int, indices: np.ndarray,
                     view_index: int) -> Tuple[np.ndarray, np.ndarray]:
    """(partner indices, λ as levels 0..MIX_LEVELS) of examples `indices` in view
    `view_index`. Without mixup every example is its own partner at λ = 1."""
    indices = np.asarray(indices, np.int64)
    if "mixup" not in spec.augmentations:
        return indices, np.full(len(indices), MIX_LEVELS, np.int64)
    partners, levels = _mixup_table(spec, num_examples, int(view_index))
    return partners[indices], levels[indices]


def _noise(spec: ViewSpec, index: int, view_index: int, shape) -> np.ndarray:
    rng = np.random.default_rng([spec.seed, view_index, _NOISE_STREAM, index])
    return rng.normal(0.0, spec.noise_std, size=shape)


def make_views(images: np.ndarray, spec: ViewSpec, indices: np.ndarray,
               view_index: int) -> np.ndarray:
    """uint8 views of examples `indices` (of the whole training set `images`).

    Args:
      images: uint8 [N, H, W, C], the whole training split (partners come from it).
      spec: how views are made.
      indices: [B] example indices.
      view_index: which view of each example (an epoch, or a cache slot).
    """
    partners, levels = mixup_parameters(spec, len(images), indices, view_index)
    weight = (levels / MIX_LEVELS).reshape((-1,) + (1,) * (images.ndim - 1))
    # Exact in float64: small integers times multiples of 1/256.
    pixels = weight * images[indices] + (1.0 - weight) * images[partners]
    if "pixel_noise" in spec.augmentations:
        pixels = pixels + np.stack([_noise(spec, int(i), view_index, images.shape[1:])
                                    for i in np.asarray(indices)])
    return np.floor(np.clip(pixels, 0.0, 255.0) + 0.5).astype(np.uint8)


def view_labels(labels: np.ndarray, spec: ViewSpec, indices: np.ndarray, view_index: int,
                num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    """(label of the larger-weight image [B], mixed one-hot labels [B, classes]).

    The first is the gold label a distiller's CE term and accuracy read; the
    second is the mixup target of a model trained alone.
    """
    partners, levels = mixup_parameters(spec, len(labels), indices, view_index)
    own, other = labels[np.asarray(indices, np.int64)], labels[partners]
    weight = (levels / MIX_LEVELS).astype(np.float32)
    soft = np.zeros((len(own), num_classes), np.float32)
    rows = np.arange(len(own))
    soft[rows, own] += weight
    soft[rows, other] += 1.0 - weight
    dominant = np.where(levels * 2 >= MIX_LEVELS, own, other)
    return dominant, soft


def view_index_at(epoch: int, cache_views: Optional[int]) -> int:
    """The view an epoch uses: a fresh one per epoch live, else cycling through
    the V cached ones."""
    return epoch if cache_views is None else epoch % cache_views
