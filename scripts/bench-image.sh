#!/usr/bin/env bash
# Benchmark: djrun's image for examples/mysite against the seed recipe's image, built in one
# run with the same engine (buildah, the end-to-end tier's overlay store), running on the same
# base.
#
#   bash tests/e2e/setup.sh            # once: buildah, the store, the python:3.13(-slim) stand-ins
#   scripts/bench-image.sh             # BENCH_REPS=3 runs of each start measurement
#   scripts/bench-image.sh --quick     # one of each (as .ci/run runs it); same as BENCH_REPS=1
#
# The recipe says `FROM python:3.10`; no registry is reachable here, so both images run on
# the same local stand-in, docker.io/library/python:3.13-slim (tests/e2e/setup.sh), and the
# recipe's FROM names it; djrun's build stage starts from the full image's stand-in,
# docker.io/library/python:3.13, as its Dockerfile says. Both copies of the project get the
# same tiny view that sleeps 200 ms, for the burst of concurrent requests. For each image it
# prints the build time, the rebuild time after a one-line code change, the bytes added on
# top of the base the image runs on (python:3.13-slim for both; djrun's build stage is not
# in its image), the time from start to listening and to the first 200 response (median of
# BENCH_REPS), the summed RSS of gunicorn's processes after 100 requests, and the latency
# percentiles of a burst of BENCH_BURST requests to the sleeping view (more than the 8
# threads, so some queue); then the djrun/recipe ratios. Loopback only; every loop is bounded; it removes what it made.
# It asserts nothing about timings: it fails only when a figure could not be produced.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

