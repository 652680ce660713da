#!/bin/sh
# Prove the runtime path works with no torch and no executorch installed, and measure what
# the [runtime] extra adds on top of the core, in a fresh venv.
#   runtime/check_no_torch.sh PYTHON WHEELDIR [VENV_DIR]
# WHEELDIR holds the garagecam_runtime wheel built for PYTHON (runtime/build_wheel.sh).
# The core's dependencies come from the configured package index (pip cache helps).
# Prints the figures, fails if torch/executorch get installed or imported, or if infer fails.
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 PYTHON WHEELDIR [VENV_DIR]" >&2
    exit 2
fi
python=$1
wheels=$(cd "$2" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${3:-$(mktemp -d)/venv}
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "$root"
site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
before=$(du -sk "$site" | cut -f1)
"$venv/bin/python" -m pip install -q --disable-pip-version-check --find-links "$wheels" \
    "$root[runtime]"
after=$(du -sk "$site" | cut -f1)
echo "site-packages: core $((before / 1024)) MB, with [runtime] $((after / 1024)) MB," \
    "[runtime] adds $(((after - before) / 1024)) MB"
if "$venv/bin/python" -m pip list 2>/dev/null | grep -i -E '^(torch|executorch) '; then
    echo "error: torch or executorch was installed" >&2
    exit 1
fi
cd "$(mktemp -d)"  # not the checkout: the installed package must be the one imported
"$venv/bin/python" - <<'PY'
import io, json, subprocess, sys, time
from PIL import Image
Image.new("RGB", (1280, 720), (90, 90, 90)).save("frame.jpg", quality=85)
start = time.perf_counter()
done = subprocess.run([sys.executable, "-m", "garagecam_core", "infer", "frame.jpg"],
                      capture_output=True, text=True, check=True)
cold = time.perf_counter() - start
result = json.loads(done.stdout)
assert set(result["probabilities"]) == {"door_open", "car_present"}, result
print(f"garagecam infer (demo model, fresh process): {cold:.2f} s, {result['probabilities']}")
probe = (
    "import sys\n"
    "from garagecam_core import demo_model_path\n"
    "from garagecam_core.engine.worker import WorkerEngine\n"
    "from garagecam_core.engine.local import LocalEngine\n"
    "image = open('frame.jpg', 'rb').read()\n"
    "with LocalEngine(demo_model_path()) as a, WorkerEngine(demo_model_path()) as b:\n"
    "    assert a.classify(image).probabilities == b.classify(image).probabilities\n"
    "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'executorch'))\n"
    "print('heavy modules imported:', heavy)\n"
    "assert not heavy\n"
)
print(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                     check=True).stdout.strip())

# Teaching it a camera needs no torch either: a head on the shipped trunk from 60 frames.
garagecam = [sys.executable, "-m", "garagecam_core"]
subprocess.run([*garagecam, "scenes", "--out", "frames", "--count", "60", "--garage", "7",
                "--size", "1280x720", "--no-progress"], check=True, capture_output=True)
for attempt in ("first", "again (embeddings cached)"):
    start = time.perf_counter()
    done = subprocess.run([*garagecam, "train", "--data", "frames", "--out", "cam.gcam",
                           "--no-progress"], capture_output=True, text=True, check=True)
    print(f"garagecam train, 60 frames, {attempt}: {time.perf_counter() - start:.1f} s, "
          f"{json.loads(done.stdout)['summary']}")
start = time.perf_counter()
done = subprocess.run([*garagecam, "infer", "--model", "cam.gcam", "frames/images/"
                       + sorted(__import__("os").listdir("frames/images"))[0]],
                      capture_output=True, text=True, check=True)
print(f"garagecam infer --model cam.gcam (fresh process): {time.perf_counter() - start:.2f} s, "
      f"{json.loads(done.stdout)}")
probe = (
    "import sys\n"
    "from garagecam_core.heads import train_head\n"
    "train_head('frames', 'again.gcam')\n"
    "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'executorch'))\n"
    "assert not heavy, heavy\n"
)
subprocess.run([sys.executable, "-c", probe], check=True)
print("head training imported no torch/executorch module")
PY
echo "OK: the runner's inference path runs without torch ($venv)"
