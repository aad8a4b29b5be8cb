#!/usr/bin/env bash
# Interop test: a real Trent server, checked by implementations Trent does not
# contain (boto3 as the client, Python's `cryptography` / OpenSSL as the judge).
# See tests/interop/interop.py for what is checked.
#
# Usage: tests/interop/run.sh          (from anywhere; builds nothing)
# Env:   TRENT_BIN     server binary (default target/debug/trent, relative to the repo root)
#        TRENT_VENV    Python venv to reuse/create (default <repo>/.venv, shared with tests/smoke)
#        PYTHON        interpreter used to create the venv if missing (default python3)
#        INTEROP_KEEP=1  keep the temp dir (server logs, data dir)
#
# Prints one PASS/FAIL line per check and ends with "N passed, N failed" alone
# on a line; exits non-zero if anything failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${TRENT_VENV:-$REPO/.venv}
PYTHON=${PYTHON:-python3}
TRENT_BIN=${TRENT_BIN:-target/debug/trent}
case "$TRENT_BIN" in
  /*) ;;
  *) TRENT_BIN=$REPO/$TRENT_BIN ;;
esac

log() { printf '[interop] %s\n' "$*" >&2; }
die() { printf '[interop] ERROR: %s\n' "$*" >&2; echo "0 passed, 1 failed"; exit 1; }
sha() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------- installs --
req=$HERE/requirements.txt
stamp=$VENV/.trent-interop-requirements.sha256
if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv $VENV"
  "$PYTHON" -m venv "$VENV" >&2 || die "'$PYTHON -m venv $VENV' failed"
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(sha "$req")" ]; then
  log "interop requirements already installed in $VENV"
else
  log "pip install -r tests/interop/requirements.txt into $VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req" >&2 \
    || die "pip install failed"
  sha "$req" >"$stamp"
fi

# ------------------------------------------------------------------ server --
[ -x "$TRENT_BIN" ] || die "server binary $TRENT_BIN not found (build it first: cargo build -p trent)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/trent-interop.XXXXXX")
DATA=$WORK/data
mkdir -p "$DATA"
SERVER_PID=
SERVER_OUT=$WORK/server.stdout
SERVER_ERR=$WORK/server.stderr

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid=$SERVER_PID
  SERVER_PID=
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  stop_server
  if [ "${INTEROP_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting $TRENT_BIN serve --data-dir $DATA --listen 127.0.0.1:0"
"$TRENT_BIN" serve --data-dir "$DATA" --listen 127.0.0.1:0 >"$SERVER_OUT" 2>"$SERVER_ERR" </dev/null &
SERVER_PID=$!
URL=
for _ in $(seq 600); do   # 60 s
  URL=$(grep -m1 -ohE 'listening on http://127\.0\.0\.1:[0-9]+' "$SERVER_OUT" "$SERVER_ERR" 2>/dev/null \
        | head -n1 | sed 's/^listening on //' || true)
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=; tail -n 40 "$SERVER_ERR" >&2; die "server exited at start"; }
  sleep 0.1
done
[ -n "$URL" ] || { tail -n 40 "$SERVER_ERR" >&2; die "server did not print 'listening on' within 60 s"; }
CREDS=$DATA/bootstrap-credentials
for _ in $(seq 50); do [ -s "$CREDS" ] && break; sleep 0.1; done
[ -s "$CREDS" ] || die "$CREDS was not written"
log "server is at $URL"

# Nothing from the caller's AWS environment may leak into the client.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^AWS_' || true)
export AWS_SHARED_CREDENTIALS_FILE=$CREDS AWS_CONFIG_FILE=/dev/null AWS_REGION=us-east-1 \
  AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL_KMS=$URL AWS_EC2_METADATA_DISABLED=true AWS_MAX_ATTEMPTS=1

OUT=$WORK/interop.out
set +e
timeout --kill-after=10 600 "$VENV/bin/python" "$HERE/interop.py" </dev/null 2>&1 | tee "$OUT"
rc=${PIPESTATUS[0]}
set -e
PASSED=$(grep -c '^PASS' "$OUT" || true)
FAILED=$(grep -c '^FAIL' "$OUT" || true)
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  FAILED=$((FAILED + 1)); echo "FAIL run: server died during the run"; SERVER_PID=
fi
if [ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
  FAILED=1; echo "FAIL run: interop.py exited with status $rc without reporting a failed check"
fi
if [ "$FAILED" -ne 0 ]; then log "---- server stderr (tail) ----"; tail -n 60 "$SERVER_ERR" >&2 || true; fi
echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
