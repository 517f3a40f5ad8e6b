"""Standard (Keras fit) vs fused training on the JAX backend, for the equivalence tests.

  KERAS_BACKEND=jax python tests/training/fused_steps.py <data.npz> <out.npz> <case>...

`<data.npz>` holds real MNIST images and labels. Each case builds the same
models from the same seed twice and trains them once through Keras' `fit`
fed by `pipeline.make_epoch_dataset` (what training.run's standard engine does)
and once through `FusedFitter`, then saves both runs' final variables
(`standard/...`, `fused/...`) and per-epoch logs, under `<case>/`. Case 'seeds' instead
saves a vmapped group of seeds (`seeds/group/<seed>/...`) beside each seed
trained alone by the fused engine (`seeds/alone/<seed>/...`).

The fused engine scans whole epochs here (`loop='scan'`, as on a GPU); case
per_step also runs its one-call-per-step loop (`per_step/fused_steps/...`).

Cases:
  student      the MLP alone (dropout, BatchNorm, L1/L2) on gold labels
  per_step     a Distiller running an MLP teacher with dropout in training
               mode at every step, soft-CE/T^2, r = 0.7, a T schedule
  cached       a Distiller fed cached teacher logits (KL, r = 1)
  seeds        per_step's setup for SEEDS trained together vs alone
  resume       per_step uninterrupted (`resume/uninterrupted/...`) vs stopped
               after epoch 1 and resumed from its backup (`resume/resumed/...`)
"""

import os
import sys

import numpy as np

CASES = ("student", "per_step", "cached", "seeds", "resume")
NUM_TRAIN = 200      # 6 full batches of 32 and a last one of 8: both compiled shapes.
NUM_VALIDATION = 60
BATCH = 32
EPOCHS = 3
SEEDS = (3, 11)
DATA = {}  # Filled from <data.npz> in __main__.


def build_mlp(name, seed):
    import keras

    from tf_kdbias.models.mlp import build_mlp as paper_mlp
    keras.utils.set_random_seed(seed)
    return paper_mlp(hidden_units=(24, 12), dropout=0.2, name=name)


def make_trainer(case, seed):
    """A compiled trainer and its cached teacher logits (None unless 'cached')."""
    import keras

    from tf_kdbias.distill.distiller import Distiller
    from tf_kdbias.distill.schedules import make_schedule

    student = build_mlp("student", seed)
    if case == "student":
        student.compile(optimizer=keras.optimizers.Adam(3e-3),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                        jit_compile=True)
        return student, None
    teacher = build_mlp("teacher", seed + 1000)
    if case == "cached":
        trainer = Distiller(student=student, teacher=None, temperature=4.0, distill_rate=1.0)
        logits = {split: np.asarray(teacher(images, training=False))
                  for split, images in (("train", DATA["images"][:NUM_TRAIN]),
                                        ("validation", DATA["images"][NUM_TRAIN:]))}
    else:
        temperature = make_schedule("linear", initial_value=5.0, final_value=2.0,
                                    decay_steps=10)
        trainer = Distiller(student=student, teacher=teacher, temperature=temperature,
                            distill_rate=0.7, kd_loss="soft_cross_entropy",
                            teacher_training=True)
        logits = None
    trainer.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
    return trainer, logits


