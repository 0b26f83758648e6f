#!/usr/bin/env bash
# Prepare a machine without a Docker daemon for djrun's end-to-end tier (tests/e2e.rs).
#
# - installs buildah, podman, debootstrap, PostgreSQL, Docker's engine and registry when
#   missing (apt, needs root);
# - builds a Debian trixie root with Python 3.13 and its headers once, cached under
#   ${DJRUN_E2E_CACHE:-$HOME/.cache/djrun-e2e}/rootfs-<suite>-<revision>-<package hash>;
# - imports it as docker.io/library/python:3.13-slim, a stand-in for the official image (no
#   registry is reachable here), labelled with the rootfs's name so that a changed stand-in
#   replaces an older one, into a buildah store of the tier's own under the same cache folder
#   (storage/root and storage/runroot, overlay driver: vfs copies the whole root filesystem
#   for every layer and made the tier about four times slower; one driver per store, never
#   mixed). The harness (tests/e2e.rs) passes the same flags;
# - derives docker.io/library/python:3.13 from it, the stand-in for the official full image
#   that generated Dockerfiles build their dependencies in: the slim stand-in plus, from
#   Debian's mirror, a representative part of the compilers and headers the official image
#   adds (FULL_PACKAGES), labelled with an id of its own made of the slim stand-in's and that
#   list's, so that a change of either makes it again;
# - installs the host-side tools the tier runs into a venv under the same cache folder:
#   uv (djrun runs `uv lock` when uv is on PATH), PyYAML (the harness reads the generated
#   cloudbuild.yaml with a real YAML parser) and gcp-storage-emulator (Cloud Storage's JSON
#   API on a loopback port, for the media case).
#
# Idempotent: a second run only checks (in seconds). Needs no Docker daemon: the tier starts
# one of its own where a case needs it (tests/e2e/engine.sh).
# Run the tier afterwards with: cargo test --test e2e -- --ignored --test-threads=1
set -euo pipefail

CACHE_DIR="${DJRUN_E2E_CACHE:-${HOME:-/root}/.cache/djrun-e2e}"
BASE_IMAGE="docker.io/library/python:3.13-slim"
SUITE="trixie"
MIRROR="http://deb.debian.org/debian"
# python3-dev: the official image has Python's headers, so C extensions (psycopg[c]) compile.
# No python3-pip: it brings Debian's packaging and wheel into the system site-packages, where
# pip cannot upgrade them (no RECORD file), and the official image has only pip there. pip
# comes from the wheel python3-venv ships instead (step 4).
PACKAGES="python3,python3-venv,python3-dev,ca-certificates"
# Bump when the stand-in changes in a way the package list does not show.
STANDIN_REV=3
STANDIN_ID="$SUITE-r$STANDIN_REV-$(printf '%s' "$PACKAGES" | sha256sum | cut -c1-12)"
ROOTFS="$CACHE_DIR/rootfs-$STANDIN_ID"
# The official full image's stand-in, made from the slim one (make_full_standin).
FULL_IMAGE="docker.io/library/python:3.13"
FULL_PACKAGES="gcc g++ make libc6-dev pkg-config git libpq-dev default-libmysqlclient-dev libffi-dev libssl-dev libjpeg-dev zlib1g-dev libxml2-dev libxslt1-dev"
FULL_ID="$STANDIN_ID-full-$(printf '%s' "$FULL_PACKAGES" | sha256sum | cut -c1-12)"
MARKER="$ROOTFS/.djrun-e2e-complete"
LABEL="djrun.e2e.standin"
TOOLS="$CACHE_DIR/tools"
UV_VERSION="0.13.9"
PYYAML_VERSION="6.0.3"
GCS_EMULATOR_VERSION="2026.7.19"
# Keep in step with storage_args() in tests/e2e.rs.
STORAGE_ROOT="$CACHE_DIR/storage/root"
STORAGE_RUNROOT="$CACHE_DIR/storage/runroot"
BUILDAH=(buildah --storage-driver overlay --root "$STORAGE_ROOT" --runroot "$STORAGE_RUNROOT")

log() { printf 'e2e-setup: %s\n' "$*" >&2; }
# Debian keeps initdb and pg_ctl out of PATH, in /usr/lib/postgresql/<major>/bin; the newest.
# Keep in step with pg_bin() in tests/e2e.rs.
pg_bin_dir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && printf '%s\n' "$dir"
}

# apt, debootstrap, PostgreSQL's server (run as the postgres user) and rootful buildah
# storage all need root; the tier then runs as root too.
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
# The database cases run a throwaway PostgreSQL server (initdb, pg_ctl) and query it with psql.
pg_bin_dir >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
# Docker's engine and the reference registry, for the case that runs cloudbuild.yaml's cache
# steps on the classic builder (tests/e2e/engine.sh) and for the image benchmark.
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} with apt-get"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2
else
    log "buildah, podman, debootstrap, PostgreSQL, dockerd and docker-registry are installed"
