#!/usr/bin/env bash
# Benchmark: what `djrun inspect` costs on a large monorepo, beside `find` walking the same tree.
#
#   scripts/bench-inspect.sh              build the tree once (cached), time both, print PASS/FAIL
#   scripts/bench-inspect.sh --rebuild    build the tree anew first
#
# The tree (200,000+ files, cached under target/bench-monorepo, or $BENCH_DIR):
#   frontend/node_modules/**   150,000 files                  pruned by name
#   .venv/ (pyvenv.cfg)         30,000 files, a decoy manage.py pruned by name and pyvenv.cfg
#   build/, dist/               15,000 files, decoy manage.py  ignored by the root's .gitignore
#   .git/objects/**              5,000 files                  pruned by name
#   docs/                          300 files
#   backend/                    the Django project: manage.py, settings, requirements.txt,
#                               50 apps x 10 files
# Each command runs once to warm the caches, then RUNS times (default 5); the median is kept.
# The timer is hyperfine when it is installed (BENCH_TIMER=bash forces a bash loop on
# $EPOCHREALTIME). djrun is the release build, made here with `cargo build --release`.
# The target: djrun's median is at most 5% of find's. Exit 1 on FAIL.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."
repo=$(pwd)
tree=${BENCH_DIR:-$repo/target/bench-monorepo}
runs=${RUNS:-5}
target_pct=5
layout_version=1

if [[ ${1:-} == --rebuild ]]; then
    rm -rf "$tree"
fi

if [[ $(cat "$tree/.bench-stamp" 2>/dev/null) != "$layout_version" ]]; then
    echo "building the monorepo in $tree (once) ..." >&2
    rm -rf "$tree" "$tree.tmp"
    mkdir -p "$(dirname "$tree")"
    python3 - "$tree.tmp" "$repo/examples/mysite" <<'PY'
import os, shutil, sys

root, example = sys.argv[1], sys.argv[2]
count = 0

def write(rel, text="x\n"):
    global count
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    count += 1

