//! Hostile input against a running server: a generated corpus of malformed
//! requests (bodies, types, numbers, nesting, base64, targets, SigV4
//! headers, clock skew, damaged ciphertexts, odd Unicode) and transport
//! abuse (slow headers, slow bodies, lying lengths, idle connections,
//! garbage bytes).
//!
//! The rule: every request gets an answer — 200 where the request is in
//! fact valid, otherwise a 4xx whose `__type` is an AWS error name — or,
//! for transport abuse, a closed connection within the server's timeouts.
//! Never a 5xx, never silence past the client's timeout, and the server's
//! resident memory stays bounded.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trent_proto::error::ErrorCode;

use crate::client::{Client, Credentials, Reply, b64, now};
use crate::rng::Rng;

/// What a corpus run is asked to do.
#[derive(Debug, Clone)]
pub struct HostileConfig {
    /// Generated cases.
    pub cases: u64,
    /// Concurrent senders.
    pub threads: usize,
    /// Seed (printed; reproduces the corpus).
    pub seed: u64,
}

/// What a corpus run saw.
#[derive(Debug, Clone, Default)]
pub struct HostileReport {
    /// Cases sent.
    pub cases: u64,
    /// Responses by HTTP status (0: connection closed without a response).
    pub by_status: BTreeMap<u16, u64>,
    /// Error responses by AWS error name.
    pub by_error: BTreeMap<String, u64>,
    /// Cases by generator.
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Broken rules (5xx, unnamed errors, hangs, valid requests refused).
    pub failures: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl HostileReport {
    fn merge(&mut self, other: HostileReport) {
        self.cases += other.cases;
        for (k, v) in other.by_status {
            *self.by_status.entry(k).or_default() += v;
        }
        for (k, v) in other.by_error {
            *self.by_error.entry(k).or_default() += v;
        }
        for (k, v) in other.by_kind {
            *self.by_kind.entry(k).or_default() += v;
        }
        self.failures.extend(other.failures);
    }
}

/// What a case may get back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A 4xx with an AWS error name.
    Refused,
    /// 200, or a 4xx with an AWS error name (the input may be valid).
    AnyAnswer,
    /// A 4xx with exactly this error.
    Error(&'static str),
}

/// How a case is signed.
#[derive(Debug, Clone)]
enum Auth {
    Signed,
    None,
    /// These headers instead of a correct signature.
    Replace(Vec<(String, String)>),
    /// Correctly signed, plus these headers after.
    Extra(Vec<(String, String)>),
    /// Signed with this clock offset, in seconds.
    Skew(i64),
    /// Signed by an unknown access key or a wrong secret.
    Credentials(Credentials),
}

#[derive(Debug, Clone)]
struct Case {
    kind: &'static str,
    target: String,
    body: Vec<u8>,
    auth: Auth,
    expect: Expect,
}

/// What the generators work from: a usable key, one of its ciphertexts.
#[derive(Debug, Clone)]
pub struct Fixtures {
    /// A symmetric key id.
    pub key_id: String,
    /// A valid ciphertext under it (empty encryption context).
    pub ciphertext: Vec<u8>,
}

impl Fixtures {
    /// Creates a key and a ciphertext on the server.
    pub fn create(client: &mut Client) -> Result<Fixtures, String> {
        let key = client
            .call(
                "CreateKey",
                &json!({"Description": "hostile-input fixture"}),
            )
            .map_err(|e| e.to_string())?;
        let key_id = key["KeyMetadata"]["KeyId"]
            .as_str()
            .ok_or("CreateKey without KeyId")?
            .to_owned();
        let enc = client
            .call(
                "Encrypt",
                &json!({"KeyId": key_id, "Plaintext": b64(b"fixture")}),
            )
            .map_err(|e| e.to_string())?;
        let ciphertext = Reply::blob(&enc, "CiphertextBlob").ok_or("Encrypt without blob")?;
        Ok(Fixtures { key_id, ciphertext })
    }
}

/// Sends `config.cases` generated cases from `config.threads` clients.
pub fn run_corpus(
    addr: SocketAddr,
    credentials: &Credentials,
    fixtures: &Fixtures,
    config: &HostileConfig,
) -> HostileReport {
    let started = Instant::now();
    let total = Arc::new(Mutex::new(HostileReport::default()));
    let mut seeds = Rng::new(config.seed);
    let threads = config.threads.max(1);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let cases = config.cases / threads as u64
                + u64::from((t as u64) < config.cases % threads as u64);
            let mut rng = seeds.fork();
            let credentials = credentials.clone();
            let fixtures = fixtures.clone();
            let total = total.clone();
            std::thread::spawn(move || {
                let mut report = HostileReport::default();
                match Client::new(addr, credentials.clone(), crate::process::REGION) {
                    Ok(mut client) => {
                        client.set_timeout(Duration::from_secs(20));
                        for _ in 0..cases {
                            let case = generate(&mut rng, &fixtures, &credentials);
                            send_case(&mut client, &case, &mut report);
                        }
                    }
                    Err(e) => report.failures.push(e.to_string()),
                }
                if let Ok(mut t) = total.lock() {
                    t.merge(report);
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let mut report = total.lock().map(|t| t.clone()).unwrap_or_default();
    report.elapsed = started.elapsed();
    report
}

fn known_error(name: &str) -> bool {
    ErrorCode::ALL.iter().any(|c| c.as_str() == name)
}

fn send_case(client: &mut Client, case: &Case, report: &mut HostileReport) {
    report.cases += 1;
    *report.by_kind.entry(case.kind).or_default() += 1;
    let headers = match headers_for(client, case) {
        Ok(h) => h,
        Err(e) => {
            report
                .failures
                .push(format!("{}: could not build: {e}", case.kind));
            return;
        }
    };
    let reply = match client.send(&headers, &case.body) {
        Ok(r) => r,
        Err(e) => {
            *report.by_status.entry(0).or_default() += 1;
            report.failures.push(format!(
                "{}: no answer ({e}) to target {:?}, body {:?}",
                case.kind,
                case.target,
                preview(&case.body)
            ));
            return;
        }
    };
    *report.by_status.entry(reply.status).or_default() += 1;
    let error = reply.error_type();
    if let Some(e) = &error {
        *report.by_error.entry(e.clone()).or_default() += 1;
    }
    let fail = |why: &str| {
        format!(
            "{}: {why}: {} {} for target {:?}, body {:?}",
            case.kind,
            reply.status,
            String::from_utf8_lossy(&reply.body),
            case.target,
            preview(&case.body)
        )
    };
    if reply.status >= 500 {
        report.failures.push(fail("server error"));
        return;
    }
    if reply.status != 200 {
        if !(400..500).contains(&reply.status) {
            report.failures.push(fail("unexpected status"));
        } else if !error.as_deref().is_some_and(known_error) {
            report
                .failures
                .push(fail("error without an AWS error name"));
        }
    }
    match case.expect {
        Expect::AnyAnswer => {}
        Expect::Refused if reply.status == 200 => report.failures.push(fail("accepted")),
        Expect::Refused => {}
        Expect::Error(name) if error.as_deref() != Some(name) => {
            report.failures.push(fail(&format!("expected {name}")));
        }
        Expect::Error(_) => {}
    }
}

fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(160)]).into_owned();
    if body.len() > 160 {
        format!("{text}... ({} bytes)", body.len())
    } else {
        text
    }
}

fn headers_for(client: &Client, case: &Case) -> std::io::Result<Vec<(String, String)>> {
    let base = |target: &str| -> Vec<(String, String)> {
        vec![
            ("host".into(), client.addr().to_string()),
            ("content-type".into(), "application/x-amz-json-1.1".into()),
            ("x-amz-target".into(), target.to_owned()),
        ]
    };
    match &case.auth {
        Auth::Signed => client.signed_headers(&case.target, &case.body, now()),
        Auth::None => Ok(base(&case.target)),
        Auth::Replace(extra) => {
            let mut h = base(&case.target);
            h.extend(extra.iter().cloned());
            Ok(h)
        }
        Auth::Extra(extra) => {
            let mut h = client.signed_headers(&case.target, &case.body, now())?;
            h.extend(extra.iter().cloned());
            Ok(h)
        }
        Auth::Skew(seconds) => client.signed_headers(
            &case.target,
            &case.body,
            now() + time::Duration::seconds(*seconds),
        ),
        Auth::Credentials(other) => {
            let signer = Client::new(client.addr(), other.clone(), crate::process::REGION)?;
            signer.signed_headers(&case.target, &case.body, now())
        }
    }
}

// ------------------------------------------------------------- generators

/// Operations the generators aim at. CreateKey, DisableKey and
/// ScheduleKeyDeletion are left out: their valid forms would pile up keys
/// or take the fixture key out of service.
const OPS: &[&str] = &[
    "DescribeKey",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "PutKeyPolicy",
    "GetKeyPolicy",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "ListKeys",
    "EnableKeyRotation",
    "ListKeyRotations",
    "UpdateKeyDescription",
];

/// Operations whose valid requests change nothing important (so random
/// mutations of them are safe to send many times).
fn valid_body(op: &str, f: &Fixtures, rng: &mut Rng) -> Value {
    let key = f.key_id.clone();
    match op {
        "Encrypt" => {
            json!({"KeyId": key, "Plaintext": b64(&rng.bytes(16)), "EncryptionContext": {"a": "b"}})
        }
        "Decrypt" => json!({"CiphertextBlob": b64(&f.ciphertext)}),
        "ReEncrypt" => json!({"CiphertextBlob": b64(&f.ciphertext), "DestinationKeyId": key}),
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            json!({"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": {"k": "v"}})
        }
        "GenerateRandom" => json!({"NumberOfBytes": 32}),
        "TagResource" => json!({"KeyId": key, "Tags": [{"TagKey": "h", "TagValue": "v"}]}),
        "UntagResource" => json!({"KeyId": key, "TagKeys": ["nope"]}),
        "PutKeyPolicy" => {
            json!({"KeyId": key, "PolicyName": "default", "Policy": trent_core::policy::default_key_policy(crate::process::ACCOUNT_ID)})
        }
        "GetKeyPolicy" => json!({"KeyId": key, "PolicyName": "default"}),
        "CreateAlias" | "UpdateAlias" => json!({"AliasName": "alias/hostile", "TargetKeyId": key}),
        "DeleteAlias" => json!({"AliasName": "alias/hostile-absent"}),
        "ListKeys" | "ListAliases" => json!({"Limit": 10}),
        "EnableKeyRotation" => json!({"KeyId": key, "RotationPeriodInDays": 365}),
        "UpdateKeyDescription" => json!({"KeyId": key, "Description": "hostile"}),
        // CreateKey is mutated only into invalid forms (see `mutate`).
        _ => json!({"KeyId": key}),
    }
}

