"""The paper's max-out CNN for MNIST."""

from typing import Sequence

import gin
import keras

from tf_kdbias.models.channel_maxout import ChannelMaxout

PENULTIMATE = "penultimate"
LOGITS = "logits"


def _image_input(input_shape: Sequence[int]) -> keras.KerasTensor:
    """Raw uint8 pixels in; scaling to [0, 1] lives inside the model so an
    exported model takes the same bytes as the dataset."""
    return keras.Input(shape=tuple(input_shape), dtype="uint8", name="image")


@gin.configurable
def build_cnn(filters: Sequence[int] = (128, 64, 64),
              maxout_units: Sequence[int] = (128, 64, 16),
              pool_sizes: Sequence[int] = (1, 2, 2),
              dropout: float = 0.3,
              l2: float = 2e-9,
              num_classes: int = 10,
              input_shape: Sequence[int] = (28, 28, 1),
              name: str = "cnn") -> keras.Model:
    """Builds the max-out CNN of the paper (docs/PAPER_SETUP.md, "Scenario 2").

    Each block is Conv2D 3x3 'valid' -> channel max-out -> BatchNorm -> ReLU
    -> MaxPool -> Dropout; then global average pooling (the layer named
    `penultimate`) and a Dense layer named `logits`.

    Args:
      filters: Conv2D filters per block.
      maxout_units: channels left after max-out in each block.
      pool_sizes: max-pool window per block (1 = no pooling).
      dropout: dropout rate after each block.
      l2: L2 penalty on conv and dense kernels.
      num_classes: number of logits.
      input_shape: image shape (uint8 pixels).
      name: model name.

    Example:

    >>> model = build_cnn(filters=(8, 8, 8), maxout_units=(8, 4, 4))
    >>> model(np.zeros((2, 28, 28, 1), "uint8")).shape
    (2, 10)
    """
    if not len(filters) == len(maxout_units) == len(pool_sizes):
        raise ValueError("filters, maxout_units and pool_sizes need one entry "
                         f"per block; got {filters}, {maxout_units}, {pool_sizes}.")
    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs = _image_input(input_shape)
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for i, (n_filters, units, pool) in enumerate(zip(filters, maxout_units, pool_sizes)):
        x = keras.layers.Conv2D(n_filters, 3, padding="valid",
                                kernel_regularizer=regularizer, name=f"conv{i}")(x)
        x = ChannelMaxout(units, name=f"maxout{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        if pool > 1:
            x = keras.layers.MaxPooling2D(pool, name=f"pool{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name=PENULTIMATE)(x)
    logits = keras.layers.Dense(num_classes, kernel_regularizer=regularizer,
                                name=LOGITS)(x)
    return keras.Model(inputs, logits, name=name)
