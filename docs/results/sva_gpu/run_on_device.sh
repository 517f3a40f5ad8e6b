#!/usr/bin/env bash
# SVA classifiers at the paper's model sizes on one GPU (Keras JAX backend,
# no TensorFlow): gin_configs/sva/scale_classification.gin on three sources
# at once, each a reproduce.py table with its own work dir:
#   fronted  the grammar with fronted phrases, NUM_TRAIN sentences, all 8 setups
#   plain    the plain grammar, NUM_TRAIN sentences, the 4 classifiers alone
#   small    linzen_small (real sentences), SMALL_EPOCHS epochs, the 4 alone
#            and LSTM -> Transformer-seq
# This is the script the results beside it came from (README.md there); its
# set-up lines have since moved, unchanged, to ../device_setup.sh.
# Runs still going at BUDGET_S are stopped and the tables are written from
# what finished (marked PARTIAL).
#
# Needs: Python with jax, numpy, scipy, absl-py, h5py, ml-dtypes, rich,
# matplotlib, tqdm; keras/gin-config/namex/optree wheels in .whl/ when they
# are missing; $DATA_DIR/sva/linzen_testset. Writes into $OUT.
set -uo pipefail
START=$(date +%s)
BUDGET_S=${BUDGET_S:-500}
NUM_TRAIN=${NUM_TRAIN:-50000}
EPOCHS=${EPOCHS:-8}
SMALL_EPOCHS=${SMALL_EPOCHS:-20}
DATA_DIR=${DATA_DIR:-.device_data}
WORKDIR=${WORKDIR:-runs/sva_gpu}
OUT=${OUT:-/tmp/out}
EXTRA=${EXTRA:-}   # extra --gin_bindings (only for dry runs on a CPU)
mkdir -p "$WORKDIR"
source docs/results/device_setup.sh  # Python path, JAX settings, elapsed, device.txt

ALONE='Experiment.setups = [("lstm", None), ("transformer", None), ("transformer_seq", None), ("utransformer_seq", None)]'
SMALL_SETUPS='Experiment.setups = [("lstm", None), ("transformer", None), ("transformer_seq", None), ("utransformer_seq", None), ("transformer_seq", "lstm")]'

table() {  # table NAME SOURCE_GIN EPOCHS [--gin_bindings=...]
  local name=$1 source=$2 epochs=$3; shift 3
  args=(--gin_file=gin_configs/sva/scale_classification.gin --gin_file="$source"
        --gin_bindings="GrammarSource.num_train = $NUM_TRAIN" --gin_bindings="EPOCHS = $epochs"
        "$@" $EXTRA --workdir="$WORKDIR/$name" --data_dir="$DATA_DIR")
  local left=$(( BUDGET_S - $(elapsed) )); [ "$left" -gt 1 ] || left=1
  timeout "$left" python3 scripts/reproduce.py "${args[@]}" \
    --parallel_runs=4 --gpu_memory_fraction=0.06 > "$OUT/$name.log" 2>&1
  echo "$name: exit $? after $(elapsed) s" | tee -a "$OUT/$name.log"
  # A table of whatever finished (PARTIAL when the budget cut runs off).
  [ -f "$WORKDIR/$name/results.md" ] || python3 scripts/reproduce.py "${args[@]}" \
    --results_only >> "$OUT/$name.log" 2>&1
}

table fronted gin_configs/sva/source_grammar_fronted.gin "$EPOCHS" &
table plain gin_configs/sva/source_grammar.gin "$EPOCHS" --gin_bindings="$ALONE" &
table small gin_configs/sva/source_linzen_small.gin "$SMALL_EPOCHS" \
  --gin_bindings="$SMALL_SETUPS" &
wait
pkill -f "scripts/(train|distill).py.*--workdir=[^ ]*$WORKDIR" 2>/dev/null  # Runs cut off by the budget, if any.
find "$WORKDIR" \( -name metrics.json -o -name operative_config.gin -o -name 'results.*' \
  -o -name log.txt \) | tar czf "$OUT/runs.tgz" -T -
for name in fronted plain small; do
  cp "$WORKDIR/$name/results.md" "$OUT/results_$name.md" 2>/dev/null
done
echo "done after $(elapsed) s"
