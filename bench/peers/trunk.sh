#!/usr/bin/env bash
# The committed trunk results in bench/results/trunk/: `garagecam bench --trunk` (the shipped
# pretrained trunk against LiteRT, ncnn and ONNX Runtime on the same weights) in the peers
# venv (docs/benchmarks-peers.md), with the load average before and after (load.txt).
# PEERS_PY=/path/to/venv/bin/python overrides the venv; extra arguments go to the bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${PEERS_PY:-/root/.cache/garagecam/peers-venv/bin/python}
out=bench/results/trunk
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
cmd=("$py" -m garagecam_core bench --trunk --threads 1,2 --runs 200 --warmup 3
     --footprint-processes 3 --json "$out/bench.json" --markdown "$out/bench.md" "$@")
printf '%q ' "${cmd[@]}" | sed 's/ $/\n/' > "$out/command.txt"
echo "before: $(date -u +%H:%M:%S) $(cat /proc/loadavg)" > "$out/load.txt"
"${cmd[@]}" > /dev/null
echo "after: $(date -u +%H:%M:%S) $(cat /proc/loadavg)" >> "$out/load.txt"
cat "$out/load.txt"
