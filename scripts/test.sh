#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, types, the core on Python 3.13 and 3.11, and the
# Home Assistant integration in the real test harness. Extra arguments go to every pytest run
# (e.g. ./scripts/test.sh -x -k worker).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] && [ -x .venv-py311/bin/python ] || {
    echo "error: run ./scripts/setup.sh first" >&2
    exit 1
}
step() { printf '\n==> %s\n' "$*"; }

step "ruff (lint and format)"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

step "mypy --strict garagecam_core"
.venv/bin/mypy

# The integration runs on Home Assistant's Python only (3.13), against its typed package.
step "mypy --strict custom_components/garagecam (Python 3.13, Home Assistant 2025.4.4)"
.venv/bin/mypy --python-version 3.13 custom_components/garagecam

# The Home Assistant pytest plugin patches sockets, event loops and thread checks for every
# test it sees, so the core suite runs without it and the integration suite with it.
step "core tests, Python 3.13"
.venv/bin/python -m pytest -p no:homeassistant tests/core "$@"

# A full run also holds the integration to Home Assistant's quality-scale coverage bar (95 %);
# a run narrowed with -k/-x would not reach it, so it is only checked without extra args.
coverage=()
[ $# -eq 0 ] && coverage=(--cov=custom_components/garagecam --cov-report=term-missing
                          --cov-fail-under=95)
step "Home Assistant integration tests, Python 3.13 (Home Assistant 2025.4.4)"
.venv/bin/python -m pytest tests/ha "${coverage[@]}" "$@"

step "core tests, Python 3.11"
.venv-py311/bin/python -m pytest tests/core "$@"