reps="${BENCH_REPS:-3}"
[ "${1:-}" = "--quick" ] && reps=1
burst="${BENCH_BURST:-32}"
cache_dir="${DJRUN_E2E_CACHE:-${HOME:-/root}/.cache/djrun-e2e}"
# The base both images run on, and the one djrun's build stage starts from.
base="docker.io/library/python:3.13-slim"
build_base="docker.io/library/python:3.13"
store=(--storage-driver overlay --root "$cache_dir/storage/root" --runroot "$cache_dir/storage/runroot")
buildah_() { buildah "${store[@]}" "$@"; }
podman_() { podman "${store[@]}" "$@"; }
log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root, like the end-to-end tier (its buildah store is root's)"
command -v buildah >/dev/null || die "buildah is missing: run bash tests/e2e/setup.sh first"
for image in "$base" "$build_base"; do
    buildah_ inspect --type image "$image" >/dev/null 2>&1 \
        || die "$image is not in $cache_dir/storage: run bash tests/e2e/setup.sh first"
done

djrun="${DJRUN:-}"
if [ -z "$djrun" ]; then
    log "building djrun"
    cargo build --release --quiet
    djrun="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/djrun"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/djrun-bench.XXXXXX")
tag_prefix="localhost/djrun-bench-$$"
containers=()
server_group=""
cleanup() {
    [ -n "$server_group" ] && kill -KILL -- "-$server_group" 2>/dev/null || true
    for c in "${containers[@]}"; do buildah_ rm "$c" >/dev/null 2>&1 || true; done
    for kind in recipe djrun; do buildah_ rmi "$tag_prefix-$kind" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# The same project twice, with a view that sleeps, for the burst.
for kind in recipe djrun; do
    cp -r examples/mysite "$work/$kind"
    cat >>"$work/$kind/mysite/urls.py" <<'EOF'

# Added by scripts/bench-image.sh: a view that waits 200 ms, for the burst of requests.
import time  # noqa: E402

from django.http import HttpResponse  # noqa: E402


def bench_sleep(request):
    time.sleep(0.2)
    return HttpResponse("slept")


urlpatterns += [path("bench-sleep/", bench_sleep)]
EOF
done

# The seed recipe, as it is written, but FROM the stand-in and with gunicorn as it asks.
echo gunicorn >>"$work/recipe/requirements.txt"
cat >"$work/recipe/Dockerfile" <<EOF
FROM $base
WORKDIR /app
COPY . .
RUN pip install -r requirements.txt
CMD exec gunicorn --bind 0.0.0.0:\$PORT --workers 1 --threads 8 mysite.wsgi:application
EOF

# djrun's files, as a user gets them.
"$djrun" init --yes --python 3.13 --project bench-project-123 --region europe-west1 \
    --service mysite --public --database none --media none --allow-dirty "$work/djrun" >/dev/null 2>&1 \
    || { "$djrun" init --yes --python 3.13 --project bench-project-123 --region europe-west1 \
        --service mysite --public --database none --media none --allow-dirty "$work/djrun" >&2; die "djrun init failed"; }

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

build() { # KIND [--no-cache] -> seconds
    local kind=$1 start
    shift
    start=$(now)
    buildah_ bud "$@" --layers --force-rm --isolation chroot --pull-never --quiet \
        -t "$tag_prefix-$kind" "$work/$kind" >"$work/$kind.build.log" 2>&1 \
        || { cat "$work/$kind.build.log" >&2; die "the $kind image did not build"; }
    elapsed "$start" "$(now)"
}

declare -A fig
for kind in recipe djrun; do
    log "building the $kind image"
    fig[$kind.build]=$(build "$kind" --no-cache)
    echo "# one-line change" >>"$work/$kind/mysite/urls.py"
    log "rebuilding the $kind image after a one-line code change"
    fig[$kind.rebuild]=$(build "$kind")
    size=$(podman_ image inspect --format '{{.Size}}' "$tag_prefix-$kind")
    base_size=$(podman_ image inspect --format '{{.Size}}' "$base")
    fig[$kind.added_mb]=$(python3 -c "print(f'{($size - $base_size) / 1e6:.1f}')")
done

# The environment Cloud Run gives the service, and what djrun's settings read there.
djrun_host="mysite-123456789012.europe-west1.run.app"
cloud_env=(--env K_SERVICE=mysite --env K_REVISION=mysite-00001-abc --env K_CONFIGURATION=mysite
    --env DJANGO_SECRET_KEY=bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz
    --env "CLOUDRUN_SERVICE_URLS=https://$djrun_host")

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts KIND's image like Cloud Run (image's CMD, user, working folder, env); sets $port and
# $server_group. The process group is the server's own, so it is stopped as one.
start_server() {
    local kind=$1 ctr argv env_json user wd
    ctr=$(buildah_ from --pull-never "$tag_prefix-$kind")
    containers+=("$ctr")
    buildah_ inspect "$ctr" >"$work/$kind.inspect.json"
    config() { python3 -c 'import json,sys; c = json.load(open(sys.argv[1]))["OCIv1"]["config"]; v = c.get(sys.argv[2]) or ""; print(json.dumps(v) if isinstance(v, list) else v)' "$work/$kind.inspect.json" "$1"; }
    argv=$(config Cmd)
    env_json=$(config Env)
    user=$(config User)
    wd=$(config WorkingDir)
    port=$(free_port)
    local args=(run --isolation chroot)
    [ -n "$user" ] && args+=(--user "$user")
    [ -n "$wd" ] && args+=(--workingdir "$wd")
    while IFS= read -r kv; do args+=(--env "$kv"); done < <(python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1]) or []))' "$env_json")
    args+=(--env "PORT=$port" --env "DJRUN_BENCH=$$")
    [ "$kind" = djrun ] && args+=("${cloud_env[@]}")
    local cmd=()
    while IFS= read -r a; do cmd+=("$a"); done < <(python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])))' "$argv")
    START=$(now)
    setsid buildah "${store[@]}" "${args[@]}" "$ctr" -- "${cmd[@]}" >>"$work/$kind.server.log" 2>&1 &
    server_group=$!
}

stop_server() {
    kill -TERM -- "-$server_group" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_group" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$server_group" 2>/dev/null || true
    wait "$server_group" 2>/dev/null || true
    server_group=""
    buildah_ rm "${containers[-1]}" >/dev/null 2>&1 || true
    unset 'containers[-1]'
}

