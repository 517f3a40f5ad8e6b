"""A tiny reproduce-style workdir for analysis tests: a few small models,
trained for a few seconds on a few hundred MNIST images, laid out as
W/runs/<setup>/seed_<k>/ with model.keras, metrics.json and trajectory/."""

import gzip
import json
from pathlib import Path

import keras
import numpy as np

from tf_kdbias.training.callbacks import TrajectoryCheckpoint
from tf_kdbias.models.cnn import build_cnn
from tf_kdbias.models.mlp import build_mlp

REPO_ROOT = Path(__file__).resolve().parents[2]
NUM_TRAIN = 256
EPOCHS = 2


def read_idx(path: Path, count: int, images: bool) -> np.ndarray:
    """First `count` items of a gzip IDX file (independent of the package loader)."""
    with gzip.open(path, "rb") as f:
        f.read(16 if images else 8)
        size = count * 784 if images else count
        values = np.frombuffer(f.read(size), np.uint8)
    return values.reshape(count, 28, 28, 1) if images else values.astype(np.int64)


def training_data(data_dir: str):
    """The first NUM_TRAIN MNIST training images and labels."""
    folder = Path(data_dir) / "mnist"
    return (read_idx(folder / "train-images-idx3-ubyte.gz", NUM_TRAIN, True),
            read_idx(folder / "train-labels-idx1-ubyte.gz", NUM_TRAIN, False))


def tiny_model(architecture: str) -> keras.Model:
    if architecture == "mlp":
        return build_mlp(hidden_units=(16,))
    return build_cnn(filters=(4, 4, 4), maxout_units=(4, 4, 4))


def train_run(run_dir: Path, architecture: str, seed: int, images, labels,
              teacher_dir: Path = None) -> None:
    """Fits a tiny model on gold labels (a teacher only changes metadata:
    the analyses read weights, not how they were obtained)."""
    keras.utils.set_random_seed(seed)
    model = tiny_model(architecture)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=True)  # Eight steps: tracing would cost more than it saves.
    # The training callback itself writes trajectory/epoch_XXXX.weights.h5.
    checkpoints = TrajectoryCheckpoint(str(run_dir / "trajectory"), EPOCHS)
    model.fit(images, labels, batch_size=64, epochs=EPOCHS, verbose=0, callbacks=[checkpoints])
    model.save(str(run_dir / "model.keras"))
    metrics = {"task": "mnist", "model": model.name, "seed": seed, "epochs": EPOCHS,
               "teacher_dir": str(teacher_dir) if teacher_dir else None, "eval": {}}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


def make_tiny_workdir(root: Path, data_dir: str) -> Path:
    """cnn/seed_0, mlp/seed_0, mlp/seed_1, cnn_to_mlp/seed_0 and an unfinished
    mlp_to_mlp/seed_0 (no model.keras), under root/runs."""
    images, labels = training_data(data_dir)
    runs = root / "runs"
    train_run(runs / "cnn" / "seed_0", "cnn", 1, images, labels)
    train_run(runs / "mlp" / "seed_0", "mlp", 2, images, labels)
    train_run(runs / "mlp" / "seed_1", "mlp", 3, images, labels)
    train_run(runs / "cnn_to_mlp" / "seed_0", "mlp", 4, images, labels,
              teacher_dir=runs / "cnn" / "seed_0")
    (runs / "mlp_to_mlp" / "seed_0").mkdir(parents=True)  # Unfinished: skipped.
    return root
