# shellcheck shell=bash
# An arm64 (aarch64) Debian bookworm tree run under qemu-user: the Raspberry Pi 5's Debian
# (Raspberry Pi OS bookworm, Python 3.11) on this x86_64 machine. Sourced by setup.sh and
# test.sh after sid.sh (it reuses sid_run to enter the tree). The kernel runs the tree's arm64
# binaries through binfmt_misc with Debian's qemu-user-static registered with the F flag (the
# interpreter is opened when registered, so it needs no copy inside the chroot).
# setup.sh builds the tree once under the cache, and in it the garagecam-runtime wheel for
# aarch64 and a small venv (the core's dependencies and pytest, no torch) for the smoke set.

ARM64_PACKAGES=python3,python3-venv,python3-dev,g++,make,ca-certificates
ARM64_SUITE=bookworm

arm64_root() {  # the cached tree's path for this package list
    local key
    key=$(printf '%s\n' "$ARM64_PACKAGES" "v1" | sha256sum | cut -c1-12)
    printf '%s/arm64-%s-%s\n' "$cache" "$ARM64_SUITE" "$key"
}

# ensure_qemu_aarch64: qemu-user-static registered for aarch64 ELF binaries, or a one-line
# error saying which step failed (no binfmt_misc in the kernel, no permission to mount it...).
ensure_qemu_aarch64() {
    local binfmt=/proc/sys/fs/binfmt_misc
    if [ ! -x /usr/bin/qemu-aarch64-static ] || ! command -v update-binfmts >/dev/null 2>&1; then
        log "Installing qemu-user-static and binfmt-support (Debian packages)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static binfmt-support \
            >/dev/null
    fi
    if [ ! -e "$binfmt/register" ]; then
        mount -t binfmt_misc binfmt_misc "$binfmt" || {
            echo "error: cannot mount binfmt_misc on $binfmt: arm64 binaries cannot run here" >&2
            return 1
        }
    fi
    [ -e "$binfmt/qemu-aarch64" ] || update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 ||
        update-binfmts --import qemu-aarch64 >/dev/null 2>&1 || true
    grep -q '^flags: .*F' "$binfmt/qemu-aarch64" 2>/dev/null || {
        echo "error: qemu-aarch64 is not registered in $binfmt with the F flag" \
            "(update-binfmts --enable qemu-aarch64 failed)" >&2
        return 1
    }
}

ensure_arm64_root() {
    local root
    root=$(arm64_root)
    ensure_qemu_aarch64
    if [ -f "$root/.complete" ]; then
        log "Reusing the arm64 Debian tree $root ($(chroot "$root" python3 --version))"
        return
    fi
    command -v debootstrap >/dev/null 2>&1 || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    }
    log "Building an arm64 Debian $ARM64_SUITE tree in $root under qemu (a few minutes)"
    rm -rf "$root"
    # One stage: with qemu registered (F flag) debootstrap's second stage runs its arm64
    # maintainer scripts in the chroot itself.
    nice -n 10 debootstrap --arch=arm64 --variant=minbase --include="$ARM64_PACKAGES" \
        "$ARM64_SUITE" "$root" "$SID_MIRROR" >"$root.log" 2>&1 ||
        { tail -n 20 "$root.log" >&2; exit 1; }
    [ "$(chroot "$root" uname -m)" = aarch64 ] || { echo "error: $root is not arm64" >&2; exit 1; }
    touch "$root/.complete"
}

# arm64_run DIR CMD...: CMD inside the arm64 tree, in DIR (bind-mounted), niced: emulation
# is CPU-bound and the machine is shared.
arm64_run() {
    local dir=$1
    shift
    sid_run "$(arm64_root)" "$dir" nice -n 10 "$@"
}
