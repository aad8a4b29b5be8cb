//! SigV4 request verification: checks the `Authorization: AWS4-HMAC-SHA256 …`
//! header that every KMS client sends.
//!
//! This module owns three steps, and nothing else:
//! - [`parse`]: read `Authorization`, `X-Amz-Date` and `X-Amz-Security-Token`
//!   into an [`Authorization`], with structural checks only (no secret needed);
//! - [`derive_signing_key`]: the per-day, per-region, per-service HMAC key
//!   chain; a [`SigningKey`] is cheap to clone, so callers may cache it per
//!   (access key id, date, region, service);
//! - [`verify`]: scope, clock skew, canonical request, string to sign and a
//!   constant-time comparison.
//!
//! For clients (the benchmark harness, tests), [`sign`] produces the
//! `Authorization` header from the same canonical-request code, so the
//! signer and the verifier cannot drift apart.
//!
//! Looking up the secret for [`Authorization::access_key_id`], and turning a
//! [`SigV4Error`] into an HTTP response, belong to the caller. Errors carry
//! AWS's exception names ([`SigV4Error::aws_error_name`]) and messages close
//! to AWS's own; no message contains a secret or a computed signature.
//!
//! Hostile input is bounded: the `Authorization` header, the signed-headers
//! list and the session token have length limits checked before any parsing
//! work, and no step is worse than linear in its input except the
//! signed-header lookup (at most [`MAX_SIGNED_HEADERS`] × the request's
//! header count, which the HTTP server bounds).
//!
//! ```
//! use trent_proto::sigv4::{self, Header, Request};
//!
//! let headers = [
//!     Header { name: "Host", value: b"example.amazonaws.com" },
//!     Header { name: "X-Amz-Date", value: b"20150830T123600Z" },
//!     Header {
//!         name: "Authorization",
//!         value: b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
//!                  SignedHeaders=host;x-amz-date, \
//!                  Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
//!     },
//! ];
//! let req = Request { method: "POST", path: "/", query: "", headers: &headers, body: b"" };
//! let auth = sigv4::parse(&req)?;
//! // The caller finds the secret by `auth.access_key_id`.
//! let secret = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
//! let key = sigv4::derive_signing_key(secret, &auth.date, &auth.region, &auth.service);
//! let now = time::macros::datetime!(2015-08-30 12:36:00 UTC);
//! sigv4::verify(&req, &auth, &key, now, "us-east-1", "service")?;
//! # Ok::<(), sigv4::SigV4Error>(())
//! ```

use std::fmt;

use aws_lc_rs::{digest, hmac};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The only signing algorithm accepted.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The fifth element of every credential scope.
const TERMINATOR: &str = "aws4_request";
/// Longest `Authorization` header accepted, in bytes.
pub const MAX_AUTHORIZATION_LEN: usize = 8 * 1024;
/// Most headers a request may list in `SignedHeaders`.
pub const MAX_SIGNED_HEADERS: usize = 64;
/// Longest `SignedHeaders` parameter accepted, in bytes.
pub const MAX_SIGNED_HEADERS_LEN: usize = 4 * 1024;
/// Longest `X-Amz-Security-Token` accepted, in bytes (STS tokens are a few KiB).
pub const MAX_SECURITY_TOKEN_LEN: usize = 16 * 1024;
/// Longest access key id, region or service name in a credential scope.
const MAX_SCOPE_ELEMENT_LEN: usize = 128;
/// How far `X-Amz-Date` may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// One header as received (name in any case; a name may repeat).
///
/// For HTTP/2 requests, which carry `:authority` instead of `Host`, the
/// caller passes the authority as a `host` header: that is what clients sign.
#[derive(Clone, Copy)]
pub struct Header<'a> {
    /// Header name, in any case.
    pub name: &'a str,
    /// Header value, as received (may be non-UTF-8).
    pub value: &'a [u8],
}

impl fmt::Debug for Header<'_> {
    // Values are left out: `X-Amz-Security-Token` is a credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("name", &self.name)
            .field("value_len", &self.value.len())
            .finish()
    }
}

/// The parts of an HTTP request that SigV4 covers.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method, as received (`POST` for KMS).
    pub method: &'a str,
    /// Path as on the wire, still percent-encoded (`/` for KMS).
    pub path: &'a str,
    /// Query string as on the wire, without the `?` (empty for KMS).
    pub query: &'a str,
    /// Every header of the request, in the order received.
    pub headers: &'a [Header<'a>],
    /// The whole request body.
    pub body: &'a [u8],
}

impl fmt::Debug for Request<'_> {
    // The body is left out: for KMS it may hold plaintext.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/kms/aws4_request,
/// SignedHeaders=..., Signature=...` header, with its `X-Amz-Date` and
/// `X-Amz-Security-Token`.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id the client signed with.
    pub access_key_id: String,
    /// Credential scope date, `yyyymmdd`.
    pub date: String,
    /// Credential scope region.
    pub region: String,
    /// Credential scope service.
    pub service: String,
    /// Signed header names: lowercase, sorted, without duplicates.
    pub signed_headers: Vec<String>,
    /// The signature the client sent.
    pub signature: [u8; 32],
    /// The time in `X-Amz-Date`.
    pub amz_date: OffsetDateTime,
    /// `X-Amz-Security-Token`, sent with temporary credentials.
    pub security_token: Option<String>,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("access_key_id", &self.access_key_id)
            .field("date", &self.date)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &hex::encode(self.signature))
            .field("amz_date", &self.amz_date)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A SigV4 signing key (`kSigning`), derived for one date, region and service.
