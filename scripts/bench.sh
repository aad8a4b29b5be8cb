#!/usr/bin/env bash
# The one command behind docs/PERFORMANCE.md (issue 10): builds the release
# binaries, installs moto_server into the venv for the comparison, runs
# `trent-bench suite`, and writes docs/PERFORMANCE.md and docs/perf/*.json.
#
#   scripts/bench.sh            full run (10 s per workload, 100k keys; ~15 min)
#   scripts/bench.sh --quick    3 s per workload, 1,000 keys (~2 min)
#   scripts/bench.sh --smoke    CI smoke (~1 min, debug build): 2 s per workload,
#                               no moto, no timing assertions; fails only if a
#                               workload that should work reports errors or the
#                               harness crashes. Writes under target/bench-work,
#                               not docs/.
# Any other arguments go to `trent-bench suite` (see `trent-bench suite --help`).
# All load goes to 127.0.0.1; the generator and the servers share the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
args=()
for arg in "$@"; do
  case "$arg" in
    --smoke) mode=smoke; args+=(--smoke) ;;
    --quick) mode=quick; args+=(--quick) ;;
    *) args+=("$arg") ;;
  esac
done

if [ "$mode" = smoke ]; then
  # CI checks that the harness runs, not how fast: the debug build that the
  # tests already compiled is enough, and saves CI a release build.
  echo "== building debug binaries (trent, trent-bench)"
  cargo build -p trent -p trent-bench
  bin=target/debug
else
  echo "== building release binaries (trent, trent-bench)"
  cargo build --release -p trent -p trent-bench
  bin=target/release
fi

if [ "$mode" != smoke ]; then
  venv="${TRENT_VENV:-.venv}"
  if [ ! -x "$venv/bin/moto_server" ]; then
    echo "== installing moto[server] into $venv (for the comparison)"
    if { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } &&
       "$venv/bin/python" -m pip install --quiet "moto[server]"; then
      :
    else
      echo "   moto could not be installed: the suite runs without it and says so"
    fi
  fi
  export TRENT_VENV="$venv"
fi

export TRENT_BENCH_COMMAND="scripts/bench.sh $*"
exec "$bin/trent-bench" suite --trent "$bin/trent" "${args[@]}"
