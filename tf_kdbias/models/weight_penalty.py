"""An L2 penalty on every trainable weight of a built model."""

import keras

from tf_kdbias.errors import UserError


def add_l2_penalty(model: keras.Model, l2: float) -> keras.Model:
    """Puts `l2 * sum(w ** 2)` on every trainable weight of `model`.

    The penalty goes on the variables themselves, so it reaches weights deep
    inside custom layers (attention, MLP, layer norms) without each layer
    taking regulariser arguments; `model.losses` then carries it into a
    model's own training loss and into the `Distiller`'s student loss. It is
    not saved with the model: a model rebuilt by its builder (a resumed run)
    gets it again, a loaded teacher or exported model needs none.

    Args:
      model: a built model.
      l2: the coefficient; 0 leaves the model as it is.

    Returns:
      `model`, for chaining.
    """
    if l2 < 0:
        raise UserError(f"l2={l2}: an L2 coefficient must be 0 (none) or positive, e.g. 1e-5.")
    if l2:
        for variable in model.trainable_weights:
            variable.regularizer = keras.regularizers.L2(l2)
    return model