/// Wiped from memory on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// HMAC-SHA256 of `message` under this key.
    fn sign(&self, message: &[u8]) -> hmac::Tag {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.0), message)
    }
}

/// Why a request failed SigV4 verification. [`SigV4Error::aws_error_name`]
/// gives the AWS exception name; `Display` gives the message to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// The request has no `Authorization` header.
    #[error("Missing Authentication Token")]
    MissingAuthorization,
    /// A header that may appear once appears more than once.
    #[error("The request has more than one '{0}' header.")]
    DuplicateHeader(&'static str),
    /// A header is longer than this module accepts.
    #[error("The '{header}' header is longer than {limit} bytes.")]
    HeaderTooLong {
        /// Which header.
        header: &'static str,
        /// Its limit, in bytes.
        limit: usize,
    },
    /// `Authorization` does not start with `AWS4-HMAC-SHA256`.
    #[error("Unsupported AWS 'algorithm': only 'AWS4-HMAC-SHA256' is accepted.")]
    UnsupportedAlgorithm,
    /// `Authorization` is not of the form `AWS4-HMAC-SHA256 k=v, k=v, k=v`.
    #[error("{0}")]
    MalformedAuthorization(&'static str),
    /// `Credential`, `SignedHeaders` or `Signature` is missing.
    #[error("Authorization header requires '{0}' parameter.")]
    MissingParameter(&'static str),
    /// `Credential`, `SignedHeaders` or `Signature` appears twice.
    #[error("Authorization header has more than one '{0}' parameter.")]
    DuplicateParameter(&'static str),
    /// The `Credential` parameter is not `keyid/yyyymmdd/region/service/aws4_request`.
    #[error("{0}")]
    MalformedCredential(&'static str),
    /// The credential scope does not end in `aws4_request`.
    #[error("Credential should be scoped with a valid terminator: 'aws4_request'.")]
    BadTerminator,
    /// `SignedHeaders` has an empty, invalid or repeated name, or is not
    /// lowercase and sorted (for an [`Authorization`] built by hand).
    #[error("{0}")]
    MalformedSignedHeaders(&'static str),
    /// `SignedHeaders` has too many names or too many bytes.
    #[error(
        "SignedHeaders may list at most {MAX_SIGNED_HEADERS} headers in at most {MAX_SIGNED_HEADERS_LEN} bytes."
    )]
    SignedHeadersTooLong,
    /// `host` is not among the signed headers.
    #[error("'Host' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// `x-amz-date` is not among the signed headers.
    #[error("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")]
    DateNotSigned,
    /// `Signature` is not 64 hexadecimal digits.
    #[error("Authorization header 'Signature' parameter must be 64 hexadecimal characters.")]
    MalformedSignature,
    /// The request has no `X-Amz-Date` header (the `Date` header is not accepted).
    #[error("Authorization header requires existence of a 'X-Amz-Date' header.")]
    MissingDate,
    /// `X-Amz-Date` is not `yyyyMMddTHHmmssZ`.
    #[error("X-Amz-Date must be in the ISO8601 basic format 'yyyyMMddTHHmmssZ'.")]
    MalformedDate,
    /// `X-Amz-Security-Token` is empty or not printable ASCII.
    #[error("X-Amz-Security-Token must be non-empty printable ASCII.")]
    MalformedSecurityToken,
    /// A header named in `SignedHeaders` is not in the request.
    #[error("Header '{0}' is listed in SignedHeaders but is not present in the request.")]
    SignedHeaderAbsent(String),
    /// The credential scope names another region than this server's.
    #[error("Credential should be scoped to a valid region.")]
    WrongRegion {
        /// The region in the credential scope.
        found: String,
    },
    /// The credential scope names another service than this server's.
    #[error("Credential should be scoped to correct service: '{expected}'.")]
    WrongService {
        /// The service this server is.
        expected: String,
        /// The service in the credential scope.
        found: String,
    },
    /// The credential scope date is not the date of `X-Amz-Date`.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{}', from '{}'.",
        amz_day_string(.amz_date),
        amz_date_string(.amz_date)
    )]
    ScopeDateMismatch {
        /// The date in the credential scope.
        scope_date: String,
        /// The time in `X-Amz-Date`.
        amz_date: OffsetDateTime,
    },
    /// `X-Amz-Date` is more than [`MAX_CLOCK_SKEW`] before the server's clock.
    #[error(
        "Signature expired: {} is now earlier than {} ({} - 5 min.)",
        amz_date_string(.amz_date),
        amz_date_string(&.now.saturating_sub(MAX_CLOCK_SKEW)),
        amz_date_string(.now)
    )]
    Expired {
        /// The time in `X-Amz-Date`.
        amz_date: OffsetDateTime,
        /// The server's clock.
        now: OffsetDateTime,
    },
    /// `X-Amz-Date` is more than [`MAX_CLOCK_SKEW`] after the server's clock.
    #[error(
        "Signature not yet current: {} is still later than {} ({} + 5 min.)",
        amz_date_string(.amz_date),
        amz_date_string(&.now.saturating_add(MAX_CLOCK_SKEW)),
        amz_date_string(.now)
    )]
    NotYetCurrent {
        /// The time in `X-Amz-Date`.
        amz_date: OffsetDateTime,
        /// The server's clock.
        now: OffsetDateTime,
    },
    /// A signed `x-amz-content-sha256` header is not the SHA-256 of the body
    /// (this includes `UNSIGNED-PAYLOAD`, which KMS does not accept).
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// The signature is wrong: wrong secret, or a signed part of the request changed.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureMismatch,
}

