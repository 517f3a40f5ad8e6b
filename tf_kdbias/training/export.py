"""Exports a run's model as a TF SavedModel for serving."""

import os

from tf_kdbias import rundir
from tf_kdbias.errors import UserError
from tf_kdbias.tasks.base import Task, task_by_name


def load_run_model(run_dir: str):
    """The model of a finished run; an unfinished run is an error."""
    from tf_kdbias.models import load_model

    if not rundir.is_finished(run_dir):
        raise UserError(f"Run {run_dir!r} has no {rundir.METRICS_FILE}: the run did not finish, "
                        "so it has nothing to export or evaluate. Rerun its train/distill "
                        "command (it resumes) or pick a finished run.")
    return load_model(rundir.model_path(run_dir))


def run_task(run_dir: str) -> Task:
    """The task a finished run was trained on, restored from its assets."""
    return task_by_name(rundir.task_name(run_dir), run_dir)


def export_saved_model(run_dir: str, export_dir: str) -> str:
    """Writes a SavedModel whose `serving_default` maps raw inputs to logits.

    The run's task defines the signature: for MNIST it takes `image`: uint8
    [None, 28, 28, 1] (the model scales pixels itself) and returns `logits`:
    float32 [None, 10].
    """
    import keras

    from tf_kdbias.tf_support import require_tensorflow

    require_tensorflow("Exporting a TF SavedModel")
    if keras.config.backend() != "tensorflow":
        raise UserError(f"Exporting a TF SavedModel needs the TensorFlow backend; this "
                        f"process uses {keras.config.backend()!r}. Rerun the export with "
                        "KERAS_BACKEND=tensorflow (model.keras files are backend-neutral).")
    model = load_run_model(run_dir)
    serve, input_signature = run_task(run_dir).serving_endpoint(model, run_dir)
    if os.path.exists(export_dir) and os.listdir(export_dir):
        raise UserError(f"Export dir {export_dir!r} exists and is not empty; "
                        "choose a new --export_dir or remove it.")
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, input_signature=input_signature)
    tmp_dir = export_dir.rstrip("/") + ".tmp"
    archive.write_out(tmp_dir, verbose=False)
    if os.path.exists(export_dir):
        os.rmdir(export_dir)
    os.replace(tmp_dir, export_dir)
    return export_dir
