#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine (root, or sudo for apt), all pinned by requirements/:
#   Debian's mosquitto and chromium
#   .venv          Python 3.13: model tooling (torch, executorch, ONNX Runtime), lint, types,
#                  docs (MkDocs), the core and Scrypted plugin tests
#   .venv-py311    Python 3.11: the core as on Raspberry Pi OS bookworm
#                  Both are thin venvs of this checkout (its own code, editable, and its own
#                  garagecam-runtime) over cached dependency venvs (scripts/lib/venv.sh).
#   Debian bookworm tree (scripts/lib/bookworm.sh): the add-on's base image stand-in, with the
#                  Debian packages its install script adds (tests/addon/ installs and runs the
#                  add-on in an overlay of it)
#   Debian sid tree (scripts/lib/sid.sh) with the Home Assistant test harnesses, no torch:
#     /opt/venvs/ha-newest  Python 3.14, the newest Home Assistant
#     /opt/venvs/ha-min     the oldest Home Assistant hacs.json declares
#   garagecam-runtime (runtime/): the torch-free ExecuTorch binding, built from source for
#                  each of these Pythons and installed into each environment.
#   arm64 Debian bookworm tree (scripts/lib/arm64.sh), run under qemu-user: the Raspberry
#                  Pi's Python 3.11 with the core's dependencies and pytest (/opt/venvs/core),
#                  and garagecam-runtime built there for aarch64 (the smoke set in test.sh).
#
# Everything is built under $GARAGECAM_CACHE (default ~/.cache/garagecam) in directories named
# after the hash of their inputs and reused by later runs and other clones (the dependency
# venvs hold dependencies only: each checkout imports its own code); with no cache
# everything is built from the package registries (about 11 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cache=${GARAGECAM_CACHE:-$HOME/.cache/garagecam}
mkdir -p "$cache/venvs" "$cache/build/wheels"

log() { printf '\n==> %s\n' "$*"; }
# shellcheck source=lib/sid.sh
source scripts/lib/sid.sh
# shellcheck source=lib/venv.sh
source scripts/lib/venv.sh
# shellcheck source=lib/bookworm.sh
source scripts/lib/bookworm.sh
# shellcheck source=lib/arm64.sh
source scripts/lib/arm64.sh

EXECUTORCH_VERSION=1.5.1

