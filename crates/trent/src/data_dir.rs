//! The data directory: opening its store, choosing and opening its seal, and
//! the credential commands that work on it (also while a server runs).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trent_core::credential::{self, CredentialRecord};
use trent_crypto::root::RootKey;
use trent_crypto::seal::{DevFileSeal, PassphraseSeal, Seal, sealed_kind};
use trent_server::node::{SEALED_ROOT_META, unseal_or_init};
use trent_store::Store;
use trent_store::sqlite::SqliteStore;
use zeroize::Zeroizing;

use crate::{CredentialsAddArgs, CredentialsRemoveArgs, DataDirArgs, SealArgs, SealChoice};

/// The SQLite file inside a data dir.
pub(crate) fn store_path(dir: &Path) -> PathBuf {
    dir.join("trent.db")
}

/// Where the store lives when it is not the data dir's SQLite file: a
/// `postgres://` URL from `--store`, `TRENT_STORE` or the configuration
/// file, set once at start.
static STORE_LOCATION: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Points every command's store at `location` (a `postgres://` URL, or a
/// SQLite file path) instead of the data dir's file. The data dir still
/// holds the node's local files (dev seal key, TLS, audit log).
pub(crate) fn set_store_location(location: String) {
    let _ = STORE_LOCATION.set(location);
}

/// Whether the store is the data dir's own SQLite file.
pub(crate) fn store_is_local() -> bool {
    STORE_LOCATION.get().is_none()
}

/// Opens (creating if needed) the data dir's store, or the shared one
/// `--store` names.
pub(crate) fn open_store(dir: &Path) -> Result<Arc<dyn Store>, String> {
    create_private_dir(dir)?;
    if let Some(location) = STORE_LOCATION.get() {
        return trent_store::open(location).map_err(|e| {
            let shown = if trent_store::is_postgres_url(location) {
                "the PostgreSQL store".to_owned()
            } else {
                location.clone()
            };
            format!("opening {shown}: {e}")
        });
    }
    create_private_file(&store_path(dir))?;
    SqliteStore::open(&store_path(dir))
        .map(|store| Arc::new(store) as Arc<dyn Store>)
        .map_err(|e| format!("opening the store in {}: {e}", dir.display()))
}

/// Creates an empty file readable only by its owner, unless it exists, so
/// that SQLite (which gives its -wal and -shm files the database file's mode)
/// never makes the store world-readable.
fn create_private_file(path: &Path) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("creating {}: {e}", path.display())),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
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

/// How a data dir's root key gets opened.
pub(crate) enum SealPlan {
    /// With this seal, now.
    Open(Box<dyn Seal>),
    /// Later, by operators submitting Shamir shares to the running node.
    AwaitShares,
}

/// Builds the seal to use: the one asked for, or with `auto` the one the
/// store was initialized with (dev for a new store).
pub(crate) fn choose_seal(
    dir: &Path,
    store: &dyn Store,
    args: &SealArgs,
) -> Result<SealPlan, String> {
    let existing = store
        .get_meta(SEALED_ROOT_META)
        .map_err(|e| e.to_string())?
        .and_then(|sealed| sealed_kind(&sealed));
    let choice = match (args.seal, existing) {
        (SealChoice::Auto, Some("passphrase")) => SealChoice::Passphrase,
        (SealChoice::Auto, Some("shamir")) => SealChoice::Shamir,
        (SealChoice::Auto, Some("pkcs11")) => SealChoice::Pkcs11,
        (SealChoice::Auto, _) => SealChoice::Dev,
        (explicit, _) => explicit,
    };
    match (choice, existing) {
        (SealChoice::Shamir, Some("shamir")) => Ok(SealPlan::AwaitShares),
        (SealChoice::Shamir, _) => {
            Err("this data dir is not sealed with Shamir shares: set that up with `trent operator init`".into())
        }
        (SealChoice::Passphrase, _) => Ok(SealPlan::Open(Box::new(passphrase_seal(args)?))),
        (SealChoice::Pkcs11, _) => Ok(SealPlan::Open(Box::new(pkcs11_seal(args)?))),
        _ => Ok(SealPlan::Open(Box::new(DevFileSeal::new(dir.join("dev-seal.key"))))),
    }
}

