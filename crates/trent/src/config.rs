//! The configuration file (`trent serve --config trent.toml`): everything
//! the `serve` flags set, in TOML. Precedence, highest first: command-line
//! flags, `TRENT_…` environment variables, the file, built-in defaults.
//! Unknown keys and bad values are errors that name the field.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;

use crate::{SealChoice, ServeArgs};

/// The file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    /// Data directory.
    pub(crate) data_dir: Option<PathBuf>,
    /// Listen address.
    pub(crate) listen: Option<String>,
    /// Region served.
    pub(crate) region: Option<String>,
    /// Root-key seal: auto, dev, passphrase, shamir.
    pub(crate) seal: Option<String>,
    /// File holding the passphrase.
    pub(crate) passphrase_file: Option<PathBuf>,
    /// Accept any well-formed signature (development only).
    pub(crate) dev_auth: Option<bool>,
    /// Log as JSON lines.
    pub(crate) log_json: Option<bool>,
    /// The store, when not the data dir's SQLite file (`postgres://…`).
    pub(crate) store: Option<String>,
    /// TLS settings (`[tls]`).
    #[serde(default)]
    pub(crate) tls: TlsTable,
    /// Audit log settings (`[audit]`).
    #[serde(default)]
    pub(crate) audit: AuditTable,
    /// HSMs for custom key stores and the pkcs11 seal (`[[hsm]]` tables).
    #[serde(default)]
    pub(crate) hsm: Vec<HsmTable>,
}

/// The `[tls]` table: the `--tls-…` flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsTable {
    /// Certificate chain (PEM).
    pub(crate) cert: Option<PathBuf>,
    /// Private key (PEM).
    pub(crate) key: Option<PathBuf>,
    /// Generate a local CA and leaf in the data dir (development).
    pub(crate) self_signed: Option<bool>,
    /// Extra subject alternative names for the self-signed leaf.
    pub(crate) san: Option<Vec<String>>,
    /// Require client certificates signed by this CA (PEM).
    pub(crate) client_ca: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address.
    pub(crate) insecure_plain_http: Option<bool>,
}

/// The `[audit]` table: the `--audit-…` flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditTable {
    /// Segment directory.
    pub(crate) dir: Option<PathBuf>,
    /// This node's id in the log.
    pub(crate) node_id: Option<String>,
    /// `buffered` or `strict`.
    pub(crate) durability: Option<String>,
    /// Segment size limit in bytes.
    pub(crate) segment_bytes: Option<u64>,
    /// Segment age limit (`1d`, `6h`, …).
    pub(crate) segment_age: Option<String>,
    /// Delete closed segments older than this.
    pub(crate) retain_age: Option<String>,
    /// Delete oldest segments beyond this many bytes.
    pub(crate) retain_bytes: Option<u64>,
    /// Signed checkpoint interval.
    pub(crate) checkpoint_interval: Option<String>,
}

/// One `[[hsm]]` table: a PKCS#11 token Trent may use (docs/HSM.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HsmTable {
    /// The name custom key stores give as `CloudHsmClusterId`.
    pub(crate) name: String,
    /// The PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so.
    pub(crate) module: PathBuf,
    /// The token's label.
    pub(crate) token_label: Option<String>,
    /// The slot id, instead of a label.
    pub(crate) slot: Option<u64>,
    /// Seconds one HSM call may take (default 10).
    pub(crate) timeout_secs: Option<u64>,
}

impl HsmTable {
    fn to_config(&self) -> trent_crypto::pkcs11::HsmConfig {
        trent_crypto::pkcs11::HsmConfig {
            name: self.name.clone(),
            module: self.module.clone(),
            token_label: self.token_label.clone(),
            slot: self.slot,
            timeout: self
                .timeout_secs
                .map(std::time::Duration::from_secs)
                .unwrap_or(trent_crypto::pkcs11::HsmConfig::DEFAULT_TIMEOUT),
        }
    }
}

/// Reads and validates a configuration file.
pub(crate) fn load(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config: FileConfig = toml::from_str(&text)
        .map_err(|e| format!("{}: {}", path.display(), e.to_string().trim()))?;
    validate(&config).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(config)
}

