#!/usr/bin/env bash
# Build the PyPI wheel with maturin, check its metadata, install it into a fresh virtualenv
# and run it; then run the README's first line as written (`uv tool install . && djrun ...`).
#
#   scripts/check-wheel.sh                        # dev profile: shares cargo test's build
#   WHEEL_PROFILE=release scripts/check-wheel.sh  # the optimized build a release publishes
#
# What a wheel holds does not depend on the profile, so CI checks the dev build, which reuses
# what `cargo test` compiled (CARGO_TARGET_DIR is honoured). maturin and uv come from PyPI into
# a virtualenv under ${DJRUN_TEST_TOOLS:-~/.cache/djrun-test-tools}.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

tools="${DJRUN_TEST_TOOLS:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/djrun-test-tools}"
profile="${WHEEL_PROFILE:-dev}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step() { printf '\n==> %s\n' "$*" >&2; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

step "maturin and uv"
if [ ! -x "$tools/build-venv/bin/maturin" ] || [ ! -x "$tools/build-venv/bin/uv" ]; then
    python3 -m venv "$tools/build-venv"
    "$tools/build-venv/bin/pip" install --quiet --disable-pip-version-check 'maturin>=1.9,<2' uv
fi
maturin="$tools/build-venv/bin/maturin"
uv="$tools/build-venv/bin/uv"
"$maturin" --version
"$uv" --version

version="$(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["packages"][0]["version"])')"

step "build the wheel (profile $profile)"
"$maturin" build --locked --profile "$profile" --out "$work/dist"
wheels=("$work"/dist/djrun-*.whl)
[ "${#wheels[@]}" -eq 1 ] || fail "expected one wheel, got: ${wheels[*]}"
wheel="${wheels[0]}"
echo "$wheel"

step "the wheel's metadata: djrun $version, the binary as a script, the python -m shim"
python3 - "$wheel" "$version" <<'PY'
import sys, zipfile

wheel, version = sys.argv[1], sys.argv[2]
names = zipfile.ZipFile(wheel).namelist()
z = zipfile.ZipFile(wheel)
meta = z.read(f"djrun-{version}.dist-info/METADATA").decode()
headers = dict(
    line.split(": ", 1) for line in meta.split("\n\n", 1)[0].splitlines() if ": " in line
)
problems = []
if headers.get("Name") != "djrun":
    problems.append(f"Name is {headers.get('Name')!r}, not 'djrun'")
if headers.get("Version") != version:
    problems.append(f"Version is {headers.get('Version')!r}, Cargo.toml says {version!r}")
script = f"djrun-{version}.data/scripts/djrun"
if script not in names:
    problems.append(f"no {script}")
elif (z.getinfo(script).external_attr >> 16) & 0o111 == 0:
    problems.append(f"{script} is not executable")
for module in ("djrun/__init__.py", "djrun/__main__.py", "djrun/_find_djrun.py"):
    if module not in names:
        problems.append(f"no {module}")
if problems:
    sys.exit("the wheel is wrong:\n  " + "\n  ".join(problems) + "\nit holds:\n  " + "\n  ".join(names))
print("\n".join(names))
PY

step "install it into a fresh virtualenv and run it"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --no-index "$wheel"
expected="djrun $version"
got="$("$work/venv/bin/djrun" --version)"
[ "$got" = "$expected" ] || fail "djrun --version printed '$got', not '$expected'"
got="$("$work/venv/bin/python" -m djrun --version)"
[ "$got" = "$expected" ] || fail "python -m djrun --version printed '$got', not '$expected'"
echo "djrun --version and python -m djrun --version: $got"
# The exit code passes through: the bundled example has no deployment files, so --check is 1.
code=0
"$work/venv/bin/python" -m djrun init examples/mysite --check --project my-project-123 \
    --region europe-west1 >/dev/null 2>&1 || code=$?
[ "$code" -eq 1 ] || fail "python -m djrun init --check exited $code on examples/mysite, not 1"

# The README's first command: its first line in the first sh block.
first="$(awk '/^```sh$/ { inside = 1; next } inside { print; exit }' README.md)"
case "$first" in
    *" && djrun "*) ;;
    *) fail "the README's first line is not '<install> && djrun ...': $first" ;;
esac
run_part="djrun ${first#* && djrun }"
check_readme_run() { # $1: the PATH to run with; $2: the command
    local before after out
    before="$(git -C "$root" status --porcelain --untracked-files=all -- examples/mysite)"
    out="$(PATH="$1" bash -c "$2" 2>&1)" || { printf '%s\n' "$out" >&2; fail "'$2' failed"; }
    after="$(git -C "$root" status --porcelain --untracked-files=all -- examples/mysite)"
    [ "$before" = "$after" ] || fail "'$2' changed examples/mysite: $after"
    for file in Dockerfile .dockerignore .gcloudignore cloudbuild.yaml mysite/settings.py requirements.txt; do
        grep -qF -- "+++ b/$file" <<<"$out" || { printf '%s\n' "$out" >&2; fail "'$2' shows no diff of $file"; }
    done
}
step "the README's first command through the wheel's djrun: $run_part"
check_readme_run "$work/venv/bin:$PATH" "$run_part"

step "the README's first line as written: $first"
# uv installs into folders of this run only, and builds the wheel again from the checkout
# (same profile and target folder, so cargo has nothing left to compile).
export UV_TOOL_DIR="$work/uv-tools" UV_TOOL_BIN_DIR="$work/uv-bin" UV_CACHE_DIR="$work/uv-cache"
export MATURIN_PEP517_ARGS="--profile $profile"
mkdir -p "$work/uv-path"
ln -s "$uv" "$work/uv-path/uv"
check_readme_run "$UV_TOOL_BIN_DIR:$work/uv-path:$PATH" "$first"
[ -x "$UV_TOOL_BIN_DIR/djrun" ] || fail "uv tool install put no djrun in $UV_TOOL_BIN_DIR"
got="$("$UV_TOOL_BIN_DIR/djrun" --version)"
[ "$got" = "$expected" ] || fail "the uv-installed djrun --version printed '$got'"

step "the wheel is good"
