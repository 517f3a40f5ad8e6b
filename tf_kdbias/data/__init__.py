"""tf_kdbias.data."""
