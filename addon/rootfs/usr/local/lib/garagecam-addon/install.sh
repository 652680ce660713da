#!/bin/bash
# The add-on image's install steps (the Dockerfile runs `install.sh`; tests/addon/ runs its
# steps in a Debian bookworm tree):
#   install.sh system   Debian's Python 3.11 and venv (debian-packages.txt), only what is missing
#   install.sh python   /opt/garagecam: a venv with garagecam-core[mqtt,runtime]==$GARAGECAM_VERSION
#                       (the torch-free ExecuTorch binding and paho-mqtt; never torch or executorch)
#                       from the wheels in $GARAGECAM_WHEELS when set (the release workflow's,
#                       or a test's), else from the package index; then the add-on's entry
#                       point (garagecam_addon, beside this script) into that venv
#   install.sh          both
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${GARAGECAM_VENV:-/opt/garagecam}

system_step() {
    local wanted=() missing=() name
    mapfile -t wanted < <(grep -v -e '^#' -e '^$' "$here/debian-packages.txt")
    for name in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$name")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "install.sh: Debian packages present: ${wanted[*]}"
        return
    fi
    echo "install.sh: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    apt-get clean
    rm -rf /var/lib/apt/lists/*
}

python_step() {
    : "${GARAGECAM_VERSION:?set GARAGECAM_VERSION to the garagecam-core version to install}"
    local sources=() site
    if [ -n "${GARAGECAM_WHEELS:-}" ]; then
        ls "$GARAGECAM_WHEELS"/garagecam_core-"$GARAGECAM_VERSION"-*.whl >/dev/null ||
            { echo "install.sh: no garagecam_core $GARAGECAM_VERSION wheel in $GARAGECAM_WHEELS" >&2; exit 1; }
        sources=(--find-links "$GARAGECAM_WHEELS")
    fi
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "${sources[@]}" \
        "garagecam-core[mqtt,runtime]==$GARAGECAM_VERSION"
    # the image must stay torch-free: Home Assistant OS boxes are small
    if "$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null |
        grep -i -E '^(torch|executorch)\s'; then
        echo "install.sh: error: torch or executorch was installed" >&2
        exit 1
    fi
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    rm -rf "$site/garagecam_addon"
    cp -r "$here/garagecam_addon" "$site/"
    find "$site/garagecam_addon" -name __pycache__ -prune -exec rm -rf {} +
    "$venv/bin/python" -m compileall -q "$site/garagecam_addon"
    "$venv/bin/python" -c 'import garagecam_addon, garagecam_runtime, paho.mqtt'
    echo "install.sh: $venv ready (garagecam-core $GARAGECAM_VERSION, $(du -sh "$venv" | cut -f1))"
}

case "${1:-all}" in
    system) system_step ;;
    python) python_step ;;
    all) system_step; python_step ;;
    *) echo "usage: $0 [system|python|all]" >&2; exit 2 ;;
esac
