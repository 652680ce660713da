#!/usr/bin/env bash
# Produce the committed benchmark results in bench/results/: bench.json (every figure, the
# machine and its CPU features), bench.md (the tables in docs/benchmarks.md), bench.png (the
# chart), command.txt (this run) and load.txt (the load average before and after).
# Run it on a quiet machine: other load shows up in every timing. BENCH_PY picks the Python
# (default .venv's; the peers venv of docs/benchmarks-peers.md adds the LiteRT and ncnn
# columns). Extra arguments go to `garagecam bench` (e.g. ./bench/run.sh --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results
py=${BENCH_PY:-.venv/bin/python}
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
cmd=("$py" -m garagecam_core bench --threads 1,2 --runs 200 --warmup 5 --rss-iterations 500
     --accuracy-scenes 100 --footprint-processes 2 --no-progress
     --json "$out/bench.json" --markdown "$out/bench.md" --plot "$out/bench.png" "$@")
printf '%q ' "${cmd[@]}" | sed 's/ $/\n/' > "$out/command.txt"
echo "before: $(date -u +%H:%M:%S) $(cat /proc/loadavg)" > "$out/load.txt"
"${cmd[@]}" > /dev/null
echo "after: $(date -u +%H:%M:%S) $(cat /proc/loadavg)" >> "$out/load.txt"
cat "$out/load.txt"
