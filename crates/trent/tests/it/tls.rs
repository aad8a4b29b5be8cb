//! TLS: the aws CLI and the Rust SDK over HTTPS with the development CA
//! (`--tls-self-signed`), HTTP/2 and HTTP/1.1 over TLS 1.3 and 1.2, mTLS
//! (accepted, refused, subject recorded), certificate reload under load
//! with no failed request, and plain HTTP refused off loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_kms::Client;
use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{self as smithy_tls, TlsContext, TrustStore};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::harness::{ADMIN_AKID, ADMIN_SECRET, Blob, Options, TempDir, Trent, sigv4_headers};

/// An SDK client that trusts only `ca_pem`.
pub(crate) fn sdk_with_ca(endpoint: &str, ca_pem: &[u8]) -> Client {
    let tls = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(ca_pem.to_vec()))
        .build()
        .expect("TLS context");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(smithy_tls::Provider::Rustls(
            smithy_tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(tls)
        .build_https();
    let config = aws_sdk_kms::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            ADMIN_AKID,
            ADMIN_SECRET,
            None,
            None,
            "tls-it",
        ))
        .endpoint_url(endpoint)
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// A server with the development CA.
pub(crate) fn self_signed_server(extra: &[&str]) -> Trent {
    let mut args = vec!["--tls-self-signed".to_owned()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    Trent::start_with(Options {
        extra_args: args,
        ..Options::default()
    })
}

pub(crate) fn dev_ca(trent: &Trent) -> Vec<u8> {
    std::fs::read(trent.data_dir().join("tls/ca.pem")).expect("the development CA")
}

async fn round_trip(client: &Client) {
    let key = client
        .create_key()
        .description("tls")
        .send()
        .await
        .expect("CreateKey over TLS")
        .key_metadata
        .expect("metadata")
        .key_id;
    let ciphertext = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("over TLS"))
        .send()
        .await
        .expect("Encrypt over TLS")
        .ciphertext_blob
        .expect("ciphertext");
    let plaintext = client
        .decrypt()
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .expect("Decrypt over TLS")
        .plaintext
        .expect("plaintext");
    assert_eq!(plaintext.as_ref(), b"over TLS");
}

#[tokio::test]
async fn the_sdk_works_over_tls_with_the_development_ca() {
    let trent = self_signed_server(&[]);
    assert!(
        trent.endpoint().starts_with("https://"),
        "{}",
        trent.endpoint()
    );
    assert!(
        trent.log().contains("AWS_CA_BUNDLE="),
        "CA path not printed"
    );
    let client = sdk_with_ca(trent.endpoint(), &dev_ca(&trent));
    round_trip(&client).await;
    // Also by name: the certificate is for localhost as well.
    let by_name = trent.endpoint().replace("127.0.0.1", "localhost");
    round_trip(&sdk_with_ca(&by_name, &dev_ca(&trent))).await;

    // A client that does not trust the CA does not get through.
    let other = self_signed_server(&[]);
    let stranger = sdk_with_ca(trent.endpoint(), &dev_ca(&other));
    let err = stranger.generate_random().number_of_bytes(8).send().await;
    assert!(err.is_err(), "a client without the CA connected");

    // The server's leaf is not the CA.
    let leaf = std::fs::read(trent.data_dir().join("tls/server.pem")).unwrap();
    assert_ne!(leaf, dev_ca(&trent));
    let records = crate::audit::export(&trent);
    assert!(
        records
            .iter()
            .all(|r| r["tlsDetails"]["tlsVersion"] == "TLSv1.3"),
        "{records:?}"
    );
}

