//! `trent`: the server and its admin commands.
//!
//! - `trent serve` runs a node on a data directory (SQLite store), or one
//!   of several nodes sharing a PostgreSQL store (`--store postgres://…`).
//! - `trent credentials add|list|remove` provisions access keys, also while
//!   the server runs.
//! - `trent audit verify|tail|query|export|public-key` checks and reads the
//!   audit log.

#![warn(missing_docs)]

mod audit;
mod backup;
mod client;
mod config;
mod data_dir;
mod iam;
mod operator;
mod serve;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "trent",
    version,
    about = "Trent: a self-hosted key management service that speaks the AWS KMS API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The store, when not the data dir's SQLite file: a
    /// `postgres://user@host/db` URL shared by several nodes (see
    /// docs/OPERATIONS.md, "Several nodes").
    #[arg(long, global = true, env = "TRENT_STORE", hide_env_values = true)]
    store: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage access keys.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Check a configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write a backup of a running node's store.
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty data dir.
    Restore(backup::RestoreArgs),
    /// Seal and unseal with Shamir shares; inspect a node's seal.
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Verify and read the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Manage identity policies of IAM users and roles.
    #[command(subcommand)]
    Iam(iam::IamCommand),
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
    /// Shamir shares (set up by `trent operator init`; unseal with `trent operator unseal`).
    Shamir,
    /// A non-extractable AES key in a PKCS#11 token (an `[[hsm]]` of the
    /// configuration file; PIN from TRENT_HSM_PIN or --hsm-pin-file).
    Pkcs11,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SealArgs {
    /// How the root key is sealed.
    #[arg(long, value_enum, default_value_t = SealChoice::Auto, env = "TRENT_SEAL")]
    pub(crate) seal: SealChoice,
    /// File holding the passphrase (first line), instead of TRENT_PASSPHRASE.
    #[arg(long, env = "TRENT_PASSPHRASE_FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// With `--seal pkcs11`: the `[[hsm]]` (by name) holding the seal key;
    /// the only one declared if omitted.
    #[arg(long, env = "TRENT_SEAL_HSM")]
    pub(crate) seal_hsm: Option<String>,
    /// File holding the token user PIN (first line), instead of TRENT_HSM_PIN.
    #[arg(long, env = "TRENT_HSM_PIN_FILE")]
    pub(crate) hsm_pin_file: Option<PathBuf>,
    /// The HSMs declared in the configuration file (`[[hsm]]` tables).
    #[arg(skip)]
    pub(crate) hsms: Vec<trent_crypto::pkcs11::HsmConfig>,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Configuration file (TOML); flags and TRENT_… variables override it.
    #[arg(long, env = "TRENT_CONFIG")]
    pub(crate) config: Option<PathBuf>,
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
    /// KMS requests handled at once; more are refused at once with
    /// ThrottlingException (and recorded in the audit log).
    #[arg(long, default_value_t = 512, env = "TRENT_MAX_IN_FLIGHT")]
    pub(crate) max_in_flight: usize,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    pub(crate) log_json: bool,
    #[command(flatten)]
    pub(crate) tls: tls::TlsArgs,
    #[command(flatten)]
    pub(crate) audit: audit::AuditArgs,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Parse and validate a configuration file; errors name the bad field.
    Check {
        /// The file.
        #[arg(long)]
        config: PathBuf,
    },
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
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(location) = cli.store {
        data_dir::set_store_location(location);
    }
    let result = match cli.command {
        Command::Serve(mut args) => {
            let serve_matches = matches
                .subcommand_matches("serve")
                .cloned()
                .unwrap_or_default();
            match args.config.clone().map(|path| config::load(&path)) {
                Some(Err(e)) => Err(e),
                Some(Ok(file)) => {
                    config::apply(&mut args, &serve_matches, file).and_then(|()| serve::run(args))
                }
                None => serve::run(args),
            }
        }
        Command::Config(ConfigCommand::Check { config }) => {
            config::load(&config).map(|c| println!("{} is valid: {c:?}", config.display()))
        }
        Command::Credentials(CredentialsCommand::Add(args)) => data_dir::credentials_add(args),
        Command::Credentials(CredentialsCommand::List(args)) => data_dir::credentials_list(args),
        Command::Credentials(CredentialsCommand::Remove(args)) => {
            data_dir::credentials_remove(args)
        }
        Command::Operator(command) => operator::run(command),
        Command::Audit(command) => audit::run(command),
        Command::Iam(command) => iam::run(command),
        Command::Backup(args) => backup::backup(args),
        Command::Restore(args) => backup::restore(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("trent: {message}");
            ExitCode::FAILURE
        }
    }
}
