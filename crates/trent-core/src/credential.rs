//! Access keys and the principals they stand for.

/// A stored access key. The secret is wrapped under the root key.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    /// The access key id.
    pub access_key_id: String,
    /// The owning account.
    pub account_id: String,
    /// The IAM user, or `None` for the account root.
    pub user: Option<String>,
    /// The secret access key, wrapped under the root key.
    pub wrapped_secret: Vec<u8>,
    /// When it was created (Unix milliseconds).
    pub created: i64,
}

impl CredentialRecord {
    /// The ARN of the principal these credentials authenticate.
    pub fn principal_arn(&self) -> String {
        principal_arn(&self.account_id, self.user.as_deref())
    }
}

impl std::fmt::Debug for CredentialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRecord")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// `arn:aws:iam::<acct>:root` or `arn:aws:iam::<acct>:user/<name>`.
pub fn principal_arn(account_id: &str, user: Option<&str>) -> String {
    match user {
        Some(name) => format!("arn:aws:iam::{account_id}:user/{name}"),
        None => format!("arn:aws:iam::{account_id}:root"),
    }
}

/// Access key ids: 1–128 ASCII letters and digits (AWS issues 20 uppercase
/// ones; short ids are allowed for local development).
pub fn valid_access_key_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}