/// Runs this test binary's `ssl_cert_file_child` with `SSL_CERT_FILE` set:
/// the SDK's default HTTPS client, configured by the environment only.
#[tokio::test]
async fn the_sdk_default_client_trusts_ssl_cert_file() {
    let trent = self_signed_server(&[]);
    // /proc/self/exe still runs this binary if a rebuild replaced the file.
    let exe = Path::new("/proc/self/exe");
    let exe = if exe.exists() {
        exe.to_path_buf()
    } else {
        std::env::current_exe().unwrap()
    };
    let out = std::process::Command::new(exe)
        .args([
            "tls::ssl_cert_file_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("SSL_CERT_FILE", trent.data_dir().join("tls/ca.pem"))
        .env("TRENT_IT_TLS_ENDPOINT", trent.endpoint())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains("1 passed"), "{text}");
}

#[tokio::test]
#[ignore = "run by the_sdk_default_client_trusts_ssl_cert_file"]
async fn ssl_cert_file_child() {
    let endpoint = std::env::var("TRENT_IT_TLS_ENDPOINT").expect("run by the parent test");
    let config = aws_sdk_kms::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            ADMIN_AKID,
            ADMIN_SECRET,
            None,
            None,
            "tls-it",
        ))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .build();
    round_trip(&Client::from_conf(config)).await;
}

