"""Cross-checks our MNIST-C corruptions against the independent reference.

Scores one exported model on MNIST test images corrupted (a) by
`tf_kdbias.data.corruptions` and (b) by `tf_kdbias.data.mnist_c_reference`,
for each corruption, and prints a Markdown table. The two implementations
draw different random numbers, so only accuracies are compared: a gap above
the tolerance means one of them does not produce the release's distribution.

For random corruptions the two accuracies also differ by sampling noise: the
last column gives the standard error of the paired difference (from
per-example correctness); a gap of several standard errors is a real
mismatch, a gap within about two is noise even if it exceeds the tolerance.

Usage:
  python scripts/crosscheck_mnist_c.py --export_dir=E --data_dir=D \\
      [--num_examples=10000] [--corruptions=all|name,name,...]

Exit status: 0 when every |ours - reference| <= tolerance, 1 otherwise (or on
a user error, reported without a traceback).
"""

import dataclasses
import os
import sys
from typing import Callable, List, Sequence

import numpy as np
from absl import app, flags

from tf_kdbias.data.corruptions.registry import CORRUPTION_NAMES, corrupt_images
from tf_kdbias.data.mnist import load_mnist_idx
from tf_kdbias.data.paths import resolve_data_dir
from tf_kdbias.errors import UserError

TOLERANCE = 0.01

FLAGS = flags.FLAGS
flags.DEFINE_string("export_dir", None, "SavedModel exported by the suite "
                    "(signature serving_default: image uint8 -> logits).")
flags.DEFINE_string("data_dir", None, "Folder with mnist/t10k-*-ubyte.gz; "
                    "defaults to $TF_KDBIAS_DATA_DIR.")
flags.DEFINE_integer("num_examples", 10000, "MNIST test images to use.")
flags.DEFINE_string("corruptions", "all", "'all' or comma-separated names.")
flags.DEFINE_integer("seed", 0, "Seed of both corruption implementations.")
flags.DEFINE_integer("batch_size", 1000, "Images per model call.")

PredictFn = Callable[[np.ndarray], np.ndarray]  # uint8 images -> logits


@dataclasses.dataclass(frozen=True)
class Row:
    corruption: str
    ours: float
    reference: float
    standard_error: float = 0.0  # Of ours - reference, paired per example.

    @property
    def diff(self) -> float:
        return abs(self.ours - self.reference)

    @property
    def within(self) -> bool:
        # The epsilon keeps a printed 0.0100 from failing on float error.
        return self.diff <= TOLERANCE + 1e-9


def load_predict_fn(export_dir: str) -> PredictFn:
    """Wraps the SavedModel's serving signature as numpy -> numpy."""
    import tensorflow as tf  # Imported here: slow, and only needed to score.

    if not os.path.isdir(export_dir):
        raise UserError(f"--export_dir {export_dir!r} is not a directory; "
                        "pass the folder of a model exported by the suite.")
    serving = tf.saved_model.load(export_dir).signatures["serving_default"]

    def predict(images: np.ndarray) -> np.ndarray:
        return serving(image=tf.constant(images))["logits"].numpy()

    return predict


def correctness(predict: PredictFn, images: np.ndarray, labels: np.ndarray,
                batch_size: int) -> np.ndarray:
    """Per example 1.0 if the model's top class is the label, else 0.0."""
    hits = []
    for start in range(0, len(images), batch_size):
        logits = np.asarray(predict(images[start:start + batch_size]))
        hits.append(logits.argmax(-1) == labels[start:start + batch_size])
    return np.concatenate(hits).astype(np.float64)


def parse_corruptions(spec: str) -> List[str]:
    if spec == "all":
        return list(CORRUPTION_NAMES)
    names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in CORRUPTION_NAMES]
    if unknown or not names:
        raise UserError(f"--corruptions: unknown {unknown or spec!r}; use 'all' "
                        "or a comma-separated subset of " + ", ".join(CORRUPTION_NAMES))
    return names


def crosscheck(predict: PredictFn, images: np.ndarray, labels: np.ndarray,
               names: Sequence[str], seed: int, batch_size: int,
               progress: bool = True) -> List[Row]:
    """Accuracy on our and on the reference corruptions, per corruption."""
    # Imported here: the reference needs scikit-image, which --help does not.
    from tf_kdbias.data.mnist_c_reference import reference_corrupt_images
    from tqdm import tqdm

    rows = []
    for name in tqdm(names, desc="corruptions", disable=not progress):
        ours = corrupt_images(images, name, seed)
        reference = reference_corrupt_images(images, name, seed)
        hits_ours = correctness(predict, ours, labels, batch_size)
        hits_reference = correctness(predict, reference, labels, batch_size)
        paired = hits_ours - hits_reference
        standard_error = (paired.std(ddof=1) / np.sqrt(len(paired))
                          if len(paired) > 1 else 0.0)
        rows.append(Row(name, hits_ours.mean(), hits_reference.mean(),
                        float(standard_error)))
    return rows


def format_table(rows: Sequence[Row]) -> str:
    lines = ["| corruption | ours | reference | \\|diff\\| | within 0.01 | s.e. of diff |",
             "| --- | ---: | ---: | ---: | :---: | ---: |"]
    for row in rows:
        lines.append(f"| {row.corruption} | {row.ours:.4f} | {row.reference:.4f} "
                     f"| {row.diff:.4f} | {'yes' if row.within else 'NO'} "
                     f"| {row.standard_error:.4f} |")
    return "\n".join(lines)


def run(export_dir: str, data_dir: str, num_examples: int, corruptions: str,
        seed: int, batch_size: int) -> int:
    names = parse_corruptions(corruptions)
    data_dir = resolve_data_dir(data_dir)
    if data_dir is None:
        raise UserError("Pass --data_dir (or set $TF_KDBIAS_DATA_DIR) to a "
                        "folder with mnist/t10k-*-ubyte.gz.")
    test = load_mnist_idx(data_dir, "test")
    if not 0 < num_examples <= len(test):
        raise UserError(f"--num_examples must be in 1..{len(test)}, got {num_examples}.")
    predict = load_predict_fn(export_dir)
    rows = crosscheck(predict, test.images[:num_examples],
                      test.labels[:num_examples], names, seed, batch_size)
    print(format_table(rows))
    return 0 if all(row.within for row in rows) else 1


def main(argv):
    del argv
    if not FLAGS.export_dir:
        print("error: --export_dir is required", file=sys.stderr)
        return 1
    try:
        return run(FLAGS.export_dir, FLAGS.data_dir, FLAGS.num_examples,
                   FLAGS.corruptions, FLAGS.seed, FLAGS.batch_size)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    app.run(main)