class Recorder:
    """Per-epoch logs, as training.run's EpochBackup keeps them."""

    def __new__(cls):
        import keras

        class _Recorder(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.history = []

            def on_epoch_end(self, epoch, logs=None):
                self.history.append({k: float(v) for k, v in (logs or {}).items()})

        return _Recorder()


def splits(logits):
    from tf_kdbias.training.fused.engine import training_elements
    images, labels = DATA["images"], DATA["labels"]
    train = training_elements(images[:NUM_TRAIN], labels[:NUM_TRAIN],
                              None if logits is None else logits["train"])
    validation = training_elements(images[NUM_TRAIN:], labels[NUM_TRAIN:],
                                   None if logits is None else logits["validation"])
    return train, validation


def fit_standard(trainer, logits, seed):
    from tf_kdbias.data import pipeline
    images, labels = DATA["images"], DATA["labels"]
    recorder = Recorder()
    train_ds = pipeline.make_epoch_dataset(
        images[:NUM_TRAIN], labels[:NUM_TRAIN], None if logits is None else logits["train"],
        batch_size=BATCH, seed=seed, epochs=EPOCHS)
    validation_ds = pipeline.make_dataset(
        images[NUM_TRAIN:], labels[NUM_TRAIN:],
        None if logits is None else logits["validation"], batch_size=1000)
    trainer.fit(train_ds, validation_data=validation_ds, epochs=EPOCHS,
                steps_per_epoch=pipeline.steps_per_epoch(NUM_TRAIN, BATCH),
                callbacks=[recorder], verbose=0, shuffle=False)
    return recorder.history


def fit_fused(trainer, logits, seed, loop="scan"):
    from tf_kdbias.training.fused.engine import FusedFitter
    train, validation = splits(logits)
    recorder = Recorder()
    FusedFitter(trainer, train, BATCH, seed, validation=validation, loop=loop).fit(
        EPOCHS, callbacks=[recorder])
    return recorder.history


def fit_fused_steps(trainer, logits, seed):
    return fit_fused(trainer, logits, seed, loop="steps")


def snapshot(prefix, trainer, history):
    """Final variables (by position) and per-epoch logs under `prefix/`."""
    out = {}
    groups = {"trainable": trainer.trainable_variables,
              "non_trainable": trainer.non_trainable_variables,
              "optimizer": trainer.optimizer.variables}
    for group, variables in groups.items():
        for i, variable in enumerate(variables):
            # By position: names get suffixes (adam_1, ...) in the second build.
            out[f"{prefix}/{group}/{i:03d}"] = np.asarray(variable.value)
    for name in history[0]:
        out[f"{prefix}/log/{name}"] = np.array([logs[name] for logs in history])
    return out


def run_pair(case):
    out = {}
    fits = [("standard", fit_standard), ("fused", fit_fused)]
    if case == "per_step":  # The one-call-per-step loop (CPU default) too.
        fits.append(("fused_steps", fit_fused_steps))
    for engine, fit in fits:
        trainer, logits = make_trainer(case, SEEDS[0])
        out.update(snapshot(f"{engine}/initial", trainer, [{"none": 0.0}]))
        out.update(snapshot(engine, trainer, fit(trainer, logits, SEEDS[0])))
    return out


def run_resume():
    """per_step trained by the fused engine in one go, and stopped after epoch 1
    then resumed from its backup in a fresh trainer (as training.run does)."""
    import tempfile

    from tf_kdbias import rundir
    from tf_kdbias.training import resume
    from tf_kdbias.training.fused.engine import FusedFitter
    out = {}
    trainer, logits = make_trainer("per_step", SEEDS[0])
    out.update(snapshot("uninterrupted", trainer, fit_fused(trainer, logits, SEEDS[0])))
    with tempfile.TemporaryDirectory() as folder:
        backup_dir = os.path.join(folder, rundir.BACKUP_FOLDER)
        trainer, logits = make_trainer("per_step", SEEDS[0])
        train, validation = splits(logits)
        FusedFitter(trainer, train, BATCH, SEEDS[0], validation=validation).fit(
            1, callbacks=[resume.EpochBackup(backup_dir, "key")])
        trainer, logits = make_trainer("per_step", SEEDS[0])  # A fresh process's trainer.
        backup = resume.latest_backup(backup_dir, "key")
        resume.restore(trainer, backup)
        recorder = resume.EpochBackup(backup_dir, "key", resumed_from=backup)
        FusedFitter(trainer, train, BATCH, SEEDS[0], validation=validation).fit(
            EPOCHS, first_epoch=backup.epoch, callbacks=[recorder])
        out.update(snapshot("resumed", trainer, recorder.history))
    return out


def run_seeds():
    from tf_kdbias.training.fused.seeds import SeedGroupFitter
    out = {}
    for seed in SEEDS:
        trainer, logits = make_trainer("per_step", seed)
        out.update(snapshot(f"alone/{seed}", trainer, fit_fused(trainer, logits, seed)))
    trainers, recorders, trains, validations = [], [], [], []
    for seed in SEEDS:
        trainer, logits = make_trainer("per_step", seed)
        train, validation = splits(logits)
        trainers.append(trainer)
        trains.append(train)
        validations.append(validation)
        recorders.append(Recorder())
    group = SeedGroupFitter(trainers, trains, list(SEEDS), BATCH, validations=validations,
                            loop="scan")
    group.fit(EPOCHS, callbacks=[[r] for r in recorders])
    for seed, trainer, recorder in zip(SEEDS, trainers, recorders):
        out.update(snapshot(f"group/{seed}", trainer, recorder.history))
    out["shared_data_leaves"] = np.array(group.shared_leaves)
    return out


if __name__ == "__main__":
    data_path, out_path, *cases = sys.argv[1:]
    DATA.update(np.load(data_path))
    results = {}
    for case in cases:
        special = {"seeds": run_seeds, "resume": run_resume}
        done = special[case]() if case in special else run_pair(case)
        results.update({f"{case}/{key}": value for key, value in done.items()})
    np.savez(out_path, **results)
