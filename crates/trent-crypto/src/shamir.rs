//! The Shamir seal: the key that seals the root key (the unseal key) is split
//! into N shares, any K of which rebuild it; fewer reveal nothing about it.
//! Splitting and combining use `vsss-rs` over GF(2⁸).
//!
//! Shares are authenticated twice, so a wrong or damaged share is reported
//! as such and can never yield a wrong root key:
//! - each share's text form ends in a checksum (typos, truncation);
//! - the sealed blob stores a SHA-256 commitment to every share, so a share
//!   of another store or a forged one is refused before it is combined;
//! - the rebuilt unseal key must then open the AES-GCM-wrapped root key.
//!
//! Sealed blob parameters (after the common seal header, kind `0x03`):
//! threshold (u8), share count (u8), then per share its commitment
//! `SHA-256("trent/share/v1" ‖ share bytes)` (32 bytes each).

use aws_lc_rs::digest::{SHA256, digest};
use zeroize::Zeroizing;

use crate::root::RootKey;
use crate::seal::{KIND_SHAMIR, Seal, check_kind, header, seal_root, unseal_root};
use crate::{Error, random_bytes};

const SHARE_PREFIX: &str = "trent-share-1-";
const COMMITMENT_LABEL: &[u8] = b"trent/share/v1";
/// A share: one identifier byte, then 32 bytes.
const SHARE_LEN: usize = 33;

/// One share of the unseal key.
#[derive(Clone, PartialEq, Eq)]
pub struct Share(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Share(#{})", self.id())
    }
}

impl Share {
    /// The share's identifier (1–255).
    pub fn id(&self) -> u8 {
        self.0.first().copied().unwrap_or(0)
    }

    /// The text an operator keeps: `trent-share-1-<hex>-<checksum>`.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(
            SHARE_PREFIX.len() + 2 * SHARE_LEN + 9,
        ));
        text.push_str(SHARE_PREFIX);
        push_hex(&mut text, &self.0);
        text.push('-');
        push_hex(&mut text, &checksum(&self.0));
        text
    }

    /// Parses the text form; a bad checksum is reported as a damaged share.
    pub fn from_text(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::BadShare(why.to_owned());
        let body = text
            .trim()
            .strip_prefix(SHARE_PREFIX)
            .ok_or_else(|| bad("it does not start with trent-share-1-"))?;
        let (hex, sum) = body
            .split_once('-')
            .ok_or_else(|| bad("it has no checksum"))?;
        let bytes = Zeroizing::new(decode_hex(hex).ok_or_else(|| bad("it is not hexadecimal"))?);
        if bytes.len() != SHARE_LEN || bytes[0] == 0 {
            return Err(bad("it has the wrong length"));
        }
        let expected = checksum(&bytes);
        let given = decode_hex(sum).ok_or_else(|| bad("its checksum is not hexadecimal"))?;
        if !crate::constant_time_eq(&given, &expected) {
            return Err(bad(
                "its checksum does not match: it was mistyped or damaged",
            ));
        }
        Ok(Self(bytes))
    }

    fn commitment(&self) -> [u8; 32] {
        let mut input = Zeroizing::new(COMMITMENT_LABEL.to_vec());
        input.extend_from_slice(&self.0);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, &input).as_ref());
        out
    }
}

fn checksum(bytes: &[u8]) -> [u8; 4] {
    let d = digest(&SHA256, bytes);
    let mut out = [0u8; 4];
    out.copy_from_slice(&d.as_ref()[..4]);
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The threshold and share count recorded in a Shamir-sealed blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Shares needed.
    pub threshold: u8,
    /// Shares made.
    pub shares: u8,
}

/// A Shamir seal with its unseal key in hand (after splitting, or after
/// enough shares were combined).
pub struct ShamirSeal {
    unseal_key: Zeroizing<[u8; 32]>,
    policy: Policy,
    commitments: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ShamirSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShamirSeal")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// An RNG for vsss-rs backed by aws-lc-rs. `rand_core` wants an infallible
/// generator; a failure is remembered and the split discarded.
struct AwsLcRng {
    failed: bool,
}

impl rand_core::TryRng for AwsLcRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        if random_bytes(dst).is_err() {
            self.failed = true;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for AwsLcRng {}

impl ShamirSeal {
    /// A new random unseal key, split into `shares` shares of which
    /// `threshold` are needed (2 ≤ threshold ≤ shares ≤ 255).
    pub fn generate(shares: u8, threshold: u8) -> Result<(Self, Vec<Share>), Error> {
        if threshold < 2 || threshold > shares {
            return Err(Error::BadShare(format!(
                "the threshold must be between 2 and the number of shares ({shares}), not {threshold}"
            )));
        }
        let mut unseal_key = Zeroizing::new([0u8; 32]);
        random_bytes(unseal_key.as_mut())?;
        let mut rng = AwsLcRng { failed: false };
        let parts = vsss_rs::Gf256::split_array(
            usize::from(threshold),
            usize::from(shares),
            unseal_key.as_ref(),
            &mut rng,
        )
        .map_err(|e| Error::BadShare(format!("splitting failed: {e:?}")))?;
        if rng.failed {
            return Err(Error::Rng);
        }
        let shares: Vec<Share> = parts
            .into_iter()
            .map(|p| Share(Zeroizing::new(p)))
            .collect();
        if shares.iter().any(|s| s.0.len() != SHARE_LEN) {
            return Err(Error::Format("unexpected share length"));
        }
        let commitments = shares.iter().map(Share::commitment).collect();
        let policy = Policy {
            threshold,
            shares: shares.len() as u8,
        };
        Ok((
            Self {
                unseal_key,
                policy,
                commitments,
            },
            shares,
        ))
    }

