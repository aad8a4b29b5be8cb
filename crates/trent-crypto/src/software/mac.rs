//! HMAC keys (RFC 2104) for GenerateMac and VerifyMac.

use aws_lc_rs::hmac;
use trent_core::key::KeySpec;
use trent_core::spec::MacAlgorithm;

use crate::Error;
use crate::backend::MacKey;

/// The key length Trent generates for an HMAC spec: the hash output length
/// (HMAC_224 → 28 bytes … HMAC_512 → 64), as the spec's name says.
pub(super) fn key_len(spec: KeySpec) -> Result<usize, Error> {
    Ok(algorithm(spec)?.digest_algorithm().output_len())
}

fn algorithm(spec: KeySpec) -> Result<hmac::Algorithm, Error> {
    Ok(match spec {
        KeySpec::Hmac224 => hmac::HMAC_SHA224,
        KeySpec::Hmac256 => hmac::HMAC_SHA256,
        KeySpec::Hmac384 => hmac::HMAC_SHA384,
        KeySpec::Hmac512 => hmac::HMAC_SHA512,
        _ => {
            return Err(Error::Unsupported(format!(
                "{spec} is not an HMAC key spec"
            )));
        }
    })
}

/// An HMAC key held by aws-lc-rs (which wipes it on drop).
pub(super) struct HmacKey {
    key: hmac::Key,
    algorithm: MacAlgorithm,
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HmacKey({}, ..)", self.algorithm)
    }
}

impl HmacKey {
    /// A key of `spec` from its material.
    pub(super) fn new(spec: KeySpec, material: &[u8]) -> Result<Self, Error> {
        let algorithm = *spec
            .mac_algorithms()
            .first()
            .ok_or_else(|| Error::Unsupported(format!("{spec}")))?;
        if material.is_empty() {
            return Err(Error::Format("empty HMAC key"));
        }
        Ok(Self {
            key: hmac::Key::new(self::algorithm(spec)?, material),
            algorithm,
        })
    }

    fn check(&self, algorithm: MacAlgorithm) -> Result<(), Error> {
        if algorithm != self.algorithm {
            return Err(Error::Unsupported(format!(
                "{algorithm} with a {} key",
                self.algorithm
            )));
        }
        Ok(())
    }
}

impl MacKey for HmacKey {
    fn mac(&self, algorithm: MacAlgorithm, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.check(algorithm)?;
        Ok(hmac::sign(&self.key, message).as_ref().to_vec())
    }

    fn verify(&self, algorithm: MacAlgorithm, message: &[u8], mac: &[u8]) -> Result<bool, Error> {
        self.check(algorithm)?;
        // Constant-time comparison inside aws-lc-rs.
        Ok(hmac::verify(&self.key, message, mac).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_known_answers() {
        let specs = [
            (KeySpec::Hmac224, "HMAC_SHA_224"),
            (KeySpec::Hmac256, "HMAC_SHA_256"),
            (KeySpec::Hmac384, "HMAC_SHA_384"),
            (KeySpec::Hmac512, "HMAC_SHA_512"),
        ];
        let vectors = super::super::kat::vectors!("hmac_rfc4231.txt");
        assert_eq!(vectors.len(), 2);
        for v in &vectors {
            for (spec, name) in specs {
                let key = HmacKey::new(spec, &v.bytes("Key")).unwrap();
                let alg = MacAlgorithm::parse(name).unwrap();
                let expected = v.bytes(name);
                assert_eq!(key.mac(alg, &v.bytes("Data")).unwrap(), expected, "{name}");
                assert!(key.verify(alg, &v.bytes("Data"), &expected).unwrap());
                assert!(!key.verify(alg, b"other", &expected).unwrap());
                assert!(!key.verify(alg, &v.bytes("Data"), &expected[1..]).unwrap());
            }
        }
        let key = HmacKey::new(KeySpec::Hmac256, b"k").unwrap();
        assert!(key.mac(MacAlgorithm::HmacSha512, b"m").is_err());
        assert_eq!(key_len(KeySpec::Hmac224).unwrap(), 28);
        assert_eq!(key_len(KeySpec::Hmac512).unwrap(), 64);
    }
}
