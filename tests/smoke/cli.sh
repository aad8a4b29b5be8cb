#!/usr/bin/env bash
# Smoke test of Trent with the AWS CLI v1 (from PyPI, installed in the venv by run.sh).
# Run by tests/smoke/run.sh, which starts the server and exports AWS_SHARED_CREDENTIALS_FILE,
# AWS_CONFIG_FILE, AWS_DEFAULT_REGION/AWS_REGION, AWS_ENDPOINT_URL_KMS and AWS_CLI.
# The endpoint comes only from AWS_ENDPOINT_URL_KMS: no --endpoint-url here, on purpose.
# Prints one "PASS cli: ..." / "FAIL cli: ..." line per check; exits 1 if any failed.
set -uo pipefail

SMOKE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AWS=${AWS_CLI:-${TRENT_VENV:-$SMOKE_DIR/../../.venv}/bin/aws}
ALIAS=alias/smoke-cli
CTX=purpose=smoke,client=cli

T=$(mktemp -d "${TMPDIR:-/tmp}/trent-smoke-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT

FAILS=0
pass() { echo "PASS cli: $*"; }
fail() { echo "FAIL cli: $*"; FAILS=$((FAILS + 1)); }
fatal() { fail "$*"; echo "cli: cannot go on" >&2; exit 1; }
# check NAME EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'${ERR:+ (stderr: $ERR)}"; fi; }

# kms ARGS... : runs `aws kms ARGS...`; stdout in $OUT, stderr in $ERR; returns the CLI's status.
kms() {
  local rc
  OUT=$("$AWS" kms "$@" 2>"$T/stderr")
  rc=$?
  ERR=$(tr '\n' ' ' <"$T/stderr" | sed 's/ *$//')
  return "$rc"
}

[ -x "$AWS" ] || fatal "aws CLI not found at $AWS (run tests/smoke/run.sh)"
[ -n "${AWS_ENDPOINT_URL_KMS:-}" ] || fatal "AWS_ENDPOINT_URL_KMS is not set (run tests/smoke/run.sh)"
ver=$("$AWS" --version 2>&1)
case "$ver" in
  aws-cli/1.*) pass "using $AWS: ${ver%% *}" ;;
  *) fatal "$AWS is not the AWS CLI v1: $ver" ;;
esac

# ---------------------------------------------------------------- create --
UUID_RE='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
kms create-key --description "trent smoke cli" \
    --tags TagKey=project,TagValue=trent TagKey=client,TagValue=cli \
    --query 'KeyMetadata.[Arn,KeyId,KeyState]' --output text \
  || fatal "create-key failed: $ERR"
IFS=$'\t' read -r ARN KID STATE <<<"$OUT"
echo "cli: created $ARN"
[[ "$KID" =~ ^${UUID_RE}$ ]] && pass "create-key KeyMetadata.KeyId is a key id: $KID" \
  || fail "create-key KeyMetadata.KeyId is not a bare key id: '$KID'"
if [[ "$ARN" =~ ^arn:aws:kms:us-east-1:([0-9]{12}):key/${KID}$ ]]; then
  ACCOUNT=${BASH_REMATCH[1]}
  pass "create-key KeyMetadata.Arn is arn:aws:kms:us-east-1:$ACCOUNT:key/<KeyId>"
else
  ACCOUNT=unknown
  fail "create-key KeyMetadata.Arn '$ARN' is not arn:aws:kms:us-east-1:<account>:key/$KID"
fi
check "new key is Enabled" Enabled "$STATE"

kms describe-key --key-id "$KID" \
    --query 'KeyMetadata.[Description,KeyUsage,KeySpec,Enabled]' --output text
check "describe-key shows description, usage, spec, enabled" \
  $'trent smoke cli\tENCRYPT_DECRYPT\tSYMMETRIC_DEFAULT\tTrue' "$OUT"

kms list-resource-tags --key-id "$KID" \
    --query "Tags[?TagKey=='client'].TagValue | [0]" --output text
check "list-resource-tags has the create-key tag client=cli" cli "$OUT"
kms list-resource-tags --key-id "$KID" --query 'length(Tags)' --output text
check "list-resource-tags has 2 tags" 2 "$OUT"

# ----------------------------------------------------------------- alias --
kms create-alias --alias-name "$ALIAS" --target-key-id "$KID" \
  && pass "create-alias $ALIAS" || fail "create-alias $ALIAS: $ERR"