    /// Reads the threshold and share count of a Shamir-sealed blob.
    pub fn policy(sealed: &[u8]) -> Result<Policy, Error> {
        check_kind(sealed, KIND_SHAMIR, 12)?;
        Ok(Policy {
            threshold: sealed[10],
            shares: sealed[11],
        })
    }

    fn commitments(sealed: &[u8]) -> Result<(Policy, &[u8]), Error> {
        let policy = Self::policy(sealed)?;
        let end = 12 + 32 * usize::from(policy.shares);
        let commitments = sealed
            .get(12..end)
            .ok_or(Error::Format("sealed root key"))?;
        Ok((policy, commitments))
    }

    /// Checks that a share belongs to this sealed blob.
    pub fn check_share(sealed: &[u8], share: &Share) -> Result<(), Error> {
        let (_, commitments) = Self::commitments(sealed)?;
        let mine = share.commitment();
        if commitments
            .chunks_exact(32)
            .any(|c| crate::constant_time_eq(c, &mine))
        {
            Ok(())
        } else {
            Err(Error::BadShare(
                "the share does not belong to this store's seal".into(),
            ))
        }
    }

    /// Rebuilds the unseal key from at least `threshold` distinct shares of
    /// this blob; every share is checked first.
    pub fn from_shares(sealed: &[u8], shares: &[Share]) -> Result<Self, Error> {
        let (policy, commitments) = Self::commitments(sealed)?;
        let mut distinct: Vec<&Share> = Vec::new();
        for share in shares {
            Self::check_share(sealed, share)?;
            if !distinct.iter().any(|s| s.id() == share.id()) {
                distinct.push(share);
            }
        }
        if distinct.len() < usize::from(policy.threshold) {
            return Err(Error::BadShare(format!(
                "{} of {} shares needed",
                distinct.len(),
                policy.threshold
            )));
        }
        let parts: Vec<Vec<u8>> = distinct.iter().map(|s| s.0.to_vec()).collect();
        let combined = Zeroizing::new(
            vsss_rs::Gf256::combine_array(&parts)
                .map_err(|e| Error::BadShare(format!("combining failed: {e:?}")))?,
        );
        for mut part in parts {
            zeroize::Zeroize::zeroize(&mut part);
        }
        if combined.len() != 32 {
            return Err(Error::Format("unseal key length"));
        }
        let mut unseal_key = Zeroizing::new([0u8; 32]);
        unseal_key.copy_from_slice(&combined);
        let commitments = commitments
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or([0u8; 32]))
            .collect();
        Ok(Self {
            unseal_key,
            policy,
            commitments,
        })
    }

    /// The threshold and share count.
    pub fn policy_of(&self) -> Policy {
        self.policy
    }

    fn params(&self) -> Vec<u8> {
        let mut params = vec![self.policy.threshold, self.policy.shares];
        for c in &self.commitments {
            params.extend_from_slice(c);
        }
        params
    }
}

impl Seal for ShamirSeal {
    fn name(&self) -> &'static str {
        "shamir"
    }

    fn is_secure(&self) -> bool {
        true
    }

    fn seal(&self, root: &RootKey) -> Result<Vec<u8>, Error> {
        seal_root(
            self.unseal_key.as_ref(),
            header(KIND_SHAMIR, &self.params()),
            root,
        )
    }

    fn unseal(&self, sealed: &[u8]) -> Result<RootKey, Error> {
        let (policy, _) = Self::commitments(sealed)?;
        let head_len = 12 + 32 * usize::from(policy.shares);
        unseal_root(
            self.unseal_key.as_ref(),
            sealed,
            head_len,
            "the shares do not open this store's root key",
        )
    }
}

