//! Micro-benchmarks of the server's hot internal pieces (issue 10):
//! SigV4 verification and the ciphertext header. Policy evaluation and
//! audit record encoding join here once they exist.
//!
//! `cargo bench -p trent-bench --bench hot_paths`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use divan::{Bencher, black_box};
use trent_core::ciphertext::{self, Header};
use trent_proto::sigv4;

fn main() {
    divan::main();
}

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// A botocore-style signed Encrypt request with a 1 KiB plaintext, as
/// (name, value) pairs and body.
fn signed_encrypt() -> (Vec<(String, Vec<u8>)>, Vec<u8>) {
    let body = format!(
        r#"{{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Plaintext":"{}"}}"#,
        "A".repeat(1368)
    )
    .into_bytes();
    let date = sigv4::format_amz_date(time::OffsetDateTime::now_utc());
    let mut headers: Vec<(String, Vec<u8>)> = [
        ("content-type", "application/x-amz-json-1.1"),
        ("host", "127.0.0.1:4599"),
        ("x-amz-date", date.as_str()),
        ("x-amz-target", "TrentService.Encrypt"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
    .collect();
    let view: Vec<sigv4::Header<'_>> = headers
        .iter()
        .map(|(n, v)| sigv4::Header { name: n, value: v })
        .collect();
    let req = sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &view,
        body: &body,
    };
    let key = sigv4::derive_signing_key(SECRET, &date[..8], "us-east-1", "kms");
    let authorization =
        sigv4::sign(&req, "AKIAIOSFODNN7EXAMPLE", &key, "us-east-1", "kms").unwrap();
    headers.push(("user-agent".into(), b"Boto3/1.40".to_vec()));
    headers.push(("authorization".into(), authorization.into_bytes()));
    (headers, body)
}

/// What the server does per request: parse, derive the signing key, verify.
#[divan::bench]
fn sigv4_parse_derive_verify(bencher: Bencher) {
    let (headers, body) = signed_encrypt();
    let view: Vec<sigv4::Header<'_>> = headers
        .iter()
        .map(|(n, v)| sigv4::Header { name: n, value: v })
        .collect();
    let req = sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &view,
        body: &body,
    };
    let now = time::OffsetDateTime::now_utc();
    bencher.bench_local(|| {
        let auth = sigv4::parse(black_box(&req)).unwrap();
        let key = sigv4::derive_signing_key(SECRET, &auth.date, &auth.region, &auth.service);
        sigv4::verify(&req, &auth, &key, now, "us-east-1", "kms").unwrap();
    });
}

/// Verification alone, with the signing key cached (what a derived-key
/// cache would leave per request).
#[divan::bench]
fn sigv4_verify_cached_key(bencher: Bencher) {
    let (headers, body) = signed_encrypt();
    let view: Vec<sigv4::Header<'_>> = headers
        .iter()
        .map(|(n, v)| sigv4::Header { name: n, value: v })
        .collect();
    let req = sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &view,
        body: &body,
    };
    let auth = sigv4::parse(&req).unwrap();
    let key = sigv4::derive_signing_key(SECRET, &auth.date, &auth.region, &auth.service);
    let now = time::OffsetDateTime::now_utc();
    bencher.bench_local(|| {
        sigv4::verify(black_box(&req), &auth, &key, now, "us-east-1", "kms").unwrap()
    });
}

/// Parsing the Authorization header alone.
#[divan::bench]
fn sigv4_parse(bencher: Bencher) {
    let (headers, body) = signed_encrypt();
    let view: Vec<sigv4::Header<'_>> = headers
        .iter()
        .map(|(n, v)| sigv4::Header { name: n, value: v })
        .collect();
    let req = sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &view,
        body: &body,
    };
    bencher.bench_local(|| sigv4::parse(black_box(&req)).unwrap());
}

/// Deriving the signing key (four HMACs).
#[divan::bench]
fn sigv4_derive_signing_key() -> sigv4::SigningKey {
    sigv4::derive_signing_key(black_box(SECRET), "20261129", "us-east-1", "kms")
}

/// The client side: signing one request.
#[divan::bench]
fn sigv4_sign(bencher: Bencher) {
    let (headers, body) = signed_encrypt();
    let unsigned = &headers[..4];
    let view: Vec<sigv4::Header<'_>> = unsigned
        .iter()
        .map(|(n, v)| sigv4::Header { name: n, value: v })
        .collect();
    let req = sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &view,
        body: &body,
    };
    let key = sigv4::derive_signing_key(SECRET, "20261129", "us-east-1", "kms");
    bencher.bench_local(|| {
        sigv4::sign(
            black_box(&req),
            "AKIAIOSFODNN7EXAMPLE",
            &key,
            "us-east-1",
            "kms",
        )
        .unwrap()
    });
}

fn sample_header() -> Header {
    Header {
        key_id: [0x12; 16],
        material_id: [0xab; 32],
        salt: [0x5c; 32],
    }
}

#[divan::bench]
fn ciphertext_header_encode() -> [u8; ciphertext::HEADER_LEN] {
    black_box(sample_header()).encode()
}

#[divan::bench]
fn ciphertext_parse_1k_blob(bencher: Bencher) {
    let mut blob = sample_header().encode().to_vec();
    blob.extend_from_slice(&[0u8; 1024 + ciphertext::TAG_LEN]);
    bencher.bench_local(|| {
        let (header, raw, sealed) = ciphertext::parse(black_box(&blob)).unwrap();
        black_box((header, raw.len(), sealed.len()))
    });
}

/// What Decrypt does with a parsed header today: the key id and material id
/// as text, for the cache lookups.
#[divan::bench]
fn ciphertext_header_ids_to_text(bencher: Bencher) {
    let header = sample_header();
    bencher.bench_local(|| (black_box(&header).key_id_string(), header.material_id_hex()));
}

/// What Encrypt does to build a header today: parse the textual ids back.
#[divan::bench]
fn ciphertext_ids_from_text(bencher: Bencher) {
    let key_id = "12121212-1212-1212-1212-121212121212";
    let material_id = "ab".repeat(32);
    bencher.bench_local(|| {
        (
            ciphertext::key_id_bytes(black_box(key_id)).unwrap(),
            ciphertext::material_id_bytes(black_box(&material_id)).unwrap(),
        )
    });
}
