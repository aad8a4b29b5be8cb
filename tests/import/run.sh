#!/usr/bin/env bash
# Bring-your-own-key end to end, following AWS's documented procedure with
# tools nobody here wrote: openssl wraps the key material, the AWS CLI (v1,
# from the venv tests/smoke/run.sh creates) talks to a real Trent server.
#   - SYMMETRIC_DEFAULT: RSAES_OAEP_SHA_256 / RSA_2048 (openssl pkeyutl);
#     Encrypt/Decrypt round trip; delete + re-import of other material refused,
#     of the same material accepted, old ciphertext decrypts again.
#   - HMAC_256: RSAES_OAEP_SHA_1 / RSA_4096; GenerateMac equals
#     `openssl dgst -sha256 -mac HMAC` over the same bytes.
#   - ECC_NIST_P256: RSA_AES_KEY_WRAP_SHA_256 / RSA_3072 (openssl enc
#     -id-aes256-wrap-pad + pkeyutl); Trent's signature verifies with openssl
#     and the original public key.
#   - RSAES_PKCS1_V1_5 is refused.
#
# Usage: tests/import/run.sh   (builds nothing; run `cargo build -p trent` first)
# Env:   TRENT_BIN (default target/debug/trent), TRENT_VENV (default <repo>/.venv),
#        IMPORT_KEEP=1 keeps the temp dir.
# Prints PASS/FAIL lines and ends with "N passed, N failed"; exits non-zero on failure.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${TRENT_VENV:-$REPO/.venv}
AWS=$VENV/bin/aws
TRENT_BIN=${TRENT_BIN:-target/debug/trent}
case "$TRENT_BIN" in /*) ;; *) TRENT_BIN=$REPO/$TRENT_BIN ;; esac

PASSED=0
FAILED=0
pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
finish() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; exit $?; }
die() { fail "$*"; finish; }

[ -x "$AWS" ] || die "$AWS missing: run tests/smoke/run.sh once to create the venv"
[ -x "$TRENT_BIN" ] || die "$TRENT_BIN missing: cargo build -p trent"
command -v openssl >/dev/null || die "openssl not found"

# Only what this script sets reaches the CLI.
for name in $(env | grep -o '^AWS_[A-Za-z0-9_]*'); do unset "$name"; done
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null

T=$(mktemp -d "${TMPDIR:-/tmp}/trent-import.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  if [ "${IMPORT_KEEP:-}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

mkdir -p "$T/data"
"$TRENT_BIN" serve --data-dir "$T/data" --listen 127.0.0.1:0 >"$T/server.out" 2>"$T/server.err" </dev/null &
SERVER_PID=$!
URL=
for _ in $(seq 300); do
  URL=$(grep -m1 -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$T/server.out" 2>/dev/null | sed 's/^listening on //')
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 40 "$T/server.err" >&2; die "server exited early"; }
  sleep 0.1
done
[ -n "$URL" ] || die "server did not print 'listening on'"
export AWS_SHARED_CREDENTIALS_FILE=$T/data/bootstrap-credentials

# kms ARGS...: stdout in $OUT, stderr in $ERR.
kms() {
  OUT=$("$AWS" kms --endpoint-url "$URL" "$@" 2>"$T/stderr")
  local rc=$?
  ERR=$(tr '\n' ' ' <"$T/stderr")
  return $rc
}
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }

# create_external SPEC USAGE: prints the key id.
create_external() {
  kms create-key --origin EXTERNAL --key-spec "$1" --key-usage "$2" \
    --query 'KeyMetadata.[KeyId,KeyState]' --output text || { echo "create-key: $ERR" >&2; return 1; }
  echo "$OUT"
}

# wrap_and_import KEY MATERIAL_FILE ALGORITHM WRAPPING_SPEC: AWS's steps 2-4.
wrap_and_import() {
  local key=$1 material=$2 alg=$3 spec=$4 md
  kms get-parameters-for-import --key-id "$key" --wrapping-algorithm "$alg" \
    --wrapping-key-spec "$spec" --query '[PublicKey,ImportToken]' --output text || return 1
  echo "$OUT" | cut -f1 | base64 -d >"$T/wrapping.der"
  echo "$OUT" | cut -f2 | base64 -d >"$T/token.bin"
  case "$alg" in *SHA_256) md=sha256 ;; *) md=sha1 ;; esac
  local oaep=(-pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$md" -pkeyopt "rsa_mgf1_md:$md")
  case "$alg" in
    RSAES_OAEP_*)
      openssl pkeyutl -encrypt -in "$material" -out "$T/encrypted.bin" \
        -inkey "$T/wrapping.der" -keyform DER -pubin "${oaep[@]}" || return 1 ;;
    RSA_AES_KEY_WRAP_*)
      openssl rand -out "$T/aes.bin" 32
      openssl enc -id-aes256-wrap-pad -K "$(hex "$T/aes.bin")" -iv A65959A6 \
        -in "$material" -out "$T/material-wrapped.bin" || return 1
      openssl pkeyutl -encrypt -in "$T/aes.bin" -out "$T/aes-wrapped.bin" \
        -inkey "$T/wrapping.der" -keyform DER -pubin "${oaep[@]}" || return 1
      cat "$T/aes-wrapped.bin" "$T/material-wrapped.bin" >"$T/encrypted.bin"
      rm -f "$T/aes.bin" ;;
  esac
  kms import-key-material --key-id "$key" --encrypted-key-material "fileb://$T/encrypted.bin" \
    --import-token "fileb://$T/token.bin" --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE
}

state() { kms describe-key --key-id "$1" --query KeyMetadata.KeyState --output text; echo "$OUT"; }

printf 'bring your own key\n' >"$T/message.txt"

# ------------------------------------------------------------- symmetric --
openssl rand -out "$T/sym.bin" 32
read -r SYM SYM_STATE < <(create_external SYMMETRIC_DEFAULT ENCRYPT_DECRYPT) || die "create-key EXTERNAL"
[ "$SYM_STATE" = PendingImport ] && pass "symmetric: CreateKey EXTERNAL is PendingImport" \
  || fail "symmetric: state after CreateKey is $SYM_STATE"
if wrap_and_import "$SYM" "$T/sym.bin" RSAES_OAEP_SHA_256 RSA_2048; then
  pass "symmetric: imported with RSAES_OAEP_SHA_256 / RSA_2048"
else fail "symmetric: import: $ERR"; fi
[ "$(state "$SYM")" = Enabled ] && pass "symmetric: Enabled after import" || fail "symmetric: not Enabled"
if kms encrypt --key-id "$SYM" --plaintext "fileb://$T/message.txt" --query CiphertextBlob --output text \
   && echo "$OUT" | base64 -d >"$T/ct.bin" \
   && kms decrypt --ciphertext-blob "fileb://$T/ct.bin" --query Plaintext --output text \
   && [ "$(echo "$OUT" | base64 -d)" = "$(cat "$T/message.txt")" ]; then
  pass "symmetric: Encrypt/Decrypt round trip"
else fail "symmetric: Encrypt/Decrypt: $ERR"; fi
kms delete-imported-key-material --key-id "$SYM" && [ "$(state "$SYM")" = PendingImport ] \
  && pass "symmetric: DeleteImportedKeyMaterial → PendingImport" || fail "symmetric: delete: $ERR"
openssl rand -out "$T/other.bin" 32
if wrap_and_import "$SYM" "$T/other.bin" RSA_AES_KEY_WRAP_SHA_256 RSA_3072; then
  fail "symmetric: other material re-imported"
elif [[ "$ERR" == *IncorrectKeyMaterialException* ]]; then
  pass "symmetric: other material refused (IncorrectKeyMaterialException)"
else fail "symmetric: other material: $ERR"; fi
if wrap_and_import "$SYM" "$T/sym.bin" RSA_AES_KEY_WRAP_SHA_256 RSA_3072 \
   && kms decrypt --ciphertext-blob "fileb://$T/ct.bin" --query Plaintext --output text \
   && [ "$(echo "$OUT" | base64 -d)" = "$(cat "$T/message.txt")" ]; then
  pass "symmetric: same material re-imported (RSA_AES_KEY_WRAP), old ciphertext decrypts"
else fail "symmetric: re-import: $ERR"; fi
if kms get-parameters-for-import --key-id "$SYM" --wrapping-algorithm RSAES_PKCS1_V1_5 --wrapping-key-spec RSA_2048; then
  fail "RSAES_PKCS1_V1_5 accepted"
elif [[ "$ERR" == *ValidationException* ]]; then pass "RSAES_PKCS1_V1_5 refused (ValidationException)"
else fail "RSAES_PKCS1_V1_5: $ERR"; fi

# ------------------------------------------------------------------ HMAC --
openssl rand -out "$T/hmac.bin" 32
read -r MAC _ < <(create_external HMAC_256 GENERATE_VERIFY_MAC) || die "create-key HMAC_256 EXTERNAL"
if wrap_and_import "$MAC" "$T/hmac.bin" RSAES_OAEP_SHA_1 RSA_4096; then
  pass "hmac: imported with RSAES_OAEP_SHA_1 / RSA_4096"
else fail "hmac: import: $ERR"; fi
if kms generate-mac --key-id "$MAC" --mac-algorithm HMAC_SHA_256 --message "fileb://$T/message.txt" \
     --query Mac --output text; then
  echo "$OUT" | base64 -d >"$T/mac.bin"
  want=$(openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(hex "$T/hmac.bin")" -binary "$T/message.txt" | od -An -tx1 -v | tr -d ' \n')
  [ "$(hex "$T/mac.bin")" = "$want" ] && pass "hmac: GenerateMac equals openssl dgst -mac HMAC" \
    || fail "hmac: MAC $(hex "$T/mac.bin") != openssl $want"
else fail "hmac: GenerateMac: $ERR"; fi

# ------------------------------------------------------------------- ECC --
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$T/ec.pem" -outform DER -out "$T/ec.der"
openssl pkey -in "$T/ec.pem" -pubout -out "$T/ec-pub.pem"
read -r ECC _ < <(create_external ECC_NIST_P256 SIGN_VERIFY) || die "create-key ECC_NIST_P256 EXTERNAL"
if wrap_and_import "$ECC" "$T/ec.der" RSA_AES_KEY_WRAP_SHA_256 RSA_3072; then
  pass "ecc: imported PKCS#8 with RSA_AES_KEY_WRAP_SHA_256 / RSA_3072"
else fail "ecc: import: $ERR"; fi
if kms sign --key-id "$ECC" --message "fileb://$T/message.txt" --message-type RAW \
     --signing-algorithm ECDSA_SHA_256 --query Signature --output text; then
  echo "$OUT" | base64 -d >"$T/sig.bin"
  if openssl dgst -sha256 -verify "$T/ec-pub.pem" -signature "$T/sig.bin" "$T/message.txt" >/dev/null; then
    pass "ecc: Trent's signature verifies with openssl and the original public key"
  else fail "ecc: openssl rejects Trent's signature"; fi
else fail "ecc: Sign: $ERR"; fi
if kms get-public-key --key-id "$ECC" --query PublicKey --output text \
   && [ "$(echo "$OUT" | base64 -d | hex /dev/stdin)" = "$(openssl pkey -pubin -in "$T/ec-pub.pem" -outform DER | hex /dev/stdin)" ]; then
  pass "ecc: GetPublicKey is the original public key"
else fail "ecc: GetPublicKey differs: $ERR"; fi

finish
