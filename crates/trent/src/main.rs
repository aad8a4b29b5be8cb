//! `trent`: the server and its admin commands.
//!
//! - `trent serve` runs a node on a data directory (SQLite store).
//! - `trent credentials add|list|remove` provisions access keys, also while
//!   the server runs.

#![warn(missing_docs)]

mod data_dir;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "trent",
    version,
    about = "Trent: a self-hosted key management service that speaks the AWS KMS API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage access keys.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
}

/// Which seal protects the root key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SealChoice {
    /// The seal the store was initialized with; `dev` for a new store.
    Auto,
    /// A key file in the data dir: insecure, for development.
    Dev,
    /// A passphrase (Argon2id) from TRENT_PASSPHRASE or --passphrase-file.
    Passphrase,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SealArgs {
    /// How the root key is sealed.
    #[arg(long, value_enum, default_value_t = SealChoice::Auto, env = "TRENT_SEAL")]
    pub(crate) seal: SealChoice,
    /// File holding the passphrase (first line), instead of TRENT_PASSPHRASE.
    #[arg(long, env = "TRENT_PASSPHRASE_FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Data directory (created if absent).
    #[arg(long, default_value = "./trent-data", env = "TRENT_DATA_DIR")]
    pub(crate) data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4599", env = "TRENT_LISTEN")]
    pub(crate) listen: String,
    /// Region this node serves.
    #[arg(long, default_value = "us-east-1", env = "TRENT_REGION")]
    pub(crate) region: String,
    #[command(flatten)]
    pub(crate) seal: SealArgs,
    /// Accept any well-formed SigV4 signature without checking the secret
    /// (local development only; never in production).
    #[arg(long)]
    pub(crate) dev_auth: bool,
    /// Enable POST /_trent/test/advance-clock (tests only).
    #[arg(long, hide = true)]
    pub(crate) unsafe_test_clock: bool,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    pub(crate) log_json: bool,
}

#[derive(Debug, Subcommand)]
enum CredentialsCommand {
    /// Add an access key for an account root or an IAM user.
    Add(CredentialsAddArgs),
    /// List access keys (secrets are never shown).
    List(DataDirArgs),
    /// Remove an access key.
    Remove(CredentialsRemoveArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DataDirArgs {
    /// Data directory.
    #[arg(long, default_value = "./trent-data", env = "TRENT_DATA_DIR")]
    pub(crate) data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct CredentialsAddArgs {
    #[command(flatten)]
    pub(crate) dir: DataDirArgs,
    #[command(flatten)]
    pub(crate) seal: SealArgs,
    /// 12-digit account id (created on first use).
    #[arg(long)]
    pub(crate) account_id: String,
    /// The access key id.
    #[arg(long)]
    pub(crate) access_key_id: String,
    /// The secret access key (or set TRENT_SECRET_ACCESS_KEY).
    #[arg(long, env = "TRENT_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub(crate) secret_access_key: String,
    /// IAM user name; without it the key is the account root's.
    #[arg(long)]
    pub(crate) user: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CredentialsRemoveArgs {
    #[command(flatten)]
    pub(crate) dir: DataDirArgs,
    /// The access key id to remove.
    #[arg(long)]
    pub(crate) access_key_id: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Credentials(CredentialsCommand::Add(args)) => data_dir::credentials_add(args),
        Command::Credentials(CredentialsCommand::List(args)) => data_dir::credentials_list(args),
        Command::Credentials(CredentialsCommand::Remove(args)) => {
            data_dir::credentials_remove(args)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("trent: {message}");
            ExitCode::FAILURE
        }
    }
}