# Polls the port, then the login page (200 without a database), for at most 60 s; prints
# "LISTEN_SECONDS FIRST_200_SECONDS" counted from START.
probe() {
    python3 - "$START" "$port" "$host" <<'EOF'
import socket, sys, time, urllib.request
start, port, host = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
deadline = time.time() + 60
listen = None
while time.time() < deadline:
    if listen is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            listen = time.time() - start
        except OSError:
            time.sleep(0.01)
            continue
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/admin/login/", headers={"Host": host, "X-Forwarded-Proto": "https"})
        if urllib.request.urlopen(req, timeout=5).status == 200:
            print(f"{listen:.2f} {time.time() - start:.2f}")
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.01)
sys.exit("no 200 from the server within 60 s")
EOF
}

median() { python3 -c 'import statistics,sys; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }

for kind in recipe djrun; do
    # The recipe keeps startproject's DEBUG = True, which allows localhost only.
    host=localhost
    [ "$kind" = djrun ] && host=$djrun_host
    listens=() firsts=()
    for rep in $(seq "$reps"); do
        log "starting the $kind image ($rep/$reps)"
        start_server "$kind"
        read -r l f < <(probe) || { cat "$work/$kind.server.log" >&2; die "the $kind server never answered 200"; }
        listens+=("$l") firsts+=("$f")
        if [ "$rep" -lt "$reps" ]; then stop_server; fi
    done
    fig[$kind.listen]=$(median "${listens[@]}")
    fig[$kind.first200]=$(median "${firsts[@]}")

    # 100 requests, then the resident memory of gunicorn's processes (the server's only).
    python3 - "$port" "$host" <<'EOF'
import sys, urllib.request
port, host = sys.argv[1], sys.argv[2]
for _ in range(100):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/admin/login/", headers={"Host": host, "X-Forwarded-Proto": "https"})
    urllib.request.urlopen(req, timeout=10).read()
EOF
    rss_kb=0
    for env in /proc/[0-9]*/environ; do
        pid=${env#/proc/}; pid=${pid%/environ}
        { tr '\0' '\n' <"$env"; } 2>/dev/null | grep -qx "DJRUN_BENCH=$$" || continue
        grep -q gunicorn "/proc/$pid/cmdline" 2>/dev/null || continue
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        rss_kb=$((rss_kb + ${kb:-0}))
    done
    fig[$kind.rss_mb]=$(python3 -c "print(f'{$rss_kb / 1024:.1f}')")

    # A bounded burst of concurrent slow requests: beyond the 8 threads they queue.
    read -r p50 p90 p99 pmax < <(python3 - "$port" "$host" "$burst" <<'EOF'
import concurrent.futures, statistics, sys, time, urllib.request
port, host, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def one(_):
    t = time.time()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/bench-sleep/", headers={"Host": host, "X-Forwarded-Proto": "https"})
    urllib.request.urlopen(req, timeout=60).read()
    return time.time() - t
with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
    lat = sorted(pool.map(one, range(n)))
q = statistics.quantiles(lat, n=100, method="inclusive")
print(f"{q[49]:.2f} {q[89]:.2f} {q[98]:.2f} {lat[-1]:.2f}")
EOF
    ) || die "the burst against the $kind server failed"
    fig[$kind.p50]=$p50 fig[$kind.p90]=$p90 fig[$kind.p99]=$p99 fig[$kind.pmax]=$pmax
    stop_server
done

rows=(
    "build:build time (s)"
    "rebuild:rebuild after a one-line change (s)"
    "added_mb:bytes added on top of the base (MB)"
    "listen:start to listening (s)"
    "first200:start to first 200 (s)"
    "rss_mb:gunicorn RSS after 100 requests (MB)"
    "p50:burst of $burst x 200 ms, p50 (s)"
    "p90:burst p90 (s)"
    "p99:burst p99 (s)"
    "pmax:burst max (s)"
)
printf '\n%-44s %10s %10s %8s\n' "figure (base: $base stand-in, buildah overlay, reps=$reps)" recipe djrun ratio
for row in "${rows[@]}"; do
    key=${row%%:*} label=${row#*:}
    r=${fig[recipe.$key]:-} d=${fig[djrun.$key]:-}
    for v in "$r" "$d"; do
        [[ "$v" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "no figure for $label (recipe '$r', djrun '$d')"
    done
    ratio=$(python3 -c "r, d = float('$r'), float('$d'); print(f'{d / r:.2f}' if r else 'n/a')")
    printf '%-44s %10s %10s %8s\n' "$label" "$r" "$d" "$ratio"
done