/// The HSM seal: the `[[hsm]]` named by --seal-hsm (or the only one), the
/// PIN from --hsm-pin-file or TRENT_HSM_PIN. Nothing here touches the
/// token: an unreachable HSM shows when unsealing, which leaves the node
/// sealed rather than stopping it.
pub(crate) fn pkcs11_seal(args: &SealArgs) -> Result<trent_crypto::pkcs11::Pkcs11Seal, String> {
    let hsm = match &args.seal_hsm {
        Some(name) => args.hsms.iter().find(|h| &h.name == name),
        None if args.hsms.len() == 1 => args.hsms.first(),
        None => None,
    }
    .ok_or("the pkcs11 seal needs an [[hsm]] in the configuration file (and --seal-hsm NAME if there are several)")?;
    let pin = match &args.hsm_pin_file {
        Some(path) => {
            let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?);
            Zeroizing::new(text.lines().next().unwrap_or_default().to_owned())
        }
        None => match std::env::var("TRENT_HSM_PIN") {
            Ok(p) if !p.is_empty() => Zeroizing::new(p),
            _ => return Err("the pkcs11 seal needs the token user PIN: set TRENT_HSM_PIN or pass --hsm-pin-file".into()),
        },
    };
    Ok(trent_crypto::pkcs11::Pkcs11Seal::new(
        hsm.clone(),
        pin,
        trent_crypto::pkcs11::DEFAULT_SEAL_KEY_LABEL,
    ))
}

/// The passphrase seal, with the passphrase from the flags or environment.
pub(crate) fn passphrase_seal(args: &SealArgs) -> Result<PassphraseSeal, String> {
    Ok(PassphraseSeal::new(read_passphrase(args)?))
}

fn read_passphrase(args: &SealArgs) -> Result<Zeroizing<String>, String> {
    if let Some(path) = &args.passphrase_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?,
        );
        let line = text.lines().next().unwrap_or_default();
        return Ok(Zeroizing::new(line.to_owned()));
    }
    match std::env::var("TRENT_PASSPHRASE") {
        Ok(p) if !p.is_empty() => Ok(Zeroizing::new(p)),
        _ => Err("the passphrase seal needs a passphrase: set TRENT_PASSPHRASE or pass --passphrase-file".into()),
    }
}

/// Opens the root key of a data dir, creating it on a new store. A
/// Shamir-sealed store cannot be opened here: its shares go to the node.
pub(crate) fn open_root(dir: &Path, store: &dyn Store, args: &SealArgs) -> Result<RootKey, String> {
    match choose_seal(dir, store, args)? {
        SealPlan::Open(seal) => unseal_or_init(store, seal.as_ref())
            .map_err(|e| format!("unsealing the root key ({} seal): {e}", seal.name())),
        SealPlan::AwaitShares => Err(
            "this data dir is sealed with Shamir shares, which only a running node can \
             combine; add credentials before `trent operator init`"
                .into(),
        ),
    }
}

pub(crate) fn credentials_add(args: CredentialsAddArgs) -> Result<(), String> {
    if !trent_core::ids::is_account_id(&args.account_id) {
        return Err(format!(
            "--account-id must be 12 digits, not '{}'",
            args.account_id
        ));
    }
    if !credential::valid_access_key_id(&args.access_key_id) {
        return Err("--access-key-id must be 1–128 ASCII letters and digits".into());
    }
    if args.secret_access_key.len() < 8 || args.secret_access_key.len() > 256 {
        return Err("--secret-access-key must have 8–256 characters".into());
    }
    if let Some(user) = &args.user {
        let valid = !user.is_empty()
            && user.len() <= 64
            && user
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !valid {
            return Err("--user must be 1–64 characters of letters, digits and +=,.@_-".into());
        }
    }
    let store = open_store(&args.dir.data_dir)?;
    let root = open_root(&args.dir.data_dir, store.as_ref(), &args.seal)?;
    let record = new_credential(
        &root,
        &args.account_id,
        args.user.clone(),
        &args.access_key_id,
        args.secret_access_key.as_bytes(),
    )?;
    store.put_credential(&record).map_err(|e| e.to_string())?;
    println!(
        "added access key {} for {}",
        record.access_key_id,
        record.principal_arn()
    );
    Ok(())
}

/// A credential record with its secret wrapped under the root key.
pub(crate) fn new_credential(
    root: &RootKey,
    account_id: &str,
    user: Option<String>,
    access_key_id: &str,
    secret: &[u8],
) -> Result<CredentialRecord, String> {
    let wrapped_secret = trent_server::credentials::wrap_secret(root, access_key_id, secret)
        .map_err(|e| e.to_string())?;
    Ok(CredentialRecord {
        access_key_id: access_key_id.to_owned(),
        account_id: account_id.to_owned(),
        user,
        wrapped_secret,
        created: time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
    })
}

