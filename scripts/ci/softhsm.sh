#!/usr/bin/env bash
# A throwaway SoftHSM2 token for the HSM tests (custom key stores, the
# pkcs11 seal). Installs softhsm2 and opensc (pkcs11-tool) from Debian's
# packages if absent, writes a SOFTHSM2_CONF whose token directory is a temp
# dir, initializes a token in the first free slot and prints the exports the
# tests read; `eval "$(scripts/ci/softhsm.sh)"` sets them:
#   SOFTHSM2_CONF            the config SoftHSM reads (its token directory)
#   TRENT_TEST_HSM_MODULE    the PKCS#11 module
#   TRENT_TEST_HSM_TOKEN     the token label
#   TRENT_TEST_HSM_PIN       the user PIN (CloudHSM's kmsuser password)
#   TRENT_TEST_HSM_SO_PIN    the security officer PIN
# Test PINs only: this token is for tests, never for keys.
set -euo pipefail
dir=${TRENT_HSM_DIR:-/tmp/trent-test-softhsm}
module=/usr/lib/softhsm/libsofthsm2.so
label=trent-ci
pin=7531-user-pin
so_pin=9753-so-pin

if [[ ! -e $module ]] || ! command -v softhsm2-util >/dev/null || ! command -v pkcs11-tool >/dev/null; then
    echo "softhsm.sh: installing softhsm2 opensc" >&2
    sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 opensc >&2
fi

rm -rf "$dir"
mkdir -p "$dir/tokens"
cat >"$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF=$dir/softhsm2.conf
softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$pin" >&2

cat <<ENV
export SOFTHSM2_CONF=$dir/softhsm2.conf
export TRENT_TEST_HSM_MODULE=$module
export TRENT_TEST_HSM_TOKEN=$label
export TRENT_TEST_HSM_PIN=$pin
export TRENT_TEST_HSM_SO_PIN=$so_pin
ENV