impl SigV4Error {
    /// The AWS exception name for this error (`__type` in a KMS error response).
    pub fn aws_error_name(&self) -> &'static str {
        match self {
            Self::MissingAuthorization => "MissingAuthenticationTokenException",
            Self::DuplicateHeader(_)
            | Self::HeaderTooLong { .. }
            | Self::UnsupportedAlgorithm
            | Self::MalformedAuthorization(_)
            | Self::MissingParameter(_)
            | Self::DuplicateParameter(_)
            | Self::MalformedCredential(_)
            | Self::BadTerminator
            | Self::MalformedSignedHeaders(_)
            | Self::SignedHeadersTooLong
            | Self::HostNotSigned
            | Self::DateNotSigned
            | Self::MalformedSignature
            | Self::MissingDate
            | Self::MalformedDate
            | Self::MalformedSecurityToken
            | Self::SignedHeaderAbsent(_) => "IncompleteSignatureException",
            Self::WrongRegion { .. }
            | Self::WrongService { .. }
            | Self::ScopeDateMismatch { .. }
            | Self::Expired { .. }
            | Self::NotYetCurrent { .. }
            | Self::ContentSha256Mismatch
            | Self::SignatureMismatch => "InvalidSignatureException",
        }
    }
}

/// Parses `Authorization`, `X-Amz-Date` and `X-Amz-Security-Token`.
///
/// Structural checks only: the algorithm, the three parameters, a five-part
/// credential scope ending in `aws4_request`, a bounded signed-headers list
/// that includes `host` and `x-amz-date`, a 64-hex-digit signature and a
/// well-formed `X-Amz-Date`. Signed header names are returned lowercased and
/// sorted. Whether the scope, the time and the signature are right is
/// [`verify`]'s job.
pub fn parse(req: &Request<'_>) -> Result<Authorization, SigV4Error> {
    let header =
        single_header(req.headers, "Authorization")?.ok_or(SigV4Error::MissingAuthorization)?;
    let params = split_authorization(header)?;
    let scope = parse_credential(params.credential)?;
    let signed_headers = parse_signed_headers(params.signed_headers)?;
    let signature = parse_signature(params.signature)?;
    let amz_date = parse_amz_date(single_header(req.headers, "X-Amz-Date")?)?;
    let security_token = parse_security_token(single_header(req.headers, "X-Amz-Security-Token")?)?;
    Ok(Authorization {
        access_key_id: scope.access_key_id.to_owned(),
        date: scope.date.to_owned(),
        region: scope.region.to_owned(),
        service: scope.service.to_owned(),
        signed_headers,
        signature,
        amz_date,
        security_token,
    })
}

/// Derives `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
///
/// Intermediate keys are wiped where this code holds them; the HMAC tags
/// aws-lc-rs returns on the stack cannot be.
pub fn derive_signing_key(
    secret_access_key: &[u8],
    date: &str,
    region: &str,
    service: &str,
) -> SigningKey {
    let mut secret = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
    secret.extend_from_slice(b"AWS4");
    secret.extend_from_slice(secret_access_key);
    let mut key = Zeroizing::new([0u8; 32]);
    hmac_into(&secret, date.as_bytes(), &mut key);
    for part in [region, service, TERMINATOR] {
        let previous = key.clone();
        hmac_into(previous.as_ref(), part.as_bytes(), &mut key);
    }
    SigningKey(*key)
}

/// Writes HMAC-SHA256(`key`, `message`) into `out`.
fn hmac_into(key: &[u8], message: &[u8], out: &mut [u8; 32]) {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message);
    for (dst, src) in out.iter_mut().zip(tag.as_ref()) {
        *dst = *src;
    }
}

