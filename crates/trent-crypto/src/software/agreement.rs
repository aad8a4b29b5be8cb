//! ECDH key agreement (NIST P-256/384/521): DeriveSharedSecret returns the
//! raw shared secret, the x-coordinate of the shared point (SP 800-56A
//! §5.7.1.2), with no KDF applied.

use aws_lc_rs::agreement::{
    self, ParsedPublicKey, ParsedPublicKeyFormat, PrivateKey, UnparsedPublicKey,
};
use aws_lc_rs::encoding::AsDer;
use trent_core::key::KeySpec;
use zeroize::Zeroizing;

use crate::Error;
use crate::backend::AgreementKey;

fn algorithm(spec: KeySpec) -> Result<&'static agreement::Algorithm, Error> {
    Ok(match spec {
        KeySpec::EccNistP256 => &agreement::ECDH_P256,
        KeySpec::EccNistP384 => &agreement::ECDH_P384,
        KeySpec::EccNistP521 => &agreement::ECDH_P521,
        _ => {
            return Err(Error::Unsupported(format!(
                "key agreement with key spec {spec}"
            )));
        }
    })
}

/// An ECDH private key held by aws-lc-rs.
pub(super) struct EcdhKey {
    private: PrivateKey,
    algorithm: &'static agreement::Algorithm,
    public_key_der: Vec<u8>,
}

impl std::fmt::Debug for EcdhKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcdhKey({:?}, ..)", self.algorithm)
    }
}

impl EcdhKey {
    /// Loads a PKCS#8 EC private key of `spec`.
    pub(super) fn from_pkcs8(spec: KeySpec, pkcs8: &[u8]) -> Result<Self, Error> {
        let algorithm = algorithm(spec)?;
        let private = PrivateKey::from_private_key_der(algorithm, pkcs8)
            .map_err(|_| Error::Format("EC private key"))?;
        let public = private
            .compute_public_key()
            .map_err(|_| Error::Format("EC public key"))?;
        let public_key_der = public
            .as_der()
            .map_err(|_| Error::Format("EC public key"))?
            .as_ref()
            .to_vec();
        Ok(Self {
            private,
            algorithm,
            public_key_der,
        })
    }
}

impl AgreementKey for EcdhKey {
    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn derive_shared_secret(
        &self,
        peer_public_key_der: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let peer =
            ParsedPublicKey::try_from(UnparsedPublicKey::new(self.algorithm, peer_public_key_der))
                .map_err(|_| Error::PeerPublicKey)?;
        // KMS takes only a SubjectPublicKeyInfo, not a bare curve point.
        if peer.format() != ParsedPublicKeyFormat::X509 {
            return Err(Error::PeerPublicKey);
        }
        agreement::agree(&self.private, peer, Error::PeerPublicKey, |secret| {
            Ok(Zeroizing::new(secret.to_vec()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::software::generate_key_pair;

    /// The DER SubjectPublicKeyInfo of an uncompressed point `x ‖ y`.
    fn spki(spec: KeySpec, xy: &[u8]) -> Vec<u8> {
        let prefix: &[u8] = match spec {
            KeySpec::EccNistP256 => &[
                0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
            ],
            KeySpec::EccNistP384 => &[
                0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00, 0x04,
            ],
            _ => unreachable!(),
        };
        [prefix, xy].concat()
    }

    #[test]
    fn nist_cavs_known_answers() {
        let vectors = super::super::kat::vectors!("ecdh_nist_cavs.txt");
        assert_eq!(vectors.len(), 2);
        for v in &vectors {
            let spec = KeySpec::parse(v.text("Curve")).unwrap();
            let private =
                PrivateKey::from_private_key(algorithm(spec).unwrap(), &v.bytes("Private"))
                    .unwrap();
            let pkcs8: aws_lc_rs::encoding::Pkcs8V1Der<'_> = private.as_der().unwrap();
            let key = EcdhKey::from_pkcs8(spec, pkcs8.as_ref()).unwrap();
            assert_eq!(
                key.public_key_der(),
                spki(spec, &v.bytes("Public")).as_slice(),
                "{spec} public key"
            );
            let shared = key
                .derive_shared_secret(&spki(spec, &v.bytes("Peer")))
                .unwrap();
            assert_eq!(shared.as_slice(), v.bytes("Shared").as_slice(), "{spec}");
            // A bare point is refused: KMS wants a SubjectPublicKeyInfo.
            let mut point = vec![0x04];
            point.extend_from_slice(&v.bytes("Peer"));
            assert_eq!(key.derive_shared_secret(&point), Err(Error::PeerPublicKey));
        }
    }

    #[test]
    fn both_sides_agree_and_curves_must_match() {
        let a_pair = generate_key_pair(KeySpec::EccNistP521).unwrap();
        let b_pair = generate_key_pair(KeySpec::EccNistP521).unwrap();
        let a = EcdhKey::from_pkcs8(KeySpec::EccNistP521, &a_pair.private_key_pkcs8).unwrap();
        let b = EcdhKey::from_pkcs8(KeySpec::EccNistP521, &b_pair.private_key_pkcs8).unwrap();
        assert_eq!(
            a.derive_shared_secret(b.public_key_der()).unwrap(),
            b.derive_shared_secret(a.public_key_der()).unwrap()
        );
        assert_eq!(a.derive_shared_secret(&[]), Err(Error::PeerPublicKey));
        let p256 = generate_key_pair(KeySpec::EccNistP256).unwrap();
        assert_eq!(
            a.derive_shared_secret(&p256.public_key_spki),
            Err(Error::PeerPublicKey)
        );
        let rsa = generate_key_pair(KeySpec::EccNistEdwards25519).unwrap();
        assert_eq!(
            a.derive_shared_secret(&rsa.public_key_spki),
            Err(Error::PeerPublicKey)
        );
        assert!(EcdhKey::from_pkcs8(KeySpec::EccNistP256, &a_pair.private_key_pkcs8).is_err());
    }
}
