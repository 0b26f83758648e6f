#!/usr/bin/env bash
# Benchmark: what `djrun inspect` and `djrun init --dry-run` cost as the settings file grows.
#
#   scripts/bench-settings.sh                 every shape at every size, PASS/FAIL at the end
#   SIZES="0.1 0.2 0.4" scripts/bench-settings.sh
#   SHAPES="comments" scripts/bench-settings.sh
#
# For each shape and size (in MB, default 0.25 0.5 1 2 4) the bundled example project is
# copied under target/bench-settings (or $BENCH_DIR) and its settings.py grows to that size
# with one of:
#   comments      lines that hold only a comment (the case that was once quadratic)
#   assignments   `NAME_N = 'value N'` lines
#   mix           comments, assignments, lists, dicts, `if` blocks, env reads, blank lines
# Each command runs once (a run longer than $TIMEOUT seconds, default 60, is cut off and
# shown as such). Printed: CPU seconds per run and per MB of settings; the per-MB figure
# stays flat when the work is linear in the size of the file.
# The target: inspect of the 1 MB settings of every shape in under $TARGET seconds (default
# 0.75). Exit 1 on FAIL. djrun is the release build, made here with `cargo build --release`.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."
repo=$(pwd)
work=${BENCH_DIR:-${CARGO_TARGET_DIR:-$repo/target}/bench-settings}
sizes=${SIZES:-0.25 0.5 1 2 4}
shapes=${SHAPES:-comments assignments mix}
timeout_s=${TIMEOUT:-60}
target=${TARGET:-0.75}

echo "building djrun (release) ..." >&2
cargo build --release --quiet
djrun=${CARGO_TARGET_DIR:-$repo/target}/release/djrun

# Grow `settings.py` of the project at $1 to $3 MB of shape $2.
grow() {
    python3 - "$1/mysite/settings.py" "$2" "$3" <<'PY'
import sys

path, shape, mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(path) as f:
    text = f.read()
goal = int(mb * 1_000_000)
chunks = []
size = len(text.encode())
i = 0
while size < goal:
    if shape == "comments":
        chunk = f"# note {i:07}: a line that holds only a comment\n"
    elif shape == "assignments":
        chunk = f"SETTING_{i:07} = 'value {i}'\n"
    else:
        chunk = [
            f"# section {i}\n",
            f"OPTION_{i} = 'value {i}'  # trailing\n",
            "\n",
            f"LIST_{i} = [\n    'a{i}',\n    # inside\n    'b{i}',\n]\n",
            f"DICT_{i} = {{'key': 'v{i}', 'n': {i}}}\n",
            f"if os.environ.get('FLAG_{i}'):\n    # guarded\n    FLAGGED_{i} = True\n",
            f"VAR_{i} = os.environ.get('VAR_{i}', 'default')\n",
        ][i % 7]
    chunks.append(chunk)
    size += len(chunk.encode())
    i += 1
with open(path, "w") as f:
    f.write(text)
    if shape == "mix" and "import os" not in text:
        f.write("import os\n")
    f.write("".join(chunks))
PY
}

# CPU seconds (user + system) one run of "$@" takes, or ">TIMEOUT" when it is cut off; the
# command must succeed. CPU time, not wall time: on a shared machine the wall clock measures
# the neighbours.
seconds() {
    local status=0 times
    times=$( { TIMEFORMAT='%U %S'; time timeout "$timeout_s" "$@" >/dev/null 2>"$work/stderr"; } 2>&1) || status=$?
    if ((status == 124)); then
        echo ">$timeout_s"
    elif ((status != 0)); then
        echo "bench-settings: \`$*\` failed (exit $status):" >&2
        cat "$work/stderr" >&2
        exit 2
    else
        awk -v t="$times" 'BEGIN { split(t, a, " "); printf "%.3f", a[1] + a[2] }'
    fi
}

per_mb() {
    awk -v s="$1" -v mb="$2" 'BEGIN { if (s ~ /^>/) print "-"; else printf "%.3f", s / mb }'
}

mkdir -p "$work"
status=PASS
printf '%-12s %6s %10s %12s %10s %12s\n' shape MB inspect_s inspect_s/MB init_s init_s/MB
for shape in $shapes; do
    for mb in $sizes; do
        project=$work/$shape-$mb
        rm -rf "$project"
        cp -R "$repo/examples/mysite" "$project"
        grow "$project" "$shape" "$mb"
        real_mb=$(awk -v b="$(wc -c <"$project/mysite/settings.py")" 'BEGIN { printf "%.2f", b / 1e6 }')
        inspect_s=$(seconds "$djrun" inspect --json "$project")
        init_s=$(seconds "$djrun" init --dry-run --yes --project bench-project-1 \
            --region europe-west1 "$project")
        printf '%-12s %6s %10s %12s %10s %12s\n' "$shape" "$real_mb" "$inspect_s" \
            "$(per_mb "$inspect_s" "$real_mb")" "$init_s" "$(per_mb "$init_s" "$real_mb")"
        if [[ $mb == 1 ]] && awk -v s="$inspect_s" -v t="$target" 'BEGIN { exit !(s ~ /^>/ || s + 0 >= t) }'; then
            status=FAIL
        fi
        rm -rf "$project"
    done
done
echo "target: inspect of a 1 MB settings file in under ${target} s"
echo "$status"
[[ $status == PASS ]]
