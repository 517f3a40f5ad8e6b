"""Optimizers and learning-rate schedules the experiments select by gin."""