fn generate(rng: &mut Rng, f: &Fixtures, credentials: &Credentials) -> Case {
    let op = OPS[rng.index(OPS.len())];
    let target = format!("TrentService.{op}");
    let signed = |kind, body: Vec<u8>, expect| Case {
        kind,
        target: target.clone(),
        body,
        auth: Auth::Signed,
        expect,
    };
    let valid = valid_body(op, f, rng);
    match rng.below(16) {
        0 => {
            // Truncated: a valid body cut short.
            let text = valid.to_string().into_bytes();
            let cut = 1 + rng.index(text.len().saturating_sub(1).max(1));
            signed("truncated-body", text[..cut].to_vec(), Expect::Refused)
        }
        1 => {
            let (body, expect) = garbage_json(rng);
            signed("invalid-json", body, expect)
        }
        2 => {
            let (body, expect) = wrong_type(rng, &valid);
            signed("wrong-type", body, expect)
        }
        3 => signed("huge-number", huge_number(rng, op), Expect::AnyAnswer),
        4 => deep_nesting(rng),
        5 => bad_base64(rng, f),
        6 => Case {
            kind: "unknown-target",
            target: unknown_target(rng),
            body: b"{}".to_vec(),
            auth: Auth::Signed,
            expect: Expect::Refused,
        },
        7 | 8 => sigv4_abuse(
            rng,
            target.clone(),
            valid.to_string().into_bytes(),
            credentials,
        ),
        9 | 10 => damaged_ciphertext(rng, f),
        11 => odd_unicode_context(rng, f),
        12 => {
            // Oversized: just over the 1 MiB limit, or far over.
            let size = crate_max_body() + 1 + rng.index(64 * 1024);
            signed(
                "oversized-body",
                vec![b' '; size],
                Expect::Error("RequestEntityTooLargeException"),
            )
        }
        13 => signed(
            "mutated-json",
            mutate_bytes(rng, valid.to_string().into_bytes()),
            Expect::AnyAnswer,
        ),
        14 => signed(
            "unknown-fields",
            extra_fields(rng, &valid).to_string().into_bytes(),
            Expect::AnyAnswer,
        ),
        _ => signed("empty-or-whitespace", whitespace(rng), Expect::AnyAnswer),
    }
}