/// Verifies a parsed request against the signing key for its scope.
///
/// Checks, in order: the scope names `expected_region` and
/// `expected_service` and the date of `X-Amz-Date`; `X-Amz-Date` is within
/// [`MAX_CLOCK_SKEW`] of `now`; the signed-headers list is well formed and
/// includes `host` and `x-amz-date`; a signed `x-amz-content-sha256` equals
/// the body's SHA-256; every signed header is present; and finally the
/// signature, compared in constant time. The scope terminator was checked by
/// [`parse`].
///
/// The canonical request is rebuilt from the signed headers as received
/// (values trimmed, inner runs of spaces collapsed, repeats joined with `,`)
/// and the SHA-256 of `req.body`; the body hash is always computed here,
/// never taken from the client.
pub fn verify(
    req: &Request<'_>,
    auth: &Authorization,
    key: &SigningKey,
    now: OffsetDateTime,
    expected_region: &str,
    expected_service: &str,
) -> Result<(), SigV4Error> {
    check_scope(auth, expected_region, expected_service)?;
    check_clock(auth.amz_date, now)?;
    check_signed_headers(&auth.signed_headers)?;
    let payload_hash = hex::encode(digest::digest(&digest::SHA256, req.body));
    check_content_sha256(req.headers, &auth.signed_headers, &payload_hash)?;
    let canonical = canonical_request(req, &auth.signed_headers, &payload_hash)?;
    let expected = key.sign(string_to_sign(auth, &canonical).as_bytes());
    if bool::from(expected.as_ref().ct_eq(&auth.signature[..])) {
        Ok(())
    } else {
        Err(SigV4Error::SignatureMismatch)
    }
}

/// Signs a request as a client does; returns the `Authorization` header
/// value to add to it.
///
/// Every header in `req.headers` is signed, so pass exactly the headers to
/// sign and add unsigned ones (`user-agent`) afterwards: botocore signs
/// `content-type;host;x-amz-date;x-amz-target` (and
/// `x-amz-security-token` with temporary credentials); the Rust SDK adds
/// `content-length` and `x-amz-user-agent`. `host` and `x-amz-date` (see
/// [`format_amz_date`]) are required, and `key` must be derived for the day
/// of `x-amz-date`, `region` and `service`. The canonical request is built
/// by the code [`verify`] uses, so what this signs, `verify` accepts.
pub fn sign(
    req: &Request<'_>,
    access_key_id: &str,
    key: &SigningKey,
    region: &str,
    service: &str,
) -> Result<String, SigV4Error> {
    let amz_date = parse_amz_date(single_header(req.headers, "X-Amz-Date")?)?;
    let mut signed_headers: Vec<String> = req
        .headers
        .iter()
        .map(|h| h.name.to_ascii_lowercase())
        .collect();
    signed_headers.sort_unstable();
    signed_headers.dedup();
    check_signed_headers(&signed_headers)?;
    let payload_hash = hex::encode(digest::digest(&digest::SHA256, req.body));
    let auth = Authorization {
        access_key_id: access_key_id.to_owned(),
        date: amz_day_string(&amz_date),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers,
        signature: [0; 32],
        amz_date,
        security_token: None,
    };
    let canonical = canonical_request(req, &auth.signed_headers, &payload_hash)?;
    let signature = key.sign(string_to_sign(&auth, &canonical).as_bytes());
    Ok(format!(
        "{ALGORITHM} Credential={access_key_id}/{}/{region}/{service}/{TERMINATOR}, SignedHeaders={}, Signature={}",
        auth.date,
        auth.signed_headers.join(";"),
        hex::encode(signature)
    ))
}

/// The `X-Amz-Date` value of a time: `yyyyMMddTHHmmssZ`, in UTC.
pub fn format_amz_date(t: OffsetDateTime) -> String {
    amz_date_string(&t)
}

// ---------------------------------------------------------------- parsing

/// The three parameters of an `Authorization` header, unparsed.
struct AuthorizationParams<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

/// The five elements of a `Credential` parameter, the terminator checked.
struct CredentialScope<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

/// All values of the headers called `name`, in order received.
fn header_values<'h>(headers: &'h [Header<'h>], name: &'h str) -> impl Iterator<Item = &'h [u8]> {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// The value of a header that may appear at most once.
fn single_header<'h>(
    headers: &'h [Header<'h>],
    name: &'static str,
) -> Result<Option<&'h [u8]>, SigV4Error> {
    let mut values = header_values(headers, name);
    let first = values.next();
    match values.next() {
        Some(_) => Err(SigV4Error::DuplicateHeader(name)),
        None => Ok(first),
    }
}

/// Splits `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
fn split_authorization(value: &[u8]) -> Result<AuthorizationParams<'_>, SigV4Error> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(SigV4Error::HeaderTooLong {
            header: "Authorization",
            limit: MAX_AUTHORIZATION_LEN,
        });
    }
    let text = std::str::from_utf8(value)
        .map_err(|_| {
            SigV4Error::MalformedAuthorization("Authorization header is not valid UTF-8.")
        })?
        .trim_matches(is_space);
    let (algorithm, rest) = text.split_once(is_space).unwrap_or((text, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm);
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    let parts = rest
        .split(',')
        .map(|p| p.trim_matches(is_space))
        .filter(|p| !p.is_empty());
    for part in parts {
        let (key, value) = part
            .split_once('=')
            .ok_or(SigV4Error::MalformedAuthorization(
                "Authorization header parameters must be 'key=value' pairs separated by commas.",
            ))?;
        let (slot, name) = match key {
            "Credential" => (&mut credential, "Credential"),
            "SignedHeaders" => (&mut signed_headers, "SignedHeaders"),
            "Signature" => (&mut signature, "Signature"),
            _ => {
                return Err(SigV4Error::MalformedAuthorization(
                    "Authorization header has an unknown parameter.",
                ));
            }
        };
        if slot.replace(value).is_some() {
            return Err(SigV4Error::DuplicateParameter(name));
        }
    }
    Ok(AuthorizationParams {
        credential: credential.ok_or(SigV4Error::MissingParameter("Credential"))?,
        signed_headers: signed_headers.ok_or(SigV4Error::MissingParameter("SignedHeaders"))?,
        signature: signature.ok_or(SigV4Error::MissingParameter("Signature"))?,
    })
}

