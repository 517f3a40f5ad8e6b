"""The paper's MLP for MNIST."""

from typing import Sequence

import gin
import keras

from tf_kdbias.models.cnn import LOGITS, PENULTIMATE, _image_input


@gin.configurable
def build_mlp(hidden_units: Sequence[int] = (512, 128, 32),
              dropout: float = 0.1,
              l1: float = 1e-5,
              l2: float = 1e-5,
              num_classes: int = 10,
              input_shape: Sequence[int] = (28, 28, 1),
              name: str = "mlp") -> keras.Model:
    """Builds the MLP of the paper (docs/PAPER_SETUP.md, "Scenario 2").

    Flatten, then per hidden layer Dense -> ReLU -> BatchNorm -> Dropout, then
    a Dense layer named `logits`. The last hidden block's output is exposed as
    the identity layer `penultimate`.

    Args:
      hidden_units: width of each hidden layer.
      dropout: dropout rate after each hidden layer.
      l1: L1 penalty on dense kernels.
      l2: L2 penalty on dense kernels.
      num_classes: number of logits.
      input_shape: image shape (uint8 pixels).
      name: model name.

    Example:

    >>> model = build_mlp(hidden_units=(16,))
    >>> model(np.zeros((2, 28, 28, 1), "uint8")).shape
    (2, 10)
    """
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    inputs = _image_input(input_shape)
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, kernel_regularizer=regularizer, name=f"dense{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
    x = keras.layers.Identity(name=PENULTIMATE)(x)
    logits = keras.layers.Dense(num_classes, kernel_regularizer=regularizer,
                                name=LOGITS)(x)
    return keras.Model(inputs, logits, name=name)
