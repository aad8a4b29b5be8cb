//! `trent serve` TLS flags, and `--tls-self-signed`: a local development CA
//! (kept in `DATA_DIR/tls/`, reused across starts so clients keep trusting
//! it) and a server certificate it signs at every start (CA:FALSE, SANs for
//! localhost, 127.0.0.1, ::1 and the listen host). rustls clients refuse a
//! self-signed certificate used directly as a server certificate, hence
//! the separate CA.

use std::path::{Path, PathBuf};

use clap::Args;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use trent_server::tls::TlsFiles;

/// TLS settings of `trent serve`.
#[derive(Debug, Clone, Args)]
pub(crate) struct TlsArgs {
    /// Serve HTTPS with this PEM certificate chain (leaf first); reloaded on
    /// SIGHUP or when the file changes.
    #[arg(
        long,
        env = "TRENT_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, env = "TRENT_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Serve HTTPS with a development CA and certificate generated in
    /// DATA_DIR/tls (prints the CA path to give clients).
    #[arg(long, env = "TRENT_TLS_SELF_SIGNED")]
    pub(crate) tls_self_signed: bool,
    /// Extra DNS names or IP addresses for the --tls-self-signed certificate.
    #[arg(long = "tls-san", value_name = "NAME")]
    pub(crate) tls_san: Vec<String>,
    /// Require client certificates issued by these PEM CA certificates
    /// (mTLS). SigV4 still authenticates each request.
    #[arg(long, env = "TRENT_TLS_CLIENT_CA")]
    pub(crate) tls_client_ca: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (never in production:
    /// requests and responses, plaintext included, cross the network in
    /// the clear).
    #[arg(long)]
    pub(crate) insecure_plain_http: bool,
}

impl TlsArgs {
    /// The files to serve with, generating the development ones if asked;
    /// `None` for plain HTTP.
    pub(crate) fn files(&self, data_dir: &Path, listen: &str) -> Result<Option<TlsFiles>, String> {
        if self.tls_client_ca.is_some() && self.tls_cert.is_none() && !self.tls_self_signed {
            return Err(
                "--tls-client-ca needs TLS: add --tls-cert/--tls-key or --tls-self-signed".into(),
            );
        }
        let (cert, key) = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            _ if self.tls_self_signed => {
                let dev = self_signed(&data_dir.join("tls"), listen, &self.tls_san)?;
                println!(
                    "TLS: development CA at {ca} — give it to clients: AWS_CA_BUNDLE={ca} (aws CLI, boto3) or SSL_CERT_FILE={ca}",
                    ca = dev.ca.display()
                );
                (dev.cert, dev.key)
            }
            _ => return Ok(None),
        };
        Ok(Some(TlsFiles {
            cert,
            key,
            client_ca: self.tls_client_ca.clone(),
        }))
    }
}

/// The files `--tls-self-signed` writes.
#[derive(Debug)]
pub(crate) struct DevCertificates {
    /// The CA certificate clients trust.
    pub(crate) ca: PathBuf,
    /// The server certificate.
    pub(crate) cert: PathBuf,
    /// The server key.
    pub(crate) key: PathBuf,
}

const CA_NAME: &str = "Trent development CA (not for production)";

/// Creates (or reuses) the development CA in `dir` and issues a fresh server
/// certificate.
pub(crate) fn self_signed(
    dir: &Path,
    listen: &str,
    extra: &[String],
) -> Result<DevCertificates, String> {
    let err = |what: &str, e: &dyn std::fmt::Display| format!("--tls-self-signed: {what}: {e}");
    create_private_dir(dir)?;
    let ca_path = dir.join("ca.pem");
    let ca_key_path = dir.join("ca-key.pem");
    let now = time::OffsetDateTime::now_utc();
    let ca_params = {
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA", &e))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, CA_NAME);
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.not_before = now - time::Duration::days(1);
        p.not_after = now + time::Duration::days(3650);
        p
    };
    let ca_key = match std::fs::read_to_string(&ca_key_path) {
        Ok(pem) if ca_path.exists() => {
            KeyPair::from_pem(&pem).map_err(|e| err("reading the CA key", &e))?
        }
        _ => {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|e| err("CA key", &e))?;
            let cert = ca_params
                .self_signed(&key)
                .map_err(|e| err("CA certificate", &e))?;
            write_private(&ca_key_path, key.serialize_pem().as_bytes())?;
            std::fs::write(&ca_path, cert.pem())
                .map_err(|e| err(&ca_path.display().to_string(), &e))?;
            key
        }
    };
    // The issuer is the CA's name and key; its certificate is not re-read.
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let host = listen_host(listen);
    for name in host.into_iter().chain(extra.iter().cloned()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut leaf = CertificateParams::new(names).map_err(|e| err("server names", &e))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    leaf.distinguished_name = dn;
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = now + time::Duration::days(397);
    let leaf_key =
        KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| err("server key", &e))?;
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .map_err(|e| err("server certificate", &e))?;
    let cert = dir.join("server.pem");
    let key = dir.join("server-key.pem");
    write_private(&key, leaf_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert, leaf_cert.pem()).map_err(|e| err(&cert.display().to_string(), &e))?;
    Ok(DevCertificates {
        ca: ca_path,
        cert,
        key,
    })
}

/// The host of a listen address, unless it is a wildcard.
fn listen_host(listen: &str) -> Option<String> {
    let host = listen.rsplit_once(':').map_or(listen, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host {
        "" | "0.0.0.0" | "::" => None,
        h => Some(h.to_owned()),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let _ = std::fs::remove_file(path);
    trent_crypto::seal::write_private_file(path, bytes)
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| format!("creating {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_hosts() {
        assert_eq!(listen_host("127.0.0.1:0"), Some("127.0.0.1".into()));
        assert_eq!(listen_host("0.0.0.0:4599"), None);
        assert_eq!(listen_host("[::]:4599"), None);
        assert_eq!(listen_host("kms.internal:443"), Some("kms.internal".into()));
    }

    #[test]
    fn the_ca_is_kept_and_the_leaf_is_renewed() {
        let dir = std::env::temp_dir().join(format!("trent-tls-{}", std::process::id()));
        let first = self_signed(&dir, "127.0.0.1:0", &[]).unwrap();
        let ca1 = std::fs::read(&first.ca).unwrap();
        let leaf1 = std::fs::read(&first.cert).unwrap();
        let second = self_signed(&dir, "127.0.0.1:0", &["kms.test".into()]).unwrap();
        assert_eq!(std::fs::read(&second.ca).unwrap(), ca1);
        assert_ne!(std::fs::read(&second.cert).unwrap(), leaf1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
