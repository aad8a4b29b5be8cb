//! The few AWS-LC functions that aws-lc-rs does not expose, called directly
//! through aws-lc-sys (the same C library aws-lc-rs links, same version):
//!
//! - ML-DSA signing and verification over an external μ (`EVP_PKEY_sign` /
//!   `EVP_PKEY_verify` on an ML-DSA key take μ, FIPS 204 §6.2);
//! - Ed25519ph, RFC 8032 HashEdDSA (`ED25519ph_sign` / `ED25519ph_verify`);
//! - parsing PKCS#8 into raw key bytes, for ML-KEM keys in seed form
//!   (`EVP_parse_private_key` runs FIPS 203 key generation from the seed);
//! - SHAKE256 with a chosen output length, to compute ML-DSA's μ.
//!
//! This is the only module in the workspace allowed `unsafe`. Every block
//! states why it is sound; the safe wrappers below are all the crate sees.
//! Each wrapper is tested against the aws-lc-rs safe API (μ signatures verify
//! with the normal ML-DSA verifier, and the reverse) and against published
//! vectors (RFC 8032 for Ed25519ph).
#![allow(unsafe_code)]

use std::ptr::{self, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use crate::Error;

/// Length of an Ed25519 signature.
pub(crate) const ED25519_SIGNATURE_LEN: usize = 64;

/// An owned `EVP_PKEY`, freed (and its secret wiped by AWS-LC) on drop.
pub(crate) struct Pkey(NonNull<sys::EVP_PKEY>);

impl std::fmt::Debug for Pkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pkey(..)")
    }
}

// SAFETY: AWS-LC documents that an EVP_PKEY may be used concurrently from
// several threads by functions that do not mutate it. Once parsed, a `Pkey`
// is only read: its raw bytes are copied out, and each operation creates its
// own EVP_PKEY_CTX (EVP_PKEY_CTX_new takes a reference with an atomic
// increment). Nothing here mutates the key after construction.
unsafe impl Send for Pkey {}
// SAFETY: as above; shared references only ever reach non-mutating calls.
unsafe impl Sync for Pkey {}

impl Drop for Pkey {
    fn drop(&mut self) {
        // SAFETY: we own one reference to a valid EVP_PKEY, given up exactly
        // once here. AWS-LC cleanses private key memory when it frees it.
        unsafe { sys::EVP_PKEY_free(self.0.as_ptr()) }
    }
}

/// Drops whatever AWS-LC queued on this thread's error queue after a failed
/// call, so that a later, unrelated failure does not report a stale cause.
fn clear_errors() {
    // SAFETY: ERR_clear_error only touches the calling thread's error queue.
    unsafe { sys::ERR_clear_error() }
}

impl Pkey {
    /// Parses a DER PKCS#8 `PrivateKeyInfo` (RFC 5208 / 5958). For ML-KEM
    /// keys in seed form (RFC 9935) this runs key generation from the seed.
    pub(crate) fn parse_pkcs8(der: &[u8]) -> Result<Self, Error> {
        let mut cbs = sys::CBS {
            data: ptr::null(),
            len: 0,
        };
        // SAFETY: CBS_init only records the pointer and length of `der`, which
        // outlives `cbs`.
        unsafe { sys::CBS_init(&mut cbs, der.as_ptr(), der.len()) };
        // SAFETY: `cbs` describes `der`, readable for the whole call. The
        // result is null or an EVP_PKEY we now own one reference to.
        let raw = unsafe { sys::EVP_parse_private_key(&mut cbs) };
        let Some(pkey) = NonNull::new(raw).map(Self) else {
            clear_errors();
            return Err(Error::Format("private key"));
        };
        if cbs.len != 0 {
            return Err(Error::Format("trailing bytes after the private key"));
        }
        Ok(pkey)
    }

    /// The AWS-LC key type (`EVP_PKEY_*`).
    fn id(&self) -> i32 {
        // SAFETY: the pointer is a valid EVP_PKEY; EVP_PKEY_id only reads it.
        unsafe { sys::EVP_PKEY_id(self.0.as_ptr()) }
    }

    /// Whether this is an ML-KEM key.
    pub(crate) fn is_kem(&self) -> bool {
        self.id() == sys::EVP_PKEY_KEM
    }

    /// Whether this is an ML-DSA key.
    pub(crate) fn is_ml_dsa(&self) -> bool {
        self.id() == sys::EVP_PKEY_PQDSA
    }

