#!/usr/bin/env bash
# Runs one of Trent's reliability harnesses at full size (see
# docs/RELIABILITY.md). Builds `trent` and `trent-chaos` with the same
# profile first, so the harness finds the server next to itself.
#
#   scripts/reliability.sh crash   [--cycles 1000]
#   scripts/reliability.sh hostile [--cases 100000]
#   scripts/reliability.sh soak    [--duration 30m --csv soak.csv]
#   scripts/reliability.sh hygiene
#   scripts/reliability.sh ci      # the CI-sized runs (cargo test)
#
# PROFILE=release for the long runs (default: dev).
set -euo pipefail
cd "$(dirname "$0")/.."
command="${1:?usage: scripts/reliability.sh crash|hostile|soak|hygiene|ci [ARGS...]}"
shift
if [ "$command" = ci ]; then
    exec cargo test -p trent --test it reliability:: -- --test-threads 2 "$@"
fi
profile="${PROFILE:-dev}"
cargo build --profile "$profile" -p trent -p trent-chaos
dir=debug
[ "$profile" = dev ] || dir="$profile"
exec "target/$dir/trent-chaos" "$command" "$@"
