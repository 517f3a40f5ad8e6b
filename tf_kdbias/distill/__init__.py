"""tf_kdbias.distill."""
