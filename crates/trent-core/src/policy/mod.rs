//! The IAM policy language as KMS uses it: [`document`] parses and validates
//! key, identity and trust policies; [`condition`] evaluates the `Condition`
//! element; [`eval`] decides a request from the key policy, the caller's
//! identity policies and its grants. Here too: the default key policy and the
//! lockout safety check PutKeyPolicy applies.

pub mod condition;
pub mod document;
pub mod eval;
#[cfg(test)]
mod tests;

pub use condition::ConditionValues;
pub use document::{Policy, PolicyKind, parse};
pub use eval::{Decision, DenyReason, Principal, PrincipalKind, Request, evaluate};

use crate::Error;

/// The default key policy: the account root may do everything with the key,
/// which delegates access to the account's identity policies.
pub fn default_key_policy(account_id: &str) -> String {
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account_id}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Parses and validates a key policy: `MalformedPolicyDocumentException`
/// (or `LimitExceededException` over 32 KiB) for anything AWS would refuse.
pub fn validate(policy: &str) -> Result<(), Error> {
    parse(policy, PolicyKind::Resource).map(|_| ())
}

/// The lockout safety check: a new key policy must still let `principal`
/// call PutKeyPolicy on the key, unless the caller bypasses the check.
pub fn check_lockout(
    policy: &Policy,
    principal: &Principal,
    key_arn: &str,
    key_account: &str,
    identity_policies: &[Policy],
) -> Result<(), Error> {
    let conditions = ConditionValues::new();
    let request = Request {
        principal,
        action: "kms:PutKeyPolicy",
        resource: key_arn,
        resource_account: key_account,
        conditions: &conditions,
    };
    match evaluate(&request, Some(policy), identity_policies, false) {
        Decision::Allow => Ok(()),
        Decision::Deny(_) => Err(Error::MalformedPolicy(
            "The new key policy will not allow you to update the key policy in the future.".into(),
        )),
    }
}

/// IAM wildcard matching: `*` matches any run of characters, `?` one.
/// Actions match case-insensitively, resources and condition values do not.
pub fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |c: char| {
        if ignore_case {
            c.to_ascii_lowercase()
        } else {
            c
        }
    };
    let p: Vec<char> = pattern.chars().map(fold).collect();
    let t: Vec<char> = text.chars().map(fold).collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod default_tests {
    use super::*;

    #[test]
    fn default_policy_is_valid_and_names_root() {
        let p = default_key_policy("111122223333");
        assert!(validate(&p).is_ok());
        assert!(p.contains("arn:aws:iam::111122223333:root"));
        assert!(validate("nope").is_err());
        assert!(validate("{}").is_err());
    }
}
