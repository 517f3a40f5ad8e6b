"""MNIST-C corruptions (Mu & Gilmer, 2019), reimplemented with numpy/scipy.

The official MNIST-C release is a fixed set of images made by the authors'
scripts (google-research/mnist-c, `corruptions.py`), which depend on
ImageMagick (wand), OpenCV and an old scikit-image. This package regenerates the
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

Modules:
  common: image geometry, the release severities and the uint8 output rule
    shared by every corruption.
  geometric: shear, scale, rotate, translate (bilinear affine warps).
  noise_blur: shot and impulse noise, brightness, stripe, identity, glass
    and motion blur.
  overlays: fog, spatter, dotted_line, zigzag and canny_edges (content laid
    over or replacing the digit).
  registry: the names, `CORRUPTIONS` and the batch entry point
    `corrupt_images` (what the rest of the suite calls).
"""