/// Optional whitespace inside the `Authorization` header.
fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Parses `AKID/yyyymmdd/region/service/aws4_request`.
fn parse_credential(value: &str) -> Result<CredentialScope<'_>, SigV4Error> {
    let mut parts = value.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some(terminator), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SigV4Error::MalformedCredential(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term.",
        ));
    };
    if !is_scope_element(access_key_id, |b| b.is_ascii_alphanumeric()) {
        return Err(SigV4Error::MalformedCredential(
            "Credential has a malformed access key id.",
        ));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::MalformedCredential(
            "Credential date must be 8 digits, yyyyMMdd.",
        ));
    }
    if !is_scope_element(region, is_name_byte) || !is_scope_element(service, is_name_byte) {
        return Err(SigV4Error::MalformedCredential(
            "Credential has a malformed region or service.",
        ));
    }
    if terminator != TERMINATOR {
        return Err(SigV4Error::BadTerminator);
    }
    Ok(CredentialScope {
        access_key_id,
        date,
        region,
        service,
    })
}

/// A non-empty, bounded credential-scope element made of `allowed` bytes.
fn is_scope_element(element: &str, allowed: fn(u8) -> bool) -> bool {
    !element.is_empty() && element.len() <= MAX_SCOPE_ELEMENT_LEN && element.bytes().all(allowed)
}

/// Bytes allowed in a region or service name.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

/// Parses `name;name;…` into lowercase, sorted, distinct names.
fn parse_signed_headers(raw: &str) -> Result<Vec<String>, SigV4Error> {
    if raw.len() > MAX_SIGNED_HEADERS_LEN {
        return Err(SigV4Error::SignedHeadersTooLong);
    }
    let mut names = Vec::new();
    for name in raw.split(';') {
        if names.len() == MAX_SIGNED_HEADERS {
            return Err(SigV4Error::SignedHeadersTooLong);
        }
        names.push(name.to_ascii_lowercase());
    }
    names.sort_unstable();
    if names.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(SigV4Error::MalformedSignedHeaders(
            "SignedHeaders lists a header more than once.",
        ));
    }
    check_signed_headers(&names)?;
    Ok(names)
}

/// Checks a signed-headers list: bounded, lowercase tokens, strictly
/// sorted, and including `host` and `x-amz-date`.
fn check_signed_headers(names: &[String]) -> Result<(), SigV4Error> {
    let total_len = names.iter().map(|n| n.len() + 1).sum::<usize>();
    if names.len() > MAX_SIGNED_HEADERS || total_len > MAX_SIGNED_HEADERS_LEN + 1 {
        return Err(SigV4Error::SignedHeadersTooLong);
    }
    if !names.iter().all(|n| is_lowercase_token(n)) {
        return Err(SigV4Error::MalformedSignedHeaders(
            "SignedHeaders must be non-empty header names separated by ';'.",
        ));
    }
    if !names.windows(2).all(|pair| pair[0] < pair[1]) {
        return Err(SigV4Error::MalformedSignedHeaders(
            "SignedHeaders must be sorted and distinct.",
        ));
    }
    if names.binary_search_by(|n| n.as_str().cmp("host")).is_err() {
        return Err(SigV4Error::HostNotSigned);
    }
    if names
        .binary_search_by(|n| n.as_str().cmp("x-amz-date"))
        .is_err()
    {
        return Err(SigV4Error::DateNotSigned);
    }
    Ok(())
}

/// A non-empty HTTP token (RFC 9110 `tchar`s) without uppercase letters.
fn is_lowercase_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

/// Parses the 64 hex digits of `Signature`.
fn parse_signature(raw: &str) -> Result<[u8; 32], SigV4Error> {
    let mut signature = [0u8; 32];
    if raw.len() != 64 || hex::decode_to_slice(raw, &mut signature).is_err() {
        return Err(SigV4Error::MalformedSignature);
    }
    Ok(signature)
}

/// Parses `X-Amz-Date: yyyyMMddTHHmmssZ`.
fn parse_amz_date(value: Option<&[u8]>) -> Result<OffsetDateTime, SigV4Error> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let value = value.ok_or(SigV4Error::MissingDate)?.trim_ascii();
    if value.len() != 16 || !value.iter().all(u8::is_ascii_alphanumeric) {
        return Err(SigV4Error::MalformedDate);
    }
    let text = std::str::from_utf8(value).map_err(|_| SigV4Error::MalformedDate)?;
    let parsed = PrimitiveDateTime::parse(text, format).map_err(|_| SigV4Error::MalformedDate)?;
    Ok(parsed.assume_utc())
}

