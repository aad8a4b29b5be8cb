//! The primitives alone, in process, on one core: what a request's
//! cryptography costs without HTTP, JSON, signatures or lookups. Each is
//! run back to back for a fixed time; the result is ns per operation.

use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use aws_lc_rs::{hkdf, hmac};
use trent_proto::sigv4;

use crate::signer::{Credentials, HeaderStyle, Signer};

/// One primitive's timing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Timing {
    /// What was timed.
    pub name: String,
    /// Nanoseconds per operation.
    pub ns_per_op: f64,
    /// Operations per second on one core.
    pub ops_per_s: f64,
}

/// Runs `op` repeatedly for about `budget`; its mean cost.
fn time(name: &str, budget: Duration, mut op: impl FnMut()) -> Timing {
    // Warm up caches and lazy initialization first.
    let warm = Instant::now();
    while warm.elapsed() < budget / 10 {
        op();
    }
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < budget {
        for _ in 0..16 {
            op();
        }
        n += 16;
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    Timing {
        name: name.to_owned(),
        ns_per_op: (ns * 10.0).round() / 10.0,
        ops_per_s: (1e9 / ns).round(),
    }
}

/// The message signed and MACed by the Sign/GenerateMac workloads.
const MESSAGE: [u8; 128] = [0x5a; 128];

/// Times every primitive, `budget` each. `None` entries are primitives
/// whose set-up failed (reported by name).
pub fn run(budget: Duration) -> Result<Vec<Timing>, String> {
    let rng = SystemRandom::new();
    let fail = |what: &str| format!("primitive set-up failed: {what}");
    let mut out = Vec::new();

    let key_bytes = [7u8; 32];
    let aes =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key_bytes).map_err(|_| fail("AES key"))?);
    let mut buffer = vec![0u8; 1024];
    out.push(time("aes-256-gcm seal 1 KiB", budget, || {
        let nonce = Nonce::assume_unique_for_key([0u8; 12]);
        let _ = aes.seal_in_place_separate_tag(nonce, Aad::from(&[0u8; 81][..]), &mut buffer);
    }));

    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, &[1u8; 32]);
    out.push(time(
        "hkdf-sha256 derive 32 B (Trent's per-message key)",
        budget,
        || {
            let prk = salt.extract(&key_bytes);
            let mut okm = [0u8; 32];
            if let Ok(material) = prk.expand(&[b"trent"], hkdf::HKDF_SHA256) {
                let _ = material.fill(&mut okm);
            }
        },
    ));

    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| fail("P-256 key"))?;
    let ecdsa =
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
            .map_err(|_| fail("P-256 key"))?;
    out.push(time("ecdsa-p256-sha256 sign 128 B", budget, || {
        let _ = ecdsa.sign(&rng, &MESSAGE);
    }));
    let ecdsa_sig = ecdsa.sign(&rng, &MESSAGE).map_err(|_| fail("P-256 sign"))?;
    let ecdsa_public = signature::UnparsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_ASN1,
        ecdsa.public_key().as_ref().to_vec(),
    );
    out.push(time("ecdsa-p256-sha256 verify 128 B", budget, || {
        let _ = ecdsa_public.verify(&MESSAGE, ecdsa_sig.as_ref());
    }));

    let rsa =
        RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|_| fail("RSA key"))?;
    let mut rsa_sig = vec![0u8; rsa.public_modulus_len()];
    out.push(time(
        "rsa-2048 pss-sha256 sign 128 B",
        budget.max(Duration::from_millis(500)),
        || {
            let _ = rsa.sign(&signature::RSA_PSS_SHA256, &rng, &MESSAGE, &mut rsa_sig);
        },
    ));

    let mac_key = hmac::Key::new(hmac::HMAC_SHA256, &key_bytes);
    out.push(time("hmac-sha256 128 B", budget, || {
        let _ = hmac::sign(&mac_key, &MESSAGE);
    }));

    let credentials = Credentials {
        access_key_id: "AKIDBENCH".into(),
        secret_access_key: "bench-secret-key".into(),
    };
    let mut signer = Signer::new(
        credentials,
        "us-east-1",
        "127.0.0.1:4599",
        HeaderStyle::Botocore,
    );
    let body = bytes::Bytes::from(vec![b'x'; 1400]);
    out.push(time(
        "sigv4 sign request (client, 1.4 KiB body)",
        budget,
        || {
            let _ = signer.request("Encrypt", body.clone(), false);
        },
    ));
    let request = signer
        .request("Encrypt", body.clone(), false)
        .map_err(|e| fail(&e.to_string()))?;
    let headers: Vec<sigv4::Header<'_>> = request
        .headers()
        .iter()
        .map(|(n, v)| sigv4::Header {
            name: n.as_str(),
            value: v.as_bytes(),
        })
        .collect();
    let view = sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: &body,
    };
    out.push(time(
        "sigv4 parse+derive+verify (server, 1.4 KiB body)",
        budget,
        || {
            if let Ok(auth) = sigv4::parse(&view) {
                let key = sigv4::derive_signing_key(
                    b"bench-secret-key",
                    &auth.date,
                    &auth.region,
                    &auth.service,
                );
                let _ = sigv4::verify(
                    &view,
                    &auth,
                    &key,
                    time::OffsetDateTime::now_utc(),
                    "us-east-1",
                    "kms",
                );
            }
        },
    ));
    Ok(out)
}

/// The timing called `prefix…`, if measured.
pub fn find<'a>(timings: &'a [Timing], prefix: &str) -> Option<&'a Timing> {
    timings.iter().find(|t| t.name.starts_with(prefix))
}