fn crate_max_body() -> usize {
    trent_server::http::MAX_BODY_BYTES
}

/// Broken JSON (refused), or random bytes and JSON-ish text (which can by
/// chance be valid, so any answer).
fn garbage_json(rng: &mut Rng) -> (Vec<u8>, Expect) {
    const SAMPLES: &[&str] = &[
        "{",
        "}",
        "[",
        "{\"KeyId\":",
        "{\"KeyId\" \"x\"}",
        "{'KeyId': 'x'}",
        "{\"a\":1,}",
        "nul",
        "tru",
        "\"unterminated",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\x41\"}",
        "{\"a\":01}",
        "{\"a\":1}{\"b\":2}",
        "{\"a\":NaN}",
        "{\"a\":Infinity}",
        "\u{feff}{}",
        "{} trailing",
        "{\"a\":[1,2,]}",
        "[]",
        "\"string\"",
        "12345",
        "null",
        "true",
    ];
    match rng.below(3) {
        0 => (
            SAMPLES[rng.index(SAMPLES.len())].as_bytes().to_vec(),
            Expect::Refused,
        ),
        1 => {
            let n = 1 + rng.index(200);
            (rng.bytes(n), Expect::AnyAnswer)
        }
        _ => {
            let n = 1 + rng.index(100);
            const ALPHABET: &[u8] = b"{}[]:,\"\\0123456789.eE+-truefalsnul ";
            let text = (0..n)
                .map(|_| ALPHABET[rng.index(ALPHABET.len())])
                .collect();
            (text, Expect::AnyAnswer)
        }
    }
}

