"""Tasks: what a run trains on, how it is scored and served (MNIST, SVA)."""
