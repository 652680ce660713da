#!/usr/bin/env bash
# Produce the committed benchmark results in bench/results/: bench.json (every figure and the
# machine), bench.md (the tables in docs/benchmarks.md), bench.png (the chart) and command.txt (this run).
# Run it on a quiet machine: other load shows up in every timing. Takes ~5-10 minutes.
# Extra arguments go to `garagecam bench` (e.g. ./bench/run.sh --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results
mkdir -p "$out"
cmd=(.venv/bin/garagecam bench --threads 1,2 --runs 50 --warmup 5 --rss-iterations 5000
     --json "$out/bench.json" --markdown "$out/bench.md" --plot "$out/bench.png" "$@")
printf '%q ' "${cmd[@]}" | sed 's/ $/\n/' > "$out/command.txt"
"${cmd[@]}"
