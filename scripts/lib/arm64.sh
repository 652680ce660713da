# shellcheck shell=bash
# An arm64 (aarch64) Debian bookworm tree run under qemu-user: the Raspberry Pi 5's Debian
# (Raspberry Pi OS bookworm, Python 3.11) on this x86_64 machine. Sourced by setup.sh and
# test.sh after sid.sh (it reuses sid_run to enter the tree). The kernel runs the tree's arm64
# binaries through binfmt_misc with Debian's qemu-user-static registered with the F flag (the
# interpreter is opened when registered, so it needs no copy inside the chroot).
# setup.sh builds the tree once under the cache, and in it the garagecam-runtime wheel for
# aarch64 and a small venv (the core's dependencies and pytest, no torch) for the smoke set.

# g++ and python3-dev build the binding in the tree; no ca-certificates: sid_run binds the
# host's CA bundle, and configuring it under emulation costs minutes.
ARM64_PACKAGES=python3,python3-venv,python3-dev,g++,make
ARM64_SUITE=bookworm

# shellcheck disable=SC2154  # $cache is set by the caller (setup.sh, test.sh)
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
    log "Building an arm64 Debian $ARM64_SUITE tree in $root under qemu (a few minutes)"
    # One stage: with qemu registered (F flag) debootstrap's second stage runs its arm64
    # maintainer scripts in the chroot itself.
    debootstrap_tree "$root" "$ARM64_SUITE" "$SID_MIRROR" "$ARM64_PACKAGES" \
        nice -n 10 debootstrap --arch=arm64
    [ "$(chroot "$root" uname -m)" = aarch64 ] || { echo "error: $root is not arm64" >&2; exit 1; }
    touch "$root/.complete"
}

# arm64_cpuinfo ROOT: an arm64 /proc/cpuinfo (Cortex-A76, the Raspberry Pi 5's core) with
# the host's number of CPUs. Debian bookworm's qemu-user (7.2) shows the host's x86
# /proc/cpuinfo to the emulated programs; XNNPACK's cpuinfo cannot parse it and refuses to
# start ("Backend XnnpackBackend is not available"), so the tree gets this one instead.
arm64_cpuinfo() {
    local file="$1/etc/garagecam-arm64-cpuinfo" cpu
    {
        for ((cpu = 0; cpu < $(nproc); cpu++)); do
            printf 'processor\t: %d\nBogoMIPS\t: 108.00\n' "$cpu"
            printf 'Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n'
            printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\n'
            printf 'CPU part\t: 0xd0b\nCPU revision\t: 1\n\n'
        done
    } >"$file"
    printf '%s\n' "$file"
}

# arm64_run DIR CMD...: CMD inside the arm64 tree, in DIR (bind-mounted), niced: emulation
# is CPU-bound and the machine is shared. QEMU_CPU (read by qemu-user itself) emulates the
# Pi 5's Cortex-A76 instead of qemu's default "max" CPU: with SVE on offer XNNPACK picks
# kernels that qemu emulates far more slowly (12 trunk runs had not finished after 4 min;
# as a Cortex-A76, one takes ~6 s).
arm64_run() {
    local dir=$1 root
    shift
    root=$(arm64_root)
    SID_PROC_CPUINFO=$(arm64_cpuinfo "$root") QEMU_CPU=cortex-a76 \
        sid_run "$root" "$dir" nice -n 10 "$@"
}
