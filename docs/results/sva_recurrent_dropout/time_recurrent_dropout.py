"""Times LSTM training steps with and without recurrent dropout.

The authors' LSTM (gin_configs/sva/authors_regularisers.gin) uses recurrent
dropout 0.8, which rules out the fused cuDNN kernel on a GPU. This script
trains the LSTM classifier on linzen_simple batches for a fixed number of
steps, once with the authors' settings and once with recurrent dropout 0
(everything else equal), and reports the median step time after a warm-up.

  python docs/results/sva_recurrent_dropout/time_recurrent_dropout.py \
      --data_dir=../shared/data --out=docs/results/sva_recurrent_dropout
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))

from tf_kdbias.data.sva.encoding import encode_classification  # noqa: E402
from tf_kdbias.data.sva.sources import LinzenSimpleSource  # noqa: E402
from tf_kdbias.models.lstm import build_lstm_classifier  # noqa: E402

AUTHORS = dict(lstm_dropout=0.8, hidden_dropout=0.8, input_dropout=0.0,
               between_layer_dropout=0.0, l2=1e-5)


class StepTimes(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times, self._start = [], None

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def time_steps(inputs, labels, width, recurrent_dropout, steps, warmup, batch_size, seed):
    keras.utils.set_random_seed(seed)
    model = build_lstm_classifier(vocabulary_size=int(inputs.max()) + 1, embedding_dim=width,
                                  hidden_dim=width, recurrent_dropout=recurrent_dropout,
                                  **AUTHORS)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    index = np.random.default_rng(seed).integers(0, len(labels), size=(steps + warmup) * batch_size)
    timer = StepTimes()
    model.fit(inputs[index], labels[index], batch_size=batch_size, epochs=1, shuffle=False,
              verbose=0, callbacks=[timer])
    return statistics.median(timer.times[warmup:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--widths", default="64,256")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    train = LinzenSimpleSource().load(args.data_dir)
    splits, vocabulary = train
    inputs, labels = encode_classification(splits["train"], vocabulary, max_length=100)
    rows = []
    for width in [int(w) for w in args.widths.split(",")]:
        medians = {0.0: [], 0.8: []}
        for round_index in range(args.rounds):  # Alternate, so load drifts hit both.
            for recurrent in (0.0, 0.8):
                medians[recurrent].append(time_steps(inputs, labels, width, recurrent,
                                                     args.steps, args.warmup,
                                                     args.batch_size, seed=round_index))
                print(f"width {width} recurrent_dropout {recurrent} round {round_index}: "
                      f"{medians[recurrent][-1] * 1000:.1f} ms/step", flush=True)
        without, with_ = min(medians[0.0]), min(medians[0.8])
        rows.append({"width": width, "median_step_s_without": without,
                     "median_step_s_with": with_, "ratio": with_ / without,
                     "per_round": {str(k): v for k, v in medians.items()}})
    import tensorflow as tf
    report = {"what": "LSTM classifier (2 layers), authors' regularisers, train step time "
                      "with recurrent dropout 0.8 vs 0 (min over rounds of the median step)",
              "padded_length": int(inputs.shape[1]), "batch_size": args.batch_size,
              "steps": args.steps, "warmup": args.warmup, "rounds": args.rounds,
              "rows": rows,
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "load_average_at_end": os.getloadavg(),
                          "keras": keras.__version__, "backend": keras.backend.backend(),
                          "tensorflow": tf.__version__,
                          "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]},
              "command": "python " + " ".join(sys.argv)}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(report, f, indent=1)
    lines = ["# Recurrent dropout: LSTM train step time", "", report["what"] + ".", "",
             f"Command: `{report['command']}`", "",
             f"Machine: {report['machine']}", "",
             "| width | ms/step without | ms/step with | with / without |", "|---|---|---|---|"]
    lines += [f"| {r['width']} | {r['median_step_s_without'] * 1000:.1f} | "
              f"{r['median_step_s_with'] * 1000:.1f} | {r['ratio']:.2f} |" for r in rows]
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
