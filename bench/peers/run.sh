#!/usr/bin/env bash
# The committed peer results in bench/results/peers/: `garagecam bench` with the LiteRT and
# ncnn columns (bench.json/.md/.png, command.txt) and the gap analysis (gap-N.json/.md, one per
# repeat), each with the load average before and after (load.txt). Needs the peers venv
# (docs/benchmarks-peers.md): PEERS_PY=/path/to/venv/bin/python, default below.
# Extra arguments go to `garagecam bench`.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${PEERS_PY:-/root/.cache/garagecam/peers-venv/bin/python}
out=bench/results/peers
repeats=${GAP_REPEATS:-3}
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
cmd=("$py" -m garagecam_core bench --threads 1,2 --runs 500 --warmup 10 --rss-iterations 2000
     --accuracy-scenes 100 --footprint-processes 3 --no-progress
     --json "$out/bench.json" --markdown "$out/bench.md" --plot "$out/bench.png" "$@")
printf '%q ' "${cmd[@]}" | sed 's/ $/\n/' > "$out/command.txt"
{ echo "before bench: $(date -u +%H:%M:%S) $(uptime)"; } > "$out/load.txt"
"${cmd[@]}" > /dev/null
echo "after bench: $(date -u +%H:%M:%S) $(uptime)" >> "$out/load.txt"
# exports once (torch; --keep reuses an earlier export of the same demo), then measures
# torch-free in a fresh process per repeat
"$py" bench/peers/gap.py --out "$out/gap-1" --runs 1000 --warmup 10 --keep > /dev/null
echo "after gap-1: $(date -u +%H:%M:%S) $(uptime)" >> "$out/load.txt"
for n in $(seq 2 "$repeats"); do
  "$py" bench/peers/gap.py --out "$out/gap-$n" --runs 1000 --warmup 10 --measure-only > /dev/null
  echo "after gap-$n: $(date -u +%H:%M:%S) $(uptime)" >> "$out/load.txt"
done
cat "$out/load.txt"
