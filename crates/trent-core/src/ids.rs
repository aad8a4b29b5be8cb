//! Names of keys and aliases: key ids, key ARNs, alias names and alias ARNs,
//! and how the `KeyId` argument of a request is read.

use crate::Error;

/// A 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A new random key id (a UUID v4, as AWS KMS uses).
pub fn new_key_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The ARN of a key.
pub fn key_arn(region: &str, account: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

/// The ARN of an alias (`name` includes the `alias/` prefix).
pub fn alias_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{name}")
}

/// What a `KeyId` argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A bare key id (`1234abcd-…`).
    Id(String),
    /// A key ARN.
    KeyArn {
        /// Region in the ARN.
        region: String,
        /// Account in the ARN.
        account: String,
        /// The key id.
        key_id: String,
    },
    /// An alias name (`alias/…`).
    AliasName(String),
    /// An alias ARN.
    AliasArn {
        /// Region in the ARN.
        region: String,
        /// Account in the ARN.
        account: String,
        /// The alias name, with its `alias/` prefix.
        name: String,
    },
}

/// Where a request may name a key by alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasUse {
    /// Cryptographic operations and DescribeKey accept aliases.
    Allowed,
    /// Management operations accept only key ids and key ARNs.
    Refused,
}

impl KeyRef {
    /// Reads a `KeyId` argument. Only the shape is checked here; whether the
    /// key exists is the caller's question.
    pub fn parse(raw: &str, alias_use: AliasUse) -> Result<Self, Error> {
        let invalid = || Error::NotFound(format!("Invalid keyId '{raw}'"));
        if raw.is_empty() || raw.len() > 2048 {
            return Err(Error::Validation(
                "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048".into(),
            ));
        }
        let parsed = if let Some(rest) = raw.strip_prefix("arn:") {
            parse_arn(rest).ok_or_else(|| Error::NotFound(format!("Invalid arn {raw}")))?
        } else if raw.starts_with("alias/") {
            KeyRef::AliasName(raw.to_owned())
        } else {
            KeyRef::Id(raw.to_owned())
        };
        let is_alias = matches!(parsed, KeyRef::AliasName(_) | KeyRef::AliasArn { .. });
        if is_alias && alias_use == AliasUse::Refused {
            return Err(invalid());
        }
        Ok(parsed)
    }
}

fn parse_arn(rest: &str) -> Option<KeyRef> {
    // rest = "aws:kms:<region>:<account>:key/<id>" or "...:alias/<name>"
    let mut parts = rest.splitn(5, ':');
    let partition = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    if !partition.starts_with("aws")
        || service != "kms"
        || region.is_empty()
        || !is_account_id(account)
    {
        return None;
    }
    if let Some(key_id) = resource.strip_prefix("key/") {
        (!key_id.is_empty()).then(|| KeyRef::KeyArn {
            region: region.to_owned(),
            account: account.to_owned(),
            key_id: key_id.to_owned(),
        })
    } else if resource.starts_with("alias/") && resource.len() > "alias/".len() {
        Some(KeyRef::AliasArn {
            region: region.to_owned(),
            account: account.to_owned(),
            name: resource.to_owned(),
        })
    } else {
        None
    }
}

/// Checks a `Marker` for ListKeys: markers are the last key id of a page.
pub fn validate_key_marker(marker: &str) -> Result<(), Error> {
    uuid::Uuid::parse_str(marker)
        .map(|_| ())
        .map_err(|_| Error::InvalidMarker("The marker is not valid.".into()))
}

/// Checks a `Marker` for ListAliases: markers are the last alias name of a page.
pub fn validate_alias_marker(marker: &str) -> Result<(), Error> {
    match validate_alias_name(marker) {
        Ok(()) | Err(Error::NotAuthorized(_)) => Ok(()),
        Err(_) => Err(Error::InvalidMarker("The marker is not valid.".into())),
    }
}

/// Checks an alias name given to CreateAlias or UpdateAlias.
///
/// AWS: 1–256 characters of `[a-zA-Z0-9/_-]` after `alias/`; the `alias/aws/`
/// prefix is reserved for AWS managed keys.
pub fn validate_alias_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > 256 {
        return Err(Error::Validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must have length between 1 and 256"
        )));
    }
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b':'));
    if !valid_chars {
        return Err(Error::Validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )));
    }
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(Error::Validation("Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html".into()));
    };
    if rest.is_empty() || name.contains(':') {
        return Err(Error::InvalidAliasName(format!(
            "Alias name {name} is not valid."
        )));
    }
    if name.starts_with("alias/aws/") {
        return Err(Error::NotAuthorized(
            "The alias/aws/ prefix is reserved for AWS managed keys.".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            KeyRef::parse(id, AliasUse::Refused),
            Ok(KeyRef::Id(id.into()))
        );
        let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{id}");
        assert_eq!(
            KeyRef::parse(&arn, AliasUse::Refused),
            Ok(KeyRef::KeyArn {
                region: "us-east-1".into(),
                account: "111122223333".into(),
                key_id: id.into()
            })
        );
        assert_eq!(
            KeyRef::parse("alias/a", AliasUse::Allowed),
            Ok(KeyRef::AliasName("alias/a".into()))
        );
        assert!(KeyRef::parse("alias/a", AliasUse::Refused).is_err());
        assert_eq!(
            KeyRef::parse(
                "arn:aws:kms:eu-west-1:111122223333:alias/x/y",
                AliasUse::Allowed
            ),
            Ok(KeyRef::AliasArn {
                region: "eu-west-1".into(),
                account: "111122223333".into(),
                name: "alias/x/y".into()
            })
        );
        assert!(KeyRef::parse("arn:aws:kms:eu-west-1:1234:key/x", AliasUse::Allowed).is_err());
        assert!(
            KeyRef::parse("arn:aws:s3:eu-west-1:111122223333:key/x", AliasUse::Allowed).is_err()
        );
        assert!(KeyRef::parse("", AliasUse::Allowed).is_err());
    }

    #[test]
    fn alias_names() {
        assert!(validate_alias_name("alias/app-1/prod_x").is_ok());
        assert!(matches!(
            validate_alias_name("alias/aws/s3"),
            Err(Error::NotAuthorized(_))
        ));
        assert!(matches!(
            validate_alias_name("app"),
            Err(Error::Validation(_))
        ));
        assert!(matches!(
            validate_alias_name("alias/"),
            Err(Error::InvalidAliasName(_))
        ));
        assert!(matches!(
            validate_alias_name("alias/a b"),
            Err(Error::Validation(_))
        ));
    }
}
