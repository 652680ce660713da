#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, types, import contracts, docs, the core on Python
# 3.13 and 3.11, the Scrypted plugin, and the Home Assistant integration in the real test
# harness on the newest Home Assistant and on the oldest one hacs.json declares. Extra
# arguments go to every pytest run (e.g. ./scripts/test.sh -x -k worker).
#
# ./scripts/test.sh --quick [PYTEST ARGS]: the edit-test loop (a few minutes on 2 cores): lint,
# types, import contracts and the Python 3.13 core tests not marked `slow` (those train or
# export real models); no Debian sid tree, no Home Assistant, no Python 3.11, no docs, browser,
# Homebridge or Scrypted plugin tests. Only the full run is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cache=${GARAGECAM_CACHE:-$HOME/.cache/garagecam}
log() { printf '\n==> %s\n' "$*"; }
quick=false
if [ "${1:-}" = "--quick" ]; then
    quick=true
    shift
fi
# shellcheck source=lib/sid.sh
source scripts/lib/sid.sh
# shellcheck source=lib/bookworm.sh
source scripts/lib/bookworm.sh
# shellcheck source=lib/arm64.sh
source scripts/lib/arm64.sh
tree=$(sid_root)
if $quick; then
    [ -x .venv/bin/python ] || { echo "error: run ./scripts/setup.sh first" >&2; exit 1; }
else
    [ -x .venv/bin/python ] && [ -x .venv-py311/bin/python ] && [ -f "$tree/.complete" ] &&
        [ -f "$(bookworm_root)/.complete" ] && [ -f "$(arm64_root)/.complete" ] || {
        echo "error: run ./scripts/setup.sh first" >&2
        exit 1
    }
fi
step() { printf '\n==> %s\n' "$*"; }
# ha_harness NAME CMD...: run CMD with the named Home Assistant venv's Python, in the sid tree.
ha_harness() {
    local name=$1
    shift
    sid_run "$tree" "$root" env PYTHONPATH="$root" GARAGECAM_TEST_MODELS="$root/build/test-models" \
        "/opt/venvs/$name/bin/python" "$@"
}
ha_version() {
    ha_harness "$1" -c 'from homeassistant.const import __version__; print(__version__)'
}

step "ruff (lint and format)"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

step "mypy --strict garagecam_core and the add-on's entry point"
.venv/bin/mypy

step "mypy --strict the Scrypted plugin (against the SDK's own type stubs)"
MYPYPATH=scrypted/src:scrypted/node_modules/@scrypted/sdk/types/scrypted_python \
    .venv/bin/mypy --strict --python-version 3.11 --follow-imports=silent \
    scrypted/src/garagecam_scrypted scrypted/src/main.py scrypted/build_plugin.py

# The layers of docs/design.md (contracts in pyproject.toml). The Scrypted plugin is not an
# installed package: its folder goes on the path so that its imports are checked too.
step "import contracts (lint-imports)"
PYTHONPATH=scrypted/src:addon .venv/bin/lint-imports --no-logo

if $quick; then
    step "core tests not marked slow, Python 3.13 (the quick tier)"
    .venv/bin/python -m pytest -p no:homeassistant -m "not slow" tests/core "$@"
    exit 0
fi

newest=$(ha_version ha-newest)
oldest=$(ha_version ha-min)
# The integration runs on Home Assistant's Python only, against its typed package.
step "mypy --strict custom_components/garagecam (Home Assistant $newest)"
ha_harness ha-newest -m mypy --python-version 3.14 custom_components/garagecam

# The Home Assistant pytest plugin patches sockets, event loops and thread checks for every
# test it sees, so the core suite runs without it and the integration suite with it.
# The Scrypted plugin's install test pip-installs its requirements from the runtime wheels
# setup.sh built (garagecam-runtime is not on PyPI yet).
export GARAGECAM_WHEELS=$root/build/wheels
step "core, docs, Scrypted plugin and browser tests, Python 3.13"
.venv/bin/python -m pytest -p no:homeassistant tests/core tests/docs tests/scrypted tests/homebridge tests/browser "$@"

# The add-on: its install script in the bookworm tree (the image's base), then its entry point
# there against a stand-in Supervisor and Mosquitto; its files against the Supervisor's rules.
step "Home Assistant add-on: install script and entry point in a Debian bookworm tree"
.venv/bin/python -m pytest -p no:homeassistant tests/addon "$@"

# What a Raspberry Pi user installs: the core + [runtime] (the binding), in a fresh venv with
# no torch and no executorch; runs the demo model there and reports what [runtime] adds.
step "no torch: garagecam-core[runtime] in a fresh venv runs the demo model"
runtime/check_no_torch.sh .venv/bin/python build/wheels "$root/build/no-torch-venv"

# The Home Assistant environments have no torch: the test models are exported here first.
step "export the test models (Python 3.13, torch)"
.venv/bin/python -m tests.make_test_models build/test-models

# A full run also holds the integration to Home Assistant's quality-scale coverage bar (95 %);
# a run narrowed with -k/-x would not reach it, so it is only checked without extra args.
coverage=()
[ $# -eq 0 ] && coverage=(--cov=custom_components/garagecam --cov-report=term-missing
                          --cov-fail-under=95)
step "Home Assistant integration tests, Home Assistant $newest (newest), Python 3.14"
ha_harness ha-newest -m pytest tests/ha "${coverage[@]}" "$@"

step "Home Assistant integration tests, Home Assistant $oldest (oldest supported)"
ha_harness ha-min -m pytest tests/ha "$@"

step "core and Scrypted plugin tests, Python 3.11"
.venv-py311/bin/python -m pytest tests/core tests/scrypted "$@"

# What a HACS user's Home Assistant does, minus GitHub: the release zip checked against HACS's
# rules, then a real hass (ha-newest) installs garagecam-core itself from a package index on
# 127.0.0.1 holding this checkout's wheels, and sets up a Local entry (tests/install).
step "install path: the HACS zip, and hass installing its requirement from a local index"
.venv/bin/python -m pytest -p no:homeassistant tests/install/test_hacs_zip.py "$@"
ha_harness ha-newest -m pytest -p no:homeassistant tests/install/test_hass_installs_requirements.py "$@"

# The Raspberry Pi's arm64 Debian under qemu-user (scripts/lib/arm64.sh): the binding's tests
# (all but the comparison with executorch's official runtime, which the tree does not have)
# and the demo model and trunk on frames whose x86 outputs are computed here, now.
step "aarch64 (qemu-user): the runtime binding's tests, the demo model and trunk against x86"
ensure_qemu_aarch64
.venv/bin/python -m tests.arm64.outputs build/arm64/x86-reference.npz
arm64_run "$root" env PYTHONPATH="$root" GARAGECAM_TEST_MODELS="$root/build/test-models" \
    GARAGECAM_X86_REFERENCE="$root/build/arm64/x86-reference.npz" \
    /opt/venvs/core/bin/python -m pytest tests/core/runtime tests/arm64 \
    -k "not official_runtime" "$@"