fn validate(config: &FileConfig) -> Result<(), String> {
    if let Some(listen) = &config.listen {
        listen
            .parse::<SocketAddr>()
            .map_err(|_| format!("listen: '{listen}' is not an address like 127.0.0.1:4599"))?;
    }
    if let Some(region) = &config.region {
        let valid = !region.is_empty()
            && region.len() <= 32
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(format!(
                "region: '{region}' is not a region name like us-east-1"
            ));
        }
    }
    if let Some(seal) = &config.seal {
        parse_seal(seal)?;
    }
    for (i, hsm) in config.hsm.iter().enumerate() {
        if hsm.name.is_empty() || config.hsm[..i].iter().any(|h| h.name == hsm.name) {
            return Err(format!(
                "hsm: names must be unique and non-empty ('{}')",
                hsm.name
            ));
        }
        if hsm.token_label.is_none() == hsm.slot.is_none() {
            return Err(format!(
                "hsm '{}': give exactly one of token_label and slot",
                hsm.name
            ));
        }
        if hsm.timeout_secs == Some(0) {
            return Err(format!("hsm '{}': timeout_secs must be positive", hsm.name));
        }
    }
    if config
        .data_dir
        .as_ref()
        .is_some_and(|d| d.as_os_str().is_empty())
    {
        return Err("data_dir: must not be empty".into());
    }
    if config.tls.key.is_some() != config.tls.cert.is_some() {
        return Err("tls: give both cert and key, or neither".into());
    }
    if let Some(d) = &config.audit.durability {
        parse_durability(d)?;
    }
    for (field, value) in [
        ("segment_age", &config.audit.segment_age),
        ("retain_age", &config.audit.retain_age),
        ("checkpoint_interval", &config.audit.checkpoint_interval),
    ] {
        if let Some(v) = value {
            crate::audit::parse_duration(v).map_err(|e| format!("audit.{field}: {e}"))?;
        }
    }
    Ok(())
}

fn parse_durability(value: &str) -> Result<crate::audit::DurabilityChoice, String> {
    <crate::audit::DurabilityChoice as clap::ValueEnum>::from_str(value, false)
        .map_err(|_| format!("audit.durability: '{value}' is not one of buffered, strict"))
}

fn parse_seal(seal: &str) -> Result<SealChoice, String> {
    match seal {
        "auto" => Ok(SealChoice::Auto),
        "dev" => Ok(SealChoice::Dev),
        "passphrase" => Ok(SealChoice::Passphrase),
        "shamir" => Ok(SealChoice::Shamir),
        "pkcs11" => Ok(SealChoice::Pkcs11),
        other => Err(format!(
            "seal: '{other}' is not one of auto, dev, passphrase, shamir, pkcs11"
        )),
    }
}

/// Whether a flag was left at its default (neither given nor set by env).
fn defaulted(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        None | Some(ValueSource::DefaultValue)
    )
}

/// Fills every flag the user did not set (on the command line or in the
/// environment) from the file.
pub(crate) fn apply(
    args: &mut ServeArgs,
    matches: &ArgMatches,
    file: FileConfig,
) -> Result<(), String> {
    if let (true, Some(v)) = (defaulted(matches, "data_dir"), file.data_dir) {
        args.data_dir = v;
    }
    if let (true, Some(v)) = (defaulted(matches, "listen"), file.listen) {
        args.listen = v;
    }
    if let (true, Some(v)) = (defaulted(matches, "region"), file.region) {
        args.region = v;
    }
    if let (true, Some(v)) = (defaulted(matches, "seal"), file.seal) {
        args.seal.seal = parse_seal(&v)?;
    }
    if let (true, Some(v)) = (defaulted(matches, "passphrase_file"), file.passphrase_file) {
        args.seal.passphrase_file = Some(v);
    }
    if let (true, Some(v)) = (defaulted(matches, "dev_auth"), file.dev_auth) {
        args.dev_auth = v;
    }
    if let (true, Some(v)) = (defaulted(matches, "log_json"), file.log_json) {
        args.log_json = v;
    }
    if let (true, Some(v)) = (defaulted(matches, "store"), file.store) {
        crate::data_dir::set_store_location(v);
    }
    args.seal.hsms = file.hsm.iter().map(HsmTable::to_config).collect();
    apply_tls(args, matches, file.tls);
    apply_audit(args, matches, file.audit)
}

fn apply_tls(args: &mut ServeArgs, matches: &ArgMatches, tls: TlsTable) {
    let t = &mut args.tls;
    if let (true, Some(v)) = (defaulted(matches, "tls_cert"), tls.cert) {
        t.tls_cert = Some(v);
    }
    if let (true, Some(v)) = (defaulted(matches, "tls_key"), tls.key) {
        t.tls_key = Some(v);
    }
    if let (true, Some(v)) = (defaulted(matches, "tls_self_signed"), tls.self_signed) {
        t.tls_self_signed = v;
    }
    if let (true, Some(v)) = (defaulted(matches, "tls_san"), tls.san) {
        t.tls_san = v;
    }
    if let (true, Some(v)) = (defaulted(matches, "tls_client_ca"), tls.client_ca) {
        t.tls_client_ca = Some(v);
    }
    if let (true, Some(v)) = (
        defaulted(matches, "insecure_plain_http"),
        tls.insecure_plain_http,
    ) {
        t.insecure_plain_http = v;
    }
}

