"""Exports a run's model as a TF SavedModel for serving."""

import os

from tf_kdbias.errors import UserError
from tf_kdbias.experiments.run_lib import MODEL_FILE


def load_run_model(run_dir: str):
    """The finished model of a run; a run without one is an error."""
    import keras

    path = os.path.join(run_dir, MODEL_FILE)
    if not os.path.exists(path):
        raise UserError(f"Run {run_dir!r} has no {MODEL_FILE} to export or evaluate: "
                        "the run did not finish. Rerun its train/distill command (it "
                        "resumes) or pick a finished run.")
    return keras.saving.load_model(path, compile=False)


def export_saved_model(run_dir: str, export_dir: str) -> str:
    """Writes a SavedModel whose `serving_default` maps raw inputs to logits.

    For image models the signature takes `image`: uint8 [None, 28, 28, 1]
    (the model scales pixels itself) and returns `logits`: float32
    [None, classes].
    """
    import keras
    import tensorflow as tf

    model = load_run_model(run_dir)
    if os.path.exists(export_dir) and os.listdir(export_dir):
        raise UserError(f"Export dir {export_dir!r} exists and is not empty; "
                        "choose a new --export_dir or remove it.")
    input_spec = tf.TensorSpec([None] + list(model.input.shape[1:]),
                               tf.as_dtype(model.input.dtype), name="image")

    def serve(image):
        return {"logits": tf.cast(model(image, training=False), tf.float32)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, input_signature=[input_spec])
    tmp_dir = export_dir.rstrip("/") + ".tmp"
    archive.write_out(tmp_dir, verbose=False)
    if os.path.exists(export_dir):
        os.rmdir(export_dir)
    os.replace(tmp_dir, export_dir)
    return export_dir
