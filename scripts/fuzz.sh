#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 60) and
# prints executions and findings per target. Needs the nightly toolchain
# and cargo-fuzz (`cargo install cargo-fuzz --locked`).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# New interesting inputs go to fuzz/target/work-corpus/TARGET (not to the
# seed corpus in fuzz/corpus, which stays small and reviewed); crashes go to
# fuzz/artifacts/TARGET. Copy a crash into fuzz/regressions/TARGET once it
# is fixed: the stable test crates/trent-chaos/tests/fuzz_corpus.rs replays
# those on every `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(request_decoder sigv4 ciphertext policy wrapped_key)
fi
cargo +nightly fuzz build -O "${targets[@]/#/}" >/dev/null 2>&1 || cargo +nightly fuzz build -O
status=0
printf '%-16s %12s %10s %s\n' target executions exec/s findings
for target in "${targets[@]}"; do
    work="target/work-corpus/$target"
    mkdir -p "$work" "artifacts/$target"
    log="target/fuzz-$target.log"
    before=$(find "artifacts/$target" -type f | wc -l)
    if ! cargo +nightly fuzz run -O "$target" "$work" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        >"$log" 2>&1; then
        status=1
    fi
    after=$(find "artifacts/$target" -type f | wc -l)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    printf '%-16s %12s %10s %s\n' "$target" "${execs:-?}" "${rate:-?}" "$((after - before)) (log: fuzz/$log)"
done
exit $status
