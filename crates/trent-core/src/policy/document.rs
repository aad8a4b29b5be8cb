//! Parsing and validating IAM policy documents (key policies, identity
//! policies, role trust policies) into [`Policy`]. Anything AWS would refuse
//! is a [`Error::MalformedPolicy`] naming what is wrong.

use serde_json::{Map, Value};

use super::condition::Condition;
use crate::Error;

/// Largest policy document AWS KMS accepts (32 KiB).
pub const MAX_POLICY_BYTES: usize = 32 * 1024;

/// Which kind of document is being parsed: resource policies (key policies,
/// trust policies) must name a principal, identity policies must not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// A key policy or a role trust policy: `Principal` required.
    Resource,
    /// An identity policy attached to a user or role: no `Principal`.
    Identity,
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The optional `Id`.
    pub id: Option<String>,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants the matched actions.
    Allow,
    /// Refuses the matched actions, whatever else allows them.
    Deny,
}

/// A list that either names what matches (`Action`) or what does not
/// (`NotAction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher<T> {
    /// `true` for the `Not…` form.
    pub negated: bool,
    /// The listed items.
    pub items: Vec<T>,
}

/// A principal named in a `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: anyone.
    Anyone,
    /// An account, as a 12-digit id or its root ARN: every principal of the
    /// account (and, for Allow, delegation to its identity policies).
    Account(String),
    /// One principal ARN (user, role, assumed role).
    Arn(String),
    /// A service principal (`logs.amazonaws.com`).
    Service(String),
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The optional `Sid`.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// `Principal`/`NotPrincipal`; `None` in identity policies.
    pub principal: Option<Matcher<PrincipalEntry>>,
    /// `Action`/`NotAction` patterns (`kms:*`, `kms:Describe*`).
    pub action: Matcher<String>,
    /// `Resource`/`NotResource` patterns; `None` means every resource.
    pub resource: Option<Matcher<String>>,
    /// Conditions, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// Parses and validates a policy document.
pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, Error> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(Error::LimitExceeded(
            "The key policy exceeds the 32 KB size limit.".into(),
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|_| malformed("The new key policy is not valid JSON."))?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("The policy document must be a JSON object."))?;
    for name in object.keys() {
        if !matches!(name.as_str(), "Version" | "Id" | "Statement") {
            return Err(malformed(&format!(
                "Policy document contains an unknown element: {name}"
            )));
        }
    }
    match object.get("Version") {
        None => {}
        Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
        Some(_) => return Err(malformed("The policy document has an invalid Version.")),
    }
    let id = match object.get("Id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(malformed("Id must be a string.")),
    };
    let raw = match object.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(v @ Value::Object(_)) => vec![v],
        Some(_) => return Err(malformed("Statement must be an object or a list.")),
        None => return Err(malformed("The key policy must contain a Statement.")),
    };
    if raw.is_empty() {
        return Err(malformed("The policy must contain at least one Statement."));
    }
    let statements = raw
        .into_iter()
        .map(|s| statement(s, kind))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy { id, statements })
}

fn malformed(message: &str) -> Error {
    Error::MalformedPolicy(message.to_owned())
}