pub(crate) fn credentials_list(args: DataDirArgs) -> Result<(), String> {
    let store = open_store(&args.data_dir)?;
    let credentials = store.list_credentials().map_err(|e| e.to_string())?;
    println!("{:<24} {:<14} PRINCIPAL", "ACCESS KEY ID", "ACCOUNT");
    for c in credentials {
        println!(
            "{:<24} {:<14} {}",
            c.access_key_id,
            c.account_id,
            c.principal_arn()
        );
    }
    Ok(())
}

pub(crate) fn credentials_remove(args: CredentialsRemoveArgs) -> Result<(), String> {
    let store = open_store(&args.dir.data_dir)?;
    if store
        .remove_credential(&args.access_key_id)
        .map_err(|e| e.to_string())?
    {
        println!("removed access key {}", args.access_key_id);
        Ok(())
    } else {
        Err(format!("no access key {}", args.access_key_id))
    }
}

/// On first start with no credentials, creates an account and an admin key,
/// prints them once and writes them to `DIR/bootstrap-credentials` (0600).
pub(crate) fn bootstrap_credentials(
    dir: &Path,
    store: &dyn Store,
    root: &RootKey,
) -> Result<(), String> {
    if !store
        .list_credentials()
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Ok(());
    }
    let account_id = random_digits(12)?;
    let access_key_id = format!(
        "AKIA{}",
        random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)?
    );
    let secret = zeroize::Zeroizing::new(random_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        40,
    )?);
    let record = new_credential(root, &account_id, None, &access_key_id, secret.as_bytes())?;
    store.put_credential(&record).map_err(|e| e.to_string())?;
    let path = dir.join("bootstrap-credentials");
    let file = zeroize::Zeroizing::new(format!(
        "# Created by trent on first start: the root of account {account_id}.\n[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {}\n",
        secret.as_str()
    ));
    let _ = std::fs::remove_file(&path);
    trent_crypto::seal::write_private_file(&path, file.as_bytes()).map_err(|e| e.to_string())?;
    println!("created account {account_id} with an admin access key (shown once):");
    println!("  aws_access_key_id     = {access_key_id}");
    println!("  aws_secret_access_key = {}", secret.as_str());
    println!(
        "written to {} — use AWS_SHARED_CREDENTIALS_FILE={}",
        path.display(),
        path.display()
    );
    Ok(())
}

fn random_from(alphabet: &[u8], n: usize) -> Result<String, String> {
    let mut bytes = vec![0u8; n];
    trent_crypto::random_bytes(&mut bytes).map_err(|e| e.to_string())?;
    // alphabet lengths are powers of two (32, 64), so the modulo is unbiased
    Ok(bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect())
}

fn random_digits(n: usize) -> Result<String, String> {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut byte = [0u8; 1];
        trent_crypto::random_bytes(&mut byte).map_err(|e| e.to_string())?;
        if byte[0] < 250 {
            out.push(char::from(b'0' + byte[0] % 10));
        }
    }
    Ok(out)
}

/// Creates the operator token on a store that has none: its SHA-256 goes
/// into the store, the token itself into `DIR/operator-token` (mode 0600).
/// Operator commands that change or copy the whole store (backup) present it.
pub(crate) fn ensure_operator_token(dir: &Path, store: &dyn Store) -> Result<(), String> {
    use trent_server::operator::OPERATOR_TOKEN_META;
    if store
        .get_meta(OPERATOR_TOKEN_META)
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Ok(());
    }
    let mut raw = [0u8; 32];
    trent_crypto::random_bytes(&mut raw).map_err(|e| e.to_string())?;
    let token = Zeroizing::new(raw.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    if !store
        .put_meta_if_absent(OPERATOR_TOKEN_META, hash.as_ref())
        .map_err(|e| e.to_string())?
    {
        return Ok(());
    }
    let path = dir.join("operator-token");
    let _ = std::fs::remove_file(&path);
    trent_crypto::seal::write_private_file(&path, format!("{}\n", token.as_str()).as_bytes())
        .map_err(|e| e.to_string())?;
    println!("operator token written to {}", path.display());
    Ok(())
}
