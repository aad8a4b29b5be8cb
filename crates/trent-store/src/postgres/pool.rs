//! Connecting (TLS included) and the pool of connections.
//!
//! The pool hands out idle connections, opens new ones up to its size, and
//! makes callers wait beyond that. A connection whose operation failed
//! because it is closed (PostgreSQL restarted, failed over, or the network
//! broke) is dropped instead of returned, so the next checkout reconnects.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use postgres::config::SslMode;
use postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::db;
use crate::{Error, Result};

/// Connections a pool opens at most, unless the URL says `pool_max_size`.
const DEFAULT_POOL_SIZE: usize = 16;
/// How long connecting may take before the operation fails (retryably).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a free connection.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything needed to open a connection, parsed once from the store URL.
#[derive(Clone)]
pub(crate) struct ConnectOptions {
    config: Config,
    tls: Option<MakeRustlsConnect>,
    pool_size: usize,
    redacted: String,
}

impl ConnectOptions {
    /// Parses a `postgres://` URL, taking out the options that are Trent's
    /// own (`sslrootcert`, `pool_max_size`) before the driver sees it.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let invalid = |what: &str| Error::Database(format!("invalid store URL: {what}"));
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let mut root_cert = None;
        let mut pool_size = DEFAULT_POOL_SIZE;
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair.split_once('=') {
                Some(("sslrootcert", path)) => root_cert = Some(path.to_owned()),
                Some(("pool_max_size", n)) => {
                    pool_size = n
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| invalid("pool_max_size"))?;
                }
                _ => kept.push(pair),
            }
        }
        let driver_url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: Config = driver_url.parse().map_err(|e| invalid(&format!("{e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("trent");
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => None,
            _ => Some(tls_connector(root_cert.as_deref())?),
        };
        Ok(Self {
            redacted: redact(url),
            config,
            tls,
            pool_size,
        })
    }

    /// The URL without its password.
    pub(crate) fn redacted(&self) -> String {
        self.redacted.clone()
    }

    /// Opens one connection.
    pub(crate) fn connect(&self) -> Result<Client> {
        match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(postgres::NoTls),
        }
        .map_err(db)
    }
}

/// A rustls client configuration on the aws-lc-rs provider, trusting the
/// PEM certificates in `root_cert`, or the system's roots.
fn tls_connector(root_cert: Option<&str>) -> Result<MakeRustlsConnect> {
    let tls_error = |what: String| Error::Database(format!("store TLS: {what}"));
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| tls_error(format!("{path}: {e}")))?;
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| tls_error(format!("{path}: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| tls_error(format!("{path}: {e}")))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A malformed system certificate is skipped, not fatal.
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `url` with any password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(unparseable URL)".into();
    };
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = tail.split('?').next().unwrap_or_default();
    format!("{scheme}://{authority}/{tail}")
}

/// A bounded pool of connections.
pub(crate) struct Pool {
    options: ConnectOptions,
    state: Mutex<PoolState>,
    freed: Condvar,
}

struct PoolState {
    idle: Vec<Client>,
    /// Connections open, idle or checked out.
    open: usize,
}

impl Pool {
    pub(crate) fn new(options: ConnectOptions) -> Self {
        Self {
            options,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// An idle connection, a new one if the pool has room, or the next one
    /// freed.
    pub(crate) fn get(&self) -> Result<Pooled<'_>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            while let Some(client) = state.idle.pop() {
                if client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(Pooled {
                    pool: self,
                    client: Some(client),
                });
            }
            if state.open < self.options.pool_size {
                state.open += 1;
                drop(state);
                return match self.options.connect() {
                    Ok(client) => Ok(Pooled {
                        pool: self,
                        client: Some(client),
                    }),
                    Err(e) => {
                        self.release(None);
                        Err(e)
                    }
                };
            }
            let (next, timeout) = self
                .freed
                .wait_timeout(state, CHECKOUT_TIMEOUT)
                .unwrap_or_else(PoisonError::into_inner);
            if timeout.timed_out() {
                return Err(Error::Database("no free store connection".into()));
            }
            state = next;
        }
    }

    /// Takes a connection back (`None`: it was dropped as broken).
    fn release(&self, client: Option<Client>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match client {
            Some(client) if !client.is_closed() => state.idle.push(client),
            _ => state.open -= 1,
        }
        drop(state);
        self.freed.notify_one();
    }
}

/// A checked-out connection; goes back to the pool when dropped.
pub(crate) struct Pooled<'p> {
    pool: &'p Pool,
    client: Option<Client>,
}

impl Pooled<'_> {
    pub(crate) fn client(&mut self) -> &mut Client {
        #[allow(clippy::expect_used)] // Only `Drop` and `failed` take it.
        self.client.as_mut().expect("a pooled connection")
    }

    /// Passes `error` through; a connection it shows to be broken is not
    /// returned to the pool. (A connection whose last statement failed has
    /// already rolled back its transaction on drop, so it is clean.)
    pub(crate) fn failed(&mut self, error: Error) -> Error {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
        }
        error
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        self.pool.release(self.client.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://trent:s3cret@db.example:5432/trent?sslmode=require"),
            "postgres://trent:***@db.example:5432/trent"
        );
        assert_eq!(
            redact("postgres://trent@127.0.0.1/trent"),
            "postgres://trent@127.0.0.1/trent"
        );
    }

    #[test]
    fn trent_options_are_taken_out_of_the_url() {
        let options = ConnectOptions::parse(
            "postgres://trent@127.0.0.1/trent?pool_max_size=3&sslmode=disable",
        )
        .unwrap();
        assert_eq!(options.pool_size, 3);
        assert!(options.tls.is_none());
        assert!(ConnectOptions::parse("postgres://x@y/z?pool_max_size=0").is_err());
    }
}
