#!/usr/bin/env bash
# Fuzz djrun's editors of the user's files for a bounded time each; exit 1 on any crash.
#
#   scripts/fuzz.sh                          # every target, 20 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh toml_edit
#   FUZZ_ENGINE=proptest scripts/fuzz.sh     # no cargo-fuzz: the property tests, many cases
#
# Targets (fuzz/fuzz_targets, invariants in fuzz/src/lib.rs): settings_patch,
# requirements_edit, toml_edit (dependency manifests and saved choices).
#
# cargo-fuzz passes nightly-only flags to rustc (-Zsanitizer=address and friends). A stable
# toolchain accepts them with RUSTC_BOOTSTRAP=1 and ships the sanitizer runtimes, so no
# nightly is needed. cargo-fuzz itself is installed from crates.io when missing.
#
# Each target's corpus is fuzz/corpus/<target> (gitignored): seeded from the fixture
# projects' files and kept between runs, so later runs start where earlier ones stopped. A
# crash leaves its input in fuzz/artifacts/<target>/; the script prints how to replay it.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
seconds="${FUZZ_SECONDS:-20}"
engine="${FUZZ_ENGINE:-cargo-fuzz}"
all=(settings_patch requirements_edit toml_edit)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

for t in "${targets[@]}"; do
    case " ${all[*]} " in
        *" $t "*) ;;
        *) echo "error: unknown fuzz target \`$t\` (known: ${all[*]})" >&2; exit 2 ;;
    esac
done

if [ "$engine" = proptest ]; then
    # The same invariants through tests/properties.rs, with many more cases than `cargo test`
    # runs. Roughly: 1000 cases take 2 s per property in a release build.
    cases=$((seconds * 400))
    filters=()
    for t in "${targets[@]}"; do
        case $t in
            settings_patch) filters+=(settings::) ;;
            requirements_edit) filters+=(requirements_txt::) ;;
            toml_edit) filters+=(toml::) ;;
        esac
    done
    echo "fuzz.sh: proptest engine, PROPTEST_CASES=$cases" >&2
    PROPTEST_CASES=$cases cargo test --release --test properties -- "${filters[@]}"
    exit $?
fi
if [ "$engine" != cargo-fuzz ]; then
    echo "error: FUZZ_ENGINE must be cargo-fuzz or proptest, not \`$engine\`" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

# Seed each corpus with the fixtures' files of its kind (names made unique by their path).
seed() {
    local target=$1
    shift
    mkdir -p "fuzz/corpus/$target"
    find tests/fixtures examples -type f -not -path '*/.venv/*' "$@" -print0 |
        while IFS= read -r -d '' file; do
            cp "$file" "fuzz/corpus/$target/seed_$(printf '%s' "$file" | tr '/' '_')"
        done
}
seed settings_patch -name '*.py'
seed requirements_edit -path '*requirements*' -name '*.txt'
seed toml_edit \( -name pyproject.toml -o -name Pipfile -o -name djrun.toml \)

echo "fuzz.sh: building the fuzz targets" >&2
cargo fuzz build

mkdir -p fuzz/artifacts
status=0
for t in "${targets[@]}"; do
    echo "fuzz.sh: $t for ${seconds}s" >&2
    log="fuzz/artifacts/$t.log"
    start=$(date +%s)
    # -timeout: one input taking 10 s is a hang (or quadratic work), reported as a crash.
    if cargo fuzz run "$t" -- \
        -max_total_time="$seconds" \
        -timeout=10 \
        -dict="$root/fuzz/dicts/$t.dict" \
        -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz.sh: $t ok: ${runs:-?} inputs in $(($(date +%s) - start))s" >&2
    else
        status=1
        tail -n 40 "$log" >&2
        echo "fuzz.sh: $t FAILED (full log: $log); replay with:" >&2
        sed -n 's/.*Test unit written to \(.*\)$/  RUSTC_BOOTSTRAP=1 cargo fuzz run '"$t"' \1/p' "$log" >&2
    fi
done
exit $status
