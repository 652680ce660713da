#!/usr/bin/env bash
# Reproduce the shipped default model, garagecam_core/models/demo.gcam: a head on the shipped
# pretrained trunk (trunk-lite0.pte), trained on 600 generated garage scenes plus the real
# photos whose licence allows shipping them (bench/real/images, labels in bench/real/manifest.csv).
# A few minutes on 2 cores, no PyTorch. Usage: ./scripts/make_demo_model.sh [WORKDIR]
#
# The trunk itself: .venv/bin/python -m garagecam_core.export_trunk \
#     --out garagecam_core/models/trunk-lite0.pte   (needs PyTorch and the weights package)
# The older student network (demo.pte, demo.pt, demo.json: `garagecam train --full`, and what
# --init-from demo fine-tunes) is made by ./scripts/make_student_demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-build/demo-model}"
mkdir -p "$work"
garagecam=(.venv/bin/python -m garagecam_core)  # this checkout's package

"${garagecam[@]}" scenes --out "$work/data" --count 600 --seed 1000 --no-progress
.venv/bin/python - "$work/data" <<'PY'
import csv, shutil, sys
from pathlib import Path

out = Path(sys.argv[1])
rows = list(csv.reader((out / "labels.csv").open()))
(out / "real").mkdir(exist_ok=True)
for row in csv.DictReader(Path("bench/real/manifest.csv").open()):
    source = Path("bench/real/images") / row["file"]
    if source.is_file() and row["door_open"] and row["car_present"]:
        shutil.copy(source, out / "real" / source.name)
        rows.append([f"real/{source.name}", row["door_open"], row["car_present"]])
csv.writer((out / "labels.csv").open("w", newline="")).writerows(rows)
PY
"${garagecam[@]}" train --data "$work/data" --out "$work/demo.gcam" --name garagecam-demo \
    --no-progress
cp "$work/demo.gcam" garagecam_core/models/demo.gcam
echo "default model written to garagecam_core/models/demo.gcam"
