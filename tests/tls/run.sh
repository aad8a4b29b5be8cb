#!/usr/bin/env bash
# TLS and audit, end to end with a client nobody here wrote (the aws CLI):
#   - HTTPS with the development CA (--tls-self-signed) via AWS_CA_BUNDLE;
#     refused without it;
#   - every call recorded, with tlsDetails, nothing secret in the records;
#   - `trent audit verify` passes, then catches an edited record.
#
# Usage: tests/tls/run.sh              (from anywhere; builds nothing)
# Env:   TRENT_BIN   server binary (default target/debug/trent, relative to the repo root)
#        TRENT_VENV  Python venv with awscli (default <repo>/.venv; created from
#                    tests/smoke/requirements.txt if missing)
#        KEEP=1      keep the temp dir
#
# Prints one PASS/FAIL line per check and ends with "N passed, N failed".
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${TRENT_VENV:-$REPO/.venv}
TRENT_BIN=${TRENT_BIN:-target/debug/trent}
case "$TRENT_BIN" in /*) ;; *) TRENT_BIN=$REPO/$TRENT_BIN ;; esac

PASSED=0 FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
finish() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; exit $?; }

[ -x "$TRENT_BIN" ] || { fail "no trent binary at $TRENT_BIN (cargo build -p trent)"; finish; }
if [ ! -x "$VENV/bin/aws" ]; then
  python3 -m venv "$VENV" >&2 && "$VENV/bin/python" -m pip install -q -r "$REPO/tests/smoke/requirements.txt" >&2 \
    || { fail "cannot create the awscli venv at $VENV"; finish; }
fi
AWS=$VENV/bin/aws

T=$(mktemp -d)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  if [ "${KEEP:-}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

DATA=$T/data
"$TRENT_BIN" serve --data-dir "$DATA" --listen 127.0.0.1:0 --tls-self-signed >"$T/out" 2>"$T/err" </dev/null &
PID=$!
for _ in $(seq 1 300); do grep -q 'listening on https://' "$T/out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'https://[0-9.:]*' "$T/out" | head -1)
[ -n "$URL" ] || { cat "$T/err" >&2; fail "server did not start"; finish; }
pass "server listens on $URL"
grep -q "AWS_CA_BUNDLE=$DATA/tls/ca.pem" "$T/out" && pass "start-up prints the CA path" || fail "CA path not printed"

export AWS_SHARED_CREDENTIALS_FILE=$DATA/bootstrap-credentials AWS_CONFIG_FILE=$T/none AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
kms() { AWS_CA_BUNDLE=$DATA/tls/ca.pem "$AWS" --endpoint-url "${URL/127.0.0.1/localhost}" kms "$@"; }

KEY=$(kms create-key --description tls-shell --query KeyMetadata.KeyId --output text 2>"$T/e") \
  && pass "create-key over HTTPS (AWS_CA_BUNDLE, by name)" || { cat "$T/e"; fail "create-key"; }
SECRET="tls-shell-plaintext-canary-4b1d"
printf '%s' "$SECRET" >"$T/plain"
kms encrypt --key-id "$KEY" --plaintext "fileb://$T/plain" --encryption-context app=shell \
  --query CiphertextBlob --output text 2>"$T/e" | base64 -d >"$T/ct" && [ -s "$T/ct" ] \
  && pass "encrypt" || { cat "$T/e"; fail "encrypt"; }
GOT=$(kms decrypt --ciphertext-blob "fileb://$T/ct" --encryption-context app=shell \
  --query Plaintext --output text 2>"$T/e" | base64 -d)
[ "$GOT" = "$SECRET" ] && pass "decrypt round trip" || { cat "$T/e"; fail "decrypt"; }
if "$AWS" --endpoint-url "$URL" kms list-keys >"$T/o" 2>"$T/e"; then
  fail "a client without the CA connected"
else
  grep -q CERTIFICATE_VERIFY_FAILED "$T/e" && pass "without AWS_CA_BUNDLE: certificate verification fails" \
    || { cat "$T/e"; fail "unexpected error without the CA"; }
fi

"$TRENT_BIN" audit export --data-dir "$DATA" >"$T/records" 2>"$T/e" && pass "audit export" || { cat "$T/e"; fail "audit export"; }
N=$(wc -l <"$T/records")
[ "$N" = 3 ] && pass "3 calls, 3 records" || fail "expected 3 records, got $N"
grep -c '"tlsVersion":"TLSv1' "$T/records" | grep -qx 3 && pass "every record has tlsDetails" || fail "tlsDetails missing"
grep -q '"encryptionContext":{"app":"shell"}' "$T/records" && pass "encryption context recorded" || fail "no encryption context"
B64=$(printf '%s' "$SECRET" | base64)
if grep -q -e "$SECRET" -e "$B64" "$T/records" "$DATA"/audit/* "$T/out" "$T/err"; then
  fail "the plaintext appears in a record, an audit file or the server's output"
else
  pass "no plaintext in records, audit files or server output"
fi
"$TRENT_BIN" audit verify --data-dir "$DATA" >"$T/v" 2>&1 && pass "audit verify: chain intact" || { cat "$T/v"; fail "audit verify"; }

kill "$PID"; wait "$PID" 2>/dev/null; PID=
SEG=$(ls "$DATA"/audit/*.audit | head -1)
# Flip a byte near the end of the first record's ciphertext.
python3 - "$SEG" <<'PY'
import struct, sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
hdr = 8 + 1 + 1 + b[9] + 56
n = struct.unpack('>I', b[hdr:hdr + 4])[0]
b[hdr + 4 + n - 20] ^= 1
open(p, 'wb').write(b)
PY
if "$TRENT_BIN" audit verify --data-dir "$DATA" >"$T/v" 2>&1; then
  fail "an edited record went unnoticed"
else
  grep -q "first broken or missing record: 1 " "$T/v" && pass "audit verify reports the edited record 1" \
    || { cat "$T/v"; fail "wrong report"; }
fi
finish
