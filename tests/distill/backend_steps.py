"""A few Distiller steps on this process's Keras backend, for cross-backend checks.

  KERAS_BACKEND=jax python tests/distill/backend_steps.py <workdir> <mode> <out.npz> \
      [<mode> <out.npz> ...]

`<workdir>` holds `batch.npz` (images, labels, teacher_logits) and the
initial weights `teacher.weights.h5` / `student.weights.h5` written by the
TensorFlow side; both sides then take the same steps from the same state.
"""

import os
import sys

import numpy as np

MODES = ("cached", "live", "online")
STEPS = 3
BATCH = 32


def build_pair():
    """Dropout-free MLPs, so both backends compute the very same function."""
    from tf_kdbias.models.mlp import build_mlp
    return (build_mlp(hidden_units=(16,), dropout=0.0, name="teacher"),
            build_mlp(hidden_units=(16,), dropout=0.0, name="student"))


def run_steps(workdir: str, mode: str) -> dict:
    """Per-step logs and final weights of STEPS SGD steps in `mode`."""
    import keras

    from tf_kdbias.batch_format import INPUTS_KEY, TEACHER_LOGITS_KEY

    from tf_kdbias.distill.distiller import Distiller
    from tf_kdbias.distill.schedules import make_schedule

    data = np.load(os.path.join(workdir, "batch.npz"))
    teacher, student = build_pair()
    teacher.load_weights(os.path.join(workdir, "teacher.weights.h5"))
    student.load_weights(os.path.join(workdir, "student.weights.h5"))
    rate = make_schedule("linear", initial_value=0.9, final_value=0.3, decay_steps=STEPS - 1)
    distiller = Distiller(student=student, teacher=None if mode == "cached" else teacher,
                          temperature=3.0, distill_rate=rate, online=mode == "online",
                          teacher_optimizer=keras.optimizers.SGD(0.05))
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    logs = []
    for step in range(STEPS):
        batch = slice(step * BATCH, (step + 1) * BATCH)
        x = data["images"][batch]
        if mode == "cached":
            x = {INPUTS_KEY: x, TEACHER_LOGITS_KEY: data["teacher_logits"][batch]}
        logs.append(distiller.train_on_batch(x, data["labels"][batch], return_dict=True))
    keys = sorted(logs[0])
    out = {f"log/{k}": np.array([float(row[k]) for row in logs]) for k in keys}
    out.update({f"student/{i}": np.asarray(w) for i, w in enumerate(student.get_weights())})
    out.update({f"teacher/{i}": np.asarray(w) for i, w in enumerate(teacher.get_weights())})
    return out


if __name__ == "__main__":
    # Several modes in one process (each builds its models and loads the weights anew).
    arguments = sys.argv[2:]
    for mode, out_path in zip(arguments[::2], arguments[1::2]):
        np.savez(out_path, **run_steps(sys.argv[1], mode))
