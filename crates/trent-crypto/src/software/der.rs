//! The two DER structures aws-lc-rs does not write for us: ML-KEM's
//! SubjectPublicKeyInfo and its PKCS#8 in seed form (RFC 9935):
//!
//! ```text
//! SubjectPublicKeyInfo ::= SEQUENCE {
//!     algorithm  SEQUENCE { OID id-alg-ml-kem-{512,768,1024} },  -- no parameters
//!     subjectPublicKey  BIT STRING (0 unused bits) ek }
//! PrivateKeyInfo ::= SEQUENCE {
//!     version  INTEGER 0,
//!     privateKeyAlgorithm  SEQUENCE { OID },
//!     privateKey  OCTET STRING { [0] IMPLICIT OCTET STRING (SIZE (64)) seed } }
//! ```
//! OIDs: 2.16.840.1.101.3.4.4.1 / .2 / .3. Every length here is below 65536,
//! so lengths take at most three bytes.

use trent_core::key::KeySpec;
use zeroize::Zeroizing;

use crate::Error;

/// Length of an ML-KEM seed (d ‖ z, FIPS 203).
pub(super) const ML_KEM_SEED_LEN: usize = 64;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const SEED_CHOICE: u8 = 0x80;

/// The DER content bytes of the ML-KEM OID for `spec`.
fn ml_kem_oid(spec: KeySpec) -> Result<[u8; 9], Error> {
    let last = match spec {
        KeySpec::MlKem512 => 1,
        KeySpec::MlKem768 => 2,
        KeySpec::MlKem1024 => 3,
        _ => return Err(Error::Unsupported(format!("{spec} is not ML-KEM"))),
    };
    Ok([0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, last])
}

fn header_len(content_len: usize) -> usize {
    match content_len {
        0..=0x7f => 2,
        0x80..=0xff => 3,
        _ => 4,
    }
}

/// Writes a tag and a DER length into `out`.
fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend_from_slice(&[0x81, len as u8]),
        _ => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
    }
}

/// The algorithm identifier: `SEQUENCE { OID }`.
fn algorithm_identifier(oid: &[u8; 9]) -> Vec<u8> {
    let mut out = Vec::with_capacity(13);
    push_header(&mut out, SEQUENCE, 2 + oid.len());
    push_header(&mut out, OID, oid.len());
    out.extend_from_slice(oid);
    out
}

/// The SubjectPublicKeyInfo of an ML-KEM encapsulation key.
pub(super) fn ml_kem_spki(spec: KeySpec, ek: &[u8]) -> Result<Vec<u8>, Error> {
    let alg = algorithm_identifier(&ml_kem_oid(spec)?);
    let bits_len = 1 + ek.len();
    let content_len = alg.len() + header_len(bits_len) + bits_len;
    let mut out = Vec::with_capacity(header_len(content_len) + content_len);
    push_header(&mut out, SEQUENCE, content_len);
    out.extend_from_slice(&alg);
    push_header(&mut out, BIT_STRING, bits_len);
    out.push(0);
    out.extend_from_slice(ek);
    Ok(out)
}

/// The PKCS#8 `PrivateKeyInfo` of an ML-KEM key in seed form. Written into
/// a buffer of exactly its size, so no reallocation leaves a copy behind.
pub(super) fn ml_kem_pkcs8(
    spec: KeySpec,
    seed: &[u8; ML_KEM_SEED_LEN],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let alg = algorithm_identifier(&ml_kem_oid(spec)?);
    let choice_len = 2 + ML_KEM_SEED_LEN;
    let content_len = 3 + alg.len() + header_len(choice_len) + choice_len;
    let mut out = Zeroizing::new(Vec::with_capacity(header_len(content_len) + content_len));
    push_header(&mut out, SEQUENCE, content_len);
    push_header(&mut out, INTEGER, 1);
    out.push(0);
    out.extend_from_slice(&alg);
    push_header(&mut out, OCTET_STRING, choice_len);
    push_header(&mut out, SEED_CHOICE, ML_KEM_SEED_LEN);
    out.extend_from_slice(seed);
    debug_assert_eq!(out.len(), out.capacity());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_layout() {
        let der = ml_kem_pkcs8(KeySpec::MlKem768, &[7u8; 64]).unwrap();
        // 30 54 | 02 01 00 | 30 0b 06 09 <oid> | 04 42 80 40 <seed>
        assert_eq!(der.len(), 86);
        assert_eq!(&der[..7], &[0x30, 0x54, 0x02, 0x01, 0x00, 0x30, 0x0b]);
        assert_eq!(&der[7..9], &[0x06, 0x09]);
        assert_eq!(der[17], 0x02);
        assert_eq!(&der[18..22], &[0x04, 0x42, 0x80, 0x40]);
        assert_eq!(&der[22..], &[7u8; 64]);
        assert!(ml_kem_pkcs8(KeySpec::MlDsa44, &[0; 64]).is_err());
    }

    #[test]
    fn spki_layout() {
        let spki = ml_kem_spki(KeySpec::MlKem512, &[1u8; 800]).unwrap();
        assert_eq!(&spki[..4], &[0x30, 0x82, 0x03, 0x32]);
        assert_eq!(spki.len(), 4 + 0x332);
        assert_eq!(
            &spki[4..17],
            &[
                0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, 0x01
            ]
        );
        assert_eq!(&spki[17..22], &[0x03, 0x82, 0x03, 0x21, 0x00]);
    }
}
