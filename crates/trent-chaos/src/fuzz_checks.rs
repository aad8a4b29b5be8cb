//! The properties the cargo-fuzz targets in `fuzz/` check, one function per
//! target. Each takes arbitrary bytes and panics only when a property is
//! broken; "the parser returned an error" is a pass. The fuzz crate
//! includes this file by path (it depends only on trent-proto, trent-core,
//! trent-crypto and serde_json), and `tests/fuzz_corpus.rs` replays the
//! seed corpora through the same functions on stable Rust.
//!
//! Later targets slot in here the same way: the policy evaluator (issue 4)
//! and import tokens (issue 5).

use trent_core::ciphertext;
use trent_crypto::root::RootKey;
use trent_proto::error::ErrorCode;
use trent_proto::json;
use trent_proto::ops;
use trent_proto::sigv4::{self, Header};

/// The request decoder: every operation's request shape, from arbitrary
/// bytes. An error must be `SerializationException` or
/// `ValidationException`, with a message that does not echo the input.
#[allow(clippy::panic)]
pub fn request_decoder(data: &[u8]) {
    fn check<T: serde::de::DeserializeOwned>(data: &[u8]) {
        if let Err(e) = json::decode::<T>(data) {
            assert!(
                matches!(e.code, ErrorCode::Serialization | ErrorCode::Validation),
                "decode error {:?}",
                e.code
            );
            assert!(e.message.len() < 4096, "error message grows with the input");
        }
    }
    check::<ops::CreateKeyRequest>(data);
    check::<ops::EncryptRequest>(data);
    check::<ops::DecryptRequest>(data);
    check::<ops::ReEncryptRequest>(data);
    check::<ops::GenerateDataKeyRequest>(data);
    check::<ops::TagResourceRequest>(data);
    check::<ops::PutKeyPolicyRequest>(data);
    check::<ops::AliasRequest>(data);
    check::<ops::ListKeysRequest>(data);
    check::<ops::EnableKeyRotationRequest>(data);
}

/// The SigV4 parser and verifier. The input is split on `\n` into header
/// lines (`name: value`) and, after an empty line, the body. Parsing and
/// verifying must not panic, and nothing arbitrary may verify under a key
/// the input does not know. Then the same headers and body are signed
/// properly: that must verify, and must stop verifying if the body changes.
#[allow(clippy::panic)]
pub fn sigv4_parse_verify(data: &[u8]) {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(data.len());
    let (head, body) = data.split_at(split);
    let body = body.get(2..).unwrap_or(&[]);
    let lines: Vec<(String, &[u8])> = head
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let name = std::str::from_utf8(&line[..colon]).ok()?.trim().to_owned();
            Some((name, line[colon + 1..].trim_ascii()))
        })
        .take(80)
        .collect();
    let headers: Vec<Header<'_>> = lines
        .iter()
        .map(|(n, v)| Header { name: n, value: v })
        .collect();
    let request = sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body,
    };
    let key = sigv4::derive_signing_key(b"fuzz-secret", "20260101", "us-east-1", "kms");
    let now = fixed_now();
    if let Ok(auth) = sigv4::parse(&request) {
        assert!(auth.signed_headers.windows(2).all(|w| w[0] < w[1]));
        let verified = sigv4::verify(&request, &auth, &key, now, "us-east-1", "kms");
        assert!(
            verified.is_err() || signature_of(&request, &auth) == Some(auth.signature),
            "an unsigned request verified"
        );
    }

    // Sign the headers that SigV4 allows signing, then verify.
    let date = sigv4::format_amz_date(now);
    let mut clean: Vec<(String, Vec<u8>)> = lines
        .iter()
        .filter(|(n, v)| {
            let n = n.to_ascii_lowercase();
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !matches!(
                    n.as_str(),
                    "authorization"
                        | "host"
                        | "x-amz-date"
                        | "x-amz-content-sha256"
                        | "x-amz-security-token"
                )
                && std::str::from_utf8(v)
                    .is_ok_and(|s| s.bytes().all(|b| (0x20..0x7f).contains(&b)))
        })
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_vec()))
        .take(20)
        .collect();
    clean.sort();
    clean.dedup_by(|a, b| a.0 == b.0);
    clean.push(("host".into(), b"127.0.0.1:4599".to_vec()));
    clean.push(("x-amz-date".into(), date.into_bytes()));
    let to_sign: Vec<Header<'_>> = clean
        .iter()
        .map(|(n, v)| Header { name: n, value: v })
        .collect();
    let req = sigv4::Request {
        headers: &to_sign,
        ..request
    };
    let Ok(authorization) = sigv4::sign(&req, "AKIDFUZZ", &key, "us-east-1", "kms") else {
        return;
    };
    let mut signed = to_sign.clone();
    signed.push(Header {
        name: "authorization",
        value: authorization.as_bytes(),
    });
    let req = sigv4::Request {
        headers: &signed,
        ..req
    };
    let auth = match sigv4::parse(&req) {
        Ok(a) => a,
        Err(e) => panic!("a request signed by sign() does not parse: {e}"),
    };
    if let Err(e) = sigv4::verify(&req, &auth, &key, now, "us-east-1", "kms") {
        panic!("a request signed by sign() does not verify: {e}");
    }
    let mut other_body = body.to_vec();
    other_body.push(b'!');
    let tampered = sigv4::Request {
        body: &other_body,
        ..req
    };
    assert!(
        sigv4::verify(&tampered, &auth, &key, now, "us-east-1", "kms").is_err(),
        "a changed body still verifies"
    );
}

