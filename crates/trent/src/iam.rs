//! `trent iam …`: identity policies attached to IAM users and roles, written
//! straight into the data directory's store (a running server picks changes
//! up within a second). Documents are validated as AWS IAM would.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use trent_core::policy::{self, PolicyKind};
use trent_server::authz::{identity_policy_meta, read_identity_policies};
use trent_store::Store;

use crate::DataDirArgs;
use crate::data_dir::open_store;

/// Identity commands.
#[derive(Debug, Subcommand)]
pub(crate) enum IamCommand {
    /// Attach (or replace) an inline identity policy on a user or role.
    PutPolicy(PutPolicyArgs),
    /// Remove an identity policy.
    DeletePolicy(PolicyNameArgs),
    /// List a user's or role's identity policies with their documents.
    ListPolicies(PrincipalArgs),
}

/// Names a user or a role of an account.
#[derive(Debug, Args)]
pub(crate) struct PrincipalArgs {
    #[command(flatten)]
    dir: DataDirArgs,
    /// 12-digit account id.
    #[arg(long)]
    account_id: String,
    /// IAM user name.
    #[arg(long, conflicts_with = "role", required_unless_present = "role")]
    user: Option<String>,
    /// IAM role name.
    #[arg(long)]
    role: Option<String>,
}

/// A principal and one of its policies.
#[derive(Debug, Args)]
pub(crate) struct PolicyNameArgs {
    #[command(flatten)]
    principal: PrincipalArgs,
    /// The policy name.
    #[arg(long)]
    policy_name: String,
}

/// A policy to attach.
#[derive(Debug, Args)]
pub(crate) struct PutPolicyArgs {
    #[command(flatten)]
    name: PolicyNameArgs,
    /// The policy document (JSON), or `@FILE` to read it from a file.
    #[arg(long)]
    policy_document: String,
}

impl PrincipalArgs {
    fn arn(&self) -> Result<String, String> {
        if !trent_core::ids::is_account_id(&self.account_id) {
            return Err(format!("{} is not a 12-digit account id", self.account_id));
        }
        match (&self.user, &self.role) {
            (Some(u), None) => Ok(format!("arn:aws:iam::{}:user/{u}", self.account_id)),
            (None, Some(r)) => Ok(format!("arn:aws:iam::{}:role/{r}", self.account_id)),
            _ => Err("name exactly one of --user or --role".into()),
        }
    }
}

/// Runs an identity command.
pub(crate) fn run(command: IamCommand) -> Result<(), String> {
    match command {
        IamCommand::PutPolicy(args) => put_policy(args),
        IamCommand::DeletePolicy(args) => delete_policy(args),
        IamCommand::ListPolicies(args) => list_policies(args),
    }
}

fn write(store: &dyn Store, arn: &str, policies: &BTreeMap<String, String>) -> Result<(), String> {
    let bytes = serde_json::to_vec(policies).map_err(|e| e.to_string())?;
    store
        .put_meta(&identity_policy_meta(arn), &bytes)
        .map_err(|e| e.to_string())
}

fn put_policy(args: PutPolicyArgs) -> Result<(), String> {
    let document = match args.policy_document.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
        None => args.policy_document,
    };
    policy::parse(&document, PolicyKind::Identity).map_err(|e| format!("invalid policy: {e}"))?;
    let principal = &args.name.principal;
    let arn = principal.arn()?;
    let store = open_store(&principal.dir.data_dir)?;
    let mut policies = read_identity_policies(store.as_ref(), &arn).map_err(|e| e.to_string())?;
    policies.insert(args.name.policy_name.clone(), document);
    write(store.as_ref(), &arn, &policies)?;
    println!("attached policy {} to {arn}", args.name.policy_name);
    Ok(())
}

fn delete_policy(args: PolicyNameArgs) -> Result<(), String> {
    let arn = args.principal.arn()?;
    let store = open_store(&args.principal.dir.data_dir)?;
    let mut policies = read_identity_policies(store.as_ref(), &arn).map_err(|e| e.to_string())?;
    if policies.remove(&args.policy_name).is_none() {
        return Err(format!("{arn} has no policy {}", args.policy_name));
    }
    write(store.as_ref(), &arn, &policies)?;
    println!("removed policy {} from {arn}", args.policy_name);
    Ok(())
}

fn list_policies(args: PrincipalArgs) -> Result<(), String> {
    let arn = args.arn()?;
    let store = open_store(&args.dir.data_dir)?;
    for (name, document) in
        read_identity_policies(store.as_ref(), &arn).map_err(|e| e.to_string())?
    {
        println!("{name}\t{document}");
    }
    Ok(())
}
