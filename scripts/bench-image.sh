#!/usr/bin/env bash
# Benchmark: djrun's image for examples/mysite against the seed recipe's image, built in one
# run with the same engine, Docker's classic builder (Cloud Build's), running on the same base.
#
#   bash tests/e2e/setup.sh            # once: the engine, the python:3.13(-slim) stand-ins
#   scripts/bench-image.sh             # BENCH_REPS=3 runs of each start measurement
#   scripts/bench-image.sh --quick     # one of each (as .ci/run runs it); same as BENCH_REPS=1
#
# Builds run as Cloud Build runs them (tests/e2e/cloudbuild.py on the tier's own dockerd and
# loopback registry, tests/e2e/engine.sh): every build starts with no image but the bases, pulls
# what the previous build pushed, builds and pushes. djrun's are its generated cloudbuild.yaml;
# the recipe's (`gcloud builds submit --tag`, no cache at all) gets the same pull and
# --cache-from of its previous image here, so the two rebuilds differ by their Dockerfiles alone.
# The recipe says `FROM python:3.10`; no registry is reachable here, so both images run on the
# same local stand-in, docker.io/library/python:3.13-slim (tests/e2e/setup.sh), and the
# recipe's FROM names it; djrun's build stage starts from the full image's stand-in,
# docker.io/library/python:3.13, as its Dockerfile says. Both copies of the project get the
# same tiny view that sleeps 200 ms, for the burst of concurrent requests. For each image it
# prints the build time (and its pushes alone) and the rebuild time after a one-line code
# change, each a whole build (pulls, builds, pushes); the bytes added on top of the base the
# image runs on (python:3.13-slim for both; djrun's build stage is not in its image); the time
# from start to listening and to the first 200 response (median of BENCH_REPS); the summed RSS
# of gunicorn's processes after 100 requests; and the latency percentiles of a burst of
# BENCH_BURST requests to the sleeping view (more than the 8 threads, so some queue); then the
# djrun/recipe ratios.
# Loopback only; every loop is bounded; it removes what it made.
# It asserts nothing about timings: it fails only when a figure could not be produced.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