def spread(prefix, total, per_dir, fanout, ext):
    """`total` files under `prefix`, `per_dir` a folder, folders nested `fanout` wide."""
    for d in range((total + per_dir - 1) // per_dir):
        sub = f"{prefix}/p{d // fanout:03}/m{d % fanout:03}"
        os.makedirs(os.path.join(root, sub), exist_ok=True)
        for i in range(min(per_dir, total - d * per_dir)):
            write(f"{sub}/f{i:03}.{ext}")

write(".gitignore", "/build/\n/dist/\nnode_modules/\n__pycache__/\n*.pyc\n.venv/\n")
write("README.md", "# monorepo\n")

# frontend: a package and 150,000 files of node_modules
write("frontend/package.json", '{"name": "frontend", "private": true}\n')
for i in range(20):
    write(f"frontend/src/component{i:02}.tsx")
spread("frontend/node_modules", 150_000, 100, 30, "js")
write("frontend/node_modules/some-tool/manage.py", "decoy\n")

# a virtualenv: 30,000 files with a decoy manage.py
write(".venv/pyvenv.cfg", "home = /usr/bin\nversion = 3.12.3\n")
write(".venv/manage.py", "decoy\n")
write(".venv/lib/python3.12/site-packages/django/conf/project_template/manage.py", "decoy\n")
spread(".venv/lib/python3.12/site-packages", 30_000 - 3, 100, 20, "py")

# build output the .gitignore ignores: 15,000 files, a decoy manage.py at the project's depth
write("dist/manage.py", "decoy\n")
write("build/lib/backend/manage.py", "decoy\n")
spread("build", 10_000 - 1, 100, 10, "o")
spread("dist", 5_000 - 1, 100, 10, "whl")

# git's objects
spread(".git/objects", 5_000, 20, 16, "pack")
write(".git/HEAD", "ref: refs/heads/main\n")

# docs
spread("docs", 300, 30, 5, "md")

# the Django project: the bundled startproject example, plus 50 apps of 10 files
shutil.copytree(example, os.path.join(root, "backend"))
count += sum(len(files) for _, _, files in os.walk(os.path.join(root, "backend")))
for a in range(50):
    for name in ["__init__", "admin", "apps", "models", "tests", "urls", "views", "forms",
                 "serializers"]:
        write(f"backend/app{a:02}/{name}.py", "# app\n")
    write(f"backend/app{a:02}/migrations/__init__.py", "")

with open(os.path.join(root, ".bench-files"), "w") as f:
    f.write(f"{count}\n")
PY
    echo "$layout_version" >"$tree.tmp/.bench-stamp"
    mv "$tree.tmp" "$tree"
fi

echo "building djrun (release) ..." >&2
cargo build --release --quiet
djrun=$repo/target/release/djrun

project_root=$("$djrun" inspect "$tree" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["project_root"])')
if [[ $project_root != backend ]]; then
    echo "FAIL: djrun found the project in \`$project_root\`, not \`backend\`" >&2
    exit 1
fi

# The median wall time, in microseconds, of `runs` runs of "$@" after one warm-up run. The
# clock is bash's $EPOCHREALTIME, read without starting a process, so the figures hold no
# `date` fork.
median_us() {
    if [[ -z ${EPOCHREALTIME:-} ]]; then
        echo "bench-inspect: needs bash 5 (\$EPOCHREALTIME) or hyperfine" >&2
        exit 2
    fi
    local times=() start end
    "$@" >/dev/null
    for ((i = 0; i < runs; i++)); do
        start=${EPOCHREALTIME/[.,]/}
        "$@" >/dev/null
        end=${EPOCHREALTIME/[.,]/}
        times+=($((10#$end - 10#$start)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}

# The same figure from hyperfine, when it is installed; the arguments go to hyperfine.
hyperfine_median_us() {
    local json median
    json=$(mktemp)
    hyperfine --warmup 1 --runs "$runs" --style none --export-json "$json" "$@" >/dev/null
    median=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["results"][0]["median"] * 1e6))' "$json")
    rm -f "$json"
    echo "$median"
}

find_files() { find "$tree" -type f | wc -l; }
djrun_inspect() { "$djrun" inspect "$tree" --json; }

files=$(find_files | tr -d ' ')
if [[ ${BENCH_TIMER:-auto} != bash ]] && command -v hyperfine >/dev/null; then
    timer=hyperfine
    find_us=$(hyperfine_median_us "find '$tree' -type f | wc -l")
    # No shell to start for one command without a pipe: hyperfine cannot subtract a shell's
    # start-up precisely from a run of a few milliseconds.
    djrun_us=$(hyperfine_median_us -N "'$djrun' inspect '$tree' --json")
else
    timer="bash loop"
    find_us=$(median_us find_files)
    djrun_us=$(median_us djrun_inspect)
fi

load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime | sed 's/.*load average[s]*: //')
awk -v load="$load" -v cpus="$(getconf _NPROCESSORS_ONLN)" -v timer="$timer" -v files="$files" -v f="$find_us" -v d="$djrun_us" -v t="$target_pct" -v runs="$runs" -v tree="$tree" 'BEGIN {
    pct = 100 * d / f
    printf "machine:                   %d CPUs, load average %s (a busy machine slows the short run most)\n", cpus, load
    printf "tree:                      %s (%d files)\n", tree, files
    printf "find -type f | wc -l:      %8.1f ms  (median of %d, %s)\n", f / 1000, runs, timer
    printf "djrun inspect --json:      %8.1f ms  (median of %d, %s)\n", d / 1000, runs, timer
    printf "djrun / find:              %8.2f %%   (target <= %d %%)\n", pct, t
    if (pct <= t) { print "PASS" } else { print "FAIL"; exit 1 }
}'
