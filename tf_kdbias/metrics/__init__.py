"""tf_kdbias.metrics."""
