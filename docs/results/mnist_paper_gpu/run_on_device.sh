#!/usr/bin/env bash
# The paper's MNIST table (gin_configs/mnist_c/paper.gin) on one GPU with the
# Keras JAX backend, fitted to a fixed time budget. This is the script the
# measured results beside it came from (see README.md there); its set-up lines
# have since moved, unchanged, to ../device_setup.sh.
#
# Step 1 calibrates: the whole table (6 setups x 3 seeds, all runs in
# parallel as in step 2) at CAL_EPOCHS epochs. From its logs (per-epoch
# time of the slowest teacher and the slowest student) and its fixed costs
# (start-up, compilation, evaluation), step 2 picks the largest epoch count
# that fits what is left of BUDGET_S (never above the paper's 400) and runs
# the table with it.
#
# Needs: Python with jax, numpy, scipy, absl-py, h5py, ml-dtypes, rich,
# matplotlib, tqdm; keras/gin-config/namex/optree wheels in .whl/ when they
# are missing; MNIST IDX files under $DATA_DIR/mnist. Writes into $OUT.
set -uo pipefail
START=$(date +%s)
BUDGET_S=${BUDGET_S:-540}
CAL_EPOCHS=${CAL_EPOCHS:-3}
PARALLEL=${PARALLEL:-12}
DATA_DIR=${DATA_DIR:-.device_data}
WORKDIR=${WORKDIR:-runs/mnist_paper_gpu}
OUT=${OUT:-/tmp/out}
GIN_FILE=${GIN_FILE:-gin_configs/mnist_c/paper.gin}
EXTRA=${EXTRA:-}   # extra --gin_bindings (only for dry runs on a CPU)
source docs/results/device_setup.sh  # Python path, JAX settings, elapsed, device.txt

# MNIST-C once, before many processes would each generate it.
python3 -c "
from tf_kdbias.data.eval_sets import load_eval_set
for name in ('mnist', 'mnist_c/scale', 'mnist_c/translate'):
    load_eval_set(name, '$DATA_DIR')" || exit 1

table() {  # table EPOCHS WORKDIR
  python3 scripts/reproduce.py --gin_file="$GIN_FILE" \
    --gin_bindings="EPOCHS = $1" $EXTRA --workdir="$2" --data_dir="$DATA_DIR" \
    --parallel_runs="$PARALLEL"
}

echo "calibration: $CAL_EPOCHS epochs, started at $(elapsed) s"
CAL_START=$(date +%s)
table "$CAL_EPOCHS" /tmp/calibration > "$OUT/calibration.log" 2>&1 || {
  tail -40 "$OUT/calibration.log"; exit 1; }
CAL_S=$(( $(date +%s) - CAL_START ))
LEFT=$(( BUDGET_S - $(elapsed) ))
EPOCHS=$(python3 docs/results/mnist_paper_gpu/choose_epochs.py /tmp/calibration \
  "$CAL_EPOCHS" "$CAL_S" "$LEFT") || exit 1
echo "calibration took $CAL_S s; main run: $EPOCHS epochs, started at $(elapsed) s"

LEFT=$(( BUDGET_S - $(elapsed) ))
if [ "$LEFT" -lt 30 ]; then
  echo "no time left for the main run" | tee "$OUT/main.log"
else
  timeout "$LEFT" python3 scripts/reproduce.py --gin_file="$GIN_FILE" \
    --gin_bindings="EPOCHS = $EPOCHS" $EXTRA --workdir="$WORKDIR" --data_dir="$DATA_DIR" \
    --parallel_runs="$PARALLEL" > "$OUT/main.log" 2>&1
  echo "main run exit $? after $(elapsed) s" | tee -a "$OUT/main.log"
  pkill -f "scripts/(train|distill).py.*--workdir=[^ ]*$WORKDIR" 2>/dev/null  # Runs cut off by the budget, if any.
  # A table of whatever finished (marked PARTIAL if the budget cut runs off).
  [ -f "$WORKDIR/results.md" ] || python3 scripts/reproduce.py --gin_file="$GIN_FILE" \
    --gin_bindings="EPOCHS = $EPOCHS" $EXTRA --workdir="$WORKDIR" --results_only \
    >> "$OUT/main.log" 2>&1
fi
tail -5 "$OUT/main.log"
collect_table "$WORKDIR"