kms describe-key --key-id "$ALIAS" --query KeyMetadata.Arn --output text
check "describe-key by alias resolves to the key" "$ARN" "$OUT"

# ------------------------------------------------------ encrypt/decrypt --
head -c 4096 /dev/urandom >"$T/plain.bin"   # 4096 bytes: the largest plaintext Encrypt takes
if "$AWS" kms encrypt --key-id "$ALIAS" --plaintext "fileb://$T/plain.bin" \
     --encryption-context "$CTX" \
     --query CiphertextBlob --output text 2>"$T/stderr" | base64 -d >"$T/ct1.bin" \
   && [ -s "$T/ct1.bin" ]; then
  pass "encrypt 4096 bytes from fileb:// with an encryption context ($(wc -c <"$T/ct1.bin") bytes of ciphertext)"
else
  fail "encrypt: $(cat "$T/stderr")"
fi

decrypt_to() {  # decrypt_to CIPHERTEXT_FILE OUT_FILE [extra args]: decrypt without --key-id
  local ct=$1 out=$2; shift 2
  "$AWS" kms decrypt --ciphertext-blob "fileb://$ct" "$@" \
    --query Plaintext --output text 2>"$T/stderr" | base64 -d >"$out"
}
if decrypt_to "$T/ct1.bin" "$T/pt1.bin" --encryption-context "$CTX" && cmp -s "$T/plain.bin" "$T/pt1.bin"; then
  pass "decrypt without --key-id gives back the same bytes (cmp)"
else
  fail "decrypt without --key-id: $(cat "$T/stderr"); cmp: $(cmp "$T/plain.bin" "$T/pt1.bin" 2>&1)"
fi
kms decrypt --ciphertext-blob "fileb://$T/ct1.bin" --encryption-context "$CTX" --query KeyId --output text
check "decrypt response KeyId is the key ARN" "$ARN" "$OUT"

if kms decrypt --ciphertext-blob "fileb://$T/ct1.bin" --encryption-context purpose=smoke,client=other; then
  fail "decrypt with the wrong encryption context succeeded"
elif [[ "$ERR" == *InvalidCiphertextException* ]]; then
  pass "decrypt with the wrong encryption context fails with InvalidCiphertextException"
else
  fail "decrypt with the wrong encryption context: expected InvalidCiphertextException, got: $ERR"
fi

# -------------------------------------------------------------- rotation --
kms enable-key-rotation --key-id "$KID" && pass "enable-key-rotation" || fail "enable-key-rotation: $ERR"
kms get-key-rotation-status --key-id "$KID" --query KeyRotationEnabled --output text
check "get-key-rotation-status says enabled" True "$OUT"

kms rotate-key-on-demand --key-id "$KID" --query KeyId --output text \
  && pass "rotate-key-on-demand" || fail "rotate-key-on-demand: $ERR"

# AWS rotates asynchronously; give it up to 10 s to show up.
n=
for _ in $(seq 20); do
  kms list-key-rotations --key-id "$KID" --query 'length(Rotations)' --output text && n=$OUT
  [ "$n" = 1 ] && break
  sleep 0.5
done
check "list-key-rotations shows one rotation" 1 "$n"
kms list-key-rotations --key-id "$KID" --query 'Rotations[0].RotationType' --output text
check "that rotation is ON_DEMAND" ON_DEMAND "$OUT"

if decrypt_to "$T/ct1.bin" "$T/pt1b.bin" --encryption-context "$CTX" && cmp -s "$T/plain.bin" "$T/pt1b.bin"; then
  pass "pre-rotation ciphertext still decrypts after rotation"
else
  fail "pre-rotation ciphertext after rotation: $(cat "$T/stderr")"
fi

kms encrypt --key-id "$ALIAS" --plaintext "fileb://$T/plain.bin" --encryption-context "$CTX" \
    --query '[KeyId,CiphertextBlob]' --output text
IFS=$'\t' read -r enc_kid ct2_b64 <<<"$OUT"
printf '%s' "$ct2_b64" | base64 -d >"$T/ct2.bin" 2>/dev/null
check "encrypt response KeyId is the key ARN" "$ARN" "$enc_kid"
if [ -s "$T/ct2.bin" ] && decrypt_to "$T/ct2.bin" "$T/pt2.bin" --encryption-context "$CTX" \
   && cmp -s "$T/plain.bin" "$T/pt2.bin"; then
  pass "post-rotation ciphertext decrypts"
