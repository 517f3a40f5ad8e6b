# Sourced by the run_on_device.sh scripts beside it: the Python path (with
# the carried keras/gin-config/namex/optree wheels from $WHEELS, when there),
# the JAX backend settings, an `elapsed` helper (seconds since $START) and
# $OUT/device.txt describing the machine.
mkdir -p "$OUT"
WHEELS=${WHEELS:-.whl}
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export KERAS_BACKEND=jax TF_KDBIAS_CACHE_DIR=${TF_KDBIAS_CACHE_DIR:-/tmp/kdbias_cache}
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
elapsed() { echo $(( $(date +%s) - START )); }

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
    || echo "no GPU"; nproc
  python3 -c "import sys, jax, keras, numpy; print('python', sys.version.split()[0]); \
print('jax', jax.__version__, jax.devices()); print('keras', keras.__version__); \
print('numpy', numpy.__version__)"; } > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

# Packs what a finished (or cut-off) table needs into $OUT, small enough to come back
# from the device (no weights): every run's metrics, configs and logs, and the tables.
collect_table() {
  mkdir -p "$1"
  find "$1" \( -name metrics.json -o -name operative_config.gin -o -name 'results.*' \
    -o -name '*log.txt' \) | tar czf "$OUT/runs.tgz" -T -
  cp "$1"/results.md "$1"/results.json "$OUT"/ 2>/dev/null
  echo "done after $(elapsed) s"
}
