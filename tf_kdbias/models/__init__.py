"""tf_kdbias.models."""
