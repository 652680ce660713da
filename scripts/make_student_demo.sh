#!/usr/bin/env bash
# Reproduce the student demo network (garagecam_core/models/demo.pte + demo.pt + demo.json) with
# the project's own tools: generate labelled garage scenes, then `garagecam train` on them.
# Takes about 10-15 minutes on 2 CPU cores. Usage: ./scripts/make_student_demo.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-build/demo-model}"
mkdir -p "$work"
garagecam=(.venv/bin/python -m garagecam_core)  # this checkout's package

"${garagecam[@]}" scenes --out "$work/scenes" --count 1200 --seed 1000 --no-progress
"${garagecam[@]}" train --data "$work/scenes" --out "$work/demo.pte" \
    --input-size 160 --epochs 40 --patience 12 --seed 0 --threads 2 \
    --name garagecam-demo --model-version 2 --full --no-progress

cp "$work/demo.pte" "$work/demo.pt" "$work/demo.json" garagecam_core/models/
mkdir -p docs/images
cp "$work/demo.png" docs/images/demo-training.png
echo "demo model written to garagecam_core/models/demo.pte"
