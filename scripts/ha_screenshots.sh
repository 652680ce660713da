#!/usr/bin/env bash
# The GarageCam add-on found by Home Assistant, in the real frontend: a real `hass` in the sid
# tree under the stand-in Supervisor (tests/ha/supervisor_standin.py, wired as in the tests by
# tests/ha/screenshots/garagecam_standin), Debian's chromium driven by Playwright. Writes
# docs/images/ha-addon-discovered.png and docs/images/ha-addon-found.png.
# Home Assistant 2025.8.0 (ha-min): its frontend package is on PyPI here; the one 2026.10.4
# pins (home-assistant-frontend 20260930.5) is not. Needs ./scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cache=${GARAGECAM_CACHE:-$HOME/.cache/garagecam}
log() { printf '\n==> %s\n' "$*"; }
# shellcheck source=lib/sid.sh
source scripts/lib/sid.sh
tree=$(sid_root)
venv=ha-min
port=18123
work=$root/build/ha-screens

requirement=$(sid_run "$tree" "$root" "/opt/venvs/$venv/bin/python" -c '
import json, pathlib, homeassistant.components.frontend as f
print(json.loads((pathlib.Path(f.__file__).parent / "manifest.json").read_text())["requirements"][0])')
if [ ! -d "$work/site/hass_frontend" ]; then
    log "Installing $requirement (the frontend Home Assistant serves) into $work/site"
    .venv/bin/python -m pip install -q --no-deps --target "$work/site" "$requirement"
fi

rm -rf "$work/config" "$work/pypath" "$work/shots"
mkdir -p "$work/config/.storage" "$work/config/custom_components" "$work/pypath" "$work/shots"
ln -s "$root/custom_components/garagecam" "$work/config/custom_components/garagecam"
ln -s "$root/tests/ha/screenshots/garagecam_standin" "$work/config/custom_components/"
ln -s "$root/garagecam_core" "$root/tests" "$work/pypath/"
# onboarding done: the browser's user is made by garagecam_standin
printf '%s\n' '{"version": 4, "minor_version": 1, "key": "onboarding",
  "data": {"done": ["user", "core_config", "analytics", "integration"]}}' \
    >"$work/config/.storage/onboarding"
cat >"$work/config/configuration.yaml" <<EOF
homeassistant: {name: Home, time_zone: UTC, country: CH, unit_system: metric}
http: {server_host: 127.0.0.1, server_port: $port}
frontend:
config:
garagecam_standin:
EOF

log "Starting Home Assistant ($venv) on 127.0.0.1:$port"
# -P: the config's custom_components, not the checkout's (the working directory)
sid_run "$tree" "$root" env PYTHONPATH="$work/pypath:$work/site" timeout 600 \
    "/opt/venvs/$venv/bin/python" -P -m homeassistant -c "$work/config" --skip-pip \
    >"$work/hass.log" 2>&1 &
hass_job=$!
for _ in $(seq 180); do
    [ -s "$work/config/browser_tokens.json" ] && break
    kill -0 "$hass_job" 2>/dev/null || { tail -n 30 "$work/hass.log" >&2; exit 1; }
    sleep 1
done
token=$(.venv/bin/python -c 'import json, sys; print(json.load(open(sys.argv[1]))["access_token"])' \
    "$work/config/browser_tokens.json")
stop_hass() {
    curl -s -o /dev/null -X POST -H "Authorization: Bearer $token" \
        "http://127.0.0.1:$port/api/services/homeassistant/stop" || true
    wait "$hass_job" || true
}
trap stop_hass EXIT

log "Screenshots (chromium)"
.venv/bin/python tests/ha/screenshots/shoot.py "$work/config" "$work/shots"
cp "$work/shots/ha-addon-discovered.png" "$work/shots/ha-addon-found.png" docs/images/
log "docs/images/ha-addon-discovered.png, docs/images/ha-addon-found.png"
