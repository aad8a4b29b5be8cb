//! TLS: rustls with the aws-lc-rs provider, TLS 1.2 and 1.3 only, ALPN
//! `h2` and `http/1.1`, optional client certificates (mTLS).
//!
//! Certificates reload without a restart: [`TlsConfig::watch`] rebuilds the
//! whole `ServerConfig` on SIGHUP, or when the files' contents change
//! (polled). New connections get the new configuration; connections in
//! flight keep the one they started with, so nothing is dropped. A bad new
//! file (a key that does not match, half-written PEM) is logged and the
//! previous configuration stays in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::context::TlsSession;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A file holds no usable PEM item of the kind needed.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: String,
        /// What was missing.
        what: &'static str,
    },
    /// rustls refused the certificate, key or client CA.
    #[error("{0}")]
    Rustls(String),
}

/// Where the certificate, key and (for mTLS) client CA live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM CA certificates client certificates must chain to; when set,
    /// every connection must present one.
    pub client_ca: Option<PathBuf>,
}

/// Installs aws-lc-rs as rustls's process-wide provider (once; later calls
/// are no-ops). Trent never uses ring.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The server's TLS configuration, swappable at run time.
#[derive(Debug)]
pub struct TlsConfig {
    files: TlsFiles,
    current: RwLock<Arc<ServerConfig>>,
    /// SHA-256 of the files' bytes when last loaded (or tried).
    loaded: Mutex<[u8; 32]>,
}

impl TlsConfig {
    /// Loads the files; fails if they do not make a working configuration.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let (bytes, digest) = read_all(&files)?;
        let config = build(&files, &bytes)?;
        Ok(Arc::new(TlsConfig {
            files,
            current: RwLock::new(Arc::new(config)),
            loaded: Mutex::new(digest),
        }))
    }

    /// The configuration for a new connection.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether clients must present a certificate.
    pub fn requires_client_certificates(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// Rebuilds the configuration if the files changed (or always, with
    /// `force`). Returns whether a new configuration is in use.
    pub fn reload(&self, force: bool) -> Result<bool, TlsError> {
        let (bytes, digest) = read_all(&self.files)?;
        {
            let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
            if *loaded == digest && !force {
                return Ok(false);
            }
            // Remember what was tried, so a bad file is reported once, not
            // on every poll.
            *loaded = digest;
        }
        let config = build(&self.files, &bytes)?;
        match self.current.write() {
            Ok(mut guard) => *guard = Arc::new(config),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(config),
        }
        Ok(true)
    }

    /// Reloads on SIGHUP and when the files change (checked every `poll`).
    pub fn watch(self: &Arc<Self>, poll: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut hangup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            loop {
                #[cfg(unix)]
                let forced = match hangup.as_mut() {
                    Some(signal) => tokio::select! {
                        _ = signal.recv() => true,
                        () = tokio::time::sleep(poll) => false,
                    },
                    None => {
                        tokio::time::sleep(poll).await;
                        false
                    }
                };
                #[cfg(not(unix))]
                let forced = {
                    tokio::time::sleep(poll).await;
                    false
                };
                let worker = this.clone();
                match tokio::task::spawn_blocking(move || worker.reload(forced)).await {
                    Ok(Ok(true)) => {
                        tracing::info!(cert = %this.files.cert.display(), "TLS certificate reloaded")
                    }
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "TLS reload failed; still serving the previous certificate")
                    }
                    Err(e) => tracing::error!(error = %e, "TLS reload panicked"),
                }
            }
        })
    }
}

struct FileBytes {
    cert: Vec<u8>,
    key: zeroize::Zeroizing<Vec<u8>>,
    client_ca: Option<Vec<u8>>,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn read_all(files: &TlsFiles) -> Result<(FileBytes, [u8; 32]), TlsError> {
    let bytes = FileBytes {
        cert: read(&files.cert)?,
        key: zeroize::Zeroizing::new(read(&files.key)?),
        client_ca: files.client_ca.as_deref().map(read).transpose()?,
    };
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [
        &bytes.cert[..],
        &bytes.key[..],
        bytes.client_ca.as_deref().unwrap_or(b""),
    ] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(ctx.finish().as_ref());
    Ok((bytes, digest))
}

fn build(files: &TlsFiles, bytes: &FileBytes) -> Result<ServerConfig, TlsError> {
    let pem_error = |path: &Path, what| TlsError::Pem {
        path: path.display().to_string(),
        what,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes.cert)
        .collect::<Result<_, _>>()
        .map_err(|_| pem_error(&files.cert, "malformed PEM"))?;
    if certs.is_empty() {
        return Err(pem_error(&files.cert, "no CERTIFICATE in the file"));
    }
    let key = PrivateKeyDer::from_pem_slice(&bytes.key)
        .map_err(|_| pem_error(&files.key, "no private key in the file"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match (&files.client_ca, &bytes.client_ca) {
        (Some(path), Some(pem)) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|_| pem_error(path, "malformed PEM"))?;
                roots
                    .add(cert)
                    .map_err(|e| TlsError::Rustls(format!("{}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(pem_error(path, "no CA CERTIFICATE in the file"));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Rustls(format!("{}: {e}", path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        TlsError::Rustls(format!(
            "{} / {}: {e}",
            files.cert.display(),
            files.key.display()
        ))
    })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// What a finished handshake negotiated, and who the client is (mTLS).
pub fn session(conn: &rustls::ServerConnection) -> TlsSession {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "unknown",
    };
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .map(|name| match name.strip_prefix("TLS13_") {
            Some(rest) => format!("TLS_{rest}"),
            None => name.to_owned(),
        })
        .unwrap_or_default();
    TlsSession {
        version,
        cipher_suite,
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        server_name: conn.server_name().map(str::to_owned),
        client_subject: conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| crate::cert_subject::subject(leaf)),
    }
}
