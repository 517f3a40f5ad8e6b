"""tf_kdbias.experiments."""