/// Checks and copies `X-Amz-Security-Token`.
fn parse_security_token(value: Option<&[u8]>) -> Result<Option<String>, SigV4Error> {
    let Some(value) = value else { return Ok(None) };
    if value.len() > MAX_SECURITY_TOKEN_LEN {
        return Err(SigV4Error::HeaderTooLong {
            header: "X-Amz-Security-Token",
            limit: MAX_SECURITY_TOKEN_LEN,
        });
    }
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_graphic) {
        return Err(SigV4Error::MalformedSecurityToken);
    }
    Ok(Some(String::from_utf8_lossy(value).into_owned()))
}

/// `X-Amz-Date` format of a time, in UTC. Total: years outside 0..=9999
/// print with more digits or a sign rather than failing.
fn amz_date_string(t: &OffsetDateTime) -> String {
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(*t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The `yyyymmdd` part of [`amz_date_string`].
fn amz_day_string(t: &OffsetDateTime) -> String {
    let mut text = amz_date_string(t);
    text.truncate(text.find('T').unwrap_or(text.len()));
    text
}

// ------------------------------------------------------------ verification

/// Checks the credential scope against this server and `X-Amz-Date`.
fn check_scope(auth: &Authorization, region: &str, service: &str) -> Result<(), SigV4Error> {
    if auth.region != region {
        return Err(SigV4Error::WrongRegion {
            found: auth.region.clone(),
        });
    }
    if auth.service != service {
        return Err(SigV4Error::WrongService {
            expected: service.to_owned(),
            found: auth.service.clone(),
        });
    }
    if amz_day_string(&auth.amz_date) != auth.date {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: auth.date.clone(),
            amz_date: auth.amz_date,
        });
    }
    Ok(())
}

/// Checks that `amz_date` is within [`MAX_CLOCK_SKEW`] of `now`.
fn check_clock(amz_date: OffsetDateTime, now: OffsetDateTime) -> Result<(), SigV4Error> {
    let age = now - amz_date;
    if age > MAX_CLOCK_SKEW {
        Err(SigV4Error::Expired { amz_date, now })
    } else if age < -MAX_CLOCK_SKEW {
        Err(SigV4Error::NotYetCurrent { amz_date, now })
    } else {
        Ok(())
    }
}

/// A signed `x-amz-content-sha256` must be the body's hash (an unsigned one
/// is ignored: anyone could have changed it).
fn check_content_sha256(
    headers: &[Header<'_>],
    signed: &[String],
    payload_hash: &str,
) -> Result<(), SigV4Error> {
    const NAME: &str = "x-amz-content-sha256";
    if signed.iter().all(|n| n != NAME) {
        return Ok(());
    }
    let matches = |v: &[u8]| v.trim_ascii().eq_ignore_ascii_case(payload_hash.as_bytes());
    if header_values(headers, NAME).all(matches) {
        Ok(())
    } else {
        Err(SigV4Error::ContentSha256Mismatch)
    }
}

/// The SigV4 canonical request, as bytes (header values need not be UTF-8).
fn canonical_request(
    req: &Request<'_>,
    signed: &[String],
    payload_hash: &str,
) -> Result<Vec<u8>, SigV4Error> {
    let mut out = Vec::with_capacity(512);
    for line in [
        req.method,
        &canonical_uri(req.path),
        &canonical_query(req.query),
    ] {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    for name in signed {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        push_header_values(&mut out, req.headers, name)?;
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    Ok(out)
}

/// Appends every value of header `name`, each trimmed with inner runs of
/// spaces collapsed, joined with `,`; an absent header is an error.
fn push_header_values(
    out: &mut Vec<u8>,
    headers: &[Header<'_>],
    name: &str,
) -> Result<(), SigV4Error> {
    let mut found = false;
    for value in header_values(headers, name) {
        if found {
            out.push(b',');
        }
        found = true;
        let mut previous_space = false;
        for &b in value.trim_ascii() {
            if !(b == b' ' && previous_space) {
                out.push(b);
            }
            previous_space = b == b' ';
        }
    }
    if found {
        Ok(())
    } else {
        Err(SigV4Error::SignedHeaderAbsent(name.to_owned()))
    }
}

/// Canonical URI: dot segments and empty segments removed (RFC 3986, as the
/// AWS SDKs normalize), then every byte but unreserved ones and `/`
/// percent-encoded. The path arrives encoded, so `%` is encoded again: the
/// "double encoding" every AWS service except S3 expects.
fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for segment in &segments {
        out.push('/');
        push_uri_encoded(&mut out, segment.as_bytes());
    }
    let ends_in_dir = ["/", "/.", "/.."].iter().any(|end| path.ends_with(end));
    if out.is_empty() || ends_in_dir {
        out.push('/');
    }
    out
}

/// Canonical query string: each name and value decoded (`%XY`, and `+` as a
/// space, as the Rust SDK reads it), re-encoded, sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (reencode_query_part(name), reencode_query_part(value))
        })
        .collect();
    pairs.sort_unstable();
    let joined: Vec<String> = pairs.into_iter().map(|(n, v)| format!("{n}={v}")).collect();
    joined.join("&")
}