else
  fail "post-rotation ciphertext: $ERR $(cat "$T/stderr")"
fi

# ----------------------------------------------------------- data keys --
kms generate-data-key --key-id "$ALIAS" --key-spec AES_256 \
    --query '[Plaintext,CiphertextBlob,KeyId]' --output text
IFS=$'\t' read -r dk_pt dk_ct dk_kid <<<"$OUT"
printf '%s' "$dk_pt" | base64 -d >"$T/dk.plain" 2>/dev/null
printf '%s' "$dk_ct" | base64 -d >"$T/dk.ct" 2>/dev/null
check "generate-data-key AES_256 plaintext is 32 bytes" 32 "$(wc -c <"$T/dk.plain")"
check "generate-data-key response KeyId is the key ARN" "$ARN" "$dk_kid"
if [ -s "$T/dk.ct" ] && decrypt_to "$T/dk.ct" "$T/dk.dec" && [ -s "$T/dk.dec" ] && cmp -s "$T/dk.plain" "$T/dk.dec"; then
  pass "decrypt(generate-data-key CiphertextBlob) equals its Plaintext"
else
  fail "decrypt of the data key: $(cat "$T/stderr")"
fi

"$AWS" kms generate-random --number-of-bytes 32 --query Plaintext --output text 2>"$T/stderr" | base64 -d >"$T/rand"
check "generate-random 32 bytes" 32 "$(wc -c <"$T/rand")"

# --------------------------------------------------------------- aliases --
kms list-aliases --query "Aliases[?AliasName=='$ALIAS'].[AliasArn,TargetKeyId] | [0]" --output text
check "list-aliases contains $ALIAS -> key id" \
  "arn:aws:kms:us-east-1:$ACCOUNT:$ALIAS"$'\t'"$KID" "$OUT"

# ------------------------------------------------------- disable/enable --
kms disable-key --key-id "$KID" && pass "disable-key" || fail "disable-key: $ERR"
kms describe-key --key-id "$KID" --query KeyMetadata.KeyState --output text
check "disabled key is Disabled" Disabled "$OUT"
if kms encrypt --key-id "$ALIAS" --plaintext "fileb://$T/plain.bin"; then
  fail "encrypt with a disabled key succeeded"
elif [[ "$ERR" == *DisabledException* ]]; then
  pass "encrypt with a disabled key fails with DisabledException"
else
  fail "encrypt with a disabled key: expected DisabledException, got: $ERR"
fi
kms enable-key --key-id "$KID" && pass "enable-key" || fail "enable-key: $ERR"
kms describe-key --key-id "$KID" --query KeyMetadata.KeyState --output text
check "re-enabled key is Enabled" Enabled "$OUT"
kms encrypt --key-id "$ALIAS" --plaintext "fileb://$T/plain.bin" --query KeyId --output text
check "encrypt works again after enable-key" "$ARN" "$OUT"

# -------------------------------------------------------------- deletion --
kms schedule-key-deletion --key-id "$KID" --pending-window-in-days 7 \
    --query '[KeyState,PendingWindowInDays]' --output text
check "schedule-key-deletion --pending-window-in-days 7 answers PendingDeletion, 7" $'PendingDeletion\t7' "$OUT"
kms describe-key --key-id "$KID" --query 'KeyMetadata.[KeyState,DeletionDate != `null`]' --output text
check "describe-key shows PendingDeletion with a DeletionDate" $'PendingDeletion\tTrue' "$OUT"
if kms encrypt --key-id "$KID" --plaintext "fileb://$T/plain.bin"; then
  fail "encrypt with a key pending deletion succeeded"
elif [[ "$ERR" == *KMSInvalidStateException* ]]; then
  pass "encrypt with a key pending deletion fails with KMSInvalidStateException"
else
  fail "encrypt with a key pending deletion: expected KMSInvalidStateException, got: $ERR"
fi
kms cancel-key-deletion --key-id "$KID" --query KeyId --output text \
  && pass "cancel-key-deletion" || fail "cancel-key-deletion: $ERR"
kms describe-key --key-id "$KID" --query KeyMetadata.KeyState --output text
check "after cancel-key-deletion the key is Disabled" Disabled "$OUT"

if [ "$FAILS" -ne 0 ]; then
  echo "cli: $FAILS checks failed" >&2
  exit 1
fi
