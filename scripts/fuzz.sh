#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ for a fixed time each and prints one summary line per
# target. Exits non-zero if any target crashed (a panic, a failed oracle, a sanitizer report, a
# timeout or running out of memory).
#
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 60
#   TARGET...           default: every target (`cargo fuzz list`)
#
# Each target runs as
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/corpus/TARGET [fuzz/seeds/TARGET] -- -max_total_time=N
# The first directory is the working corpus (gitignored; it grows from run to run); the committed
# seeds (fuzz/seeds/, written by `cargo run --manifest-path fuzz/Cargo.toml --example seeds`) are
# read only. A crashing input is saved by libFuzzer under fuzz/artifacts/TARGET/; the full output
# of the last run of each target is kept in fuzz/artifacts/TARGET/last-run.log.
#
# cargo-fuzz needs unstable compiler flags (the address sanitizer); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them.
set -euo pipefail

usage() {
    sed -n '6,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# Work from the repository root, whatever the caller's directory.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    exit 0
fi
seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: SECONDS_PER_TARGET must be a positive integer, not '$seconds'" >&2
    usage >&2
    exit 2
fi
shift || true

export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo fuzz not found, installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

mapfile -t all_targets < <(cargo fuzz list)
if [[ $# -gt 0 ]]; then
    targets=("$@")
    for target in "${targets[@]}"; do
        if ! printf '%s\n' "${all_targets[@]}" | grep -qxF -- "$target"; then
            echo "fuzz.sh: no fuzz target '$target' (targets: ${all_targets[*]})" >&2
            exit 2
        fi
    done
else
    targets=("${all_targets[@]}")
fi

# Build everything first, so a compile error shows here and not inside a log.
echo "fuzz.sh: building fuzz targets"
cargo fuzz build

failed=()
summary=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    seeds="fuzz/seeds/$target"
    artifacts="fuzz/artifacts/$target"
    log="$artifacts/last-run.log"
    mkdir -p "$corpus" "$artifacts"
    dirs=("$corpus")
    if [[ -d "$seeds" ]]; then
        dirs+=("$seeds")
    fi

    echo "fuzz.sh: fuzzing $target for $seconds s (log: $log)"
    status=0
    cargo fuzz run "$target" "${dirs[@]}" -- -max_total_time="$seconds" >"$log" 2>&1 || status=$?

    # libFuzzer's last line on a clean stop: "Done 123456 runs in 60 second(s)".
    done_line="$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)"
    if [[ -n "$done_line" ]]; then
        read -r _ runs _ _ secs _ <<<"$done_line"
    else
        # No final line after a crash: the last progress line ("#123456 ...") says how far it got.
        runs="$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#' || true)"
        secs="?"
    fi
    corpus_files="$(find "$corpus" -type f | wc -l)"

    if [[ $status -eq 0 ]]; then
        line="$(printf '%-20s ok       %12s runs in %4s s  (corpus: %s inputs)' \
            "$target" "${runs:-?}" "$secs" "$corpus_files")"
    else
        failed+=("$target")
        line="$(printf '%-20s CRASHED  %12s runs before the crash (exit %s, see %s)' \
            "$target" "${runs:-?}" "$status" "$log")"
        # What failed and where the input is: the panic and its message (the next line), the
        # sanitizer's summary, the saved input and its base64.
        { grep -E -A1 "panicked at" "$log" | head -n 2
          grep -E "^SUMMARY|Test unit written to|^Base64:" "$log"; } | sed 's/^/    /' || true
    fi
    echo "$line"
    summary+=("$line")
done

echo
echo "fuzz.sh: summary ($seconds s per target)"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: ${#failed[@]} target(s) crashed: ${failed[*]}" >&2
    echo "fuzz.sh: reproduce with: RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-..." >&2
    exit 1
fi