/// Percent-decodes one query name or value and encodes it canonically.
/// A `%` not followed by two hex digits stays a literal `%`.
fn reencode_query_part(part: &str) -> String {
    let mut decoded = Vec::with_capacity(part.len());
    let mut rest = part.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        rest = tail;
        match (first, tail) {
            (b'%', [high, low, after @ ..])
                if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() =>
            {
                decoded.push(hex_value(*high) << 4 | hex_value(*low));
                rest = after;
            }
            (b'+', _) => decoded.push(b' '),
            (byte, _) => decoded.push(byte),
        }
    }
    let mut out = String::with_capacity(decoded.len() * 3);
    push_uri_encoded(&mut out, &decoded);
    out
}

/// The value of an ASCII hex digit (0 for anything else).
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

/// Appends `bytes`, keeping `A-Z a-z 0-9 - _ . ~` and writing `%XY` for the rest.
fn push_uri_encoded(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// `AWS4-HMAC-SHA256\n<amz-date>\n<scope>\n<hex sha256(canonical request)>`.
fn string_to_sign(auth: &Authorization, canonical_request: &[u8]) -> String {
    let hash = digest::digest(&digest::SHA256, canonical_request);
    format!(
        "{ALGORITHM}\n{}\n{}/{}/{}/{TERMINATOR}\n{}",
        amz_date_string(&auth.amz_date),
        auth.date,
        auth.region,
        auth.service,
        hex::encode(hash)
    )
}

#[cfg(test)]
mod tests {
    //! The private canonical forms; public behaviour is tested in `tests/sigv4.rs`.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn derives_the_signing_key_from_aws_documentation() {
        // AWS's documented example of deriving a signing key (service iam).
        let key = derive_signing_key(
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key.0),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn canonical_uri_normalizes_and_double_encodes() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
            ("/example space/", "/example%20space/"),
            ("/\u{1234}", "/%E1%88%B4"),
            ("/%E1%88%B4", "/%25E1%2588%25B4"),
            ("/a+b=c", "/a%2Bb%3Dc"),
        ];
        for (path, canonical) in cases {
            assert_eq!(canonical_uri(path), canonical, "{path:?}");
        }
    }

    #[test]
    fn canonical_query_decodes_sorts_and_reencodes() {
        let cases = [
            ("", ""),
            ("&&", ""),
            ("Param2=value2&Param1=value1", "Param1=value1&Param2=value2"),
            ("Param1=value2&Param1=value1", "Param1=value1&Param1=value2"),
            ("b&a=", "a=&b="),
            ("%E1%88%B4=bar", "%E1%88%B4=bar"),
            ("\u{1234}=bar", "%E1%88%B4=bar"),
            ("a=%2f%2F&a=two+words", "a=%2F%2F&a=two%20words"),
            ("a=100%&b=%zz&c=%4", "a=100%25&b=%25zz&c=%254"),
            ("a=b=c", "a=b%3Dc"),
            ("~=-_.", "~=-_."),
        ];
        for (query, canonical) in cases {
            assert_eq!(canonical_query(query), canonical, "{query:?}");
        }
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let headers = [
            Header {
                name: "My-Header",
                value: b"  a   b  c  ",
            },
            Header {
                name: "Other",
                value: b"x",
            },
            Header {
                name: "my-header",
                value: b"\t\"q  r\"\t",
            },
            Header {
                name: "MY-HEADER",
                value: b"",
            },
            Header {
                name: "Bytes",
                value: b"\xff \xfe",
            },
        ];
        let mut out = Vec::new();
        push_header_values(&mut out, &headers, "my-header").unwrap();
        assert_eq!(out, b"a b c,\"q r\",");
        out.clear();
        push_header_values(&mut out, &headers, "bytes").unwrap();
        assert_eq!(out, b"\xff \xfe");
        let absent = push_header_values(&mut out, &headers, "absent");
        assert_eq!(absent, Err(SigV4Error::SignedHeaderAbsent("absent".into())));
    }

    #[test]
    fn canonical_request_matches_the_test_suite() {
        // get-header-value-trim, as published with the AWS SigV4 test suite.
        let headers = [
            Header {
                name: "Host",
                value: b"example.amazonaws.com",
            },
            Header {
                name: "My-Header1",
                value: b" value1",
            },
            Header {
                name: "My-Header2",
                value: b" \"a   b   c\"",
            },
            Header {
                name: "X-Amz-Date",
                value: b"20150830T123600Z",
            },
        ];
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let signed: Vec<String> = ["host", "my-header1", "my-header2", "x-amz-date"]
            .map(String::from)
            .to_vec();
        let empty_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let canonical = canonical_request(&req, &signed, empty_hash).unwrap();
        let expected = "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n\
                        x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n\
                        e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(String::from_utf8(canonical).unwrap(), expected);
    }

    /// A KMS request as `sign` takes it: `(name, value)` pairs to sign.
    fn signed_request(
        headers: &[(&str, &str)],
        body: &[u8],
        secret: &[u8],
    ) -> Vec<(String, Vec<u8>)> {
        let borrowed: Vec<Header<'_>> = headers
            .iter()
            .map(|(name, value)| Header {
                name,
                value: value.as_bytes(),
            })
            .collect();
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &borrowed,
            body,
        };
        let key = derive_signing_key(secret, "20261129", "eu-central-1", "kms");
        let authorization = sign(&req, "AKIATRENTEXAMPLE", &key, "eu-central-1", "kms").unwrap();
        let mut owned: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
            .collect();
        owned.push(("user-agent".into(), b"trent-bench (unsigned)".to_vec()));
        owned.push(("Authorization".into(), authorization.into_bytes()));
        owned
    }

    fn check_signed(
        headers: &[(String, Vec<u8>)],
        body: &[u8],
        secret: &[u8],
    ) -> Result<Authorization, SigV4Error> {
        let borrowed: Vec<Header<'_>> = headers
            .iter()
            .map(|(name, value)| Header { name, value })
            .collect();
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &borrowed,
            body,
        };
        let auth = parse(&req)?;
        let key = derive_signing_key(secret, &auth.date, &auth.region, &auth.service);
        let now = time::macros::datetime!(2026-11-29 11:20:00 UTC);
        verify(&req, &auth, &key, now, "eu-central-1", "kms")?;
        Ok(auth)
    }

    #[test]
    fn what_sign_signs_verify_accepts_botocore_style() {
        const SECRET: &[u8] = b"k3Ue/HSvzRZbm+EXAMPLE/SECRET/trent0123456";
        let body = br#"{"KeyId":"alias/test","Plaintext":"aGVsbG8="}"#;
        let headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Host", "127.0.0.1:4599"),
            ("X-Amz-Date", "20261129T111810Z"),
            ("X-Amz-Target", "TrentService.Encrypt"),
        ];
        let signed = signed_request(&headers, body, SECRET);
        let auth = check_signed(&signed, body, SECRET).unwrap();
        assert_eq!(
            auth.signed_headers,
            ["content-type", "host", "x-amz-date", "x-amz-target"]
        );
        let mut tampered = body.to_vec();
        tampered[3] ^= 0x20;
        assert_eq!(
            check_signed(&signed, &tampered, SECRET),
            Err(SigV4Error::SignatureMismatch)
        );
        assert_eq!(
            check_signed(&signed, body, b"another secret"),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    #[test]
    fn sign_matches_the_rust_sdk_signer() {
        use aws_credential_types::Credentials;
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;

        const SECRET: &str = "k3Ue/HSvzRZbm+EXAMPLE/SECRET/trent0123456";
        let body =
            br#"{"KeyId":"alias/test","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b  c"}}"#;
        let length = body.len().to_string();
        let headers = [
            ("host", "127.0.0.1:4599"),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "TrentService.Encrypt"),
            ("content-length", length.as_str()),
            (
                "x-amz-user-agent",
                "aws-sdk-rust/1.7.0 ua/2.1 api/kms/1.129.0",
            ),
        ];
        let identity = Credentials::new("AKIATRENTEXAMPLE", SECRET, None, None, "test").into();
        let now = time::macros::datetime!(2026-11-29 11:18:10 UTC);
        let seconds = u64::try_from(now.unix_timestamp()).unwrap();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-central-1")
            .name("kms")
            .time(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            "POST",
            "http://127.0.0.1:4599/",
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
            .unwrap()
            .into_parts();
        let sdk: Vec<(&str, &str)> = instructions.headers().collect();
        let sdk_header = |name: &str| {
            sdk.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        assert_eq!(
            sdk_header("x-amz-date"),
            Some(format_amz_date(now).as_str())
        );

        let mut ours = headers.to_vec();
        let date = format_amz_date(now);
        ours.push(("x-amz-date", date.as_str()));
        let signed = signed_request(&ours, body, SECRET.as_bytes());
        let authorization = signed
            .iter()
            .find(|(n, _)| n == "Authorization")
            .map(|(_, v)| v.clone())
            .unwrap();
        assert_eq!(
            Some(std::str::from_utf8(&authorization).unwrap()),
            sdk_header("authorization")
        );
        check_signed(&signed, body, SECRET.as_bytes()).unwrap();
    }

    #[test]
    fn sign_refuses_requests_without_host_or_date() {
        let key = derive_signing_key(b"secret", "20261129", "eu-central-1", "kms");
        let no_host = [Header {
            name: "X-Amz-Date",
            value: b"20261129T111810Z",
        }];
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &no_host,
            body: b"",
        };
        assert_eq!(
            sign(&req, "AKID", &key, "eu-central-1", "kms"),
            Err(SigV4Error::HostNotSigned)
        );
        let no_date = [Header {
            name: "Host",
            value: b"localhost",
        }];
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &no_date,
            body: b"",
        };
        assert_eq!(
            sign(&req, "AKID", &key, "eu-central-1", "kms"),
            Err(SigV4Error::MissingDate)
        );
    }

    #[test]
    fn amz_dates_round_trip() {
        let parsed = parse_amz_date(Some(b"20261129T102646Z")).unwrap();
        assert_eq!(parsed, time::macros::datetime!(2026-11-29 10:26:46 UTC));
        assert_eq!(amz_date_string(&parsed), "20261129T102646Z");
        assert_eq!(amz_day_string(&parsed), "20261129");
        let paris = time::macros::datetime!(2026-11-29 11:26:46 +01:00);
        assert_eq!(amz_date_string(&paris), "20261129T102646Z");
    }
}