    /// The raw public key (for ML-KEM, the encapsulation key `ek`).
    pub(crate) fn raw_public_key(&self) -> Result<Vec<u8>, Error> {
        let mut len = 0usize;
        // SAFETY: a null output pointer asks only for the length, written to `len`.
        let sized =
            unsafe { sys::EVP_PKEY_get_raw_public_key(self.0.as_ptr(), ptr::null_mut(), &mut len) };
        if sized != 1 {
            clear_errors();
            return Err(Error::Format("raw public key"));
        }
        let mut out = vec![0u8; len];
        // SAFETY: `out` has `len` writable bytes; AWS-LC writes at most `len`
        // bytes and stores the number written in `len`.
        let ok = unsafe {
            sys::EVP_PKEY_get_raw_public_key(self.0.as_ptr(), out.as_mut_ptr(), &mut len)
        };
        if ok != 1 {
            clear_errors();
            return Err(Error::Format("raw public key"));
        }
        out.truncate(len);
        Ok(out)
    }

    /// The raw private key (for ML-KEM, the expanded decapsulation key `dk`).
    pub(crate) fn raw_private_key(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        let mut len = 0usize;
        // SAFETY: a null output pointer asks only for the length, written to `len`.
        let sized = unsafe {
            sys::EVP_PKEY_get_raw_private_key(self.0.as_ptr(), ptr::null_mut(), &mut len)
        };
        if sized != 1 {
            clear_errors();
            return Err(Error::Format("raw private key"));
        }
        let mut out = Zeroizing::new(vec![0u8; len]);
        // SAFETY: `out` has `len` writable bytes; AWS-LC writes at most `len`
        // bytes and stores the number written in `len`.
        let ok = unsafe {
            sys::EVP_PKEY_get_raw_private_key(self.0.as_ptr(), out.as_mut_ptr(), &mut len)
        };
        if ok != 1 {
            clear_errors();
            return Err(Error::Format("raw private key"));
        }
        out.truncate(len);
        Ok(out)
    }

    /// ML-DSA signature over an external μ (64 bytes). The key must be an
    /// ML-DSA private key.
    pub(crate) fn ml_dsa_sign_mu(&self, mu: &[u8]) -> Result<Vec<u8>, Error> {
        if !self.is_ml_dsa() {
            return Err(Error::Unsupported("external μ needs an ML-DSA key".into()));
        }
        let ctx = PkeyCtx::new(self)?;
        // SAFETY: `ctx` is a valid context for this key.
        if unsafe { sys::EVP_PKEY_sign_init(ctx.0.as_ptr()) } != 1 {
            clear_errors();
            return Err(Error::Sign);
        }
        let mut len = 0usize;
        // SAFETY: a null signature pointer asks only for the maximum
        // signature length, written to `len`; `mu` is readable for its length.
        let sized = unsafe {
            sys::EVP_PKEY_sign(
                ctx.0.as_ptr(),
                ptr::null_mut(),
                &mut len,
                mu.as_ptr(),
                mu.len(),
            )
        };
        if sized != 1 {
            clear_errors();
            return Err(Error::Sign);
        }
        let mut signature = vec![0u8; len];
        // SAFETY: `signature` has `len` writable bytes and AWS-LC writes at
        // most `len`; `mu` is readable for its length. On an ML-DSA key,
        // EVP_PKEY_sign treats its input as μ (it rejects any length but 64).
        let ok = unsafe {
            sys::EVP_PKEY_sign(
                ctx.0.as_ptr(),
                signature.as_mut_ptr(),
                &mut len,
                mu.as_ptr(),
                mu.len(),
            )
        };
        if ok != 1 {
            clear_errors();
            return Err(Error::Sign);
        }
        signature.truncate(len);
        Ok(signature)
    }

