//! `trent backup` (from a running node) and `trent restore` (into an empty
//! data dir). See `trent_server::backup` for the file format.

use std::path::PathBuf;

use clap::Args;
use trent_crypto::seal::{DevFileSeal, Seal, sealed_kind};
use trent_server::backup::{self, PENDING_CHECK_META};
use trent_server::node::SEALED_ROOT_META;

use crate::SealArgs;
use crate::client;
use crate::data_dir::{open_store, passphrase_seal};

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// Where to write the backup.
    #[arg(long)]
    out: PathBuf,
    /// The node's address.
    #[arg(long, default_value = "http://127.0.0.1:4599", env = "TRENT_ADDR")]
    addr: String,
    /// The operator token file (written to the data dir on first start).
    #[arg(
        long,
        default_value = "./trent-data/operator-token",
        env = "TRENT_OPERATOR_TOKEN_FILE"
    )]
    token_file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The backup file.
    #[arg(long)]
    from: PathBuf,
    /// An empty (or absent) data directory to restore into.
    #[arg(long)]
    data_dir: PathBuf,
    #[command(flatten)]
    seal: SealArgs,
}

pub(crate) fn backup(args: BackupArgs) -> Result<(), String> {
    let token = zeroize::Zeroizing::new(
        std::fs::read_to_string(&args.token_file)
            .map_err(|e| format!("reading {}: {e}", args.token_file.display()))?,
    );
    let bearer = zeroize::Zeroizing::new(format!("Bearer {}", token.trim()));
    let reply = client::call_with(
        &args.addr,
        "POST",
        "/_trent/operator/backup",
        "",
        &[("Authorization", &bearer)],
    )?;
    if reply.status != 200 {
        return Err(format!(
            "the node refused the backup ({}): {}",
            reply.status,
            reply.text()
        ));
    }
    backup::decode(&reply.body).map_err(|e| format!("the node sent an unreadable backup: {e}"))?;
    let partial = args.out.with_extension("partial");
    std::fs::write(&partial, &reply.body)
        .map_err(|e| format!("writing {}: {e}", partial.display()))?;
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| e.to_string())?;
    std::fs::rename(&partial, &args.out)
        .map_err(|e| format!("writing {}: {e}", args.out.display()))?;
    println!("wrote {} ({} bytes)", args.out.display(), reply.body.len());
    Ok(())
}

pub(crate) fn restore(args: RestoreArgs) -> Result<(), String> {
    let file =
        std::fs::read(&args.from).map_err(|e| format!("reading {}: {e}", args.from.display()))?;
    let mut checked = backup::decode(&file).map_err(|e| format!("{}: {e}", args.from.display()))?;
    let sealed = checked
        .snapshot
        .meta
        .iter()
        .find(|(name, _)| name == SEALED_ROOT_META)
        .map(|(_, value)| value.clone())
        .ok_or("the backup holds no sealed root key")?;
    let seal: Option<Box<dyn Seal>> = match sealed_kind(&sealed) {
        Some("dev-file") => {
            let key = args.data_dir.join("dev-seal.key");
            if !key.exists() {
                return Err(format!(
                    "this backup is sealed with the dev seal: copy dev-seal.key from the original data dir to {} first",
                    key.display()
                ));
            }
            Some(Box::new(DevFileSeal::new(key)))
        }
        Some("passphrase") => passphrase_seal(&args.seal)
            .ok()
            .map(|s| Box::new(s) as Box<dyn Seal>),
        _ => None,
    };
    match seal {
        Some(seal) => {
            let root = seal
                .unseal(&sealed)
                .map_err(|e| format!("opening the backup's root key: {e}"))?;
            backup::check(&checked.pending, &root).map_err(|e| e.to_string())?;
            println!("integrity check passed");
        }
        None => {
            checked
                .snapshot
                .meta
                .push((PENDING_CHECK_META.to_owned(), checked.pending.clone()));
            println!("the integrity check will run when the node is unsealed");
        }
    }
    let store = open_store(&args.data_dir)?;
    store.import(&checked.snapshot).map_err(|e| match e {
        trent_store::Error::AlreadyExists => format!(
            "{} is not empty: restore into a new data dir",
            args.data_dir.display()
        ),
        other => other.to_string(),
    })?;
    println!(
        "restored {} keys, {} aliases and {} access keys into {}",
        checked.snapshot.keys.len(),
        checked.snapshot.aliases.len(),
        checked.snapshot.credentials.len(),
        args.data_dir.display()
    );
    Ok(())
}
