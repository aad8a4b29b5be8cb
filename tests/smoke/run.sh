#!/usr/bin/env bash
# Smoke test of a real Trent server with real clients that nobody here wrote:
#   - the AWS CLI v1 (tests/smoke/cli.sh)
#   - boto3 + the AWS Encryption SDK for Python (tests/smoke/smoke.py)
#   - the AWS SDK for JavaScript v3, @aws-sdk/client-kms (tests/smoke/js/smoke.mjs)
#
# Usage: tests/smoke/run.sh            (from anywhere; builds nothing)
# Env:   TRENT_BIN     server binary (default target/debug/trent, relative to the repo root)
#        TRENT_VENV    Python venv to create/reuse (default <repo>/.venv)
#        PYTHON        interpreter used to create the venv (default python3)
#        SMOKE_KEEP=1  keep the temp dir (server logs, data dir) for debugging
#
# Prints one PASS/FAIL line per check and ends with "N passed, N failed" alone on
# a line; exits non-zero if anything failed.
set -euo pipefail

SMOKE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SMOKE_DIR/../.." && pwd)
VENV=${TRENT_VENV:-$REPO/.venv}
PYTHON=${PYTHON:-python3}
TRENT_BIN=${TRENT_BIN:-target/debug/trent}
case "$TRENT_BIN" in
  /*) ;;
  *) TRENT_BIN=$REPO/$TRENT_BIN ;;
esac

log() { printf '[smoke] %s\n' "$*" >&2; }
die() { printf '[smoke] ERROR: %s\n' "$*" >&2; echo "0 passed, 1 failed"; exit 1; }

sha() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

as_root_apt() {
  # Last resort on a bare Debian machine: install a system package.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
  else
    return 1
  fi
}

# ---------------------------------------------------------------- installs --
install_python_clients() {
  local req=$SMOKE_DIR/requirements.txt
  local stamp=$VENV/.trent-smoke-requirements.sha256
  local t0=$SECONDS
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    command -v "$PYTHON" >/dev/null 2>&1 || as_root_apt python3 python3-venv python3-pip \
      || die "no $PYTHON to create the venv with"
    log "creating venv $VENV"
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV" >&2; then
      rm -rf "$VENV"
      as_root_apt python3-venv || die "'$PYTHON -m venv' failed and python3-venv cannot be installed"
      "$PYTHON" -m venv "$VENV" >&2 || die "'$PYTHON -m venv $VENV' failed"
    fi
  fi
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(sha "$req")" ] \
     && [ -x "$VENV/bin/aws" ]; then
    log "python clients already installed in $VENV"
  else
    log "pip install -r tests/smoke/requirements.txt into $VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req" >&2 \
      || die "pip install failed"
    sha "$req" >"$stamp"
    log "python clients installed in $((SECONDS - t0)) s"
  fi
}

install_js_clients() {
  local dir=$SMOKE_DIR/js
  local stamp=$dir/node_modules/.trent-smoke-lock.sha256
  local t0=$SECONDS
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    as_root_apt nodejs npm || die "node/npm not found"
  fi
  if [ -f "$dir/package-lock.json" ]; then
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(sha "$dir/package-lock.json" "$dir/package.json")" ]; then
      log "js clients already installed"
      return
    fi
    log "npm ci in tests/smoke/js"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed"
  else
    log "npm install in tests/smoke/js (no package-lock.json)"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2) || die "npm install failed"
  fi
  sha "$dir/package-lock.json" "$dir/package.json" >"$stamp"
  log "js clients installed in $((SECONDS - t0)) s"
}

install_python_clients
install_js_clients
AWS_CLI=$VENV/bin/aws
[ -x "$AWS_CLI" ] || die "$AWS_CLI missing after install"

# ------------------------------------------------------------------ server --
[ -x "$TRENT_BIN" ] || die "server binary $TRENT_BIN not found (build it first: cargo build)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/trent-smoke.XXXXXX")
DATA=$WORK/data
mkdir -p "$DATA"
SERVER_PID=
STOP_STATUS=
SERVER_OUT=$WORK/server.stdout
SERVER_ERR=$WORK/server.stderr

stop_server() {
  # Sends SIGTERM and waits up to 10 s; returns 0 if it exited by itself.
  [ -n "$SERVER_PID" ] || return 0
  local pid=$SERVER_PID
  SERVER_PID=
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      STOP_STATUS=0
      wait "$pid" 2>/dev/null || STOP_STATUS=$?
      return 0
    fi
    sleep 0.1
  done
  log "server (pid $pid) still running 10 s after SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

cleanup() {
  local rc=$?
  stop_server || true
  if [ "${SMOKE_KEEP:-0}" = 1 ]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_server_logs() {
  log "---- server stdout (tail) ----"; tail -n 40 "$SERVER_OUT" >&2 || true
  log "---- server stderr (tail) ----"; tail -n 80 "$SERVER_ERR" >&2 || true
}

log "starting $TRENT_BIN serve --data-dir $DATA --listen 127.0.0.1:0"
"$TRENT_BIN" serve --data-dir "$DATA" --listen 127.0.0.1:0 >"$SERVER_OUT" 2>"$SERVER_ERR" </dev/null &
SERVER_PID=$!

listening_in() {
  grep -m1 -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$1" 2>/dev/null | sed 's/^listening on //' || true
}
URL=
URL_ON=stdout
for _ in $(seq 300); do   # 30 s
  URL=$(listening_in "$SERVER_OUT")
  [ -n "$URL" ] && break
  # The contract says stdout; accept stderr too, but report it below.
  URL=$(listening_in "$SERVER_ERR")
  [ -n "$URL" ] && { URL_ON=stderr; break; }
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    SERVER_PID=
    show_server_logs
    die "server exited before printing 'listening on'"
  fi
  sleep 0.1
done
if [ -z "$URL" ]; then
  show_server_logs
  die "server did not print 'listening on http://127.0.0.1:PORT' within 30 s"
fi
log "server is at $URL"

CREDS=$DATA/bootstrap-credentials
for _ in $(seq 50); do [ -s "$CREDS" ] && break; sleep 0.1; done

# ----------------------------------------------------------------- clients --
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS run: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL run: $*"; }

if [ "$URL_ON" = stdout ]; then
  pass "server printed 'listening on $URL' on stdout"
else
  fail "server printed 'listening on $URL' on stderr, not on stdout"
fi
if [ -s "$CREDS" ]; then
  pass "$CREDS exists"
  mode=$(stat -c %a "$CREDS")
  if [ "$mode" = 600 ]; then pass "bootstrap-credentials has mode 0600"; else fail "bootstrap-credentials has mode $mode, want 600"; fi
  if grep -qE '^\[default\][[:space:]]*$' "$CREDS" && grep -qE '^aws_access_key_id[[:space:]]*=' "$CREDS" \
     && grep -qE '^aws_secret_access_key[[:space:]]*=' "$CREDS"; then
    pass "bootstrap-credentials has a [default] profile with a key id and secret"
  else
    fail "bootstrap-credentials is not a shared-credentials file with [default]"
  fi
else
  fail "$CREDS was not written"
  show_server_logs
  echo "$PASSED passed, $FAILED failed"
  exit 1
fi

# A second account, added while the server runs (smoke.py checks that it works and is
# isolated from the bootstrap account).
ALT_ACCOUNT_ID=123456789012
ALT_ACCESS_KEY_ID=AKIASMOKEALT$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
ALT_SECRET_ACCESS_KEY=$(od -An -N30 -tx1 /dev/urandom | tr -d ' \n')
if "$TRENT_BIN" credentials add --data-dir "$DATA" --account-id "$ALT_ACCOUNT_ID" \
     --access-key-id "$ALT_ACCESS_KEY_ID" --secret-access-key "$ALT_SECRET_ACCESS_KEY" \
     --user smoke-alt >"$WORK/credentials-add.out" 2>&1 </dev/null; then
  pass "trent credentials add (account $ALT_ACCOUNT_ID) while serving"
  # An IAM user can do nothing until an identity policy allows it (as in AWS).
  if "$TRENT_BIN" iam put-policy --data-dir "$DATA" --account-id "$ALT_ACCOUNT_ID" --user smoke-alt \
       --policy-name smoke-kms \
       --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}' \
       >"$WORK/iam.out" 2>&1 </dev/null; then
    pass "trent iam put-policy for the new user while serving"
  else
    fail "trent iam put-policy: $(tr '\n' ' ' <"$WORK/iam.out")"
  fi
  export SMOKE_ALT_ACCOUNT_ID=$ALT_ACCOUNT_ID SMOKE_ALT_ACCESS_KEY_ID=$ALT_ACCESS_KEY_ID \
    SMOKE_ALT_SECRET_ACCESS_KEY=$ALT_SECRET_ACCESS_KEY
else
  fail "trent credentials add while serving: $(tr '\n' ' ' <"$WORK/credentials-add.out")"
fi

# Nothing from the caller's AWS environment may leak into the clients.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^AWS_' || true)
export AWS_SHARED_CREDENTIALS_FILE=$CREDS
export AWS_CONFIG_FILE=/dev/null
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1          # botocore reads only this one
export AWS_ENDPOINT_URL_KMS=$URL
export AWS_EC2_METADATA_DISABLED=true        # never wait on the instance metadata service
export AWS_MAX_ATTEMPTS=1                    # a 5xx shows up as a failure, not as a retry
export AWS_CLI=$AWS_CLI SMOKE_WORK=$WORK

run_client() {
  # run_client NAME TIMEOUT CMD... : runs one client, tallies its PASS/FAIL lines.
  local name=$1 limit=$2; shift 2
  local out=$WORK/$name.out rc=0 p f
  log "==== $name ===="
  set +e
  timeout --kill-after=10 "$limit" "$@" </dev/null 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  p=$(grep -c '^PASS' "$out" || true)
  f=$(grep -c '^FAIL' "$out" || true)
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    fail "$name exited with status $rc without reporting a failed check"
  elif [ "$rc" -eq 0 ] && [ "$f" -ne 0 ]; then
    fail "$name reported $f failed checks but exited 0"
  elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
    fail "$name ran no check"
  fi
  log "$name: $p passed, $f failed, exit status $rc"
}

run_client cli 300 bash "$SMOKE_DIR/cli.sh"
run_client python 300 "$VENV/bin/python" "$SMOKE_DIR/smoke.py"
# The SDK warns on every run that releases after January 2027 will need node >= 22;
# the pinned release works on the node 20 that the machine has.
run_client js 300 env AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true node "$SMOKE_DIR/js/smoke.mjs"

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  fail "server died during the run"
  SERVER_PID=
elif stop_server; then
  if [ "$STOP_STATUS" = 0 ]; then
    pass "server exited with status 0 within 10 s of SIGTERM"
  else
    fail "server exited with status $STOP_STATUS after SIGTERM"
  fi
else
  fail "server ignored SIGTERM for 10 s"
fi

if [ "$FAILED" -ne 0 ]; then show_server_logs; fi
echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
