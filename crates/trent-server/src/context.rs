//! What Trent knows about a request besides its body and signature: where
//! it came from and over what transport. The audit record reads it, and so
//! will policy conditions (`aws:SecureTransport`, `aws:SourceIp`, the
//! verified client certificate of an mTLS connection).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Longest `User-Agent` kept.
const MAX_USER_AGENT: usize = 512;

/// A connection's TLS session, as negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSession {
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: &'static str,
    /// IANA cipher suite name (`TLS_AES_128_GCM_SHA256`).
    pub cipher_suite: String,
    /// The ALPN protocol (`h2`, `http/1.1`), if negotiated.
    pub alpn: Option<String>,
    /// The server name the client asked for (SNI).
    pub server_name: Option<String>,
    /// With mTLS: the verified client certificate's subject (RFC 4514).
    pub client_subject: Option<String>,
}

/// An accepted connection.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The peer's address.
    pub peer: SocketAddr,
    /// The TLS session; `None` for plain HTTP.
    pub tls: Option<Arc<TlsSession>>,
}

/// One request's context.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The peer's IP address (`aws:SourceIp`).
    pub source_ip: IpAddr,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The TLS session, with the client certificate subject under mTLS.
    pub tls: Option<Arc<TlsSession>>,
    /// The `User-Agent` header, truncated.
    pub user_agent: String,
    /// The `Host` header (or HTTP/2 `:authority`).
    pub host: Option<String>,
}

impl RequestContext {
    /// The context of a request on `connection`.
    pub fn new(connection: &Connection, headers: &http::HeaderMap, uri: &http::Uri) -> Self {
        let header = |name: http::header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut user_agent = header(http::header::USER_AGENT).unwrap_or_default();
        if user_agent.len() > MAX_USER_AGENT {
            let mut cut = MAX_USER_AGENT;
            while !user_agent.is_char_boundary(cut) {
                cut -= 1;
            }
            user_agent.truncate(cut);
        }
        RequestContext {
            source_ip: connection.peer.ip(),
            secure_transport: connection.tls.is_some(),
            tls: connection.tls.clone(),
            user_agent,
            host: header(http::header::HOST)
                .or_else(|| uri.authority().map(|a| a.as_str().to_owned())),
        }
    }

    /// The verified client certificate's subject, with mTLS.
    pub fn client_certificate_subject(&self) -> Option<&str> {
        self.tls.as_ref()?.client_subject.as_deref()
    }
}

impl Default for RequestContext {
    /// A request from nowhere in particular, over no secure transport.
    fn default() -> Self {
        RequestContext {
            source_ip: IpAddr::from([0, 0, 0, 0]),
            secure_transport: false,
            tls: None,
            user_agent: String::new(),
            host: None,
        }
    }
}
