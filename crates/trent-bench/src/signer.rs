//! Building SigV4-signed KMS requests the way the AWS SDKs build them, with
//! [`trent_proto::sigv4::sign`]. Requests are signed one by one, as a real
//! client signs them; the signing key is derived once per day and the
//! `X-Amz-Date` text once per second, as the SDKs cache them.

use std::fmt;

use bytes::Bytes;
use http::{HeaderValue, Method, Request};
use http_body_util::Full;
use trent_proto::sigv4::{self, Header, SigV4Error, SigningKey};

/// An access key.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Reads the `[default]` profile of an AWS shared credentials file (what
    /// `trent serve` writes to `DIR/bootstrap-credentials`).
    pub fn from_credentials_file(text: &str) -> Option<Self> {
        let mut in_default = false;
        let (mut akid, mut secret) = (None, None);
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_default = line == "[default]";
            } else if in_default && let Some((name, value)) = line.split_once('=') {
                match name.trim() {
                    "aws_access_key_id" => akid = Some(value.trim().to_owned()),
                    "aws_secret_access_key" => secret = Some(value.trim().to_owned()),
                    _ => {}
                }
            }
        }
        Some(Self {
            access_key_id: akid?,
            secret_access_key: secret?,
        })
    }
}

/// Which headers a request signs, after the client it imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderStyle {
    /// botocore / AWS CLI: `content-type;host;x-amz-date;x-amz-target`.
    Botocore,
    /// The Rust SDK: also `content-length` and `x-amz-user-agent`.
    RustSdk,
}

/// Signs KMS requests for one endpoint.
pub struct Signer {
    credentials: Credentials,
    region: String,
    host: String,
    absolute_uri: String,
    style: HeaderStyle,
    key: Option<(String, SigningKey)>,
    date: (i64, String),
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("host", &self.host)
            .field("style", &self.style)
            .finish_non_exhaustive()
    }
}

impl Clone for Signer {
    fn clone(&self) -> Self {
        Self::new(
            self.credentials.clone(),
            &self.region,
            &self.host,
            self.style,
        )
    }
}

const JSON_1_1: &str = "application/x-amz-json-1.1";
const SDK_USER_AGENT: &str =
    "aws-sdk-rust/1.3.9 ua/2.1 api/kms/1.129.0 os/linux lang/rust/1.95.0 (trent-bench)";

impl Signer {
    /// A signer for requests to `host` (`ip:port`, as sent in `Host`).
    pub fn new(credentials: Credentials, region: &str, host: &str, style: HeaderStyle) -> Self {
        Self {
            credentials,
            region: region.to_owned(),
            host: host.to_owned(),
            absolute_uri: format!("http://{host}/"),
            style,
            key: None,
            date: (i64::MIN, String::new()),
        }
    }

    /// The current `X-Amz-Date`, and a signing key for its day.
    fn refresh(&mut self) -> (String, SigningKey) {
        let now = time::OffsetDateTime::now_utc();
        if now.unix_timestamp() != self.date.0 {
            self.date = (now.unix_timestamp(), sigv4::format_amz_date(now));
        }
        let day = &self.date.1[..8];
        let key = match &self.key {
            Some((d, key)) if d == day => key.clone(),
            _ => {
                let key = sigv4::derive_signing_key(
                    self.credentials.secret_access_key.as_bytes(),
                    day,
                    &self.region,
                    "kms",
                );
                self.key = Some((day.to_owned(), key.clone()));
                key
            }
        };
        (self.date.1.clone(), key)
    }

    /// A signed `POST /` calling `TrentService.<operation>` with `body`.
    /// With `absolute_uri` the request line carries `http://host/` (HTTP/2
    /// needs the authority); the signature is the same either way.
    pub fn request(
        &mut self,
        operation: &str,
        body: Bytes,
        absolute_uri: bool,
    ) -> Result<Request<Full<Bytes>>, SigV4Error> {
        let (date, key) = self.refresh();
        let target = format!("TrentService.{operation}");
        let length = body.len().to_string();
        let mut signed: Vec<(&str, &str)> = vec![
            ("content-type", JSON_1_1),
            ("host", &self.host),
            ("x-amz-date", &date),
            ("x-amz-target", &target),
        ];
        if self.style == HeaderStyle::RustSdk {
            signed.push(("content-length", &length));
            signed.push(("x-amz-user-agent", SDK_USER_AGENT));
        }
        let headers: Vec<Header<'_>> = signed
            .iter()
            .map(|(name, value)| Header {
                name,
                value: value.as_bytes(),
            })
            .collect();
        let to_sign = sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: &body,
        };
        let authorization = sigv4::sign(
            &to_sign,
            &self.credentials.access_key_id,
            &key,
            &self.region,
            "kms",
        )?;
        let uri = if absolute_uri {
            self.absolute_uri.as_str()
        } else {
            "/"
        };
        let mut builder = Request::builder().method(Method::POST).uri(uri);
        for (name, value) in &signed {
            builder = builder.header(*name, *value);
        }
        builder = builder
            .header(
                "user-agent",
                if self.style == HeaderStyle::RustSdk {
                    SDK_USER_AGENT
                } else {
                    "Boto3/1.40 trent-bench"
                },
            )
            .header(
                "authorization",
                HeaderValue::from_str(&authorization)
                    .map_err(|_| SigV4Error::UnsupportedAlgorithm)?,
            );
        builder
            .body(Full::new(body))
            .map_err(|_| SigV4Error::UnsupportedAlgorithm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_default_profile() {
        let text = "# comment\n[other]\naws_access_key_id = X\n[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s/e+cret\n";
        let creds = Credentials::from_credentials_file(text).unwrap();
        assert_eq!(creds.access_key_id, "AKIA1");
        assert_eq!(creds.secret_access_key, "s/e+cret");
        assert!(Credentials::from_credentials_file("[other]\naws_access_key_id = X\n").is_none());
    }

    #[test]
    fn signed_requests_verify() {
        let creds = Credentials {
            access_key_id: "AKIDBENCH".into(),
            secret_access_key: "secret-secret".into(),
        };
        for style in [HeaderStyle::Botocore, HeaderStyle::RustSdk] {
            let mut signer = Signer::new(creds.clone(), "us-east-1", "127.0.0.1:9", style);
            let body = Bytes::from_static(br#"{"KeyId":"alias/x","Plaintext":"AA=="}"#);
            let req = signer.request("Encrypt", body.clone(), false).unwrap();
            let headers: Vec<Header<'_>> = req
                .headers()
                .iter()
                .map(|(n, v)| Header {
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
            let auth = sigv4::parse(&view).unwrap();
            let key = sigv4::derive_signing_key(
                b"secret-secret",
                &auth.date,
                &auth.region,
                &auth.service,
            );
            sigv4::verify(
                &view,
                &auth,
                &key,
                time::OffsetDateTime::now_utc(),
                "us-east-1",
                "kms",
            )
            .unwrap();
            let expected = if style == HeaderStyle::RustSdk { 6 } else { 4 };
            assert_eq!(auth.signed_headers.len(), expected);
        }
    }
}
