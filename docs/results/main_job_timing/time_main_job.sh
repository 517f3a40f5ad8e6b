#!/bin/bash
# Times the README's command 1 on fresh clones: install once (clone 1), main job 3 times,
# each in its own fresh clone with an empty MNIST-C cache.
set -u
out=/work/main/runs/main_job_timing.txt
: > $out
for k in 1 2 3; do
  rm -rf /work/fresh$k; git clone -q /work/main /work/fresh$k
  cd /work/fresh$k
  export TF_KDBIAS_CACHE_DIR=/tmp/fresh_cache_$k; rm -rf $TF_KDBIAS_CACHE_DIR
  if [ $k = 1 ]; then
    s=$(date +%s.%N); python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" > /tmp/fresh_install.log 2>&1; e=$(date +%s.%N)
    echo "install $(echo "$e - $s" | bc) s load $(cat /proc/loadavg)" >> $out
  else
    ln -s /work/fresh1/.venv .venv
  fi
  s=$(date +%s.%N)
  .venv/bin/python scripts/reproduce.py --gin_file=gin_configs/mnist_c/quick.gin --workdir=runs/quick --data_dir=../shared/data > /tmp/fresh_main_$k.log 2>&1
  rc=$?; e=$(date +%s.%N)
  echo "main_job_$k rc=$rc $(echo "$e - $s" | bc) s load_after $(cat /proc/loadavg)" >> $out
  cp runs/quick/results.md /work/main/runs/main_job_results_$k.md
done