apt_install() {  # apt_install PACKAGE... (only what is missing)
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

install_debian_packages() {  # Mosquitto (the tests start their own broker), Chromium (browser tests)
    local missing=()
    command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    if [ ${#missing[@]} -eq 0 ]; then
        log "Debian packages: mosquitto and chromium present"
        return
    fi
    log "Installing Debian packages: ${missing[*]}"
    apt_install "${missing[@]}"
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

inputs_key() {  # a short hash of files' contents
    cat "$@" | sha256sum | cut -c1-16
}

build_venv() {  # build_venv LINK PYVER REQUIREMENTS CONSTRAINTS
    local link=$1 pyver=$2 reqs=$3 cons=$4 python dir
    python=$(find_python "$pyver")
    dir="$cache/venvs/py$pyver-$(inputs_key "$reqs" "$cons")"
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
    # The cache holds the dependencies only (an older set-up installed the project there;
    # its garagecam-runtime goes once this checkout has its own, see below); this checkout
    # gets a thin venv of its own over it, with its own code editable in it.
    deps_without "$dir" garagecam-core
    checkout_venv "$root/$link" "$dir" "$root"
    deps_dirs+=("$dir")
}

build_sid_venv() {  # build_sid_venv NAME PYTHON REQUIREMENTS CONSTRAINTS (inside the sid tree)
    local name=$1 python=$2 reqs=$3 cons=$4 tree dir
    tree=$(sid_root)
    dir="/opt/venvs/$name-$(inputs_key "$reqs" "$cons")"
    if [ ! -f "$tree$dir/.complete" ]; then
        log "Building the $name environment ($python, Debian sid tree) in $tree$dir"
        rm -rf "$tree$dir"
        sid_run "$tree" "$root" /bin/bash -c "
            set -e
            $python -m venv $dir
            $dir/bin/python -m pip install -q --upgrade pip
            $dir/bin/python -m pip install --progress-bar off -r $reqs -c $cons
            touch $dir/.complete"
    else
        log "Reusing the $name environment $tree$dir"
    fi
    # /opt/venvs/NAME names the current one (an older set-up left a directory there)
    [ -L "$tree/opt/venvs/$name" ] || rm -rf "$tree/opt/venvs/$name"
    ln -sfn "$(basename "$dir")" "$tree/opt/venvs/$name"
}

unpack_executorch() {  # [ARCH]: the executorch wheel's C++ runtime (libraries, headers, licence)
    local arch=${1:-$(uname -m)}
    local dir="$cache/build/executorch-$EXECUTORCH_VERSION-$arch"
    if [ ! -f "$dir/executorch/lib/libexecutorch.so" ]; then
        log "Fetching the executorch $EXECUTORCH_VERSION wheel's C++ runtime ($arch)" >&2
        .venv/bin/python runtime/tools/fetch_executorch.py "$EXECUTORCH_VERSION" "$dir" "$arch" >&2
    fi
    printf '%s\n' "$dir/executorch"
}

runtime_wheel() {  # runtime_wheel RUN PYTHON: build (once per source hash) and print the wheel
    local run=$1 python=$2 tag key out
    tag=$($run "$python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    key=$(git ls-files -z runtime | xargs -0 cat | sha256sum | cut -c1-16)
    # Keyed by where it is built too: a wheel built in the sid tree links sid's newer
    # libstdc++ and does not load on the host (CXXABI_1.3.15), so the host never takes one.
    out="$cache/build/wheels/runtime-$key-$tag-${run#*_}"
    if ! ls "$out"/garagecam_runtime-*.whl >/dev/null 2>&1; then
        log "Building garagecam-runtime for $tag" >&2
        rm -rf "$out"
        EXECUTORCH_DIR=$executorch_dir $run runtime/build_wheel.sh "$python" "$out" >&2
    fi
    ls "$out"/garagecam_runtime-*.whl
}

on_host() { "$@"; }
in_sid() { sid_run "$(sid_root)" "$root" env EXECUTORCH_DIR="${EXECUTORCH_DIR:-}" "$@"; }
in_arm64() { arm64_run "$root" "$@"; }

install_runtime() {  # install_runtime RUN PYTHON: install it, and keep a copy in build/wheels
    local wheel
    wheel=$(runtime_wheel "$1" "$2")
    $1 "$2" -m pip install -q --no-deps --force-reinstall "$wheel"
    # The host's wheels at the top: the Scrypted plugin's install test and check_no_torch.sh
    # take them with --find-links (a sid-built cp313 wheel of the same name would replace the
    # host's); the others in subfolders: tests/install serves the sid cp314 one to hass.
    case $1 in
        on_host) cp "$wheel" build/wheels/ ;;
        in_sid) mkdir -p build/wheels/sid && cp "$wheel" build/wheels/sid/ ;;
        in_arm64) mkdir -p build/wheels/aarch64 && cp "$wheel" build/wheels/aarch64/ ;;
    esac
}

build_arm64_venv() {  # the smoke set's venv in the arm64 tree: the core's deps + pytest, no torch
    local reqs=requirements/arm64.txt cons=requirements/constraints-py311.txt tree dir
    tree=$(arm64_root)
    dir="/opt/venvs/core-$(inputs_key "$reqs" "$cons")"
    if [ ! -f "$tree$dir/.complete" ]; then
        log "Building the arm64 Python 3.11 environment in $tree$dir"
        rm -rf "$tree$dir"
        arm64_run "$root" python3 -m venv --without-pip "$dir"
        # The host's pip fills it with the aarch64 wheels (all dependencies have them): the
        # same files pip would pick in the tree, in seconds instead of ~8 min under emulation.
        # Python 3.11's pip, as pip evaluates environment markers (python_version) with its
        # own interpreter; it does not widen an explicit manylinux_2_28 to the older tags.
        .venv-py311/bin/python -m pip install -q --disable-pip-version-check --only-binary=:all: \
            --platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64 \
            --platform manylinux2014_aarch64 --python-version 3.11 --implementation cp \
            --abi cp311 --target "$tree$dir/lib/python3.11/site-packages" \
            -r "$reqs" -c "$cons" pip
        arm64_run "$root" "$dir/bin/python" -c "import numpy, PIL, aiohttp, yaml, pytest"
        touch "$tree$dir/.complete"
    else
        log "Reusing the arm64 environment $tree$dir"
    fi
    ln -sfn "$(basename "$dir")" "$tree/opt/venvs/core"
}

install_scrypted_sdk() {  # @scrypted/sdk from npm: its Python SDK and scrypted-webpack
    command -v npm >/dev/null 2>&1 || {
        log "Installing Node.js and npm (Debian packages) for the Scrypted plugin's SDK"
        apt_install nodejs npm
    }
    log "Installing the Scrypted SDK (npm ci in scrypted/)"
    npm ci --prefix scrypted --no-audit --no-fund --loglevel=error
}

arm64_setup() {  # the arm64 tree, its venv and the aarch64 wheel (cached like the others)
    ensure_arm64_root
    # its venv is filled by .venv-py311's pip and the executorch runtime fetched by .venv's
    # Python: the foreground builds both meanwhile and says so with this file
    until [ -f "$venvs_ready" ]; do
        kill -0 "$$" 2>/dev/null || return 1
        sleep 2
    done
    build_arm64_venv
    executorch_dir=$(unpack_executorch aarch64)
    runtime_wheel in_arm64 /opt/venvs/core/bin/python >/dev/null
}

install_debian_packages
ensure_qemu_aarch64  # its apt-get runs here, never beside another apt-get
command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
# The arm64 work is mostly emulated dpkg, cmake and g++ (~20 min on a fresh machine): it starts
# first and runs beside everything else, whose downloads and single-threaded steps leave a core.
mkdir -p build
arm64_log=build/setup-arm64.log
venvs_ready=build/.setup-venvs-ready
rm -f "$venvs_ready"
log "arm64 tree, venv and wheel: in the background (log: $arm64_log)"
arm64_setup >"$arm64_log" 2>&1 &
arm64_pid=$!
deps_dirs=()
build_venv .venv 3.13 requirements/py313.txt requirements/constraints-py313.txt
build_venv .venv-py311 3.11 requirements/py311.txt requirements/constraints-py311.txt
touch "$venvs_ready"
ensure_sid_root
ensure_bookworm_root
build_sid_venv ha-newest python3.14 requirements/ha-newest.txt requirements/constraints-ha-newest.txt
build_sid_venv ha-min python3.13 requirements/ha-min.txt requirements/constraints-ha-min.txt

executorch_dir=$(unpack_executorch)
find build/wheels -mindepth 1 -delete 2>/dev/null || true
mkdir -p build/wheels
install_runtime on_host .venv/bin/python
install_runtime on_host .venv-py311/bin/python
for dir in "${deps_dirs[@]}"; do deps_without "$dir" garagecam-runtime; done
install_runtime in_sid /opt/venvs/ha-newest/bin/python
install_runtime in_sid /opt/venvs/ha-min/bin/python
install_scrypted_sdk
wait "$arm64_pid" || {
    echo "error: the arm64 set-up failed; its log ($arm64_log) ends:" >&2
    tail -n 20 "$arm64_log" >&2
    exit 1
}
cat "$arm64_log"
rm -f "$venvs_ready"
executorch_dir=$(unpack_executorch aarch64)
install_runtime in_arm64 /opt/venvs/core/bin/python  # built above: installs and copies it
scripts/lib/homebridge.sh  # Homebridge + its MQTT plugins for tests/homebridge/
log "Set-up done. Run the tests with: ./scripts/test.sh"