fn statement(value: &Value, kind: PolicyKind) -> Result<Statement, Error> {
    let object = value
        .as_object()
        .ok_or_else(|| malformed("Each Statement must be a JSON object."))?;
    for name in object.keys() {
        if !matches!(
            name.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(malformed(&format!(
                "Statement contains an unknown element: {name}"
            )));
        }
    }
    let sid = match object.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(malformed("Sid must be a string.")),
    };
    let effect = match object.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => {
            return Err(malformed(
                "Each Statement must have an Effect of Allow or Deny.",
            ));
        }
    };
    let principal = either(object, "Principal", "NotPrincipal", principals)?;
    match (kind, &principal) {
        (PolicyKind::Resource, None) => {
            return Err(malformed("Each Statement must name a Principal."));
        }
        (PolicyKind::Identity, Some(_)) => {
            return Err(malformed(
                "An identity policy statement must not name a Principal.",
            ));
        }
        _ => {}
    }
    let action = either(object, "Action", "NotAction", |v| strings(v, "Action"))?
        .ok_or_else(|| malformed("Each Statement must have an Action or NotAction."))?;
    for pattern in &action.items {
        if pattern != "*" && !pattern.contains(':') {
            return Err(malformed(&format!("Invalid action: {pattern}")));
        }
    }
    let resource = either(object, "Resource", "NotResource", |v| {
        strings(v, "Resource")
    })?;
    if resource.is_none() {
        return Err(malformed(
            "Each Statement must have a Resource or NotResource.",
        ));
    }
    let conditions = match object.get("Condition") {
        None => Vec::new(),
        Some(v) => super::condition::parse_block(v)?,
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

/// Reads `name` or `not_name` (not both) with `read`.
fn either<T>(
    object: &Map<String, Value>,
    name: &str,
    not_name: &str,
    read: impl Fn(&Value) -> Result<Vec<T>, Error>,
) -> Result<Option<Matcher<T>>, Error> {
    match (object.get(name), object.get(not_name)) {
        (Some(_), Some(_)) => Err(malformed(&format!(
            "A Statement cannot have both {name} and {not_name}."
        ))),
        (Some(v), None) => Ok(Some(Matcher {
            negated: false,
            items: read(v)?,
        })),
        (None, Some(v)) => Ok(Some(Matcher {
            negated: true,
            items: read(v)?,
        })),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty list of strings.
pub(crate) fn strings(value: &Value, what: &str) -> Result<Vec<String>, Error> {
    let list = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| malformed(&format!("{what} must be strings.")))?,
        _ => return Err(malformed(&format!("{what} must be a string or a list."))),
    };
    if list.is_empty() {
        return Err(malformed(&format!("{what} must not be empty.")));
    }
    Ok(list)
}

fn principals(value: &Value) -> Result<Vec<PrincipalEntry>, Error> {
    if value.as_str() == Some("*") {
        return Ok(vec![PrincipalEntry::Anyone]);
    }
    let object = value
        .as_object()
        .ok_or_else(|| malformed("Principal must be \"*\" or an object."))?;
    let mut out = Vec::new();
    for (kind, names) in object {
        for name in strings(names, "Principal")? {
            out.push(match kind.as_str() {
                "AWS" => aws_principal(&name)?,
                "Service" => PrincipalEntry::Service(name),
                _ => {
                    return Err(malformed(&format!(
                        "Policy contains an unsupported principal type: {kind}"
                    )));
                }
            });
        }
    }
    if out.is_empty() {
        return Err(malformed("Principal must not be empty."));
    }
    Ok(out)
}

fn aws_principal(name: &str) -> Result<PrincipalEntry, Error> {
    if name == "*" {
        return Ok(PrincipalEntry::Anyone);
    }
    if crate::ids::is_account_id(name) {
        return Ok(PrincipalEntry::Account(name.to_owned()));
    }
    let parts: Vec<&str> = name.splitn(6, ':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && (parts[2] == "iam" || parts[2] == "sts")
        && crate::ids::is_account_id(parts[4])
        && !parts[5].is_empty();
    if !valid {
        return Err(malformed(&format!(
            "Policy contains a statement with one or more invalid principals: {name}"
        )));
    }
    if parts[2] == "iam" && parts[5] == "root" {
        return Ok(PrincipalEntry::Account(parts[4].to_owned()));
    }
    Ok(PrincipalEntry::Arn(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(text: &str) -> Result<Policy, Error> {
        parse(text, PolicyKind::Resource)
    }

    #[test]
    fn statement_as_object_or_list_and_principal_forms() {
        let one = resource(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(one.statements.len(), 1);
        assert_eq!(
            one.statements[0].principal.as_ref().unwrap().items,
            vec![PrincipalEntry::Account("111122223333".into())]
        );
        let many = resource(
            r#"{"Version":"2012-10-17","Statement":[
              {"Sid":"a","Effect":"Deny","Principal":"*","NotAction":["kms:Decrypt"],"Resource":"*"},
              {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:user/alice"],"Service":"logs.amazonaws.com"},"Action":"kms:Encrypt","Resource":"*"}]}"#,
        )
        .unwrap();
        assert!(many.statements[0].action.negated);
        assert_eq!(
            many.statements[1].principal.as_ref().unwrap().items,
            vec![
                PrincipalEntry::Account("111122223333".into()),
                PrincipalEntry::Arn("arn:aws:iam::111122223333:user/alice".into()),
                PrincipalEntry::Service("logs.amazonaws.com".into()),
            ]
        );
    }

    #[test]
    fn malformed_documents_are_refused() {
        for bad in [
            "nope",
            "{}",
            "[]",
            r#"{"Statement":[]}"#,
            r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:Decrypt","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"kms:*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":{"Federated":"x"},"Action":"kms:*","Resource":"*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringSortOf":{"a":"b"}}}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Extra":1}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"Encrypt","Resource":"*"}}"#,
        ] {
            assert!(
                matches!(resource(bad), Err(Error::MalformedPolicy(_))),
                "accepted: {bad}"
            );
        }
        let big = format!("{{\"Id\":\"{}\"}}", "x".repeat(MAX_POLICY_BYTES));
        assert!(matches!(resource(&big), Err(Error::LimitExceeded(_))));
    }

    #[test]
    fn identity_policies_name_no_principal() {
        let text = r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
        assert!(parse(text, PolicyKind::Identity).is_ok());
        assert!(parse(text, PolicyKind::Resource).is_err());
    }
}