    /// Whether `signature` is a valid ML-DSA signature of the external μ.
    pub(crate) fn ml_dsa_verify_mu(&self, mu: &[u8], signature: &[u8]) -> Result<bool, Error> {
        if !self.is_ml_dsa() {
            return Err(Error::Unsupported("external μ needs an ML-DSA key".into()));
        }
        let ctx = PkeyCtx::new(self)?;
        // SAFETY: `ctx` is a valid context for this key.
        if unsafe { sys::EVP_PKEY_verify_init(ctx.0.as_ptr()) } != 1 {
            clear_errors();
            return Err(Error::Sign);
        }
        // SAFETY: both slices are readable for their lengths for the whole
        // call; AWS-LC checks both lengths itself.
        let ok = unsafe {
            sys::EVP_PKEY_verify(
                ctx.0.as_ptr(),
                signature.as_ptr(),
                signature.len(),
                mu.as_ptr(),
                mu.len(),
            )
        };
        if ok != 1 {
            clear_errors();
        }
        Ok(ok == 1)
    }
}

/// An owned `EVP_PKEY_CTX` for one operation.
struct PkeyCtx(NonNull<sys::EVP_PKEY_CTX>);

impl PkeyCtx {
    fn new(key: &Pkey) -> Result<Self, Error> {
        // SAFETY: `key` is a valid EVP_PKEY; EVP_PKEY_CTX_new takes its own
        // reference (an atomic increment), and the ENGINE argument must be null.
        let raw = unsafe { sys::EVP_PKEY_CTX_new(key.0.as_ptr(), ptr::null_mut()) };
        NonNull::new(raw).map(Self).ok_or_else(|| {
            clear_errors();
            Error::Sign
        })
    }
}

impl Drop for PkeyCtx {
    fn drop(&mut self) {
        // SAFETY: we own the context; freed exactly once, releasing its key reference.
        unsafe { sys::EVP_PKEY_CTX_free(self.0.as_ptr()) }
    }
}

/// Ed25519ph (RFC 8032 HashEdDSA, empty context) signature of `message`.
/// `private_key` is the seed followed by the public key, as AWS-LC lays out
/// Ed25519 private keys.
pub(crate) fn ed25519ph_sign(
    private_key: &[u8; 64],
    message: &[u8],
) -> Result<[u8; ED25519_SIGNATURE_LEN], Error> {
    let mut signature = [0u8; ED25519_SIGNATURE_LEN];
    // SAFETY: the output and key pointers point to arrays of exactly the
    // lengths the C prototype declares (64 and 64); `message` is readable for
    // its length; a null context with length 0 is the empty context.
    let ok = unsafe {
        sys::ED25519ph_sign(
            signature.as_mut_ptr(),
            message.as_ptr(),
            message.len(),
            private_key.as_ptr(),
            ptr::null(),
            0,
        )
    };
    if ok != 1 {
        clear_errors();
        return Err(Error::Sign);
    }
    Ok(signature)
}

/// Whether `signature` is a valid Ed25519ph signature of `message` (empty
/// context) by `public_key`.
pub(crate) fn ed25519ph_verify(public_key: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let Ok(signature) = <&[u8; ED25519_SIGNATURE_LEN]>::try_from(signature) else {
        return false;
    };
    // SAFETY: the signature and key pointers point to arrays of exactly the
    // lengths the C prototype declares (64 and 32); `message` is readable for
    // its length; a null context with length 0 is the empty context.
    let ok = unsafe {
        sys::ED25519ph_verify(
            message.as_ptr(),
            message.len(),
            signature.as_ptr(),
            public_key.as_ptr(),
            ptr::null(),
            0,
        )
    };
    if ok != 1 {
        clear_errors();
    }
    ok == 1
}

