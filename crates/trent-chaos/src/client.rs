//! A small blocking KMS client: HTTP/1.1 keep-alive over `std::net`, each
//! request signed with [`trent_proto::sigv4::sign`]. The harnesses need
//! exact control of bytes and timeouts more than they need the AWS SDK, and
//! this keeps the crate free of it.
//!
//! Only loopback addresses are accepted: the harnesses never send traffic
//! anywhere else.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use trent_proto::sigv4::{self, Header};

/// How long one request may take before the client calls it a hang.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response the client reads.
const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// An access key.
#[derive(Clone)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The AWS error name from `__type`, if this is an error body.
    pub fn error_type(&self) -> Option<String> {
        let json = self.json();
        let ty = json.get("__type")?.as_str()?;
        Some(ty.rsplit('#').next().unwrap_or(ty).to_owned())
    }

    /// `Ok(json)` for a 200, else `Err("Status ErrorType: message")`.
    pub fn ok(self) -> Result<Value, CallError> {
        if self.status == 200 {
            Ok(self.json())
        } else {
            Err(CallError::Api {
                status: self.status,
                error_type: self.error_type().unwrap_or_default(),
                message: self.json()["message"].as_str().unwrap_or("").to_owned(),
            })
        }
    }

    /// A decoded base64 field of a JSON body.
    pub fn blob(json: &Value, field: &str) -> Option<Vec<u8>> {
        B64.decode(json.get(field)?.as_str()?).ok()
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The server answered with an error.
    Api {
        /// HTTP status.
        status: u16,
        /// The AWS error name.
        error_type: String,
        /// The message.
        message: String,
    },
    /// No answer: connection refused, reset, closed, or timed out. Whether
    /// the server applied the request is unknown.
    Transport(String),
}

impl CallError {
    /// The AWS error name, for API errors.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            CallError::Api { error_type, .. } => Some(error_type),
            CallError::Transport(_) => None,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Api {
                status,
                error_type,
                message,
            } => write!(f, "{status} {error_type}: {message}"),
            CallError::Transport(e) => write!(f, "transport: {e}"),
        }
    }
}

/// A keep-alive connection to one Trent, signing as one access key.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    credentials: Credentials,
    region: String,
    stream: Option<TcpStream>,
    timeout: Duration,
}