/// The aws CLI from the smoke tests' venv, with `AWS_CA_BUNDLE`.
#[test]
fn the_aws_cli_works_over_tls_with_aws_ca_bundle() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = std::env::var_os("TRENT_VENV").map_or_else(|| repo.join(".venv"), PathBuf::from);
    let aws = venv.join("bin/aws");
    if !aws.exists() {
        eprintln!(
            "SKIPPED: no aws CLI at {} (tests/smoke/run.sh creates it)",
            aws.display()
        );
        return;
    }
    let trent = self_signed_server(&[]);
    let scratch = TempDir::new();
    let credentials = scratch.path().join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[default]\naws_access_key_id = {ADMIN_AKID}\naws_secret_access_key = {ADMIN_SECRET}\n"
        ),
    )
    .unwrap();
    let aws_cmd = |args: &[&str], ca: Option<&Path>| {
        let mut cmd = std::process::Command::new(&aws);
        cmd.args([
            "--endpoint-url",
            trent.endpoint(),
            "--region",
            "us-east-1",
            "--output",
            "text",
        ])
        .args(args)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_CONFIG_FILE", scratch.path().join("none"))
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
        match ca {
            Some(ca) => cmd.env("AWS_CA_BUNDLE", ca),
            None => cmd.env_remove("AWS_CA_BUNDLE"),
        };
        cmd.output().unwrap()
    };
    let ca = trent.data_dir().join("tls/ca.pem");
    let out = aws_cmd(
        &["kms", "create-key", "--query", "KeyMetadata.KeyId"],
        Some(&ca),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let plain = scratch.path().join("plain.bin");
    std::fs::write(&plain, b"hello over TLS").unwrap();
    let plain_arg = format!("fileb://{}", plain.display());
    let out = aws_cmd(
        &[
            "kms",
            "encrypt",
            "--key-id",
            &key,
            "--plaintext",
            &plain_arg,
            "--query",
            "CiphertextBlob",
        ],
        Some(&ca),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blob = B64
        .decode(String::from_utf8(out.stdout).unwrap().trim())
        .unwrap();
    let sealed = scratch.path().join("sealed.bin");
    std::fs::write(&sealed, blob).unwrap();
    let sealed_arg = format!("fileb://{}", sealed.display());
    let out = aws_cmd(
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            &sealed_arg,
            "--query",
            "Plaintext",
        ],
        Some(&ca),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        B64.encode(b"hello over TLS")
    );
    // Without the bundle, certificate verification fails.
    let out = aws_cmd(&["kms", "list-keys"], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and certificates it issues, written as PEM files.
pub(crate) struct Pki {
    pub(crate) dir: TempDir,
    issuer: Issuer<'static, KeyPair>,
    pub(crate) ca_pem: String,
}

impl Pki {
    pub(crate) fn new(name: &str) -> Pki {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        let dir = TempDir::new();
        let ca_pem = cert.pem();
        std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
        Pki {
            dir,
            issuer: Issuer::new(params, key),
            ca_pem,
        }
    }

    pub(crate) fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Issues a leaf; returns (cert PEM, key PEM).
    pub(crate) fn issue(
        &self,
        names: &[&str],
        subject: &[(DnType, &str)],
        server: bool,
    ) -> (String, String) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        let mut dn = DistinguishedName::new();
        for (ty, value) in subject {
            dn.push(ty.clone(), *value);
        }
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Issues a server leaf into `cert.pem`/`key.pem` of this PKI's dir
    /// (key first, then cert, each replaced atomically); returns its DER.
    pub(crate) fn write_server_leaf(&self) -> Vec<u8> {
        let (cert, key) = self.issue(
            &["localhost", "127.0.0.1"],
            &[(DnType::CommonName, "localhost")],
            true,
        );
        replace(&self.dir.path().join("key.pem"), key.as_bytes());
        replace(&self.dir.path().join("cert.pem"), cert.as_bytes());
        CertificateDer::from_pem_slice(cert.as_bytes())
            .unwrap()
            .to_vec()
    }
}

fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A rustls client config trusting `ca_pem`, with optional client identity,
/// versions and ALPN.
pub(crate) fn client_config(
    ca_pem: &str,
    identity: Option<(&str, &str)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// What a raw TLS exchange saw.
#[derive(Debug)]
pub(crate) struct TlsExchange {
    pub(crate) alpn: Option<Vec<u8>>,
    pub(crate) version: Option<rustls::ProtocolVersion>,
    pub(crate) server_cert: Vec<u8>,
    pub(crate) status: u16,
    pub(crate) request_id: String,
    pub(crate) body: String,
}

/// A SigV4-signed (unless `signed` is false) KMS request over one TLS
/// connection, HTTP/1.1.
pub(crate) fn tls_kms_request(
    addr: &str,
    config: Arc<rustls::ClientConfig>,
    target: &str,
    body: &str,
    signed: bool,
) -> std::io::Result<TlsExchange> {
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    let sock = TcpStream::connect(addr)?;
    sock.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut headers = vec![
        ("host".to_owned(), addr.to_owned()),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        ("x-amz-target".to_owned(), target.to_owned()),
    ];
    if signed {
        let signature = sigv4_headers(
            addr,
            &headers,
            body.as_bytes(),
            ADMIN_AKID,
            ADMIN_SECRET,
            SystemTime::now(),
        );
        headers.extend(signature);
    }
    let mut request = "POST / HTTP/1.1\r\n".to_owned();
    for (n, v) in &headers {
        request.push_str(&format!("{n}: {v}\r\n"));
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    tls.write_all(request.as_bytes())?;
    tls.flush()?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // Servers often close TLS without close_notify after `connection: close`.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e),
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP response: {text:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let request_id = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-amzn-requestid:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    let conn = &tls.conn;
    Ok(TlsExchange {
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        version: conn.protocol_version(),
        server_cert: conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
            .unwrap_or_default(),
        status,
        request_id,
        body: body.to_owned(),
    })
}

/// Only the handshake matters here: the server's leaf certificate.
fn served_certificate(addr: &str, ca_pem: &str) -> Vec<u8> {
    let config = client_config(ca_pem, None, &[&rustls::version::TLS13], &[]);
    tls_kms_request(
        addr,
        config,
        "TrentService.GenerateRandom",
        "{\"NumberOfBytes\": 1}",
        true,
    )
    .expect("TLS request")
    .server_cert
}

#[tokio::test]
async fn alpn_offers_h2_and_http1_over_tls_1_2_and_1_3() {
    let trent = self_signed_server(&[]);
    let ca = String::from_utf8(dev_ca(&trent)).unwrap();
    let body = "{\"NumberOfBytes\": 16}";
    for (versions, want) in [
        (
            &[&rustls::version::TLS13][..],
            rustls::ProtocolVersion::TLSv1_3,
        ),
        (
            &[&rustls::version::TLS12][..],
            rustls::ProtocolVersion::TLSv1_2,
        ),
    ] {
        let config = client_config(&ca, None, versions, &[b"http/1.1"]);
        let h1 = tls_kms_request(
            trent.addr(),
            config,
            "TrentService.GenerateRandom",
            body,
            true,
        )
        .unwrap();
        assert_eq!(h1.status, 200, "{}", h1.body);
        assert_eq!(h1.alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert_eq!(h1.version, Some(want));
    }
    // h2 is negotiated when offered.
    let addr = trent.addr().to_owned();
    let ca2 = ca.clone();
    let alpn = tokio::task::spawn_blocking(move || {
        let config = client_config(
            &ca2,
            None,
            &[&rustls::version::TLS13],
            &[b"h2", b"http/1.1"],
        );
        let name = ServerName::try_from("localhost").unwrap();
        let mut conn = rustls::ClientConnection::new(config, name).unwrap();
        let mut sock = TcpStream::connect(&addr).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).unwrap();
        }
        conn.alpn_protocol().map(<[u8]>::to_vec)
    })
    .await
    .unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    // Plain HTTP to the TLS port gets no answer.
    let plain = crate::harness::send_raw(trent.addr(), "GET", "/healthz", &[], b"");
    assert!(
        plain.is_err() || plain.is_ok_and(|r| r.status != 200),
        "plain HTTP answered on the TLS port"
    );
}

#[tokio::test]
async fn mtls_admits_certified_clients_and_refuses_the_rest() {
    let server_pki = Pki::new("Trent test server CA");
    server_pki.write_server_leaf();
    let client_pki = Pki::new("Trent test client CA");
    let rogue_pki = Pki::new("Rogue CA");
    let dir = server_pki.dir.path();
    let trent = Trent::start_with(Options {
        extra_args: vec![
            "--tls-cert".into(),
            dir.join("cert.pem").display().to_string(),
            "--tls-key".into(),
            dir.join("key.pem").display().to_string(),
            "--tls-client-ca".into(),
            client_pki.ca_path().display().to_string(),
        ],
        ..Options::default()
    });
    // Issued in the order O, CN: RFC 4514 writes the most specific first.
    let subject = [
        (DnType::OrganizationName, "Trent Tests"),
        (DnType::CommonName, "app-1"),
    ];
    let (cert, key) = client_pki.issue(&[], &subject, false);
    let (rogue_cert, rogue_key) = rogue_pki.issue(&[], &[(DnType::CommonName, "app-1")], false);
    let ca = server_pki.ca_pem.clone();
    let v13 = [&rustls::version::TLS13];
    let v12 = [&rustls::version::TLS12];
    let body = "{\"NumberOfBytes\": 8}";
    let target = "TrentService.GenerateRandom";
    let addr = trent.addr();

    let ok = tls_kms_request(
        addr,
        client_config(&ca, Some((&cert, &key)), &v13, &[]),
        target,
        body,
        true,
    )
    .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    let ok12 = tls_kms_request(
        addr,
        client_config(&ca, Some((&cert, &key)), &v12, &[]),
        target,
        body,
        true,
    )
    .unwrap();
    assert_eq!(ok12.status, 200, "{}", ok12.body);
    // SigV4 still authenticates: a certificate alone is not enough.
    let unsigned = tls_kms_request(
        addr,
        client_config(&ca, Some((&cert, &key)), &v13, &[]),
        target,
        body,
        false,
    )
    .unwrap();
    assert_eq!(unsigned.status, 403, "{}", unsigned.body);
    assert!(
        unsigned.body.contains("MissingAuthenticationToken"),
        "{}",
        unsigned.body
    );

    let rogue = Some((rogue_cert.as_str(), rogue_key.as_str()));
    for (what, identity) in [
        ("no certificate", None),
        ("a certificate from another CA", rogue),
    ] {
        for versions in [&v13[..], &v12[..]] {
            let refused = tls_kms_request(
                addr,
                client_config(&ca, identity, versions, &[]),
                target,
                body,
                true,
            );
            assert!(
                refused.as_ref().is_err() || refused.as_ref().is_ok_and(|r| r.status == 0),
                "{what} was admitted: {refused:?}"
            );
        }
    }
    // An SDK client (no client certificate) is refused too.
    let sdk = sdk_with_ca(trent.endpoint(), ca.as_bytes());
    assert!(
        sdk.generate_random()
            .number_of_bytes(8)
            .send()
            .await
            .is_err()
    );

    // The verified subject is in the audit record.
    let records = crate::audit::export(&trent);
    let record = records
        .iter()
        .find(|r| r["requestID"] == ok.request_id.as_str())
        .unwrap_or_else(|| panic!("no record of {}", ok.request_id));
    assert_eq!(
        record["tlsDetails"]["clientCertificateSubject"],
        "CN=app-1,O=Trent Tests"
    );
    assert_eq!(record["tlsDetails"]["tlsVersion"], "TLSv1.3");
    let record12 = records
        .iter()
        .find(|r| r["requestID"] == ok12.request_id.as_str())
        .unwrap();
    assert_eq!(record12["tlsDetails"]["tlsVersion"], "TLSv1.2");
    assert_eq!(
        record12["tlsDetails"]["clientCertificateSubject"],
        "CN=app-1,O=Trent Tests"
    );
    let unsigned_records = records
        .iter()
        .filter(|r| r["requestID"] == unsigned.request_id.as_str())
        .count();
    assert_eq!(
        unsigned_records, 1,
        "the unsigned request was not recorded once"
    );
}

// Multi-thread: the clients' HTTP/2 connections must keep answering the
// server (GOAWAY, PING) while the test thread blocks in `stop`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_reload_under_load_without_a_failed_request() {
    let pki = Pki::new("Trent reload CA");
    let first = pki.write_server_leaf();
    let dir = pki.dir.path().to_owned();
    let mut trent = Trent::start_with(Options {
        extra_args: vec![
            "--tls-cert".into(),
            dir.join("cert.pem").display().to_string(),
            "--tls-key".into(),
            dir.join("key.pem").display().to_string(),
        ],
        ..Options::default()
    });
    let ca = pki.ca_pem.clone();
    let addr = trent.addr().to_owned();
    let served = {
        let (a, c) = (addr.clone(), ca.clone());
        tokio::task::spawn_blocking(move || served_certificate(&a, &c))
            .await
            .unwrap()
    };
    assert_eq!(served, first);
    let client = sdk_with_ca(trent.endpoint(), ca.as_bytes());
    let key = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut workers = Vec::new();
    for i in 0..4u32 {
        // Half the workers keep opening new connections (new handshakes)
        // while the others keep theirs in flight across the reloads.
        let (stop, ok, failed, key) = (stop.clone(), ok.clone(), failed.clone(), key.clone());
        let (endpoint, ca) = (trent.endpoint().to_owned(), ca.clone());
        workers.push(tokio::spawn(async move {
            let mut client = sdk_with_ca(&endpoint, ca.as_bytes());
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                if n.is_multiple_of(20) && i.is_multiple_of(2) {
                    client = sdk_with_ca(&endpoint, ca.as_bytes());
                }
                match client
                    .encrypt()
                    .key_id(&key)
                    .plaintext(Blob::new("reload"))
                    .send()
                    .await
                {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        eprintln!("request failed during reload: {e:?}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 1. New files, then SIGHUP.
    let second = pki.write_server_leaf();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &trent.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    wait_for_certificate(&addr, &ca, &second).await;

    // 2. New files only: picked up by the file watch.
    let third = pki.write_server_leaf();
    wait_for_certificate(&addr, &ca, &third).await;

    // 3. A broken key is refused; the last good certificate stays.
    let broken = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    std::fs::write(dir.join("key.pem"), broken).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    wait_for_certificate(&addr, &ca, &third).await;

    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(
        failed, 0,
        "{failed} requests failed across reloads ({ok} succeeded)"
    );
    assert!(ok > 50, "too little load to mean anything: {ok}");
    assert!(trent.log().contains("TLS certificate reloaded"));
    assert!(trent.log().contains("TLS reload failed"));
    trent.stop();
}

async fn wait_for_certificate(addr: &str, ca: &str, want: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (a, c) = (addr.to_owned(), ca.to_owned());
        let served = tokio::task::spawn_blocking(move || served_certificate(&a, &c))
            .await
            .unwrap();
        if served == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let trent = Trent::stopped(Options::default());
    let out = trent.cli(&["serve", "--listen", "0.0.0.0:0", "--seal", "dev"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing plain HTTP"), "{stderr}");
    // --tls-client-ca alone is a configuration error.
    let out = trent.cli(&["serve", "--tls-client-ca", "/nonexistent", "--seal", "dev"]);
    assert!(!out.status.success());
}