/// Encrypts a share's text to an operator's RSA public key (PEM
/// `PUBLIC KEY`, i.e. DER SubjectPublicKeyInfo) with RSA-OAEP-SHA256, so that
/// only that operator can read it:
/// `openssl pkeyutl -decrypt -inkey op.key -pkeyopt rsa_padding_mode:oaep
/// -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in share.enc`.
pub fn encrypt_share_to(public_key_pem: &str, share: &Share) -> Result<Vec<u8>, Error> {
    use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
    let der = pem_body(public_key_pem, "PUBLIC KEY")
        .ok_or(Error::Format("expected a PEM 'PUBLIC KEY'"))?;
    let key =
        PublicEncryptingKey::from_der(&der).map_err(|_| Error::Format("not an RSA public key"))?;
    let key =
        OaepPublicEncryptingKey::new(key).map_err(|_| Error::Format("not an RSA public key"))?;
    let text = share.to_text();
    let mut out = vec![0u8; key.ciphertext_size()];
    let len = key
        .encrypt(&OAEP_SHA256_MGF1SHA256, text.as_bytes(), &mut out, None)
        .map_err(|_| Error::Encrypt)?
        .len();
    out.truncate(len);
    Ok(out)
}

/// The base64 body of the first PEM block labelled `label`.
fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = pem[start..].find(&end)? + start;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_k_of_n_unseal_and_fewer_do_not() {
        let root = RootKey::generate().unwrap();
        let (seal, shares) = ShamirSeal::generate(5, 3).unwrap();
        let sealed = seal.seal(&root).unwrap();
        assert_eq!(crate::seal::sealed_kind(&sealed), Some("shamir"));
        assert_eq!(
            ShamirSeal::policy(&sealed).unwrap(),
            Policy {
                threshold: 3,
                shares: 5
            }
        );
        for combo in [[0, 1, 2], [0, 2, 4], [1, 3, 4], [2, 3, 4]] {
            let picked: Vec<Share> = combo.iter().map(|&i| shares[i].clone()).collect();
            let seal = ShamirSeal::from_shares(&sealed, &picked).unwrap();
            assert_eq!(
                seal.unseal(&sealed).unwrap().expose_bytes(),
                root.expose_bytes()
            );
        }
        let two = [shares[0].clone(), shares[1].clone()];
        assert!(matches!(
            ShamirSeal::from_shares(&sealed, &two),
            Err(Error::BadShare(_))
        ));
        let dup = [shares[0].clone(), shares[0].clone(), shares[1].clone()];
        assert!(ShamirSeal::from_shares(&sealed, &dup).is_err());
    }

    #[test]
    fn damaged_and_foreign_shares_are_reported() {
        let root = RootKey::generate().unwrap();
        let (seal, shares) = ShamirSeal::generate(3, 2).unwrap();
        let sealed = seal.seal(&root).unwrap();
        let text = shares[0].to_text();
        assert_eq!(Share::from_text(&text).unwrap(), shares[0]);
        // One character changed: the checksum catches it.
        let mut damaged = text.to_string();
        let i = SHARE_PREFIX.len() + 10;
        let c = if &damaged[i..=i] == "a" { "b" } else { "a" };
        damaged.replace_range(i..=i, c);
        assert!(matches!(
            Share::from_text(&damaged),
            Err(Error::BadShare(_))
        ));
        // A well-formed share of another store: the commitments catch it.
        let (_, other) = ShamirSeal::generate(3, 2).unwrap();
        assert!(ShamirSeal::check_share(&sealed, &other[0]).is_err());
        assert!(ShamirSeal::from_shares(&sealed, &[shares[0].clone(), other[1].clone()]).is_err());
        assert!(
            !format!("{:?}", shares[0]).contains(&text[SHARE_PREFIX.len()..SHARE_PREFIX.len() + 8])
        );
    }

    #[test]
    fn shares_encrypt_to_an_operator_key() {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rsa::{
            KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey,
        };
        use base64::Engine;
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let spki = private.public_key().as_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(spki.as_ref());
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n");
        let (_, shares) = ShamirSeal::generate(2, 2).unwrap();
        let sealed_share = encrypt_share_to(&pem, &shares[1]).unwrap();
        let private = OaepPrivateDecryptingKey::new(private).unwrap();
        let mut out = vec![0u8; private.min_output_size()];
        let text = private
            .decrypt(&OAEP_SHA256_MGF1SHA256, &sealed_share, &mut out, None)
            .unwrap();
        assert_eq!(
            Share::from_text(std::str::from_utf8(text).unwrap()).unwrap(),
            shares[1]
        );
        assert!(encrypt_share_to("garbage", &shares[0]).is_err());
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(ShamirSeal::generate(3, 1).is_err());
        assert!(ShamirSeal::generate(3, 4).is_err());
        assert!(ShamirSeal::generate(1, 1).is_err());
    }
}