fn apply_audit(
    args: &mut ServeArgs,
    matches: &ArgMatches,
    audit: AuditTable,
) -> Result<(), String> {
    let a = &mut args.audit;
    let duration = |v: &str| crate::audit::parse_duration(v);
    if let (true, Some(v)) = (defaulted(matches, "audit_dir"), audit.dir) {
        a.audit_dir = Some(v);
    }
    if let (true, Some(v)) = (defaulted(matches, "audit_node_id"), audit.node_id) {
        a.audit_node_id = Some(v);
    }
    if let (true, Some(v)) = (defaulted(matches, "audit_durability"), audit.durability) {
        a.audit_durability = parse_durability(&v)?;
    }
    if let (true, Some(v)) = (
        defaulted(matches, "audit_segment_bytes"),
        audit.segment_bytes,
    ) {
        a.audit_segment_bytes = v;
    }
    if let (true, Some(v)) = (defaulted(matches, "audit_segment_age"), audit.segment_age) {
        a.audit_segment_age = duration(&v)?;
    }
    if let (true, Some(v)) = (defaulted(matches, "audit_retain_age"), audit.retain_age) {
        a.audit_retain_age = Some(duration(&v)?);
    }
    if let (true, Some(v)) = (defaulted(matches, "audit_retain_bytes"), audit.retain_bytes) {
        a.audit_retain_bytes = Some(v);
    }
    if let (true, Some(v)) = (
        defaulted(matches, "audit_checkpoint_interval"),
        audit.checkpoint_interval,
    ) {
        a.audit_checkpoint_interval = duration(&v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileConfig, String> {
        let config: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        validate(&config)?;
        Ok(config)
    }

    #[test]
    fn errors_name_the_field() {
        assert!(
            parse("listen = \"127.0.0.1:1\"\nregion = \"eu-west-1\"\nseal = \"passphrase\"")
                .is_ok()
        );
        assert!(
            parse("listen = \"nowhere\"")
                .unwrap_err()
                .starts_with("listen:")
        );
        assert!(
            parse("region = \"EU WEST\"")
                .unwrap_err()
                .starts_with("region:")
        );
        assert!(parse("seal = \"magic\"").unwrap_err().starts_with("seal:"));
        assert!(
            parse("data_dir = \"\"")
                .unwrap_err()
                .starts_with("data_dir:")
        );
        assert!(parse("listne = \"x\"").unwrap_err().contains("listne"));
        assert!(
            parse("dev_auth = \"yes\"")
                .unwrap_err()
                .contains("dev_auth")
        );
        assert!(
            parse("[tls]\ncert = \"/c.pem\"")
                .unwrap_err()
                .starts_with("tls:")
        );
        assert!(
            parse("[tls]\ncert = \"/c.pem\"\nkey = \"/k.pem\"\nclient_ca = \"/ca.pem\"").is_ok()
        );
        assert!(
            parse("[audit]\ndurability = \"sometimes\"")
                .unwrap_err()
                .starts_with("audit.durability:")
        );
        assert!(
            parse("[audit]\nsegment_age = \"soon\"")
                .unwrap_err()
                .starts_with("audit.segment_age:")
        );
        assert!(parse("[audit]\ndurability = \"strict\"\nretain_age = \"30d\"").is_ok());
        assert!(
            parse("[audit]\nsyncing = true")
                .unwrap_err()
                .contains("syncing")
        );
    }

    #[test]
    fn hsm_tables_are_checked() {
        let one = "[[hsm]]\nname = \"a\"\nmodule = \"/m.so\"\ntoken_label = \"t\"\n";
        let config = parse(one).unwrap();
        assert_eq!(
            config.hsm[0].to_config().timeout,
            trent_crypto::pkcs11::HsmConfig::DEFAULT_TIMEOUT
        );
        assert!(
            parse(&format!("{one}{one}"))
                .unwrap_err()
                .contains("unique")
        );
        let both = "[[hsm]]\nname = \"a\"\nmodule = \"/m.so\"\ntoken_label = \"t\"\nslot = 1\n";
        assert!(parse(both).unwrap_err().contains("exactly one"));
        assert!(parse("[[hsm]]\nname = \"a\"\nmodule = \"/m.so\"\npin = \"1\"\n").is_err());
        assert!(parse("seal = \"pkcs11\"").is_ok());
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../../../contrib/trent.example.toml");
        parse(text).unwrap();
    }
}
