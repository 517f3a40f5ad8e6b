"""Finished-run folders made by hand, for tests that need a teacher but not its training."""

import os

from tf_kdbias import io_utils, rundir


def save_finished_run(folder, model, task: str = "mnist") -> str:
    """Writes `model` as the model.keras of a finished run in `folder` (created).

    A run is finished when its metrics.json exists (`rundir.is_finished`);
    this one records no evaluation.
    """
    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    model.save(rundir.model_path(folder))
    io_utils.write_json_atomic(rundir.metrics_path(folder),
                               {"task": task, "model": model.name, "eval": {}})
    return folder
