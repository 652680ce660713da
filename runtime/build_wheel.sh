#!/bin/sh
# Build the garagecam-runtime wheel for one interpreter.
#   runtime/build_wheel.sh PYTHON OUTDIR
# EXECUTORCH_DIR (optional): an unpacked executorch package directory, e.g.
#   .venv/lib/python3.13/site-packages/executorch. Without it, the C++ runtime of the
#   executorch wheel is fetched once (pip download --no-deps) into runtime/build/ and reused.
# Needs a C++17 compiler and the interpreter's headers (python3.x-dev); cmake, ninja and
# pybind11 come from PyPI through the build backend.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 PYTHON OUTDIR" >&2
    exit 2
fi
python=$1
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
version=1.5.1
if [ -z "${EXECUTORCH_DIR:-}" ]; then
    cache="$here/build/executorch-$version-$(uname -m)"
    if [ ! -f "$cache/executorch/lib/libexecutorch.so" ]; then
        "$python" "$here/tools/fetch_executorch.py" "$version" "$cache"
    fi
    EXECUTORCH_DIR="$cache/executorch"
fi
export EXECUTORCH_DIR
mkdir -p "$outdir"
"$python" -m pip wheel --no-deps --disable-pip-version-check --wheel-dir "$outdir" "$here"