fn wrong_type(rng: &mut Rng, valid: &Value) -> (Vec<u8>, Expect) {
    let replacements = [
        json!(42),
        json!(-1.5),
        json!(true),
        json!(null),
        json!([1, 2, 3]),
        json!({"nested": "object"}),
        json!(["a"]),
        json!(""),
    ];
    let mut body = valid.clone();
    let field = match body.as_object().and_then(|o| {
        let keys: Vec<&String> = o.keys().collect();
        (!keys.is_empty()).then(|| keys[rng.index(keys.len())].clone())
    }) {
        Some(f) => f,
        None => "KeyId".into(),
    };
    let replacement = replacements[rng.index(replacements.len())].clone();
    // Null is "absent", valid for optional fields; a value of the field's own
    // JSON type may be valid too. Any other type must be refused.
    let same_kind = std::mem::discriminant(&body[&field]) == std::mem::discriminant(&replacement);
    let expect = if replacement.is_null() || same_kind || !body.is_object() {
        Expect::AnyAnswer
    } else {
        Expect::Refused
    };
    body[&field] = replacement;
    (body.to_string().into_bytes(), expect)
}

fn huge_number(rng: &mut Rng, op: &str) -> Vec<u8> {
    const NUMBERS: &[&str] = &[
        "1e400",
        "-1e400",
        "99999999999999999999999999999",
        "-99999999999999999999",
        "18446744073709551616",
        "9223372036854775808",
        "-9223372036854775809",
        "1.7976931348623157e309",
        "4294967296",
        "2147483648",
        "0.0000000000000000000001",
        "-0",
        "1E+99999",
        "123456789012345678901234567890123456789012345678901234567890",
    ];
    let n = NUMBERS[rng.index(NUMBERS.len())];
    let field = match op {
        "GenerateRandom" | "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => "NumberOfBytes",
        "EnableKeyRotation" => "RotationPeriodInDays",
        _ => "Limit",
    };
    format!("{{\"{field}\": {n}, \"KeyId\": \"alias/none\"}}").into_bytes()
}

/// Nesting 100 to 100 000 deep: as the body (refused: not an object), in
/// an unknown member (skipped without recursion, so any answer), or in
/// Encrypt's `EncryptionContext` (refused: not a string map).
fn deep_nesting(rng: &mut Rng) -> Case {
    let depth = 100 + rng.index(100_000);
    let (open, close, target, expect) = match rng.below(3) {
        0 => ("[", "]", "TrentService.Encrypt", Expect::Refused),
        1 => ("{\"a\":", "}", "TrentService.ListKeys", Expect::AnyAnswer),
        _ => (
            "{\"EncryptionContext\":{\"a\":",
            "}}",
            "TrentService.Encrypt",
            Expect::Refused,
        ),
    };
    let mut s = String::with_capacity(depth * (open.len() + close.len()));
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push('1');
    for _ in 0..depth {
        s.push_str(close);
    }
    Case {
        kind: "deep-nesting",
        target: target.into(),
        body: s.into_bytes(),
        auth: Auth::Signed,
        expect,
    }
}

fn bad_base64(rng: &mut Rng, f: &Fixtures) -> Case {
    const BAD: &[&str] = &[
        "!!!!",
        "abc",
        "a===",
        "====",
        "YW Jj",
        "YWJj\n",
        "YWJ*",
        "Zg=",
        "Zm9v=",
        "\u{00e9}t\u{00e9}",
        "-_-_",
        "AAAA====",
        "A",
        "YWJjZA==YWJj",
    ];
    let bad = BAD[rng.index(BAD.len())];
    let (op, body) = match rng.below(3) {
        0 => ("Encrypt", json!({"KeyId": f.key_id, "Plaintext": bad})),
        1 => ("Decrypt", json!({"CiphertextBlob": bad})),
        _ => (
            "ReEncrypt",
            json!({"CiphertextBlob": bad, "DestinationKeyId": f.key_id}),
        ),
    };
    Case {
        kind: "invalid-base64",
        target: format!("TrentService.{op}"),
        body: body.to_string().into_bytes(),
        auth: Auth::Signed,
        expect: Expect::Refused,
    }
}

fn unknown_target(rng: &mut Rng) -> String {
    const TARGETS: &[&str] = &[
        "",
        "TrentService.",
        "TrentService.Nope",
        "TrentService.encrypt",
        "trentservice.Encrypt",
        "TrentService.Encrypt.Extra",
        "KMS.Encrypt",
        "TrentService.Encrypt ",
        "Encrypt",
        "TrentService.CreateGrant",
        "TrentService.ImportKeyMaterial",
        "TrentService.Sign",
        "TrentService.%45ncrypt",
        "TrentService.\u{e9}ncrypt",
    ];
    match rng.below(3) {
        0 => format!("TrentService.{}", "A".repeat(1 + rng.index(5000))),
        _ => TARGETS[rng.index(TARGETS.len())].to_owned(),
    }
}

