//! `trent operator …`: initialize a data dir with a Shamir seal, and unseal,
//! seal and inspect a running node.

use std::io::BufRead;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use trent_crypto::seal::Seal;
use trent_crypto::shamir::{ShamirSeal, encrypt_share_to};
use trent_server::node::SEALED_ROOT_META;

use crate::client;
use crate::data_dir::{bootstrap_credentials, open_root, open_store};
use crate::{DataDirArgs, SealArgs};

#[derive(Debug, Subcommand)]
pub(crate) enum OperatorCommand {
    /// Seal the data dir's root key with Shamir shares (N shares, K needed).
    Init(InitArgs),
    /// Replace the shares (new N and K) without changing the root key; the
    /// current shares (K of them) are read one per line from stdin.
    Rekey(RekeyArgs),
    /// Submit unseal shares to a running node, one per line from stdin or a prompt.
    Unseal(AddrArgs),
    /// Seal a running node again (needs one valid share).
    Seal(AddrArgs),
    /// Show a running node's seal status.
    Status(AddrArgs),
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    dir: DataDirArgs,
    /// The seal the data dir has now, if it is already initialized.
    #[command(flatten)]
    current: SealArgs,
    /// Number of shares to make.
    #[arg(long)]
    shares: u8,
    /// Number of shares needed to unseal.
    #[arg(long)]
    threshold: u8,
    /// Write each share to its own file in this directory (mode 0600) instead of printing them.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Encrypt share i to the i-th operator's RSA public key (PEM files, comma-separated; needs --out-dir).
    #[arg(long, value_delimiter = ',')]
    public_keys: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RekeyArgs {
    #[command(flatten)]
    dir: DataDirArgs,
    /// Number of new shares.
    #[arg(long)]
    shares: u8,
    /// Number of new shares needed to unseal.
    #[arg(long)]
    threshold: u8,
    /// Write each new share to its own file in this directory instead of printing them.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Encrypt new share i to the i-th operator's RSA public key (needs --out-dir).
    #[arg(long, value_delimiter = ',')]
    public_keys: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct AddrArgs {
    /// The node's address.
    #[arg(long, default_value = "http://127.0.0.1:4599", env = "TRENT_ADDR")]
    addr: String,
}

pub(crate) fn run(command: OperatorCommand) -> Result<(), String> {
    match command {
        OperatorCommand::Init(args) => init(args),
        OperatorCommand::Rekey(args) => rekey(args),
        OperatorCommand::Unseal(args) => unseal(&args.addr),
        OperatorCommand::Seal(args) => seal(&args.addr),
        OperatorCommand::Status(args) => status(&args.addr),
    }
}

fn init(args: InitArgs) -> Result<(), String> {
    check_public_keys(&args.public_keys, args.out_dir.as_ref(), args.shares)?;
    let dir = &args.dir.data_dir;
    let store = open_store(dir)?;
    if let Some(sealed) = store
        .get_meta(SEALED_ROOT_META)
        .map_err(|e| e.to_string())?
        && trent_crypto::seal::sealed_kind(&sealed) == Some("shamir")
    {
        return Err("this data dir is already sealed with Shamir shares".into());
    }
    // The current root key (created now on a new data dir), re-sealed under a
    // fresh unseal key that only the shares can rebuild.
    let root = open_root(dir, store.as_ref(), &args.current)?;
    let (seal, shares) =
        ShamirSeal::generate(args.shares, args.threshold).map_err(|e| e.to_string())?;
    let sealed = seal.seal(&root).map_err(|e| e.to_string())?;
    bootstrap_credentials(dir, store.as_ref(), &root)?;
    write_shares(&args, &shares)?;
    store
        .put_meta(SEALED_ROOT_META, &sealed)
        .map_err(|e| e.to_string())?;
    let dev_key = dir.join("dev-seal.key");
    if dev_key.exists() {
        std::fs::remove_file(&dev_key)
            .map_err(|e| format!("removing {}: {e}", dev_key.display()))?;
    }
    println!(
        "sealed with {} shares, {} needed to unseal. Start the server, then run `trent operator unseal` {} times.",
        args.shares, args.threshold, args.threshold
    );
    Ok(())
}

/// Rebuilds the unseal key from current shares, checks it opens the root
/// key, and seals the same root key under a new split. A running node keeps
/// serving; its next start needs the new shares.
fn rekey(args: RekeyArgs) -> Result<(), String> {
    check_public_keys(&args.public_keys, args.out_dir.as_ref(), args.shares)?;
    let dir = &args.dir.data_dir;
    let store = open_store(dir)?;
    let sealed = store
        .get_meta(SEALED_ROOT_META)
        .map_err(|e| e.to_string())?
        .filter(|s| trent_crypto::seal::sealed_kind(s) == Some("shamir"))
        .ok_or("this data dir is not sealed with Shamir shares")?;
    let mut current = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = zeroize::Zeroizing::new(line.map_err(|e| e.to_string())?);
        if !line.trim().is_empty() {
            current.push(trent_crypto::shamir::Share::from_text(&line).map_err(|e| e.to_string())?);
        }
    }
    let old = ShamirSeal::from_shares(&sealed, &current).map_err(|e| e.to_string())?;
    let root = old.unseal(&sealed).map_err(|e| e.to_string())?;
    let (seal, shares) =
        ShamirSeal::generate(args.shares, args.threshold).map_err(|e| e.to_string())?;
    let resealed = seal.seal(&root).map_err(|e| e.to_string())?;
    write_share_files(args.out_dir.as_ref(), &args.public_keys, &shares)?;
    store
        .put_meta(SEALED_ROOT_META, &resealed)
        .map_err(|e| e.to_string())?;
    println!(
        "rekeyed: {} new shares, {} needed. The old shares no longer open this store.",
        args.shares, args.threshold
    );
    Ok(())
}

fn check_public_keys(
    keys: &[PathBuf],
    out_dir: Option<&PathBuf>,
    shares: u8,
) -> Result<(), String> {
    if keys.is_empty() {
        return Ok(());
    }
    if out_dir.is_none() {
        return Err("--public-keys needs --out-dir".into());
    }
    if keys.len() != usize::from(shares) {
        return Err(format!(
            "--public-keys lists {} keys for {shares} shares",
            keys.len()
        ));
    }
    Ok(())
}

fn write_shares(args: &InitArgs, shares: &[trent_crypto::shamir::Share]) -> Result<(), String> {
    write_share_files(args.out_dir.as_ref(), &args.public_keys, shares)
}

fn write_share_files(
    out_dir: Option<&PathBuf>,
    public_keys: &[PathBuf],
    shares: &[trent_crypto::shamir::Share],
) -> Result<(), String> {
    let Some(out) = out_dir else {
        println!("Unseal shares (shown once; give each to a different operator):");
        for (i, share) in shares.iter().enumerate() {
            println!("  share {}: {}", i + 1, share.to_text().as_str());
        }
        return Ok(());
    };
    std::fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    for (i, share) in shares.iter().enumerate() {
        let (path, bytes) = match public_keys.get(i) {
            Some(key_path) => {
                let pem = std::fs::read_to_string(key_path)
                    .map_err(|e| format!("reading {}: {e}", key_path.display()))?;
                let sealed = encrypt_share_to(&pem, share)
                    .map_err(|e| format!("{}: {e}", key_path.display()))?;
                (out.join(format!("share-{}.enc", i + 1)), sealed)
            }
            None => (
                out.join(format!("share-{}.txt", i + 1)),
                format!("{}\n", share.to_text().as_str()).into_bytes(),
            ),
        };
        trent_crypto::seal::write_private_file(&path, &bytes).map_err(|e| e.to_string())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn post_share(addr: &str, path: &str, share: &str) -> Result<serde_json::Value, String> {
    let body = serde_json::json!({ "share": share.trim() }).to_string();
    let reply = client::call(addr, "POST", path, &body)?;
    let value: serde_json::Value = serde_json::from_slice(&reply.body)
        .map_err(|_| format!("unexpected reply: {}", reply.text()))?;
    if reply.status != 200 {
        return Err(value
            .get("error")
            .and_then(|e| e.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| reply.text()));
    }
    Ok(value)
}

fn print_status(value: &serde_json::Value) {
    let sealed = value
        .get("sealed")
        .and_then(|v| v.as_bool())
        .unwrap_or(true);
    let seal = value
        .get("seal")
        .and_then(|v| v.as_str())
        .unwrap_or("unknown");
    print!(
        "{} (seal: {seal}",
        if sealed { "sealed" } else { "unsealed" }
    );
    if let (Some(t), Some(n)) = (
        value.get("threshold").and_then(|v| v.as_u64()),
        value.get("shares").and_then(|v| v.as_u64()),
    ) {
        let progress = value.get("progress").and_then(|v| v.as_u64()).unwrap_or(0);
        print!(", shares submitted {progress}/{t}, {n} made");
    }
    println!(")");
}

fn unseal(addr: &str) -> Result<(), String> {
    let stdin = std::io::stdin();
    let interactive = std::io::IsTerminal::is_terminal(&stdin);
    if interactive {
        eprintln!("paste an unseal share and press Enter (Ctrl-D to stop):");
    }
    let mut failures = 0;
    for line in stdin.lock().lines() {
        let line = zeroize::Zeroizing::new(line.map_err(|e| e.to_string())?);
        if line.trim().is_empty() {
            continue;
        }
        match post_share(addr, "/_trent/operator/unseal", &line) {
            Ok(value) => {
                print_status(&value);
                if value.get("sealed").and_then(|v| v.as_bool()) == Some(false) {
                    return Ok(());
                }
            }
            Err(e) => {
                eprintln!("share refused: {e}");
                failures += 1;
            }
        }
    }
    if failures > 0 {
        Err(format!(
            "{failures} share(s) refused; the node is still sealed"
        ))
    } else {
        Ok(())
    }
}

fn seal(addr: &str) -> Result<(), String> {
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    print_status(&post_share(addr, "/_trent/operator/seal", &line)?);
    Ok(())
}

fn status(addr: &str) -> Result<(), String> {
    let reply = client::call(addr, "GET", "/_trent/operator/status", "")?;
    let value: serde_json::Value = serde_json::from_slice(&reply.body)
        .map_err(|_| format!("unexpected reply: {}", reply.text()))?;
    print_status(&value);
    Ok(())
}