fi
pg_bin_dir >/dev/null || { log "PostgreSQL's initdb and pg_ctl are not in /usr/lib/postgresql/*/bin"; exit 1; }
log "PostgreSQL server programs in $(pg_bin_dir)"

# 2. Host-side tools in a venv of their own, pinned.
tools_ok() {
    [ -x "$TOOLS/bin/uv" ] \
        && [ "$("$TOOLS/bin/uv" --version 2>/dev/null | awk '{print $2}')" = "$UV_VERSION" ] \
        && "$TOOLS/bin/python" -c "import yaml, sys; sys.exit(yaml.__version__ != '$PYYAML_VERSION')" 2>/dev/null \
        && [ -x "$TOOLS/bin/gcp-storage-emulator" ] \
        && [ "$("$TOOLS/bin/python" -c 'from importlib.metadata import version; print(version("gcp-storage-emulator"))' 2>/dev/null)" = "$GCS_EMULATOR_VERSION" ]
}
if tools_ok; then
    log "uv $UV_VERSION, PyYAML $PYYAML_VERSION and gcp-storage-emulator $GCS_EMULATOR_VERSION are in $TOOLS"
else
    log "installing uv==$UV_VERSION, PyYAML==$PYYAML_VERSION and gcp-storage-emulator==$GCS_EMULATOR_VERSION into $TOOLS"
    mkdir -p "$CACHE_DIR"
    [ -x "$TOOLS/bin/python" ] || python3 -m venv "$TOOLS" >&2
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check \
        "uv==$UV_VERSION" "PyYAML==$PYYAML_VERSION" "gcp-storage-emulator==$GCS_EMULATOR_VERSION" >&2
    tools_ok || { log "the tools in $TOOLS do not work after installing them"; exit 1; }
fi

