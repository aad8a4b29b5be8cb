//! Connections to the server under test: plain TCP or TLS (rustls on
//! aws-lc-rs, trusting a given CA file), speaking HTTP/1.1 keep-alive or
//! HTTP/2. Each load worker owns
//! one connection, so N workers are N concurrent keep-alive connections.
//!
//! Load is only ever sent to loopback addresses: [`Endpoint::parse`] refuses
//! anything else.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

/// How bytes reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Plain TCP (`http://`).
    Tcp,
    /// TLS (`https://`).
    Tls,
}

/// The HTTP version spoken on each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 with keep-alive.
    Http1,
    /// HTTP/2 (prior knowledge over TCP).
    Http2,
}

/// Where to send load.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The resolved loopback address.
    pub addr: SocketAddr,
    /// `host:port` as written, sent as `Host`.
    pub host: String,
    /// TCP or TLS.
    pub transport: Transport,
    /// HTTP/1.1 or HTTP/2.
    pub protocol: Protocol,
    /// The TLS client settings, for `https://` endpoints.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Why a connection could not be made.
#[derive(Debug)]
pub enum ConnectError {
    /// TLS was asked for without a CA to trust (`--ca-file`).
    TlsNotConfigured,
    /// The TLS handshake failed (a server without TLS fails here too).
    Tls(std::io::Error),
    /// The TCP connection failed.
    Io(std::io::Error),
    /// The HTTP handshake failed.
    Http(hyper::Error),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TlsNotConfigured => f.write_str("an https:// endpoint needs --ca-file (the CA that issued the server's certificate)"),
            Self::Tls(e) => write!(f, "TLS handshake: {e} (does the server speak TLS yet? trent: --tls-cert/--tls-key or --tls-self-signed)"),
            Self::Io(e) => write!(f, "connect: {e}"),
            Self::Http(e) => write!(f, "HTTP handshake: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl Endpoint {
    /// Parses `http://host:port` or `https://host:port` (a trailing `/` is
    /// allowed). The host must resolve to a loopback address.
    pub fn parse(url: &str, protocol: Protocol) -> Result<Self, String> {
        let (transport, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (Transport::Tcp, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (Transport::Tls, rest)
        } else {
            return Err(format!(
                "endpoint {url:?} must start with http:// or https://"
            ));
        };
        let host = rest.trim_end_matches('/');
        if host.contains('/') {
            return Err(format!("endpoint {url:?} must have no path"));
        }
        let addr = host
            .to_socket_addrs()
            .map_err(|e| format!("resolving {host}: {e}"))?
            .find(|a| a.ip().is_loopback())
            .ok_or_else(|| {
                format!(
                    "{host} is not a loopback address: load is only sent to 127.0.0.0/8 or [::1]"
                )
            })?;
        Ok(Self {
            addr,
            host: host.to_owned(),
            transport,
            protocol,
            tls: None,
        })
    }

    /// Trusts the CA certificates in the PEM file `ca_file` for TLS.
    pub fn with_ca_file(mut self, ca_file: &Path) -> Result<Self, String> {
        let unreadable = |e: &dyn fmt::Display| format!("reading {}: {e}", ca_file.display());
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_file_iter(ca_file).map_err(|e| unreadable(&e))? {
            let certificate = certificate.map_err(|e| unreadable(&e))?;
            roots.add(certificate).map_err(|e| unreadable(&e))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = match self.protocol {
            Protocol::Http1 => vec![b"http/1.1".to_vec()],
            Protocol::Http2 => vec![b"h2".to_vec()],
        };
        self.tls = Some(Arc::new(config));
        Ok(self)
    }

    /// An `http://` endpoint at a loopback address.
    pub fn loopback(addr: SocketAddr) -> Self {
        Self {
            addr,
            host: addr.to_string(),
            transport: Transport::Tcp,
            protocol: Protocol::Http1,
            tls: None,
        }
    }

    /// Whether requests need an absolute URI (HTTP/2 carries the authority).
    pub fn absolute_uri(&self) -> bool {
        self.protocol == Protocol::Http2
    }
}

/// One open connection, ready to send requests one at a time.
#[derive(Debug)]
pub enum Connection {
    /// HTTP/1.1.
    Http1(http1::SendRequest<Full<Bytes>>),
    /// HTTP/2.
    Http2(http2::SendRequest<Full<Bytes>>),
}

impl Connection {
    /// Opens a connection to `endpoint`; its I/O runs on a spawned task.
    pub async fn open(endpoint: &Endpoint) -> Result<Self, ConnectError> {
        let stream = TcpStream::connect(endpoint.addr)
            .await
            .map_err(ConnectError::Io)?;
        stream.set_nodelay(true).map_err(ConnectError::Io)?;
        if endpoint.transport == Transport::Tcp {
            return Self::handshake(TokioIo::new(stream), endpoint.protocol).await;
        }
        let config = endpoint.tls.clone().ok_or(ConnectError::TlsNotConfigured)?;
        let name = ServerName::from(endpoint.addr.ip());
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(ConnectError::Tls)?;
        Self::handshake(TokioIo::new(stream), endpoint.protocol).await
    }

    async fn handshake<T>(io: T, protocol: Protocol) -> Result<Self, ConnectError>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        match protocol {
            Protocol::Http1 => {
                let (sender, conn) = http1::handshake(io).await.map_err(ConnectError::Http)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(Self::Http1(sender))
            }
            Protocol::Http2 => {
                let (sender, conn) = http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(ConnectError::Http)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(Self::Http2(sender))
            }
        }
    }

    /// Sends one request and waits for the response head.
    pub async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, hyper::Error> {
        match self {
            Self::Http1(sender) => {
                sender.ready().await?;
                sender.send_request(request).await
            }
            Self::Http2(sender) => {
                sender.ready().await?;
                sender.send_request(request).await
            }
        }
    }
}

/// A whole response.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
    /// Whether the connection may carry another request (an HTTP/1.0
    /// server such as moto's closes it after each response).
    pub keep_alive: bool,
}

impl Connection {
    /// Sends a request and reads the whole response.
    pub async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<Answer, hyper::Error> {
        use http_body_util::BodyExt as _;
        let response = self.send(request).await?;
        let status = response.status().as_u16();
        let closes = response.version() < http::Version::HTTP_11
            || response
                .headers()
                .get(http::header::CONNECTION)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            body,
            keep_alive: !closes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_loopback() {
        let e = Endpoint::parse("http://127.0.0.1:4599/", Protocol::Http1).unwrap();
        assert_eq!(e.host, "127.0.0.1:4599");
        assert_eq!(e.transport, Transport::Tcp);
        assert_eq!(
            Endpoint::parse("https://127.0.0.1:1", Protocol::Http1)
                .unwrap()
                .transport,
            Transport::Tls
        );
        assert!(Endpoint::parse("http://10.0.0.1:80", Protocol::Http1).is_err());
        assert!(Endpoint::parse("ftp://127.0.0.1:80", Protocol::Http1).is_err());
        assert!(Endpoint::parse("http://127.0.0.1:80/x", Protocol::Http1).is_err());
    }
}