/// The signature the fuzz key gives a parsed request (None if it cannot be
/// signed), to tell a real forgery from a fuzzer that found the key.
fn signature_of(request: &sigv4::Request<'_>, auth: &sigv4::Authorization) -> Option<[u8; 32]> {
    let signed: Vec<Header<'_>> = request
        .headers
        .iter()
        .copied()
        .filter(|h| {
            auth.signed_headers
                .iter()
                .any(|s| h.name.eq_ignore_ascii_case(s))
        })
        .collect();
    let req = sigv4::Request {
        headers: &signed,
        ..*request
    };
    let key = sigv4::derive_signing_key(b"fuzz-secret", &auth.date, &auth.region, &auth.service);
    let header = sigv4::sign(&req, &auth.access_key_id, &key, &auth.region, &auth.service).ok()?;
    let hex = header.rsplit("Signature=").next()?;
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn fixed_now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(1_767_225_600)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// The ciphertext parser: never panics; what parses re-encodes to the same
/// bytes; the length rules of `docs/FORMATS.md` hold.
pub fn ciphertext_parser(data: &[u8]) {
    match ciphertext::parse(data) {
        Ok((header, raw, sealed)) => {
            assert_eq!(&header.encode()[..], raw);
            assert_eq!(raw.len() + sealed.len(), data.len());
            assert!(sealed.len() >= ciphertext::TAG_LEN);
            assert!(data.len() <= ciphertext::MAX_BLOB_LEN);
            assert_eq!(data[0], ciphertext::VERSION_1);
            let text = header.material_id_hex();
            assert_eq!(
                ciphertext::material_id_bytes(&text).ok(),
                Some(header.material_id)
            );
        }
        Err(e) => assert_eq!(e, trent_core::Error::InvalidCiphertext),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ciphertext::material_id_bytes(text);
        let _ = ciphertext::key_id_bytes(text);
    }
}

/// Policy document validation: never panics; an accepted policy is a JSON
/// object with a `Statement` object or list, within 32 KiB.
pub fn policy_document(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if trent_core::policy::validate(text).is_ok() {
        assert!(text.len() <= 32 * 1024);
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let statement = &value["Statement"];
        assert!(statement.is_array() || statement.is_object());
    }
}

/// Wrapped secrets and sealed root keys from arbitrary bytes: unwrapping
/// never panics and never succeeds on bytes the root key did not wrap;
/// wrapping arbitrary bytes round-trips and binds the associated data.
#[allow(clippy::panic)]
pub fn wrapped_key(data: &[u8]) {
    let root = fixed_root();
    let (aad, blob) = data.split_at(
        data.len()
            .min(usize::from(data.first().copied().unwrap_or(0) % 64)),
    );
    assert!(
        root.unwrap(aad, blob).is_err(),
        "arbitrary bytes unwrapped as a secret"
    );
    let Ok(wrapped) = root.wrap(aad, blob) else {
        panic!("wrap failed");
    };
    assert_eq!(
        root.unwrap(aad, &wrapped).ok().as_deref().map(|v| &v[..]),
        Some(blob)
    );
    let mut other = aad.to_vec();
    other.push(0);
    assert!(
        root.unwrap(&other, &wrapped).is_err(),
        "associated data not bound"
    );

    // The sealed-root parsers: kind sniffing and the dev-file seal's unseal.
    let _ = trent_crypto::seal::sealed_kind(blob);
    if let Some(seal) = dev_seal() {
        use trent_crypto::seal::Seal;
        assert!(seal.unseal(blob).is_err(), "arbitrary bytes unsealed");
    }
}

fn fixed_root() -> RootKey {
    #[allow(clippy::expect_used)]
    RootKey::from_bytes(zeroize::Zeroizing::new([7u8; 32])).expect("a 32-byte root key")
}

/// A dev-file seal with a fixed key file in the temp dir.
fn dev_seal() -> Option<&'static trent_crypto::seal::DevFileSeal> {
    static SEAL: std::sync::OnceLock<Option<trent_crypto::seal::DevFileSeal>> =
        std::sync::OnceLock::new();
    SEAL.get_or_init(|| {
        let path = std::env::temp_dir().join("trent-fuzz-dev-seal.key");
        std::fs::write(&path, [9u8; 32]).ok()?;
        Some(trent_crypto::seal::DevFileSeal::new(path))
    })
    .as_ref()
}
