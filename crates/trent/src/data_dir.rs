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

/// Opens (creating if needed) the data dir's store.
pub(crate) fn open_store(dir: &Path) -> Result<Arc<SqliteStore>, String> {
    create_private_dir(dir)?;
    SqliteStore::open(&store_path(dir))
        .map(Arc::new)
        .map_err(|e| format!("opening the store in {}: {e}", dir.display()))
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

/// Builds the seal to use: the one asked for, or with `auto` the one the
/// store was initialized with (dev for a new store).
pub(crate) fn choose_seal(
    dir: &Path,
    store: &dyn Store,
    args: &SealArgs,
) -> Result<Box<dyn Seal>, String> {
    let existing = store
        .get_meta(SEALED_ROOT_META)
        .map_err(|e| e.to_string())?
        .and_then(|sealed| sealed_kind(&sealed));
    let choice = match (args.seal, existing) {
        (SealChoice::Auto, Some("passphrase")) => SealChoice::Passphrase,
        (SealChoice::Auto, _) => SealChoice::Dev,
        (explicit, _) => explicit,
    };
    match choice {
        SealChoice::Passphrase => Ok(Box::new(PassphraseSeal::new(read_passphrase(args)?))),
        _ => Ok(Box::new(DevFileSeal::new(dir.join("dev-seal.key")))),
    }
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

/// Opens the root key of a data dir, creating it on a new store.
pub(crate) fn open_root(dir: &Path, store: &dyn Store, args: &SealArgs) -> Result<RootKey, String> {
    let seal = choose_seal(dir, store, args)?;
    unseal_or_init(store, seal.as_ref())
        .map_err(|e| format!("unsealing the root key ({} seal): {e}", seal.name()))
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