impl Client {
    /// A client for `addr` (must be a loopback address).
    pub fn new(addr: SocketAddr, credentials: Credentials, region: &str) -> io::Result<Client> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the harnesses only talk to loopback addresses",
            ));
        }
        Ok(Client {
            addr,
            credentials,
            region: region.to_owned(),
            stream: None,
            timeout: IO_TIMEOUT,
        })
    }

    /// Changes the per-request timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.stream = None;
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Calls `TrentService.<op>` with a JSON body.
    pub fn call(&mut self, op: &str, body: &Value) -> Result<Value, CallError> {
        let body = serde_json::to_vec(body).map_err(|e| CallError::Transport(e.to_string()))?;
        self.call_raw(op, &body)
            .map_err(|e| CallError::Transport(e.to_string()))?
            .ok()
    }

    /// Calls `TrentService.<op>` with raw body bytes, correctly signed.
    pub fn call_raw(&mut self, op: &str, body: &[u8]) -> io::Result<Reply> {
        let headers = self.signed_headers(&format!("TrentService.{op}"), body, now())?;
        self.send(&headers, body)
    }

    /// The headers of a correctly signed KMS request (`host`, `content-type`,
    /// `x-amz-date`, `x-amz-target`, `authorization`), signed as of `at`.
    pub fn signed_headers(
        &self,
        target: &str,
        body: &[u8],
        at: time::OffsetDateTime,
    ) -> io::Result<Vec<(String, String)>> {
        let host = self.addr.to_string();
        let date = sigv4::format_amz_date(at);
        let mut headers = vec![
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".into(),
            ),
            ("host".to_owned(), host),
            ("x-amz-date".to_owned(), date),
            ("x-amz-target".to_owned(), target.to_owned()),
        ];
        let refs: Vec<Header<'_>> = headers
            .iter()
            .map(|(n, v)| Header {
                name: n,
                value: v.as_bytes(),
            })
            .collect();
        let request = sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &refs,
            body,
        };
        let day = format!("{:04}{:02}{:02}", at.year(), u8::from(at.month()), at.day());
        let key = sigv4::derive_signing_key(
            self.credentials.secret.as_bytes(),
            &day,
            &self.region,
            "kms",
        );
        let authorization = sigv4::sign(
            &request,
            &self.credentials.access_key_id,
            &key,
            &self.region,
            "kms",
        )
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        headers.push(("authorization".to_owned(), authorization));
        Ok(headers)
    }

    /// Sends `POST /` with exactly these headers (plus `content-length`) and
    /// body on the keep-alive connection, reconnecting once if a reused
    /// connection turns out to be closed.
    pub fn send(&mut self, headers: &[(String, String)], body: &[u8]) -> io::Result<Reply> {
        let mut head = String::from("POST / HTTP/1.1\r\n");
        for (name, value) in headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        let reused = self.stream.is_some();
        match self.exchange(head.as_bytes(), body) {
            Ok(reply) => Ok(reply),
            // A kept-alive connection the server closed while idle: the
            // request never reached it, so sending again is safe.
            Err(e) if reused && e.kind() == io::ErrorKind::ConnectionAborted => {
                self.exchange(head.as_bytes(), body)
            }
            Err(e) => Err(e),
        }
    }

    fn exchange(&mut self, head: &[u8], body: &[u8]) -> io::Result<Reply> {
        let stream = match self.stream.take() {
            Some(s) => s,
            None => {
                let s = TcpStream::connect_timeout(&self.addr, self.timeout)?;
                s.set_read_timeout(Some(self.timeout))?;
                s.set_write_timeout(Some(self.timeout))?;
                s.set_nodelay(true)?;
                s
            }
        };
        let mut stream = stream;
        let mut message = Vec::with_capacity(head.len() + body.len());
        message.extend_from_slice(head);
        message.extend_from_slice(body);
        if let Err(e) = stream.write_all(&message) {
            // The server may have answered and closed before reading all of
            // the body (say, because it is too large): read what it sent.
            return match read_response(&mut stream, Instant::now() + self.timeout) {
                Ok((reply, _)) => Ok(reply),
                Err(_) => Err(stale(e)),
            };
        }
        let (reply, keep) = read_response(&mut stream, Instant::now() + self.timeout)?;
        if keep {
            self.stream = Some(stream);
        }
        Ok(reply)
    }
}

/// Errors on a reused connection that mean "closed before our request".
fn stale(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
            io::Error::new(io::ErrorKind::ConnectionAborted, e)
        }
        _ => e,
    }
}

/// The current time (for `X-Amz-Date`).
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Reads one HTTP/1.1 response; returns it and whether the connection may
/// be reused.
pub fn read_response(stream: &mut TcpStream, deadline: Instant) -> io::Result<(Reply, bool)> {
    let mut raw = Vec::with_capacity(1024);
    let mut buf = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(end) = find(&raw, b"\r\n\r\n") {
            break end;
        }
        if raw.len() > 64 * 1024 || Instant::now() > deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no response head"));
        }
        match stream.read(&mut buf) {
            Ok(0) if raw.is_empty() => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "closed before responding",
                ));
            }
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated head",
                ));
            }
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if raw.is_empty() => return Err(stale(e)),
            Err(e) => return Err(e),
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let mut length = None;
    let mut close = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunked responses are not expected from Trent",
            ));
        }
    }
    let length = length.unwrap_or(0).min(MAX_RESPONSE);
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < length {
        if Instant::now() > deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "body too slow"));
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated body",
                ));
            }
            Ok(n) => body.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    body.truncate(length);
    Ok((Reply { status, body }, !close))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Base64 of bytes, for request blobs.
pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}
