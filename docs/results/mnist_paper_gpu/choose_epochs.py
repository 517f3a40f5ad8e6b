"""Picks the epoch count that fits a time budget, from a calibration table.

  python choose_epochs.py <calibration workdir> <its epochs> <its wall s> <seconds left>

Each run's log.txt (written by `reproduce.py --parallel_runs`) has Keras'
per-epoch line `430/430 - 2s - 5ms/step - ...`. The slowest teacher's and
the slowest student's last epoch give the per-epoch cost of the table's
critical path (teacher, then its students); the rest of the calibration's
wall time is fixed cost (start-up, compilation, caching, evaluation).
"""

import glob
import os
import re
import sys

PAPER_EPOCHS = 400
SAFETY = 1.2      # Validation, backups and checkpoints are not in the step time.
RESERVE_S = 25    # Packing the results.
STEP_LINE = re.compile(r"^(\d+)/\1 - \S+ - (\d+(?:\.\d+)?)(ms|us|s)/step", re.M)


def last_epoch_seconds(log_path: str) -> float:
    matches = STEP_LINE.findall(open(log_path, errors="replace").read())
    if not matches:
        raise SystemExit(f"No per-epoch line in {log_path}")
    steps, value, unit = matches[-1]
    return int(steps) * float(value) * {"s": 1.0, "ms": 1e-3, "us": 1e-6}[unit]


def main(workdir: str, epochs: int, wall_s: float, left_s: float) -> int:
    teacher, student = 0.0, 0.0
    for log in glob.glob(os.path.join(workdir, "runs", "*", "seed_*", "log.txt")):
        seconds = last_epoch_seconds(log)
        if "_to_" in log.split(os.sep)[-3]:
            student = max(student, seconds)
        else:
            teacher = max(teacher, seconds)
    per_epoch = SAFETY * (teacher + student)
    fixed = max(0.0, wall_s - epochs * (teacher + student))
    chosen = int((left_s - RESERVE_S - fixed) / per_epoch)
    print(f"teacher epoch {teacher:.2f} s, student epoch {student:.2f} s, fixed {fixed:.0f} s, "
          f"left {left_s:.0f} s -> {chosen} epochs", file=sys.stderr)
    return max(1, min(PAPER_EPOCHS, chosen))


if __name__ == "__main__":
    print(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])))
