//! A minimal HTTP/1.1 client over `std::net::TcpStream`, and hand-built
//! SigV4-signed KMS requests, for the protocol edges the SDK never produces
//! (bad JSON, wrong signatures, missing headers, oversized bodies).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use aws_sdk_kms::config::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use super::sdk::REGION;

/// How long a raw request may take before the test calls it a hang.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A parsed HTTP response.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl HttpResponse {
    /// First header called `name`, compared case-insensitively.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => panic!("body is not JSON ({e}): {:?}", self.body_text()),
        }
    }

    /// The AWS error name from `__type`, without any `namespace#` prefix.
    #[track_caller]
    pub(crate) fn error_type(&self) -> String {
        let json = self.json();
        let Some(ty) = json.get("__type").and_then(|t| t.as_str()) else {
            panic!("error body has no string __type: {json}");
        };
        ty.rsplit('#').next().unwrap_or(ty).to_owned()
    }

    /// The error's `message` member.
    #[track_caller]
    pub(crate) fn error_message(&self) -> String {
        let json = self.json();
        match json.get("message").and_then(|m| m.as_str()) {
            Some(m) => m.to_owned(),
            None => panic!("error body has no string `message`: {json}"),
        }
    }
}

/// How a hand-built KMS request authenticates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KmsAuth<'a> {
    /// No Authorization header at all.
    None,
    /// SigV4 with these credentials, signed as of `time`.
    SigV4 {
        akid: &'a str,
        secret: &'a str,
        time: SystemTime,
    },
}

/// POSTs `body` to KMS operation `target` (e.g. `TrentService.GenerateRandom`)
/// at `addr` (`host:port`).
pub(crate) fn kms_request(
    addr: &str,
    target: &str,
    body: &[u8],
    auth: KmsAuth<'_>,
) -> io::Result<HttpResponse> {
    let mut headers = vec![
        ("host".to_owned(), addr.to_owned()),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        ("x-amz-target".to_owned(), target.to_owned()),
    ];
    if let KmsAuth::SigV4 { akid, secret, time } = auth {
        headers.extend(sigv4_headers(addr, &headers, body, akid, secret, time));
    }
    send_raw(addr, "POST", "/", &headers, body)
}

/// The headers (`authorization`, `x-amz-date`) that SigV4-sign a POST to `/`.
pub(crate) fn sigv4_headers(
    addr: &str,
    headers: &[(String, String)],
    body: &[u8],
    akid: &str,
    secret: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    let scope = SigningScope {
        region: REGION,
        service: "kms",
    };
    sigv4_headers_scoped(addr, headers, body, akid, secret, time, scope)
}

/// The region and service a signature's credential scope names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SigningScope<'a> {
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
}

/// Like [`sigv4_headers`], with an explicit credential scope.
pub(crate) fn sigv4_headers_scoped(
    addr: &str,
    headers: &[(String, String)],
    body: &[u8],
    akid: &str,
    secret: &str,
    time: SystemTime,
    scope: SigningScope<'_>,
) -> Vec<(String, String)> {
    let identity = Credentials::new(akid, secret, None, None, "trent-it").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let uri = format!("http://{addr}/");
    let signable = SignableRequest::new(
        "POST",
        uri,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .expect("signable request");
    let (instructions, _signature) = sign(signable, &params).expect("sign").into_parts();
    instructions
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// Sends one HTTP/1.1 request on a fresh connection and reads the response.
///
/// If the server stops reading the body early (say, because it is too large)
/// the write fails; whatever response the server already sent is still read.
pub(crate) fn send_raw(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;

    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let written = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .and_then(|()| stream.flush());

    let mut raw = Vec::new();
    let read = read_until_closed(&mut stream, &mut raw);
    if let Some(response) = parse_response(&raw) {
        return Ok(response);
    }
    written?;
    read?;
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unparseable response: {:?}", String::from_utf8_lossy(&raw)),
    ))
}

/// Reads until EOF, keeping what arrived even if the read then fails.
fn read_until_closed(stream: &mut TcpStream, raw: &mut Vec<u8>) -> io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Parses a complete response; `None` if `raw` holds no full response head.
fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &raw[head_end + 4..];
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(len) = length {
        rest.get(..len)?.to_vec()
    } else {
        rest.to_vec()
    };
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Decodes a chunked transfer-encoded body.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size_hex = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_hex, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}