# 3. The stand-in base image is already in the tier's store, made from this rootfs recipe: done.
current_label() { # IMAGE
    "${BUILDAH[@]}" inspect --type image --format "{{index .OCIv1.Config.Labels \"$LABEL\"}}" \
        "$1" 2>/dev/null || true
}
# The working containers this run makes, removed however it ends.
containers=()
cleanup() {
    for c in "${containers[@]}"; do "${BUILDAH[@]}" rm "$c" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

# The stand-in for the official full image, python:3.13, which generated Dockerfiles build
# their dependencies in: the slim stand-in plus what compiling needs. The official image adds
# buildpack-deps over slim (gcc, g++, make, git, pkg-config and some forty -dev packages);
# FULL_PACKAGES is a representative part of it, the headers of the drivers and libraries
# Django projects build most. Not libldap-dev or libsasl2-dev: the official image lacks them
# too, so a project with python-ldap shows that the generated Dockerfile installs them itself.
# Removes the stand-in it replaces (and, once that one is gone, the slim stand-in OLD_SLIM
# when the caller names one that nothing uses any more).
make_full_standin() { # [OLD_SLIM]
    local old_slim=${1:-} old ctr
    if [ "$(current_label "$FULL_IMAGE")" = "$FULL_ID" ]; then
        log "$FULL_IMAGE ($FULL_ID) is already in $STORAGE_ROOT (overlay)"
        return
    fi
    old=$("${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "$FULL_IMAGE" 2>/dev/null || true)
    log "making $FULL_IMAGE from $BASE_IMAGE with $FULL_PACKAGES (a minute or two)"
    ctr=$("${BUILDAH[@]}" from --pull-never "$BASE_IMAGE")
    containers+=("$ctr")
    "${BUILDAH[@]}" run --isolation chroot "$ctr" -- sh -c \
        "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $FULL_PACKAGES && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb" >&2
    "${BUILDAH[@]}" run --isolation chroot "$ctr" -- sh -c \
        'gcc --version && g++ --version && make --version && git --version && pkg-config --modversion libpq' >/dev/null \
        || { log "$FULL_IMAGE has no working compiler, make, git or pkg-config"; exit 1; }
    "${BUILDAH[@]}" config --label "$LABEL=$FULL_ID" "$ctr"
    "${BUILDAH[@]}" commit --quiet "$ctr" "$FULL_IMAGE" >/dev/null
    log "made $FULL_IMAGE:"
    "${BUILDAH[@]}" images "$FULL_IMAGE" >&2
    for old in "$old" "$old_slim"; do
        [ -n "$old" ] || continue
        "${BUILDAH[@]}" rmi "$old" >/dev/null 2>&1 \
            && log "removed the previous stand-in image ${old:0:12}" \
            || log "kept the previous stand-in image ${old:0:12} (images or containers use it)"
    done
}

if [ "$(current_label "$BASE_IMAGE")" = "$STANDIN_ID" ]; then
    log "$BASE_IMAGE ($STANDIN_ID) is already in $STORAGE_ROOT (overlay)"
    make_full_standin
    log "done"
    exit 0
fi

# 4. Debian root with Python, cached between runs.
if [ -f "$MARKER" ]; then
    log "reusing cached rootfs $ROOTFS"
else
    if [ -e "$ROOTFS" ]; then
        log "removing incomplete rootfs $ROOTFS"
        rm -rf "$ROOTFS"
    fi
    mkdir -p "$CACHE_DIR"
    log "debootstrap $SUITE into $ROOTFS (a few minutes)"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" >&2
    log "making the root look like the official python image"
    # Official images let pip install into the system interpreter.
    rm -f "$ROOTFS"/usr/lib/python3*/EXTERNALLY-MANAGED
    # Official images have `python` and keep the interpreter and pip in /usr/local/bin
    # (generated Dockerfiles may name /usr/local/bin/python, e.g. as UV_PYTHON).
    ln -sf python3 "$ROOTFS/usr/bin/python"
    py_minor=$(chroot "$ROOTFS" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    for name in "python$py_minor" python3 python; do
        [ -e "$ROOTFS/usr/local/bin/$name" ] || ln -s "/usr/bin/python$py_minor" "$ROOTFS/usr/local/bin/$name"
    done
    # pip alone in the system site-packages, with its RECORD, installed by pip from its own
    # wheel: into /usr/local (Debian's default scheme), scripts in /usr/local/bin.
    pip_wheel=$(cd "$ROOTFS" && ls usr/share/python-wheels/pip-*.whl | head -n 1)
    chroot "$ROOTFS" env PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
        python3 "/$pip_wheel/pip" install --no-index --root-user-action=ignore "/$pip_wheel" >&2
    chroot "$ROOTFS" pip --version >&2
    # apt sources as the official image has them, so a Dockerfile can apt-get install
    # build tools and runtime libraries.
    rm -f "$ROOTFS/etc/apt/sources.list"
    cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # pip and apt inside the build trust whatever the host trusts (proxies with their own
    # CA), also after a package's postinst regenerates the bundle.
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/usr/local/share/ca-certificates/djrun-e2e-host.crt"
        cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
    fi
    # Keep the image small: apt lists and caches are not needed.
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
    chroot "$ROOTFS" python3 --version >&2
    # C extensions compile against these headers, as in the official image.
    chroot "$ROOTFS" python3 -c 'import os, sysconfig; p = sysconfig.get_paths()["include"]; assert os.path.isfile(os.path.join(p, "Python.h")), p; print("Python.h in " + p)' >&2
    # The official slim image has no compiler; the tier checks that the final image has none.
    if chroot "$ROOTFS" sh -c 'command -v gcc || command -v cc' >/dev/null 2>&1; then
        log "the stand-in root has a C compiler, unlike python:*-slim; check PACKAGES"
        exit 1
    fi
    printf '%s\n' "$PACKAGES" >"$MARKER"
    log "rootfs complete"
fi

# 5. Import into the tier's store under the name the Dockerfile's FROM uses.
# SSL_CERT_FILE names the system bundle (with the host's CAs, see above) for tools that do not
# read the system store by default, such as uv: where a proxy re-signs TLS, as on some CI and
# sandbox machines, uv would otherwise reject PyPI. Cloud Build needs no such thing.
old_id=$("${BUILDAH[@]}" inspect --type image --format '{{.FromImageID}}' "$BASE_IMAGE" 2>/dev/null || true)
log "importing $ROOTFS as $BASE_IMAGE"
ctr=$("${BUILDAH[@]}" from scratch)
containers+=("$ctr")
mnt=$("${BUILDAH[@]}" mount "$ctr")
tar -C "$ROOTFS" --exclude=./.djrun-e2e-complete -cf - . | tar -C "$mnt" -xpf -
"${BUILDAH[@]}" umount "$ctr" >/dev/null
"${BUILDAH[@]}" config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --label "$LABEL=$STANDIN_ID" \
    --cmd python3 \
    "$ctr"
"${BUILDAH[@]}" commit --quiet "$ctr" "$BASE_IMAGE" >/dev/null
log "imported $BASE_IMAGE:"
"${BUILDAH[@]}" images "$BASE_IMAGE" >&2

# 6. The full stand-in, made again from the new slim one; then what the older stand-ins left:
# their images (unless something still uses them; the full one goes first, since it was made
# from the slim one) and the rootfs.
make_full_standin "$old_id"
for stale in "$CACHE_DIR"/rootfs-*; do
    if [ -d "$stale" ] && [ "$stale" != "$ROOTFS" ]; then
        log "removing the previous stand-in rootfs $stale"
        rm -rf "$stale"
    fi
done
