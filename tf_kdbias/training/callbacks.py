"""Training callbacks: trajectory checkpoints and a NaN guard."""

import math
import os

import keras

from tf_kdbias.errors import UserError


def trajectory_epochs(epochs: int):
    """Epochs 0, 1, 2, 4, 8, ... below `epochs`, plus the last one."""
    marks, e = {0, epochs}, 1
    while e < epochs:
        marks.add(e)
        e *= 2
    return sorted(marks)


def trained_model(model: keras.Model) -> keras.Model:
    """The model being trained: the student inside a Distiller, else itself."""
    return getattr(model, "student", model)


class TrajectoryCheckpoint(keras.callbacks.Callback):
    """Saves weights after epochs 0 (initial), 1, 2, 4, 8, ... and the last.

    Files are `<folder>/epoch_XXXX.weights.h5`, for trajectory analyses. Each
    is written once and atomically: a resumed run never rewrites (or keeps a
    half-written) checkpoint.

    Args:
      folder: where the files go.
      epochs: the run's total epochs.
      first_epoch: the epoch training starts from (> 0 when resuming: the
        weights are then not the initial ones, so epoch 0 is not saved).
    """

    def __init__(self, folder: str, epochs: int, first_epoch: int = 0):
        super().__init__()
        self.folder = folder
        self.marks = set(trajectory_epochs(epochs))
        self.first_epoch = first_epoch

    def _save(self, epoch: int):
        path = os.path.join(self.folder, f"epoch_{epoch:04d}.weights.h5")
        if os.path.exists(path):
            return
        os.makedirs(self.folder, exist_ok=True)
        tmp = os.path.join(self.folder, f".epoch_{epoch:04d}.tmp.weights.h5")
        trained_model(self.model).save_weights(tmp, overwrite=True)
        os.replace(tmp, path)

    def on_train_begin(self, logs=None):
        if self.first_epoch == 0 and 0 in self.marks:
            self._save(0)

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 in self.marks:
            self._save(epoch + 1)


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops at the first batch whose loss is NaN or Inf and says where."""

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            steps_per_epoch = (self.params or {}).get("steps") or 0
            step = self.epoch * steps_per_epoch + batch + 1
            raise UserError(
                f"The training loss became {float(loss)} at step {step} (epoch "
                f"{self.epoch + 1}, batch {batch + 1}); training stopped there and no "
                "metrics were written. Lower the learning rate, check the inputs "
                "for NaN/Inf, or raise the temperature if it is tiny.")
