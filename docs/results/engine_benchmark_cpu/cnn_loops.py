"""A small CNN -> CNN step on a CPU: Keras' fit vs the fused engine's two loops.

  KERAS_BACKEND=jax JAX_PLATFORMS=cpu PYTHONPATH=tests/no_tensorflow:. \
    .venv/bin/python docs/results/engine_benchmark_cpu/cnn_loops.py ../shared/data

The paper's CNN is too slow to time on this project's 2-core host, so this
uses the same architecture with fewer filters (32/16/16, max-out to
32/16/8) for teacher and student, the authors' student recipe (teacher in
training mode at every step), 1,280 examples (10 steps of 128) per epoch and
5 epochs, interleaved as in `scripts/benchmark.py --engine` (the first epoch
compiles). It prints each row's (wall, CPU) seconds per epoch.
"""

import functools
import sys

from tf_kdbias.data.mnist import load_mnist
from tf_kdbias.experiments import engine_benchmark
from tf_kdbias.experiments.fused import engine
from tf_kdbias.models.cnn import build_cnn

EXAMPLES, BATCH, EPOCHS = 1280, 128, 5


def main(data_dir):
    engine_benchmark.BUILDERS["cnn"] = functools.partial(
        build_cnn, filters=(32, 16, 16), maxout_units=(32, 16, 8))
    train = load_mnist(data_dir, validation_size=0, train_size=EXAMPLES).train
    elements = engine.training_elements(train.images, train.labels)
    steps = EXAMPLES // BATCH

    def trainer():
        return engine_benchmark.build_trainer("cnn_to_cnn", steps, seed=0)

    fitters = {f"fused ({loop})": engine.FusedFitter(trainer(), elements, BATCH, 0, loop=loop)
               for loop in ("steps", "scan")}
    times = engine_benchmark.time_engines(trainer(), fitters, train.images, train.labels,
                                          BATCH, 0, EPOCHS)
    for name, seconds in times.items():
        print(f"{name}: (wall, CPU) s per epoch", [(round(w, 2), round(c, 2)) for w, c in seconds])


if __name__ == "__main__":
    main(sys.argv[1])