reps="${BENCH_REPS:-3}"
[ "${1:-}" = "--quick" ] && reps=1
burst="${BENCH_BURST:-32}"
cache_dir="${DJRUN_E2E_CACHE:-${HOME:-/root}/.cache/djrun-e2e}"
# The base both images run on.
base="docker.io/library/python:3.13-slim"
log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root, like the end-to-end tier (its engine and store are root's)"
[ -x "$cache_dir/tools/bin/python" ] || die "no tools venv in $cache_dir: run bash tests/e2e/setup.sh first"

djrun="${DJRUN:-}"
if [ -z "$djrun" ]; then
    log "building djrun"
    cargo build --release --quiet
    djrun="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/djrun"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/djrun-bench.XXXXXX")
container=""
cleanup() {
    [ -n "$container" ] && docker rm -f "$container" >/dev/null 2>&1 || true
    bash "$repo/tests/e2e/engine.sh" stop || true
    rm -rf "$work"
}
trap cleanup EXIT
engine_env=$(bash tests/e2e/engine.sh start) || die "the Docker engine did not start (tests/e2e/engine.sh start)"
DOCKER_HOST=$(sed -n 's/^DOCKER_HOST=//p' <<<"$engine_env")
registry=$(sed -n 's/^REGISTRY=//p' <<<"$engine_env")
export DOCKER_HOST

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

# The seed recipe, as it is written, but FROM the stand-in and with gunicorn as it asks; its
# build with the same pulled-image cache as djrun's.
echo gunicorn >>"$work/recipe/requirements.txt"
cat >"$work/recipe/Dockerfile" <<EOF
FROM $base
WORKDIR /app
COPY . .
RUN pip install -r requirements.txt
CMD exec gunicorn --bind 0.0.0.0:\$PORT --workers 1 --threads 8 mysite.wsgi:application
EOF
cat >"$work/recipe/cloudbuild.yaml" <<'EOF'
steps:
  - id: pull-cache
    name: gcr.io/cloud-builders/docker
    entrypoint: bash
    args: ["-c", "docker pull ${_IMAGE}:latest || true"]
  - id: build
    name: gcr.io/cloud-builders/docker
    env: ["DOCKER_BUILDKIT=0"]
    args: ["build", "--cache-from", "${_IMAGE}:latest", "--tag", "${_IMAGE}:latest", "."]
images:
  - ${_IMAGE}:latest
EOF

# djrun's files, as a user gets them.
init=(init --yes --python 3.13 --project bench-project-123 --region europe-west1
    --service mysite --public --database none --media none --allow-dirty "$work/djrun")
"$djrun" "${init[@]}" >/dev/null 2>&1 || { "$djrun" "${init[@]}" >&2; die "djrun init failed"; }

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

# A whole build of KIND as Cloud Build runs it, from an engine with no image but the bases;
# prints its seconds.
cloud_build() { # KIND LOG
    local kind=$1 start
    bash tests/e2e/engine.sh reset
    start=$(now)
    (cd "$work/$kind" && "$cache_dir/tools/bin/python" "$repo/tests/e2e/cloudbuild.py" cloudbuild.yaml \
        --project bench-project-123 -s "_IMAGE=$registry/bench-project-123/bench/$kind") >"$2" 2>&1 \
        || { cat "$2" >&2; die "the $kind image did not build"; }
    elapsed "$start" "$(now)"
}

declare -A fig
base_size=$(docker image inspect --format '{{.Size}}' "$base")
for kind in recipe djrun; do
    log "building the $kind image, as Cloud Build does (nothing to pull yet)"
    fig[$kind.build]=$(cloud_build "$kind" "$work/$kind.build.log")
    # Of which pushes: the images a first build sends, the base layers among them.
    fig[$kind.pushes]=$(awk '/^cloudbuild: step (push|images): exit 0 after / { s += $(NF - 1) } END { printf "%.2f", s }' "$work/$kind.build.log")
    echo "# one-line change" >>"$work/$kind/mysite/urls.py"
    log "rebuilding the $kind image after a one-line code change, from the pulled images alone"
    fig[$kind.rebuild]=$(cloud_build "$kind" "$work/$kind.rebuild.log")
    size=$(docker image inspect --format '{{.Size}}' "$registry/bench-project-123/bench/$kind:latest")
    fig[$kind.added_mb]=$(python3 -c "print(f'{($size - $base_size) / 1e6:.1f}')")
done

# The environment Cloud Run gives the service, and what djrun's settings read there.
djrun_host="mysite-123456789012.europe-west1.run.app"
cloud_env=(--env K_SERVICE=mysite --env K_REVISION=mysite-00001-abc --env K_CONFIGURATION=mysite
    --env DJANGO_SECRET_KEY=bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz
    --env "CLOUDRUN_SERVICE_URLS=https://$djrun_host")

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts KIND's image like Cloud Run (the image's CMD, user, working folder and env, a PORT);
# sets $port and $container.
start_server() {
    local kind=$1 args
    port=$(free_port)
    args=(--detach --network host --env "PORT=$port" --env "DJRUN_BENCH=$$")
    [ "$kind" = djrun ] && args+=("${cloud_env[@]}")
    START=$(now)
    container=$(docker run "${args[@]}" "$registry/bench-project-123/bench/$kind:latest")
}

stop_server() {
    docker logs "$container" >>"$work/$kind.server.log" 2>&1 || true
    docker rm -f "$container" >/dev/null 2>&1 || true
    container=""
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

# Both images are local before any start is timed (each build's reset removed the other's).
for kind in recipe djrun; do docker pull --quiet "$registry/bench-project-123/bench/$kind:latest" >/dev/null; done

median() { python3 -c 'import statistics,sys; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }

for kind in recipe djrun; do
    # The recipe keeps startproject's DEBUG = True, which allows localhost only.
    host=localhost
    [ "$kind" = djrun ] && host=$djrun_host
    listens=() firsts=()
    for rep in $(seq "$reps"); do
        log "starting the $kind image ($rep/$reps)"
        start_server "$kind"
        read -r l f < <(probe) || { docker logs "$container" >&2 || true; die "the $kind server never answered 200"; }
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
    "pushes:of which pushes to the registry (s)"
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
printf '\n%-44s %10s %10s %8s\n' "figure (base: $base stand-in, Docker classic builder, reps=$reps)" recipe djrun ratio
for row in "${rows[@]}"; do
    key=${row%%:*} label=${row#*:}
    r=${fig[recipe.$key]:-} d=${fig[djrun.$key]:-}
    for v in "$r" "$d"; do
        [[ "$v" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "no figure for $label (recipe '$r', djrun '$d')"
    done
    ratio=$(python3 -c "r, d = float('$r'), float('$d'); print(f'{d / r:.2f}' if r else 'n/a')")
    printf '%-44s %10s %10s %8s\n' "$label" "$r" "$d" "$ratio"
done
