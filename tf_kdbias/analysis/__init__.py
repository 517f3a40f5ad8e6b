"""tf_kdbias.analysis."""
