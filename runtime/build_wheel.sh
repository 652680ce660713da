#!/bin/sh
# Build the garagecam-runtime wheel for one interpreter.
#   runtime/build_wheel.sh PYTHON OUTDIR
# EXECUTORCH_DIR (optional): an unpacked executorch package directory, e.g.
#   .venv/lib/python3.13/site-packages/executorch; without it the build fetches the
#   executorch wheel with pip download --no-deps. Needs a C++17 compiler and the
#   interpreter's headers (python3.x-dev); cmake, ninja, pybind11 come from PyPI.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 PYTHON OUTDIR" >&2
    exit 2
fi
python=$1
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$outdir"
"$python" -m pip wheel --no-deps --disable-pip-version-check --wheel-dir "$outdir" "$here"
