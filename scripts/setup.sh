#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine: Mosquitto for the MQTT tests, a Python 3.13 venv
# (.venv: Home Assistant 2025.4.4 test harness, torch + executorch, tooling) and a Python 3.11
# venv (.venv-py311: the core as on Raspberry Pi OS bookworm). Versions are pinned by
# requirements/constraints-*.txt.
#
# The venvs are built under $GARAGECAM_CACHE (default ~/.cache/garagecam) in a directory named
# after the hash of their requirement and constraints files, and linked into the checkout, so
# a second clone on the same machine reuses them; with no cache everything is built from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cache=${GARAGECAM_CACHE:-$HOME/.cache/garagecam}
mkdir -p "$cache/venvs"

log() { printf '\n==> %s\n' "$*"; }

install_mosquitto() {
    if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
        log "Mosquitto: $(/usr/sbin/mosquitto -h 2>/dev/null | head -n 1 || echo present)"
        return
    fi
    log "Installing Mosquitto (Debian package; the tests start their own broker)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mosquitto >/dev/null
}

find_python() {  # find_python 3.13 -> path of a python3.13 interpreter
    local want=$1 candidate
    for candidate in "python$want" "$(pyenv root 2>/dev/null)/versions/$want"*/bin/python \
        "$HOME/.pyenv/versions/$want"*/bin/python; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))"; then
            command -v "$candidate"
            return
        fi
    done
    echo "error: Python $want not found (install it with pyenv or your package manager)" >&2
    exit 1
}

build_venv() {  # build_venv LINK PYVER REQUIREMENTS CONSTRAINTS
    local link=$1 pyver=$2 reqs=$3 cons=$4 python key dir
    python=$(find_python "$pyver")
    key=$(cat "$reqs" "$cons" | sha256sum | cut -c1-16)
    dir="$cache/venvs/py$pyver-$key"
    if [ ! -f "$dir/.complete" ]; then
        log "Building the Python $pyver environment in $dir (a few minutes the first time)"
        rm -rf "$dir"
        "$python" -m venv "$dir"
        "$dir/bin/python" -m pip install -q --upgrade pip
        "$dir/bin/python" -m pip install --progress-bar off -r "$reqs" -c "$cons"
        touch "$dir/.complete"
    else
        log "Reusing the Python $pyver environment $dir"
    fi
    ln -sfn "$dir" "$link"
    # The project itself, editable, so this checkout's code and its `garagecam` command are used.
    "$link/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$root"
}

install_mosquitto
build_venv .venv 3.13 requirements/py313.txt requirements/constraints-py313.txt
build_venv .venv-py311 3.11 requirements/py311.txt requirements/constraints-py311.txt
log "Set-up done. Run the tests with: ./scripts/test.sh"
