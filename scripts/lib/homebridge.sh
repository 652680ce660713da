#!/usr/bin/env bash
# Homebridge and the two MQTT plugins the tests run for real (tests/homebridge/):
# homebridge@1.11.4 from npm, homebridge-mqttthing and homebridge-tasmota from the packed
# .tgz files in ../shared/homebridge/ (not on the npm registry reachable here; their own
# dependencies come from npm). Installed once per inputs into $GARAGECAM_CACHE/homebridge/<key>
# and linked as build/homebridge (tests/homebridge/ looks there).
#   scripts/lib/homebridge.sh          from the checkout root (setup.sh calls it)
# GARAGECAM_HOMEBRIDGE_PLUGINS overrides the folder holding the two .tgz files.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${GARAGECAM_CACHE:-$HOME/.cache/garagecam}
plugins=${GARAGECAM_HOMEBRIDGE_PLUGINS:-../shared/homebridge}
HOMEBRIDGE_VERSION=1.11.4
tarballs=("$plugins/homebridge-mqttthing-1.1.49.tgz" "$plugins/homebridge-tasmota-0.2.3.tgz")

for tarball in "${tarballs[@]}"; do
    [ -f "$tarball" ] || {
        echo "error: $tarball not found (set GARAGECAM_HOMEBRIDGE_PLUGINS to its folder)" >&2
        exit 1
    }
done
command -v npm >/dev/null 2>&1 || {
    echo "error: npm not found (setup.sh installs Node.js for the Scrypted SDK first)" >&2
    exit 1
}

# The key: Homebridge's version, Node's major version and the plugins' bytes.
key=$({
    echo "homebridge@$HOMEBRIDGE_VERSION node$(node -p 'process.versions.node.split(".")[0]')"
    cat "${tarballs[@]}"
} | sha256sum | cut -c1-16)
dir="$cache/homebridge/$key"
if [ ! -f "$dir/.complete" ]; then
    printf '\n==> Installing Homebridge %s and its MQTT plugins in %s\n' "$HOMEBRIDGE_VERSION" "$dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    echo '{"name": "garagecam-homebridge-tests", "private": true}' >"$dir/package.json"
    cp "${tarballs[@]}" "$dir/"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error \
        "homebridge@$HOMEBRIDGE_VERSION" ./homebridge-mqttthing-1.1.49.tgz ./homebridge-tasmota-0.2.3.tgz)
    touch "$dir/.complete"
else
    printf '\n==> Reusing Homebridge in %s\n' "$dir"
fi
mkdir -p "$(realpath -m build)"  # build/ may be a link to another checkout's
ln -sfn "$dir" build/homebridge
