# shellcheck shell=bash
# A minimal Debian sid tree for the Pythons bookworm lacks (3.14 for Home Assistant 2026.3+).
# Sourced by setup.sh and test.sh. The tree is built once with debootstrap under the cache and
# entered with chroot inside a private mount namespace (unshare -m): the checkout is bind-
# mounted at its own path, so nothing stays mounted when the command ends, however it ends.
# Needs root (CI and this machine's sessions are root); a user without root runs the Home
# Assistant suite in their own Python 3.14 instead (docs/development.md).

SID_PACKAGES=python3.14,python3.14-venv,python3.14-dev,python3.13,python3.13-venv,python3.13-dev,ca-certificates,g++,make,libturbojpeg0,mosquitto,procps
SID_MIRROR=${GARAGECAM_SID_MIRROR:-http://deb.debian.org/debian}

sid_root() {  # the cached tree's path for this package list
    local key
    key=$(printf '%s\n' "$SID_PACKAGES" "v1" | sha256sum | cut -c1-12)
    printf '%s/sid-%s\n' "$cache" "$key"
}

ensure_sid_root() {
    local root
    root=$(sid_root)
    if [ -f "$root/.complete" ]; then
        log "Reusing the Debian sid tree $root ($(chroot "$root" python3.14 --version))"
        return
    fi
    log "Building a minimal Debian sid tree with Python 3.14 in $root (about a minute)"
    debootstrap_tree "$root" sid "$SID_MIRROR" "$SID_PACKAGES" debootstrap
    touch "$root/.complete"
}

# debootstrap_tree ROOT SUITE MIRROR PACKAGES CMD...: a fresh minbase tree of SUITE in ROOT
# made by CMD (debootstrap, with a prefix or options of its own), its log in ROOT.log, whose
# end is shown on failure. The sid tree, the add-on's bookworm tree and the arm64 tree.
debootstrap_tree() {
    local root=$1 suite=$2 mirror=$3 packages=$4
    shift 4
    command -v debootstrap >/dev/null 2>&1 || {
        log "Installing debootstrap (Debian package)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    }
    rm -rf "$root"
    "$@" --variant=minbase --include="$packages" "$suite" "$root" "$mirror" \
        >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; exit 1; }
}

# sid_run ROOT DIR CMD...: run CMD inside the tree, in DIR (bind-mounted from the host at the
# same path), with the host's CA bundle, DNS and pip configuration (package registries may sit
# behind the host's own CA) and the caller's environment.
sid_run() {
    local root=$1 dir=$2
    shift 2
    unshare -m --propagation private /bin/bash -c '
        set -e
        root=$1 dir=$2
        shift 2
        bind() {  # bind SOURCE [ro]: the host path at the same place inside the tree
            [ -e "$1" ] || return 0
            if [ -d "$1" ]; then mkdir -p "$root$1"; else mkdir -p "$(dirname "$root$1")"; touch "$root$1"; fi
            mount --bind "$1" "$root$1"
            [ "${2:-}" = ro ] && mount -o remount,bind,ro "$root$1"
            return 0
        }
        bind "$dir"
        bind /etc/resolv.conf ro
        bind /etc/ssl/certs/ca-certificates.crt ro
        bind /etc/pip.conf ro
        bind /etc/xdg/pip ro
        for extra in /opt/wheels /opt/pypi /opt/pypi-more; do bind "$extra" ro; done
        bind "${GARAGECAM_CACHE:-$HOME/.cache/garagecam}/build"
        mount -t proc proc "$root/proc"
        # An emulated tree (arm64.sh) gets its own /proc/cpuinfo and the CPU lists of
        # /sys (cpuinfo, which XNNPACK and the thread pool use, reads both).
        if [ -n "${SID_PROC_CPUINFO:-}" ]; then
            mount --bind "$SID_PROC_CPUINFO" "$root/proc/cpuinfo"
            bind /sys/devices/system/cpu ro
        fi
        mount -t tmpfs tmpfs "$root/dev/shm"
        cd "$root"
        exec chroot "$root" /usr/bin/env HOME=/root PATH=/usr/local/bin:/usr/bin:/bin \
            /bin/bash -c "cd \"\$0\" && exec \"\$@\"" "$dir" "$@"
    ' sid_run "$root" "$dir" "$@"
}