fn sigv4_abuse(rng: &mut Rng, target: String, body: Vec<u8>, credentials: &Credentials) -> Case {
    let h = |pairs: &[(&str, String)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect()
    };
    let date = crate::client::now();
    let amz = trent_proto::sigv4::format_amz_date(date);
    let (kind, auth, expect) = match rng.below(14) {
        0 => ("sigv4-missing", Auth::None, Expect::Error("MissingAuthenticationTokenException")),
        1 => (
            "sigv4-garbage",
            Auth::Replace(h(&[
                ("x-amz-date", amz.clone()),
                ("authorization", garbage_authorization(rng)),
            ])),
            Expect::Refused,
        ),
        2 => (
            "sigv4-duplicate-authorization",
            Auth::Extra(h(&[("authorization", "AWS4-HMAC-SHA256 Credential=X/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=00".into())])),
            Expect::Refused,
        ),
        3 => (
            "sigv4-duplicate-date",
            Auth::Extra(h(&[("x-amz-date", amz.clone())])),
            Expect::Refused,
        ),
        4 => {
            let skew = [-86_400 * 365, -3600, -301, 301, 3600, 86_400 * 365 * 10][rng.index(6)];
            ("sigv4-clock-skew", Auth::Skew(skew), Expect::Error("InvalidSignatureException"))
        }
        5 => ("sigv4-small-skew", Auth::Skew(rng.below(240) as i64 - 120), Expect::AnyAnswer),
        6 => (
            "sigv4-wrong-secret",
            Auth::Credentials(Credentials {
                access_key_id: credentials.access_key_id.clone(),
                secret: "not-the-secret".into(),
            }),
            Expect::Error("InvalidSignatureException"),
        ),
        7 => (
            "sigv4-unknown-access-key",
            Auth::Credentials(Credentials {
                access_key_id: format!("AKIAUNKNOWN{}", rng.below(1000)),
                secret: "whatever".into(),
            }),
            Expect::Error("UnrecognizedClientException"),
        ),
        8 => (
            "sigv4-bad-date",
            Auth::Replace(h(&[
                ("x-amz-date", ["", "2026", "20261301T000000Z", "yesterday", "20260101T250000Z", "99999999T999999Z"][rng.index(6)].to_owned()),
                ("authorization", format!("AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature={}", credentials.access_key_id, "0".repeat(64))),
            ])),
            Expect::Refused,
        ),
        9 => (
            "sigv4-long-signed-headers",
            Auth::Replace(h(&[
                ("x-amz-date", amz.clone()),
                ("authorization", format!("AWS4-HMAC-SHA256 Credential={}/{}/us-east-1/kms/aws4_request, SignedHeaders={}, Signature={}", credentials.access_key_id, &amz[..8], vec!["x-h"; 1 + rng.index(3000)].join(";"), "a".repeat(64))),
            ])),
            Expect::Refused,
        ),
        10 => (
            "sigv4-wrong-scope",
            Auth::Replace(h(&[
                ("x-amz-date", amz.clone()),
                ("authorization", format!("AWS4-HMAC-SHA256 Credential={}/{}/{}/{}/aws4_request, SignedHeaders=host;x-amz-date, Signature={}", credentials.access_key_id, &amz[..8], ["eu-west-1", "", "us-east-1"][rng.index(3)], ["s3", "kms", ""][rng.index(3)], "f".repeat(64))),
            ])),
            Expect::Refused,
        ),
        11 => {
            let len = 1 + rng.index(40_000);
            let expect = if len > trent_proto::sigv4::MAX_SECURITY_TOKEN_LEN {
                Expect::Refused
            } else {
                Expect::AnyAnswer
            };
            let token = h(&[("x-amz-security-token", "T".repeat(len))]);
            ("sigv4-huge-token", Auth::Extra(token), expect)
        }
        12 => (
            "sigv4-content-sha256-mismatch",
            Auth::Extra(h(&[("x-amz-content-sha256", "0".repeat(64))])),
            // Unsigned, so ignored: the request is valid.
            Expect::AnyAnswer,
        ),
        _ => (
            "sigv4-non-ascii",
            Auth::Replace(h(&[
                ("x-amz-date", amz.clone()),
                ("authorization", format!("AWS4-HMAC-SHA256 Credential=\u{00c5}KID/{}/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature={}", &amz[..8], "0".repeat(64))),
            ])),
            Expect::Refused,
        ),
    };
    Case {
        kind,
        target,
        body,
        auth,
        expect,
    }
}

