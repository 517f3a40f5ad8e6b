"""Flags and error handling shared by the absl scripts."""

import sys
from typing import Dict, Optional

from absl import flags, logging

from tf_kdbias.errors import UserError

FLAGS = flags.FLAGS


def define_gin_flags() -> None:
    flags.DEFINE_multi_string("gin_file", [], "Gin config file(s), applied in order.")
    flags.DEFINE_multi_string("gin_bindings", [],
                              "Gin bindings applied after the files, e.g. 'EPOCHS=3'.")


def define_data_flag() -> None:
    flags.DEFINE_string("data_dir", None,
                        "Folder laid out like shared/data (mnist/, sva/). Defaults to "
                        "$TF_KDBIAS_DATA_DIR; if neither is set, TFDS downloads the data.")


def define_parallel_flag() -> None:
    flags.DEFINE_integer("parallel_runs", 0,
                         "Runs executed at once, each in its own process (a student starts "
                         "once its teacher is done); 0 (default) = this machine's CPU cores. "
                         "Each run logs to <run_dir>/log.txt.")


def run_main(main_fn) -> None:
    """Runs `main_fn()`; expected errors print their message and exit 2."""
    logging.set_verbosity(logging.WARNING)
    try:
        main_fn()
    except UserError as e:
        # gin appends "In call to configurable ..." lines; they only add noise.
        message = "\n".join(line for line in str(e).splitlines()
                            if not line.startswith("  In call to configurable"))
        print(f"error: {message}", file=sys.stderr, flush=True)
        sys.exit(2)


def format_eval_table(results: Dict[str, Dict[str, Optional[float]]]) -> str:
    """A Markdown table: one row per eval set, one column per metric."""
    metrics = list(dict.fromkeys(m for values in results.values() for m in values))
    lines = ["| eval set | " + " | ".join(metrics) + " |",
             "|---" * (len(metrics) + 1) + "|"]
    for name, values in results.items():
        cells = ["n/a" if values.get(m) is None else f"{values[m]:.4f}" for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
