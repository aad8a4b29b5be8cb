//! The workloads: what each request of a run asks, and the setup it needs
//! (keys to use, ciphertexts to decrypt, a signature to verify), done with
//! real API calls before the timed part of a run starts.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::api::{Api, Failure};

/// A request mix to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Encrypt 1 KiB of plaintext under a symmetric key.
    #[value(name = "encrypt-1k")]
    #[serde(rename = "encrypt-1k")]
    Encrypt1k,
    /// Encrypt 4 KiB (the API's limit).
    #[value(name = "encrypt-4k")]
    #[serde(rename = "encrypt-4k")]
    Encrypt4k,
    /// Decrypt a 1 KiB ciphertext.
    Decrypt,
    /// GenerateDataKey, AES_256.
    GenerateDataKey,
    /// ReEncrypt a 1 KiB ciphertext under the same key.
    ReEncrypt,
    /// Sign 128 bytes with an ECC_NIST_P256 key (ECDSA_SHA_256).
    #[value(name = "sign-ecc-p256")]
    #[serde(rename = "sign-ecc-p256")]
    SignEccP256,
    /// Verify an ECDSA_SHA_256 signature with an ECC_NIST_P256 key.
    #[value(name = "verify-ecc-p256")]
    #[serde(rename = "verify-ecc-p256")]
    VerifyEccP256,
    /// Sign 128 bytes with an RSA_2048 key (RSASSA_PSS_SHA_256).
    #[value(name = "sign-rsa-2048")]
    #[serde(rename = "sign-rsa-2048")]
    SignRsa2048,
    /// GenerateMac over 128 bytes with an HMAC_256 key.
    #[value(name = "generate-mac-256")]
    #[serde(rename = "generate-mac-256")]
    GenerateMac256,
    /// CreateKey (symmetric, durable: each one is committed to the store).
    CreateKey,
    /// DescribeKey.
    DescribeKey,
    /// 50% Encrypt 1 KiB, 30% Decrypt, 10% GenerateDataKey, 10% DescribeKey.
    Mixed,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 12] = [
        Self::Encrypt1k,
        Self::Encrypt4k,
        Self::Decrypt,
        Self::GenerateDataKey,
        Self::ReEncrypt,
        Self::SignEccP256,
        Self::VerifyEccP256,
        Self::SignRsa2048,
        Self::GenerateMac256,
        Self::CreateKey,
        Self::DescribeKey,
        Self::Mixed,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Encrypt1k => "encrypt-1k",
            Self::Encrypt4k => "encrypt-4k",
            Self::Decrypt => "decrypt",
            Self::GenerateDataKey => "generate-data-key",
            Self::ReEncrypt => "re-encrypt",
            Self::SignEccP256 => "sign-ecc-p256",
            Self::VerifyEccP256 => "verify-ecc-p256",
            Self::SignRsa2048 => "sign-rsa-2048",
            Self::GenerateMac256 => "generate-mac-256",
            Self::CreateKey => "create-key",
            Self::DescribeKey => "describe-key",
            Self::Mixed => "mixed",
        }
    }

    /// Whether the workload needs operations that are still being built
    /// (Sign, Verify, GenerateMac): an `UnsupportedOperationException` from
    /// them is a skip, not a failure.
    pub fn may_be_unsupported(self) -> bool {
        matches!(
            self,
            Self::SignEccP256 | Self::VerifyEccP256 | Self::SignRsa2048 | Self::GenerateMac256
        )
    }
}

/// A small fast PRNG (xorshift64*) for picking keys and request kinds; not
/// for anything secret.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value; 0 is remapped).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value below `bound` (`bound` > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let value = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((value >> 32) as usize * bound) >> 32
    }
}

/// Requests of one shape.
#[derive(Debug, Clone)]
enum Shape {
    /// `{"KeyId":"<one of keys>"<members>}`.
    PerKey {
        operation: &'static str,
        keys: Vec<String>,
        members: String,
        single: Option<Bytes>,
    },
    /// One of fixed bodies, in turn.
    Fixed {
        operation: &'static str,
        bodies: Vec<Bytes>,
    },
}

