//! Key policies as documents. Enforcement lives elsewhere; here is the
//! default policy AWS gives a key created without one, and the structural
//! checks PutKeyPolicy applies.

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

/// Checks that a policy is a JSON object with a `Statement`, within 32 KiB.
pub fn validate(policy: &str) -> Result<(), Error> {
    if policy.len() > 32 * 1024 {
        return Err(Error::LimitExceeded(
            "The key policy exceeds the 32 KB size limit.".into(),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(policy)
        .map_err(|_| Error::MalformedPolicy("The new key policy is not valid JSON.".into()))?;
    let statement = value
        .as_object()
        .and_then(|o| o.get("Statement"))
        .ok_or_else(|| Error::MalformedPolicy("The key policy must contain a Statement.".into()))?;
    if !(statement.is_array() || statement.is_object()) {
        return Err(Error::MalformedPolicy(
            "Statement must be an object or a list.".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
