#!/usr/bin/env bash
# Prepare a machine without a Docker daemon for djrun's end-to-end tier (tests/e2e.rs).
#
# - installs buildah, podman and debootstrap when missing (apt, needs root);
# - builds a Debian trixie root with Python 3.13 once, cached under
#   ${DJRUN_E2E_CACHE:-$HOME/.cache/djrun-e2e}/rootfs-trixie;
# - imports it into buildah's vfs storage as docker.io/library/python:3.13-slim, a
#   stand-in for the official image (no registry is reachable here).
#
# Idempotent: a second run only checks. Needs no Docker daemon.
# Run the tier afterwards with: cargo test --test e2e -- --ignored --test-threads=1
set -euo pipefail

CACHE_DIR="${DJRUN_E2E_CACHE:-${HOME:-/root}/.cache/djrun-e2e}"
ROOTFS="$CACHE_DIR/rootfs-trixie"
MARKER="$ROOTFS/.djrun-e2e-complete"
BASE_IMAGE="docker.io/library/python:3.13-slim"
SUITE="trixie"
PACKAGES="python3,python3-pip,python3-venv,ca-certificates"
BUILDAH=(buildah --storage-driver vfs)

log() { printf 'e2e-setup: %s\n' "$*" >&2; }

# apt, debootstrap and rootful buildah storage all need root; the tier then runs as root too.
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        log "not root: running again with sudo"
        exec sudo --preserve-env=DJRUN_E2E_CACHE bash "$0" "$@"
    fi
    log "must run as root (apt-get, debootstrap and buildah's storage need it)"
    exit 1
fi

# 1. Tools.
missing=()
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
# debootstrap checks Debian's signatures; non-Debian hosts need the keyring too.
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} with apt-get"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y buildah podman debootstrap "${missing[@]}" >&2
else
    log "buildah, podman and debootstrap are installed"
fi

# 2. The stand-in base image is already in vfs storage: nothing else to do.
if "${BUILDAH[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    log "$BASE_IMAGE is already in buildah vfs storage; done"
    exit 0
fi

# 3. Debian root with Python, cached between runs.
if [ -f "$MARKER" ]; then
    log "reusing cached rootfs $ROOTFS"
else
    if [ -e "$ROOTFS" ]; then
        log "removing incomplete rootfs $ROOTFS"
        rm -rf "$ROOTFS"
    fi
    mkdir -p "$CACHE_DIR"
    log "debootstrap $SUITE into $ROOTFS (about a minute)"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" >&2
    log "making the root look like the official python image"
    # Official images let pip install into the system interpreter.
    rm -f "$ROOTFS"/usr/lib/python3*/EXTERNALLY-MANAGED
    # Official images have a 'python' command.
    ln -sf python3 "$ROOTFS/usr/bin/python"
    # pip inside the build trusts whatever the host trusts (proxies with their own CA).
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
    fi
    # Keep the image small: apt lists and caches are not needed.
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
    chroot "$ROOTFS" python3 --version >&2
    touch "$MARKER"
    log "rootfs complete"
fi

# 4. Import into buildah's vfs storage under the name the Dockerfile's FROM uses.
log "importing $ROOTFS as $BASE_IMAGE"
ctr=$("${BUILDAH[@]}" from scratch)
cleanup() { "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true; }
trap cleanup EXIT
mnt=$("${BUILDAH[@]}" mount "$ctr")
tar -C "$ROOTFS" --exclude=./.djrun-e2e-complete -cf - . | tar -C "$mnt" -xpf -
"${BUILDAH[@]}" umount "$ctr" >/dev/null
"${BUILDAH[@]}" config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --cmd python3 \
    "$ctr"
"${BUILDAH[@]}" commit --quiet "$ctr" "$BASE_IMAGE" >/dev/null
log "imported $BASE_IMAGE:"
"${BUILDAH[@]}" images "$BASE_IMAGE" >&2