impl Shape {
    fn per_key(operation: &'static str, keys: Vec<String>, members: String) -> Self {
        let single = match keys.as_slice() {
            [key] => Some(Bytes::from(format!(r#"{{"KeyId":"{key}"{members}}}"#))),
            _ => None,
        };
        Self::PerKey {
            operation,
            keys,
            members,
            single,
        }
    }

    fn next(&self, rng: &mut Rng) -> (&'static str, Bytes) {
        match self {
            Self::PerKey {
                operation,
                single: Some(body),
                ..
            } => (operation, body.clone()),
            Self::PerKey {
                operation,
                keys,
                members,
                single: None,
            } => {
                let key = &keys[rng.below(keys.len())];
                (
                    operation,
                    Bytes::from(format!(r#"{{"KeyId":"{key}"{members}}}"#)),
                )
            }
            Self::Fixed { operation, bodies } => {
                (operation, bodies[rng.below(bodies.len())].clone())
            }
        }
    }
}

/// A workload ready to run: every request body it will send can be made
/// without further calls.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The workload.
    pub workload: Workload,
    /// How many distinct keys requests use.
    pub distinct_keys: usize,
    /// (weight, shape) pairs; weights sum to 100.
    shapes: Vec<(usize, Shape)>,
}

impl Prepared {
    /// The operation and body of the next request.
    pub fn next(&self, rng: &mut Rng) -> (&'static str, Bytes) {
        if let [(_, shape)] = self.shapes.as_slice() {
            return shape.next(rng);
        }
        let mut pick = rng.below(100);
        for (weight, shape) in &self.shapes {
            if pick < *weight {
                return shape.next(rng);
            }
            pick -= weight;
        }
        self.shapes[0].1.next(rng)
    }

    /// The Encrypt 1 KiB request shape with a made-up key id, for servers
    /// that answer anything (the bare-hyper baseline).
    pub fn baseline() -> Self {
        let key = vec!["1234abcd-12ab-34cd-56ef-1234567890ab".to_owned()];
        Self {
            workload: Workload::Encrypt1k,
            distinct_keys: 1,
            shapes: vec![(100, Shape::per_key("Encrypt", key, plaintext_member(1024)))],
        }
    }
}

/// `,"Plaintext":"<base64 of n bytes>"`.
fn plaintext_member(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|i| (i * 7 + 3) as u8).collect();
    format!(r#","Plaintext":"{}""#, B64.encode(bytes))
}

/// The message signed, verified and MACed: 128 bytes.
fn message_b64() -> String {
    B64.encode([0x5a_u8; 128])
}

/// Creates a key; its id.
pub async fn create_key(api: &mut Api, spec: &str, usage: &str) -> Result<String, Failure> {
    let response = api
        .call(
            "CreateKey",
            &json!({"KeySpec": spec, "KeyUsage": usage, "Description": "trent-bench"}),
        )
        .await?;
    response
        .pointer("/KeyMetadata/KeyId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Failure::transport("CreateKey response has no KeyMetadata.KeyId"))
}

/// 1 KiB ciphertexts, one per key for up to 16 keys.
async fn ciphertexts(api: &mut Api, keys: &[String]) -> Result<Vec<String>, Failure> {
    let plaintext = B64.encode([0xa5_u8; 1024]);
    let mut blobs = Vec::new();
    for key in keys.iter().take(16) {
        let response = api
            .call("Encrypt", &json!({"KeyId": key, "Plaintext": plaintext}))
            .await?;
        let blob = response
            .get("CiphertextBlob")
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::transport("Encrypt response has no CiphertextBlob"))?;
        blobs.push(blob.to_owned());
    }
    Ok(blobs)
}

fn bodies(values: impl IntoIterator<Item = Value>) -> Vec<Bytes> {
    values
        .into_iter()
        .map(|v| Bytes::from(v.to_string()))
        .collect()
}

/// The given symmetric keys, or one new one.
async fn symmetric(api: &mut Api, keys: Option<Vec<String>>) -> Result<Vec<String>, Failure> {
    match keys {
        Some(keys) if !keys.is_empty() => Ok(keys),
        _ => Ok(vec![
            create_key(api, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await?,
        ]),
    }
}

/// Makes what `workload` needs. `keys` are symmetric keys to spread
/// requests over; without them one symmetric key is created.
pub async fn prepare(
    api: &mut Api,
    workload: Workload,
    keys: Option<Vec<String>>,
) -> Result<Prepared, Failure> {
    let signing = |algorithm: &str| {
        format!(
            r#","Message":"{}","MessageType":"RAW","SigningAlgorithm":"{algorithm}""#,
            message_b64()
        )
    };
    let shapes = match workload {
        Workload::Encrypt1k => vec![(
            100,
            Shape::per_key(
                "Encrypt",
                symmetric(api, keys).await?,
                plaintext_member(1024),
            ),
        )],
        Workload::Encrypt4k => vec![(
            100,
            Shape::per_key(
                "Encrypt",
                symmetric(api, keys).await?,
                plaintext_member(4096),
            ),
        )],
        Workload::GenerateDataKey => {
            vec![(
                100,
                Shape::per_key(
                    "GenerateDataKey",
                    symmetric(api, keys).await?,
                    r#","KeySpec":"AES_256""#.into(),
                ),
            )]
        }
        Workload::DescribeKey => vec![(
            100,
            Shape::per_key("DescribeKey", symmetric(api, keys).await?, String::new()),
        )],
        Workload::Decrypt => {
            let keys = symmetric(api, keys).await?;
            let blobs = ciphertexts(api, &keys).await?;
            vec![(
                100,
                Shape::Fixed {
                    operation: "Decrypt",
                    bodies: bodies(blobs.iter().map(|b| json!({"CiphertextBlob": b}))),
                },
            )]
        }
        Workload::ReEncrypt => {
            let keys = symmetric(api, keys).await?;
            let blobs = ciphertexts(api, &keys).await?;
            let destination = &keys[0];
            let values = blobs
                .iter()
                .map(|b| json!({"CiphertextBlob": b, "DestinationKeyId": destination}));
            vec![(
                100,
                Shape::Fixed {
                    operation: "ReEncrypt",
                    bodies: bodies(values),
                },
            )]
        }
        Workload::SignEccP256 => {
            let key = create_key(api, "ECC_NIST_P256", "SIGN_VERIFY").await?;
            vec![(
                100,
                Shape::per_key("Sign", vec![key], signing("ECDSA_SHA_256")),
            )]
        }
        Workload::SignRsa2048 => {
            let key = create_key(api, "RSA_2048", "SIGN_VERIFY").await?;
            vec![(
                100,
                Shape::per_key("Sign", vec![key], signing("RSASSA_PSS_SHA_256")),
            )]
        }
        Workload::VerifyEccP256 => {
            let key = create_key(api, "ECC_NIST_P256", "SIGN_VERIFY").await?;
            let message = message_b64();
            let signed = api
                .call(
                    "Sign",
                    &json!({"KeyId": key, "Message": message, "MessageType": "RAW", "SigningAlgorithm": "ECDSA_SHA_256"}),
                )
                .await?;
            let signature = signed
                .get("Signature")
                .and_then(Value::as_str)
                .ok_or_else(|| Failure::transport("Sign response has no Signature"))?;
            let body = json!({"KeyId": key, "Message": message, "MessageType": "RAW",
                              "Signature": signature, "SigningAlgorithm": "ECDSA_SHA_256"});
            vec![(
                100,
                Shape::Fixed {
                    operation: "Verify",
                    bodies: bodies([body]),
                },
            )]
        }
        Workload::GenerateMac256 => {
            let key = create_key(api, "HMAC_256", "GENERATE_VERIFY_MAC").await?;
            let members = format!(
                r#","Message":"{}","MacAlgorithm":"HMAC_SHA_256""#,
                message_b64()
            );
            vec![(100, Shape::per_key("GenerateMac", vec![key], members))]
        }
        Workload::CreateKey => {
            vec![(
                100,
                Shape::Fixed {
                    operation: "CreateKey",
                    bodies: bodies([json!({"Description": "trent-bench"})]),
                },
            )]
        }
        Workload::Mixed => {
            let keys = symmetric(api, keys).await?;
            let blobs = ciphertexts(api, &keys).await?;
            vec![
                (
                    50,
                    Shape::per_key("Encrypt", keys.clone(), plaintext_member(1024)),
                ),
                (
                    30,
                    Shape::Fixed {
                        operation: "Decrypt",
                        bodies: bodies(blobs.iter().map(|b| json!({"CiphertextBlob": b}))),
                    },
                ),
                (
                    10,
                    Shape::per_key(
                        "GenerateDataKey",
                        keys.clone(),
                        r#","KeySpec":"AES_256""#.into(),
                    ),
                ),
                (10, Shape::per_key("DescribeKey", keys, String::new())),
            ]
        }
    };
    let distinct_keys = shapes
        .iter()
        .map(|(_, s)| match s {
            Shape::PerKey { keys, .. } => keys.len(),
            Shape::Fixed { bodies, .. } => bodies.len(),
        })
        .max()
        .unwrap_or(1);
    Ok(Prepared {
        workload,
        distinct_keys,
        shapes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_stays_below_its_bound_and_spreads() {
        let mut rng = Rng::new(7);
        let mut seen = [0usize; 10];
        for _ in 0..10_000 {
            seen[rng.below(10)] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }

    #[test]
    fn bodies_are_json_with_a_key_id() {
        let prepared = Prepared::baseline();
        let (operation, body) = prepared.next(&mut Rng::new(1));
        assert_eq!(operation, "Encrypt");
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            B64.decode(value["Plaintext"].as_str().unwrap())
                .unwrap()
                .len(),
            1024
        );
        let shape = Shape::per_key("DescribeKey", vec!["a".into(), "b".into()], String::new());
        let (_, body) = shape.next(&mut Rng::new(3));
        assert!(
            body == Bytes::from_static(br#"{"KeyId":"a"}"#)
                || body == Bytes::from_static(br#"{"KeyId":"b"}"#)
        );
    }

    #[test]
    fn names_match_the_command_line() {
        use clap::ValueEnum as _;
        for w in Workload::ALL {
            assert_eq!(w.to_possible_value().unwrap().get_name(), w.name());
            assert_eq!(serde_json::to_value(w).unwrap(), w.name());
        }
    }
}