fn garbage_authorization(rng: &mut Rng) -> String {
    const SAMPLES: &[&str] = &[
        "",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA1 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f/g, SignedHeaders=host;x-amz-date, Signature=zz",
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kms/aws4_request,SignedHeaders=host;x-amz-date,Signature=",
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Credential=AKID/20260101/us-east-1/kms/aws4_request, Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kms/aws4_request, Credential=AKID/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        "Basic dXNlcjpwYXNz",
        "Bearer abc",
    ];
    match rng.below(3) {
        0 => (0..1 + rng.index(9000))
            .map(|_| char::from(0x20 + rng.below(0x5f) as u8))
            .collect(),
        _ => SAMPLES[rng.index(SAMPLES.len())].to_owned(),
    }
}

fn damaged_ciphertext(rng: &mut Rng, f: &Fixtures) -> Case {
    let mut blob = f.ciphertext.clone();
    let kind = match rng.below(4) {
        0 => {
            let i = rng.index(blob.len());
            blob[i] ^= 1 << rng.below(8);
            "ciphertext-bit-flip"
        }
        1 => {
            let i = rng.index(blob.len());
            blob[i] = blob[i].wrapping_add(1 + rng.below(255) as u8);
            "ciphertext-byte-change"
        }
        2 => {
            blob.truncate(rng.index(blob.len()));
            "ciphertext-truncated"
        }
        _ => {
            let n = 1 + rng.index(7000);
            blob.extend(rng.bytes(n));
            "ciphertext-extended"
        }
    };
    let op = if rng.chance(0.5) {
        "Decrypt"
    } else {
        "ReEncrypt"
    };
    let body = json!({"CiphertextBlob": b64(&blob), "DestinationKeyId": f.key_id});
    // An empty blob breaks the API's length constraint, which is a
    // ValidationException; over 6144 bytes too.
    // A changed key id (bytes 1..17) names another key: NotFoundException
    // today (see `every_bit_flipped`).
    let other_key = blob.len() > 17 && blob[1..17] != f.ciphertext[1..17];
    let expect = if blob.is_empty() || blob.len() > 6144 || other_key {
        Expect::Refused
    } else {
        Expect::Error("InvalidCiphertextException")
    };
    Case {
        kind,
        target: format!("TrentService.{op}"),
        body: body.to_string().into_bytes(),
        auth: Auth::Signed,
        expect,
    }
}

fn odd_unicode_context(rng: &mut Rng, f: &Fixtures) -> Case {
    const ODD: &[&str] = &[
        "\u{0}",
        "\u{202e}gnp.exe",
        "\u{1F600}\u{1F4A9}",
        "e\u{301}",
        "\u{e9}",
        "\u{fffd}",
        "\u{feff}",
        "\u{10ffff}",
        "\u{200b}",
        "\u{ffff}",
        "\\",
        "\"",
        "a\nb",
        "\t\r",
        "\u{d7ff}",
        "\u{e000}",
        "\u{1d11e}",
        "\u{0085}",
    ];
    let mut context = serde_json::Map::new();
    for _ in 0..1 + rng.index(4) {
        let k = ODD[rng.index(ODD.len())].to_owned() + &rng.below(100).to_string();
        context.insert(k, json!(ODD[rng.index(ODD.len())]));
    }
    match rng.below(3) {
        // Valid Unicode: Encrypt may succeed.
        0 => Case {
            kind: "odd-unicode-context",
            target: "TrentService.Encrypt".into(),
            body: json!({"KeyId": f.key_id, "Plaintext": b64(b"x"), "EncryptionContext": context})
                .to_string()
                .into_bytes(),
            auth: Auth::Signed,
            expect: Expect::AnyAnswer,
        },
        // The fixture was sealed with an empty context: a different one
        // must not open it.
        1 => Case {
            kind: "odd-unicode-wrong-context",
            target: "TrentService.Decrypt".into(),
            body: json!({"CiphertextBlob": b64(&f.ciphertext), "EncryptionContext": context})
                .to_string()
                .into_bytes(),
            auth: Auth::Signed,
            expect: Expect::Error("InvalidCiphertextException"),
        },
        // Lone surrogates and invalid UTF-8 inside strings.
        _ => {
            let bad: &[u8] = [
                &b"{\"KeyId\":\"k\",\"EncryptionContext\":{\"\\ud800\":\"x\"}}"[..],
                b"{\"KeyId\":\"k\",\"EncryptionContext\":{\"a\":\"\\udfff\"}}",
                b"{\"KeyId\":\"k\",\"EncryptionContext\":{\"\xff\xfe\":\"x\"}}",
                b"{\"KeyId\":\"k\",\"EncryptionContext\":{\"a\":\"\xc0\xaf\"}}",
                b"{\"KeyId\":\"k\",\"EncryptionContext\":{\"a\":\"\xed\xa0\x80\"}}",
            ][rng.index(5)];
            Case {
                kind: "invalid-unicode-context",
                target: "TrentService.Encrypt".into(),
                body: bad.to_vec(),
                auth: Auth::Signed,
                expect: Expect::Refused,
            }
        }
    }
}

