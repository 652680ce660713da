# shellcheck shell=bash
# A Debian bookworm tree that stands in for the add-on's base image
# (ghcr.io/home-assistant/base-debian:bookworm: Debian bookworm slim plus bash, jq, tzdata, curl,
# ca-certificates, xz-utils), with the Debian packages the add-on's install script adds
# (addon/rootfs/usr/local/lib/garagecam-addon/debian-packages.txt, installed by that script's
# `system` step). tests/addon/ runs the script's `python` step and the add-on in an overlay
# of it, so the cached tree stays as built. Sourced by setup.sh and test.sh after sid.sh
# (uses its `log` and `$cache`). Needs root, like the sid tree.

BOOKWORM_BASE_PACKAGES=bash,jq,tzdata,curl,ca-certificates,xz-utils,procps
BOOKWORM_MIRROR=${GARAGECAM_BOOKWORM_MIRROR:-http://deb.debian.org/debian}
BOOKWORM_INSTALL_DIR=addon/rootfs/usr/local/lib/garagecam-addon

bookworm_root() {  # the cached tree's path for these package lists
    local key
    key=$(printf '%s\n' "$BOOKWORM_BASE_PACKAGES" "v1" |
        cat - "$BOOKWORM_INSTALL_DIR/debian-packages.txt" | sha256sum | cut -c1-12)
    printf '%s/bookworm-%s\n' "$cache" "$key"
}

ensure_bookworm_root() {
    local root
    root=$(bookworm_root)
    if [ -f "$root/.complete" ]; then
        log "Reusing the Debian bookworm tree $root ($(chroot "$root" python3 --version))"
        return
    fi
    log "Building a Debian bookworm tree (the add-on's base image) in $root (about a minute)"
    debootstrap_tree "$root" bookworm "$BOOKWORM_MIRROR" "$BOOKWORM_BASE_PACKAGES" debootstrap
    # the add-on's own Debian packages, installed by its install script as the Dockerfile does
    mkdir -p "$root/tmp/garagecam-addon"; touch "$root/etc/resolv.conf"
    cp "$BOOKWORM_INSTALL_DIR"/install.sh "$BOOKWORM_INSTALL_DIR"/debian-packages.txt \
        "$root/tmp/garagecam-addon/"
    unshare -m --propagation private /bin/bash -c '
        set -e
        root=$1
        mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
        mount -t proc proc "$root/proc"
        chroot "$root" /usr/bin/env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            /tmp/garagecam-addon/install.sh system
    ' bookworm "$root" >>"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; exit 1; }
    rm -rf "$root/tmp/garagecam-addon"
    touch "$root/.complete"
}
