"""tf_kdbias.models: the architectures compared in the paper.

Importing the package registers the custom layers, so saved models load.
"""

from tf_kdbias.models import channel_maxout  # noqa: F401  (registers ChannelMaxout)