fn mutate_bytes(rng: &mut Rng, mut body: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.index(4) {
        if body.is_empty() {
            break;
        }
        let i = rng.index(body.len());
        match rng.below(3) {
            0 => body[i] = rng.below(256) as u8,
            1 => {
                body.remove(i);
            }
            _ => body.insert(i, rng.below(256) as u8),
        }
    }
    body
}

fn extra_fields(rng: &mut Rng, valid: &Value) -> Value {
    let mut body = valid.clone();
    if let Some(o) = body.as_object_mut() {
        for i in 0..1 + rng.index(50) {
            o.insert(format!("Unknown{i}"), json!({"deep": [1, {"x": "y"}]}));
        }
    }
    body
}

fn whitespace(rng: &mut Rng) -> Vec<u8> {
    (0..rng.index(100))
        .map(|_| b" \t\r\n"[rng.index(4)])
        .collect()
}

// -------------------------------------------------------- transport abuse

/// Flips every bit of the fixture ciphertext, one at a time, and also
/// truncates it at every length: each must be `InvalidCiphertextException`
/// (or `ValidationException` for an empty blob). Returns the failures.
pub fn every_bit_flipped(client: &mut Client, fixtures: &Fixtures) -> (u64, Vec<String>) {
    let blob = &fixtures.ciphertext;
    let mut variants: Vec<Vec<u8>> = Vec::new();
    for i in 0..blob.len() {
        for bit in 0..8 {
            let mut b = blob.clone();
            b[i] ^= 1 << bit;
            variants.push(b);
        }
        variants.push(blob[..i].to_vec());
    }
    variants.push([&blob[..], b"\0"].concat());
    let mut failures = Vec::new();
    for v in &variants {
        let body = json!({"CiphertextBlob": b64(v)});
        match client.call("Decrypt", &body) {
            Ok(_) => failures.push(format!(
                "a damaged ciphertext decrypted ({} bytes)",
                v.len()
            )),
            Err(e) => {
                let expected = if v.is_empty() {
                    "ValidationException"
                } else {
                    "InvalidCiphertextException"
                };
                // Known divergence (docs/RELIABILITY.md): a changed key id
                // names another key, which Trent reports as not found.
                let names_other_key = v.len() == blob.len()
                    && v[1..17] != blob[1..17]
                    && e.error_type() == Some("NotFoundException");
                if e.error_type() != Some(expected) && !names_other_key {
                    failures.push(format!("damaged ciphertext ({} bytes): {e}", v.len()));
                }
            }
        }
    }
    (variants.len() as u64, failures)
}

/// Result of one transport-abuse check.
#[derive(Debug, Clone)]
pub struct TransportOutcome {
    /// What was tried.
    pub name: &'static str,
    /// How the server ended it, and how long it took.
    pub detail: String,
    /// Whether the rule held.
    pub ok: bool,
}

