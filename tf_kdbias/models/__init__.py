"""tf_kdbias.models: the architectures compared in the paper.

Importing the package registers the custom layers, so saved models load.
"""

from tf_kdbias.models import channel_maxout  # noqa: F401  (registers ChannelMaxout)
# The SVA models' layers (registered for loading model.keras files).
from tf_kdbias.models import (  # noqa: F401,E402
    first_position, last_real_token, padding_mask, position_embedding, prepend_token,
    tied_embedding, transformer_block)
