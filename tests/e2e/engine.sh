#!/usr/bin/env bash
# A Docker engine and an image registry of the end-to-end tier's own, on this machine only, for
# what only Docker's classic builder can show: the generated cloudbuild.yaml's cache steps
# (pull the previous images, build with --cache-from, push), as Cloud Build runs them.
#
#   bash tests/e2e/engine.sh start   # prints DOCKER_HOST=... and REGISTRY=127.0.0.1:PORT
#   bash tests/e2e/engine.sh reset   # removes every image but the stand-ins: an empty cache
#   bash tests/e2e/engine.sh stop
#
# - dockerd (Debian's docker.io, installed by tests/e2e/setup.sh) listens on a socket of its
#   own, never the default one, so nothing else on the machine uses it by chance; its images
#   live under ${DJRUN_E2E_CACHE:-$HOME/.cache/djrun-e2e}/docker, so that the stand-in base
#   images are loaded into it once, from the tier's buildah store (same label, same image);
# - the registry (Debian's docker-registry, the reference registry) listens on 127.0.0.1 and
#   starts empty at every start, like a project's first deploy. Docker allows plain HTTP to a
#   registry on 127.0.0.0/8.
# Builds reach PyPI and Debian's mirror through dockerd's default bridge, as on Cloud Build.
# It refuses to start beside a system Docker engine: `reset` removes every image but the
# stand-ins, and the two would share the bridge. One user at a time, like the tier's buildah
# store: the e2e tier and the image bench each start it and stop it.
set -euo pipefail

CACHE_DIR="${DJRUN_E2E_CACHE:-${HOME:-/root}/.cache/djrun-e2e}"
RUN_DIR="${DJRUN_E2E_ENGINE_RUN:-/run/djrun-e2e-engine}"
DATA_ROOT="$CACHE_DIR/docker"
SOCKET="$RUN_DIR/docker.sock"
export DOCKER_HOST="unix://$SOCKET"
# Keep in step with tests/e2e/setup.sh.
STANDINS=(docker.io/library/python:3.13-slim docker.io/library/python:3.13)
LABEL="djrun.e2e.standin"
BUILDAH=(buildah --storage-driver overlay --root "$CACHE_DIR/storage/root" --runroot "$CACHE_DIR/storage/runroot")

log() { printf 'e2e-engine: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() { # PIDFILE
    alive "$1" || { rm -f "$1"; return 0; }
    local pid
    pid=$(cat "$1")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$1"
}

start_dockerd() {
    alive "$RUN_DIR/dockerd.pid" && docker info >/dev/null 2>&1 && return
    command -v dockerd >/dev/null || die "dockerd is missing: run bash tests/e2e/setup.sh first"
    if DOCKER_HOST=unix:///var/run/docker.sock docker info >/dev/null 2>&1; then
        die "a Docker engine already answers on /var/run/docker.sock: this case removes every image of the engine it uses, so it runs only where none does"
    fi
    mkdir -p "$RUN_DIR" "$DATA_ROOT"
    log "starting dockerd on $SOCKET (images in $DATA_ROOT)"
    setsid dockerd --host "$DOCKER_HOST" --data-root "$DATA_ROOT" --exec-root "$RUN_DIR/exec" \
        --pidfile "$RUN_DIR/dockerd.pid" --storage-driver overlay2 \
        --containerd-namespace djrun-e2e --containerd-plugins-namespace djrun-e2e-plugins \
        >"$RUN_DIR/dockerd.log" 2>&1 </dev/null &
    local pid=$!
    for _ in $(seq 300); do
        docker info >/dev/null 2>&1 && return
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null || true
    tail -n 20 "$RUN_DIR/dockerd.log" >&2 || true
    die "dockerd did not answer on $SOCKET within 30 s (its log: $RUN_DIR/dockerd.log)"
}

# Empty at every start, also after a run that was interrupted before its stop.
start_registry() {
    stop_pid "$RUN_DIR/registry.pid"
    command -v docker-registry >/dev/null || die "docker-registry is missing: run bash tests/e2e/setup.sh first"
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rm -rf "$RUN_DIR/registry"
    mkdir -p "$RUN_DIR/registry"
    cat >"$RUN_DIR/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $RUN_DIR/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
    log "starting an empty registry on 127.0.0.1:$port"
    setsid docker-registry serve "$RUN_DIR/registry.yml" >"$RUN_DIR/registry.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/registry.pid"
    for _ in $(seq 100); do
        if python3 -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:$port/v2/', timeout=1).status != 200)" 2>/dev/null; then
            echo "127.0.0.1:$port" >"$RUN_DIR/registry.addr"
            return
        fi
        sleep 0.1
    done
    stop_pid "$RUN_DIR/registry.pid"
    tail -n 20 "$RUN_DIR/registry.log" >&2 || true
    die "the registry did not answer on 127.0.0.1:$port within 10 s"
}

# The stand-ins, from the tier's buildah store, unless dockerd has the same ones (by label).
load_standins() {
    local image want have archive
    for image in "${STANDINS[@]}"; do
        want=$("${BUILDAH[@]}" inspect --type image --format "{{index .OCIv1.Config.Labels \"$LABEL\"}}" "$image" 2>/dev/null) \
            || die "$image is not in the tier's buildah store: run bash tests/e2e/setup.sh first"
        have=$(docker image inspect --format "{{index .Config.Labels \"$LABEL\"}}" "$image" 2>/dev/null || true)
        [ "$have" = "$want" ] && continue
        log "loading the stand-in $image ($want) into dockerd"
        archive="$RUN_DIR/standin.tar"
        rm -f "$archive"
        "${BUILDAH[@]}" push --quiet "$image" "docker-archive:$archive:$image" >/dev/null
        docker load --quiet -i "$archive" >/dev/null
        rm -f "$archive"
    done
}

reset() {
    local keep=() id
    for image in "${STANDINS[@]}"; do keep+=("$(docker image inspect --format '{{.Id}}' "$image")"); done
    docker ps -aq | xargs -r docker rm -f >/dev/null
    while read -r id; do
        [[ " ${keep[*]} " == *" $id "* ]] || docker rmi -f "$id" >/dev/null 2>&1 || true
    done < <(docker image ls -aq --no-trunc | sort -u)
    docker image prune -f >/dev/null
    # BuildKit's cache is its own, kept apart from the images.
    docker builder prune -af >/dev/null
}

case "${1:-}" in
start)
    [ "$(id -u)" -eq 0 ] || die "run as root, like the rest of the end-to-end tier"
    start_dockerd
    start_registry
    load_standins
    printf 'DOCKER_HOST=%s\nREGISTRY=%s\n' "$DOCKER_HOST" "$(cat "$RUN_DIR/registry.addr")"
    ;;
reset)
    docker info >/dev/null 2>&1 || die "no engine on $SOCKET: run bash tests/e2e/engine.sh start"
    reset
    ;;
stop)
    stop_pid "$RUN_DIR/registry.pid"
    stop_pid "$RUN_DIR/dockerd.pid"
    rm -rf "$RUN_DIR/registry" "$RUN_DIR/registry.addr"
    ;;
*)
    die "usage: bash tests/e2e/engine.sh start|reset|stop"
    ;;
esac
