#!/usr/bin/env bash
# The paper's MNIST table with the authors' recipe (gin_configs/mnist_c/paper.gin:
# RAdam teachers, Adam students with one cosine, soft-target CE / T^2, the teacher
# in training mode at every step, all 60k images, 4 seeds) at the paper's 400
# epochs on one GPU, with the fused JAX engine (TrainSettings.engine = 'fused').
#
# Step 1 (BENCH_S > 0): scripts/benchmark.py --engine=both on BENCH_SETUPS, a
#   short speed check (standard vs fused vs 4 seeds vmapped; FLOPs and fraction
#   of the device's peak) -> $OUT/engines.md, $OUT/engines.json.
# Step 2: the table, stopped at BUDGET_S. With SEED_GROUPS=1 (default) one process
#   per setup trains its 4 seeds as one vmapped program (reproduce.py --seed_groups);
#   with SEED_GROUPS=0 one process per run. PARALLEL processes at once; students
#   start when their teachers are done. Finished runs are tabulated
#   (results.md says PARTIAL if some are not); unfinished ones keep backups in
#   $WORKDIR, and rerunning the same command resumes them.
#
# Needs: Python with jax, numpy, scipy, absl-py, h5py, ml-dtypes, rich,
# matplotlib, tqdm; keras/gin-config/namex/optree wheels in .whl/ when they are
# missing; MNIST IDX files under $DATA_DIR/mnist. Writes into $OUT.
#
# Dry run on a CPU (seconds, not the real thing):
#   BENCH_S=0 EPOCHS=1 PARALLEL=2 EXTRA='--gin_bindings=MnistTask.train_size=512' \
#     OUT=/tmp/out WORKDIR=/tmp/faithful_dry DATA_DIR=../shared/data \
#     bash docs/results/mnist_paper_faithful_gpu/run_on_device.sh
set -uo pipefail
START=$(date +%s)
BUDGET_S=${BUDGET_S:-660}          # the whole script, packing included
BENCH_S=${BENCH_S:-120}            # step 1's limit; 0 skips it
BENCH_SETUPS=${BENCH_SETUPS:-mlp,cnn_to_cnn}
BENCH_EXAMPLES=${BENCH_EXAMPLES:-19200}  # examples per timed epoch (150 steps)
EPOCHS=${EPOCHS:-400}
SEED_GROUPS=${SEED_GROUPS:-1}
if [ "$SEED_GROUPS" = 1 ]; then PARALLEL=${PARALLEL:-3}; else PARALLEL=${PARALLEL:-16}; fi
ENGINE=${ENGINE:-fused}
DATA_DIR=${DATA_DIR:-.device_data}
WORKDIR=${WORKDIR:-runs/mnist_paper_faithful_gpu}
OUT=${OUT:-/tmp/out}
GIN_FILE=${GIN_FILE:-gin_configs/mnist_c/paper.gin}
EXTRA=${EXTRA:-}   # extra --gin_bindings (only for dry runs on a CPU)
RESERVE_S=25       # packing the results
source docs/results/device_setup.sh  # Python path, JAX settings, elapsed, device.txt

# MNIST-C once, before many processes would each generate it.
python3 -c "
from tf_kdbias.data.eval_sets import load_eval_set
for name in ('mnist', 'mnist_c/scale', 'mnist_c/translate'):
    load_eval_set(name, '$DATA_DIR')" || exit 1

if [ "$BENCH_S" -gt 0 ]; then
  echo "benchmark: $BENCH_SETUPS, started at $(elapsed) s"
  timeout "$BENCH_S" python3 scripts/benchmark.py --engine=both --engine_setups="$BENCH_SETUPS" \
    --engine_train_size="$BENCH_EXAMPLES" --epochs=3 --data_dir="$DATA_DIR" \
    --output="$OUT/engines.json" > "$OUT/engines.md" 2>&1
  echo "benchmark exit $? after $(elapsed) s"; tail -25 "$OUT/engines.md"
fi

ARGS=(--gin_file="$GIN_FILE" --gin_bindings="EPOCHS = $EPOCHS"
      --gin_bindings="TrainSettings.engine = '$ENGINE'" $EXTRA --workdir="$WORKDIR")
LEFT=$(( BUDGET_S - RESERVE_S - $(elapsed) ))
GROUPS_FLAG=""; [ "$SEED_GROUPS" = 1 ] && GROUPS_FLAG="--seed_groups"
echo "table: $EPOCHS epochs, engine $ENGINE, seed groups $SEED_GROUPS, $PARALLEL processes at once, $LEFT s left, started at $(elapsed) s"
TABLE_START=$(date +%s)
if [ "$LEFT" -lt 30 ]; then
  echo "no time left for the table" | tee "$OUT/main.log"
else
  # Its own process group, so that the budget stops exactly its runs (by group id).
  setsid python3 scripts/reproduce.py "${ARGS[@]}" --data_dir="$DATA_DIR" \
    --parallel_runs="$PARALLEL" $GROUPS_FLAG > "$OUT/main.log" 2>&1 &
  TABLE_PID=$!
  timeout "$LEFT" tail --pid="$TABLE_PID" -f /dev/null
  if kill -0 "$TABLE_PID" 2>/dev/null; then
    echo "budget reached: stopping the table's runs" | tee -a "$OUT/main.log"
    kill -TERM -- -"$TABLE_PID" 2>/dev/null; sleep 3; kill -KILL -- -"$TABLE_PID" 2>/dev/null
  fi
  wait "$TABLE_PID"
  echo "table exit $? after $(( $(date +%s) - TABLE_START )) s (script at $(elapsed) s)" \
    | tee -a "$OUT/main.log"
  [ -f "$WORKDIR/results.md" ] || python3 scripts/reproduce.py "${ARGS[@]}" --results_only \
    >> "$OUT/main.log" 2>&1
fi
tail -5 "$OUT/main.log"
collect_table "$WORKDIR"