/// Reads until the server closes or `limit` passes; returns what arrived
/// and whether it closed.
fn read_until_close(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

fn status_of(raw: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(raw.get(..raw.len().min(64))?).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Sends the bytes of a request head slowly (one byte every `interval`),
/// never finishing; the server must close the connection within `limit`.
pub fn slow_headers(addr: SocketAddr, interval: Duration, limit: Duration) -> TransportOutcome {
    let started = Instant::now();
    let head = b"POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: TrentService.ListKeys\r\nx-slow: ";
    let outcome = (|| -> std::io::Result<bool> {
        let mut s = TcpStream::connect(addr)?;
        s.set_write_timeout(Some(Duration::from_secs(1)))?;
        let bytes = head.iter().chain(std::iter::repeat(&b'a'));
        for b in bytes.take(100_000) {
            if started.elapsed() > limit {
                return Ok(false);
            }
            if s.write_all(&[*b]).is_err() {
                return Ok(true);
            }
            let (_, closed) = read_until_close(&mut s, interval);
            if closed {
                return Ok(true);
            }
        }
        Ok(false)
    })();
    let closed = outcome.unwrap_or(true);
    TransportOutcome {
        name: "slowloris-headers",
        detail: format!("closed={closed} after {:?}", started.elapsed()),
        ok: closed,
    }
}

/// Sends a complete head declaring a body, then the body one byte every
/// `interval`; the server must answer with an error or close within `limit`.
pub fn slow_body(client: &Client, interval: Duration, limit: Duration) -> TransportOutcome {
    let started = Instant::now();
    let body = vec![b' '; 10_000];
    let result = (|| -> std::io::Result<(bool, Option<u16>)> {
        let headers = client.signed_headers("TrentService.ListKeys", &body, now())?;
        let mut s = TcpStream::connect(client.addr())?;
        s.set_write_timeout(Some(Duration::from_secs(1)))?;
        let mut head = String::from("POST / HTTP/1.1\r\n");
        for (n, v) in &headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        s.write_all(head.as_bytes())?;
        for b in &body {
            if started.elapsed() > limit {
                return Ok((false, None));
            }
            if s.write_all(&[*b]).is_err() {
                break;
            }
            let (raw, closed) = read_until_close(&mut s, interval);
            if closed || !raw.is_empty() {
                return Ok((true, status_of(&raw)));
            }
        }
        let (raw, closed) = read_until_close(&mut s, Duration::from_secs(1));
        Ok((closed || !raw.is_empty(), status_of(&raw)))
    })();
    let (ended, status) = result.unwrap_or((true, None));
    TransportOutcome {
        name: "slowloris-body",
        detail: format!(
            "ended={ended} status={status:?} after {:?}",
            started.elapsed()
        ),
        ok: ended && status.is_none_or(|s| (400..500).contains(&s)),
    }
}

/// Declares a longer body than it sends, then goes quiet; the server must
/// answer with a 4xx or close within `limit`.
pub fn short_body(client: &Client, limit: Duration) -> TransportOutcome {
    let started = Instant::now();
    let body = b"{}";
    let result = (|| -> std::io::Result<(bool, Option<u16>)> {
        let headers = client.signed_headers("TrentService.ListKeys", body, now())?;
        let mut s = TcpStream::connect(client.addr())?;
        let mut head = String::from("POST / HTTP/1.1\r\n");
        for (n, v) in &headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("content-length: 5000\r\n\r\n{}");
        s.write_all(head.as_bytes())?;
        let (raw, closed) = read_until_close(&mut s, limit);
        Ok((closed || !raw.is_empty(), status_of(&raw)))
    })();
    let (ended, status) = result.unwrap_or((true, None));
    TransportOutcome {
        name: "lying-content-length",
        detail: format!(
            "ended={ended} status={status:?} after {:?}",
            started.elapsed()
        ),
        ok: ended && status.is_none_or(|s| (400..500).contains(&s)),
    }
}

/// Raw garbage and malformed HTTP on fresh connections: each must get a
/// 4xx or a closed connection, promptly.
pub fn garbage_requests(addr: SocketAddr, rng: &mut Rng, count: usize) -> Vec<TransportOutcome> {
    const SAMPLES: &[&[u8]] = &[
        b"GARBAGE\r\n\r\n",
        b"POST / HTTP/9.9\r\n\r\n",
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
        b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nZZZ\r\n",
        b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00garbage",
        b"POST / HTTP/1.1\r\nhost: x\r\nbad header without colon\r\n\r\n",
        b"POST /\x00 HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        b"GET /../../etc/passwd HTTP/1.1\r\nhost: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 99999999999999999999\r\n\r\n",
    ];
    let mut out = Vec::new();
    for i in 0..count {
        let started = Instant::now();
        let bytes: Vec<u8> = match SAMPLES.get(i) {
            Some(sample) => sample.to_vec(),
            None => {
                let n = 1 + rng.index(2000);
                rng.bytes(n)
            }
        };
        let result = (|| -> std::io::Result<(bool, Option<u16>)> {
            let mut s = TcpStream::connect(addr)?;
            s.write_all(&bytes)?;
            let (raw, closed) = read_until_close(&mut s, Duration::from_secs(15));
            Ok((closed || !raw.is_empty(), status_of(&raw)))
        })();
        let (ended, status) = result.unwrap_or((true, None));
        out.push(TransportOutcome {
            name: "garbage-bytes",
            detail: format!(
                "{:?}: ended={ended} status={status:?} after {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(40)]),
                started.elapsed()
            ),
            ok: ended && status.is_none_or(|s| (400..500).contains(&s)),
        });
    }
    out
}

/// Opens `count` connections that send nothing, checks that a normal
/// client is still served promptly, then closes them. Returns the
/// outcome and how many of the idle connections the server closed itself.
pub fn idle_connections(client: &mut Client, count: usize) -> TransportOutcome {
    let started = Instant::now();
    let mut idle = Vec::with_capacity(count);
    for _ in 0..count {
        match TcpStream::connect(client.addr()) {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    let opened = idle.len();
    let t = Instant::now();
    let served = client.call("ListKeys", &json!({"Limit": 1}));
    let latency = t.elapsed();
    drop(idle);
    TransportOutcome {
        name: "idle-connections",
        detail: format!(
            "{opened} idle connections; a normal request took {latency:?} ({}); total {:?}",
            served
                .as_ref()
                .map(|_| "ok".to_owned())
                .unwrap_or_else(|e| e.to_string()),
            started.elapsed()
        ),
        ok: served.is_ok() && latency < Duration::from_secs(5),
    }
}
