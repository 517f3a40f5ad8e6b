#!/usr/bin/env bash
# One slot of the paper's MNIST table with the authors' recipe (gin_configs/mnist_c/paper.gin,
# 400 epochs, fused JAX engine, seed groups) trained as a chain of short GPU slots
# (scripts/chain.py; CHAIN.md beside this file says how to run the next slot).
#
# 1. STATE_IN set: the last slot's state is restored into a fresh $WORKDIR (sha256 checked;
#    a damaged state stops here with one line, exit 2).
# 2. No speed measured yet (first slot only): a speed check of at most SPEED_S s
#    (run-steps/s of the dearest and the cheapest setup; FLOPs per example of all).
# 3. The stages (1: the 8 runs trained alone; 2: students of the CNN; 3: students of
#    the MLP) until BUDGET_S less RESERVE_S; runs cut by the budget resume next slot
#    from their last epoch backup. Each stage reports examples/s and its fraction of
#    the GPU's TF32 peak; every run's metrics.json records its precision (TF32: JAX's
#    default for float32 matmuls and convolutions on this GPU).
# 4. Results (results.md says PARTIAL with the runs done until all 24 are) and the state
#    ($OUT/state.tgz, or .000/.001... parts of <= 15 MiB) for the next slot, packed
#    inside the budget. No process of this slot is left running when it returns.
#
# Dry run on a CPU (tiny models, 2 epochs; about 4 minutes on 2 busy cores):
#   BUDGET_S=240 RESERVE_S=30 SPEED_S=60 EPOCHS=2 PARALLEL=1 \
#     EXTRA='--gin_bindings=MnistTask.train_size=512 --gin_bindings=build_cnn.filters=(8,8,8)
#            --gin_bindings=build_cnn.maxout_units=(8,8,4) --gin_bindings=build_mlp.hidden_units=(32,16)' \
#     OUT=/tmp/out WORKDIR=/tmp/chain_dry DATA_DIR=../shared/data \
#     bash docs/results/mnist_paper_faithful_gpu/run_on_device.sh
set -uo pipefail
START=$(date +%s)
BUDGET_S=${BUDGET_S:-540}          # the whole slot, packing included (the command limit is 600)
RESERVE_S=${RESERVE_S:-45}         # results and packing, inside the budget
SPEED_S=${SPEED_S:-60}             # the speed check, only while the state holds none
STATE_IN=${STATE_IN:-}             # the last slot's state.tgz (empty: the first slot)
EPOCHS=${EPOCHS:-400}
SEED_GROUPS=${SEED_GROUPS:-1}
PARALLEL=${PARALLEL:-2}            # seed groups (or runs) at once
UNTIL_STAGE=${UNTIL_STAGE:-0}      # train no stage after this one (0: as far as the budget goes)
DATA_DIR=${DATA_DIR:-.device_data}
WORKDIR=${WORKDIR:-runs/mnist_paper_faithful_gpu}
OUT=${OUT:-/tmp/out}
GIN_FILE=${GIN_FILE:-gin_configs/mnist_c/paper.gin}
EXTRA=${EXTRA:-}                   # extra --gin_bindings (only for dry runs on a CPU)
export CHAIN_SLOT_ID="chain_slot_$$_$START"  # marks this slot's processes (checked at the end)
source docs/results/device_setup.sh  # Python path, JAX settings, elapsed, device.txt
exec > >(tee -a "$OUT/chain.log") 2>&1

if [ -n "$STATE_IN" ]; then
  rm -rf "$WORKDIR"
  python3 scripts/chain.py --action=restore --state="$STATE_IN" --workdir="$WORKDIR" || exit 2
fi
GROUPS_FLAG=""; [ "$SEED_GROUPS" = 1 ] && GROUPS_FLAG="--seed_groups"
ARGS=(--gin_file="$GIN_FILE" --gin_bindings="EPOCHS = $EPOCHS"
      --gin_bindings="TrainSettings.engine = 'fused'" $EXTRA --workdir="$WORKDIR"
      --data_dir="$DATA_DIR" --out="$OUT" $GROUPS_FLAG)

# MNIST-C once, before several processes would each generate it.
python3 -c "
from tf_kdbias.data.eval_sets import load_eval_set
for name in ('mnist', 'mnist_c/scale', 'mnist_c/translate'):
    load_eval_set(name, '$DATA_DIR')" || exit 1

if [ ! -f "$WORKDIR/chain/speed.json" ] && [ "$SPEED_S" -gt 0 ]; then
  echo "speed check (first slot), at most $SPEED_S s, started at $(elapsed) s"
  timeout -k 5 "$SPEED_S" python3 scripts/chain.py --action=speed "${ARGS[@]}" \
    --speed_s=$(( SPEED_S - 20 ))
  echo "speed check exit $? at $(elapsed) s"
fi

LEFT=$(( BUDGET_S - $(elapsed) ))
echo "stages: $LEFT s left of $BUDGET_S (packing reserve $RESERVE_S s), started at $(elapsed) s"
timeout -k 5 "$LEFT" python3 scripts/chain.py --action=run "${ARGS[@]}" \
  --budget_s=$(( LEFT - 10 )) --reserve_s="$RESERVE_S" --parallel_runs="$PARALLEL" \
  --until_stage="$UNTIL_STAGE"
RC=$?
if [ "$RC" -ne 0 ]; then
  echo "chain run exit $RC: packing the state anyway"
  python3 scripts/chain.py --action=pack "${ARGS[@]}"
fi

# No process of this slot may outlive it (marked by CHAIN_SLOT_ID in its environment).
LEFTOVER=$(grep -l "CHAIN_SLOT_ID=$CHAIN_SLOT_ID" /proc/[0-9]*/environ 2>/dev/null \
  | cut -d/ -f3 | grep -v -x -e "$$" -e "$BASHPID" || true)
for pid in $LEFTOVER; do
  [ "$pid" = "$$" ] && continue
  if ps -o args= -p "$pid" 2>/dev/null | grep -q "[p]ython"; then
    echo "left running: $(ps -o pid=,args= -p "$pid" | cut -c1-120); killing it"; kill -KILL "$pid"
  fi
done
echo "processes of this slot left: $(grep -l "CHAIN_SLOT_ID=$CHAIN_SLOT_ID" /proc/[0-9]*/environ \
  2>/dev/null | cut -d/ -f3 | while read p; do ps -o args= -p "$p" 2>/dev/null; done \
  | grep -c "[p]ython")"  # [p]: not counting this grep itself
ls -la "$OUT"
echo "slot done after $(elapsed) s of the $BUDGET_S s budget"