/// SHAKE256 of the concatenation of `parts`, `N` bytes of output.
pub(crate) fn shake256<const N: usize>(parts: &[&[u8]]) -> Result<[u8; N], Error> {
    struct MdCtx(NonNull<sys::EVP_MD_CTX>);
    impl Drop for MdCtx {
        fn drop(&mut self) {
            // SAFETY: we own the context; freed exactly once.
            unsafe { sys::EVP_MD_CTX_free(self.0.as_ptr()) }
        }
    }
    // SAFETY: EVP_MD_CTX_new has no preconditions; null means out of memory.
    let ctx = NonNull::new(unsafe { sys::EVP_MD_CTX_new() })
        .map(MdCtx)
        .ok_or(Error::Sign)?;
    // SAFETY: `ctx` is a fresh context, EVP_shake256 a static method table,
    // and the ENGINE argument must be null.
    if unsafe { sys::EVP_DigestInit_ex(ctx.0.as_ptr(), sys::EVP_shake256(), ptr::null_mut()) } != 1
    {
        clear_errors();
        return Err(Error::Sign);
    }
    for part in parts {
        // SAFETY: `part` is readable for its length; `ctx` is initialised.
        if unsafe { sys::EVP_DigestUpdate(ctx.0.as_ptr(), part.as_ptr().cast(), part.len()) } != 1 {
            clear_errors();
            return Err(Error::Sign);
        }
    }
    let mut out = [0u8; N];
    // SAFETY: `out` has exactly N writable bytes, the length passed.
    if unsafe { sys::EVP_DigestFinalXOF(ctx.0.as_ptr(), out.as_mut_ptr(), N) } != 1 {
        clear_errors();
        return Err(Error::Sign);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{self, KeyPair, UnparsedPublicKey};

    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032 §7.3, "TEST abc": Ed25519ph of the message "abc".
    #[test]
    fn ed25519ph_matches_rfc8032() {
        let seed = unhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42");
        let public = unhex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf");
        let expected = unhex(
            "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
             31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
        );
        let mut private = [0u8; 64];
        private[..32].copy_from_slice(&seed);
        private[32..].copy_from_slice(&public);
        let sig = ed25519ph_sign(&private, b"abc").unwrap();
        assert_eq!(sig.to_vec(), expected);
        let public: [u8; 32] = public.try_into().unwrap();
        assert!(ed25519ph_verify(&public, b"abc", &sig));
        assert!(!ed25519ph_verify(&public, b"abd", &sig));
        assert!(!ed25519ph_verify(&public, b"abc", &sig[..63]));
    }

    #[test]
    fn ml_dsa_mu_signatures_agree_with_raw_ones() {
        for (signing, verifying) in [
            (&signature::ML_DSA_44_SIGNING, &signature::ML_DSA_44),
            (&signature::ML_DSA_65_SIGNING, &signature::ML_DSA_65),
            (&signature::ML_DSA_87_SIGNING, &signature::ML_DSA_87),
        ] {
            let pair = signature::PqdsaKeyPair::generate(signing).unwrap();
            let pkcs8 = pair.to_pkcs8v1().unwrap();
            let pkey = Pkey::parse_pkcs8(pkcs8.as_ref()).unwrap();
            assert!(pkey.is_ml_dsa() && !pkey.is_kem());
            let message = b"the message the mu stands for";
            let mu = crate::ml_dsa_mu(pair.public_key().as_ref(), message).unwrap();
            let sig = pkey.ml_dsa_sign_mu(&mu).unwrap();
            // A μ-signature is an ordinary ML-DSA signature of the message.
            UnparsedPublicKey::new(verifying, pair.public_key().as_ref())
                .verify(message, &sig)
                .unwrap();
            // And an ordinary signature verifies against μ.
            let mut raw_sig = vec![0u8; signing.signature_len()];
            let n = pair.sign(message, &mut raw_sig).unwrap();
            assert!(pkey.ml_dsa_verify_mu(&mu, &raw_sig[..n]).unwrap());
            let mut bad = mu;
            bad[0] ^= 1;
            assert!(!pkey.ml_dsa_verify_mu(&bad, &raw_sig[..n]).unwrap());
            assert!(pkey.ml_dsa_sign_mu(&mu[..63]).is_err());
        }
    }

    #[test]
    fn shake256_known_answer() {
        // SHAKE256("", 32 bytes), FIPS 202 / NIST example values.
        let out: [u8; 32] = shake256(&[]).unwrap();
        assert_eq!(
            out.to_vec(),
            unhex("46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f")
        );
        let split: [u8; 32] = shake256(&[b"ab", b"c"]).unwrap();
        let whole: [u8; 32] = shake256(&[b"abc"]).unwrap();
        assert_eq!(split, whole);
    }

    #[test]
    fn rejects_garbage_and_trailing_bytes() {
        assert!(Pkey::parse_pkcs8(b"not a key").is_err());
        let pair = signature::PqdsaKeyPair::generate(&signature::ML_DSA_44_SIGNING).unwrap();
        let mut der = pair.to_pkcs8v1().unwrap().as_ref().to_vec();
        der.push(0);
        assert!(Pkey::parse_pkcs8(&der).is_err());
        let ed = signature::Ed25519KeyPair::generate().unwrap();
        let pkey = Pkey::parse_pkcs8(ed.to_pkcs8v1().unwrap().as_ref()).unwrap();
        assert!(pkey.ml_dsa_sign_mu(&[0u8; 64]).is_err());
    }
}
