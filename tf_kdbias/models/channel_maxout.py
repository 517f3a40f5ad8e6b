"""Channel max-out: the maximum over groups of feature channels."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_kdbias")
class ChannelMaxout(keras.layers.Layer):
    """Reduces the last axis to `num_units` by taking the max within groups.

    The `C` input channels are split into `num_units` consecutive groups of
    `C // num_units` channels and each group is replaced by its maximum
    (Goodfellow et al., 2013). With `num_units == C` it is the identity.

    Args:
      num_units: number of output channels; must divide the input channels.

    Example:

    >>> layer = ChannelMaxout(num_units=2)
    >>> layer(np.array([[1., 5., 3., 2.]])).numpy()
    array([[5., 3.]], dtype=float32)
    """

    def __init__(self, num_units: int, **kwargs):
        super().__init__(**kwargs)
        self.num_units = int(num_units)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.num_units:
            raise ValueError(
                f"ChannelMaxout(num_units={self.num_units}) needs a channel "
                f"count divisible by {self.num_units}, got {channels}.")
        self.group_size = channels // self.num_units

    def call(self, inputs):
        if self.group_size == 1:
            return inputs  # Nothing to pool; skip the reshape and its gradient.
        shape = ops.shape(inputs)
        grouped = ops.reshape(
            inputs, tuple(shape[:-1]) + (self.num_units, self.group_size))
        return ops.max(grouped, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_units,)

    def get_config(self):
        return {**super().get_config(), "num_units": self.num_units}
