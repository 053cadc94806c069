#!/bin/bash
# Alternates runs of bench/pipeline_cpu.py on a base tree and on this checkout; prints each run's medians.
#   git archive <base commit> | tar -x -C /tmp/base && cp bench/pipeline_cpu.py /tmp/base/bench/
#   bench/pipeline_ab.sh /tmp/base postgresql+asyncpg://postgres@127.0.0.1:5432/<seeded db>
# Both trees run with this checkout's venv, each first on PYTHONPATH (the editable install points here).
set -euo pipefail
BASE=$1
URL=$2
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=$HERE/.venv/bin/python
for i in 1 2 3 4 5; do
  for side in base branch; do
    dir=$BASE; [ $side = branch ] && dir=$HERE
    (cd $dir && PYTHONPATH=$dir $PY bench/pipeline_cpu.py --database-url $URL --requests 300 --rounds 3 2>&1 | grep median | sed "s/^/$side $i: /")
  done
done
