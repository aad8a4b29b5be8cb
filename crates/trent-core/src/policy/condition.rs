//! The `Condition` element: operators, `…IfExists`, `ForAnyValue:` and
//! `ForAllValues:`, and evaluating them against a request's condition keys.
//!
//! Semantics follow the IAM reference: operators in a block, keys under an
//! operator are ANDed; the values listed for one key are ORed; a negated
//! operator (`StringNotEquals`, …) holds when no listed value matches, and
//! holds for a key the request does not carry; `…IfExists` makes a missing
//! key hold for every operator.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::Value;
use time::OffsetDateTime;

use crate::Error;

/// A request's condition keys: lower-cased key name → its values (one for a
/// single-valued key, any number for a multivalued one).
pub type ConditionValues = HashMap<String, Vec<String>>;

/// The comparison a condition applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `StringEquals` / `StringNotEquals`.
    StringEquals,
    /// `StringEqualsIgnoreCase` / `StringNotEqualsIgnoreCase`.
    StringEqualsIgnoreCase,
    /// `StringLike` / `StringNotLike` (`*` and `?` wildcards).
    StringLike,
    /// `ArnEquals`, `ArnLike` and their negations (wildcards allowed).
    ArnLike,
    /// `NumericEquals` / `NumericNotEquals`.
    NumericEquals,
    /// `NumericLessThan`.
    NumericLessThan,
    /// `NumericLessThanEquals`.
    NumericLessThanEquals,
    /// `NumericGreaterThan`.
    NumericGreaterThan,
    /// `NumericGreaterThanEquals`.
    NumericGreaterThanEquals,
    /// `DateEquals` / `DateNotEquals`.
    DateEquals,
    /// `DateLessThan`.
    DateLessThan,
    /// `DateLessThanEquals`.
    DateLessThanEquals,
    /// `DateGreaterThan`.
    DateGreaterThan,
    /// `DateGreaterThanEquals`.
    DateGreaterThanEquals,
    /// `Bool`.
    Bool,
    /// `IpAddress` / `NotIpAddress`.
    IpAddress,
    /// `Null`: whether the key is absent.
    Null,
}

/// `ForAnyValue:` or `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// At least one request value matches.
    ForAnyValue,
    /// Every request value matches (vacuously true when there are none).
    ForAllValues,
}

/// One operator applied to one condition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The comparison.
    pub operator: Operator,
    /// The `Not…` form of the operator.
    pub negated: bool,
    /// `…IfExists`.
    pub if_exists: bool,
    /// `ForAnyValue:` / `ForAllValues:`.
    pub qualifier: Option<SetQualifier>,
    /// The condition key, lower-cased (key names are case-insensitive).
    pub key: String,
    /// The policy's values, as strings.
    pub values: Vec<String>,
}

/// Parses a `Condition` block.
pub(crate) fn parse_block(value: &Value) -> Result<Vec<Condition>, Error> {
    let block = value
        .as_object()
        .ok_or_else(|| malformed("Condition must be an object."))?;
    let mut out = Vec::new();
    for (name, keys) in block {
        let (operator, negated, if_exists, qualifier) = operator(name)?;
        let keys = keys
            .as_object()
            .ok_or_else(|| malformed(&format!("Condition {name} must map keys to values.")))?;
        for (key, values) in keys {
            let values = scalars(values)
                .ok_or_else(|| malformed(&format!("Invalid values for condition key {key}.")))?;
            check_values(operator, &values)?;
            out.push(Condition {
                operator,
                negated,
                if_exists,
                qualifier,
                key: key.to_ascii_lowercase(),
                values,
            });
        }
    }
    Ok(out)
}

fn malformed(message: &str) -> Error {
    Error::MalformedPolicy(message.to_owned())
}

/// A scalar or a list of scalars, as strings.
fn scalars(value: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        Value::Array(_) => None,
        v => one(v).map(|s| vec![s]),
    }
}

fn operator(name: &str) -> Result<(Operator, bool, bool, Option<SetQualifier>), Error> {
    let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Some(SetQualifier::ForAnyValue), r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Some(SetQualifier::ForAllValues), r)
    } else {
        (None, name)
    };
    let (if_exists, base) = match rest.strip_suffix("IfExists") {
        Some(b) => (true, b),
        None => (false, rest),
    };
    use Operator::*;
    let (op, negated) = match base {
        "StringEquals" => (StringEquals, false),
        "StringNotEquals" => (StringEquals, true),
        "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
        "StringLike" => (StringLike, false),
        "StringNotLike" => (StringLike, true),
        "ArnEquals" | "ArnLike" => (ArnLike, false),
        "ArnNotEquals" | "ArnNotLike" => (ArnLike, true),
        "NumericEquals" => (NumericEquals, false),
        "NumericNotEquals" => (NumericEquals, true),
        "NumericLessThan" => (NumericLessThan, false),
        "NumericLessThanEquals" => (NumericLessThanEquals, false),
        "NumericGreaterThan" => (NumericGreaterThan, false),
        "NumericGreaterThanEquals" => (NumericGreaterThanEquals, false),
        "DateEquals" => (DateEquals, false),
        "DateNotEquals" => (DateEquals, true),
        "DateLessThan" => (DateLessThan, false),
        "DateLessThanEquals" => (DateLessThanEquals, false),
        "DateGreaterThan" => (DateGreaterThan, false),
        "DateGreaterThanEquals" => (DateGreaterThanEquals, false),
        "Bool" => (Bool, false),
        "IpAddress" => (IpAddress, false),
        "NotIpAddress" => (IpAddress, true),
        "Null" if !if_exists && qualifier.is_none() => (Null, false),
        _ => {
            return Err(malformed(&format!(
                "Policy contains an unsupported condition operator: {name}"
            )));
        }
    };
    Ok((op, negated, if_exists, qualifier))
}

/// Refuses values the operator could never compare.
fn check_values(operator: Operator, values: &[String]) -> Result<(), Error> {
    let ok = |v: &String| match operator {
        Operator::NumericEquals
        | Operator::NumericLessThan
        | Operator::NumericLessThanEquals
        | Operator::NumericGreaterThan
        | Operator::NumericGreaterThanEquals => v.parse::<f64>().is_ok(),
        Operator::DateEquals
        | Operator::DateLessThan
        | Operator::DateLessThanEquals
        | Operator::DateGreaterThan
        | Operator::DateGreaterThanEquals => date(v).is_some(),
        Operator::Bool | Operator::Null => {
            v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")
        }
        Operator::IpAddress => Cidr::parse(v).is_some(),
        _ => true,
    };
    match values.iter().find(|v| !ok(v)) {
        Some(bad) => Err(malformed(&format!(
            "Policy contains an invalid condition value: {bad}"
        ))),
        None => Ok(()),
    }
}

impl Condition {
    /// Whether the condition holds for a request with these keys.
    pub fn holds(&self, request: &ConditionValues) -> bool {
        let present = request.get(&self.key).filter(|v| !v.is_empty());
        if self.operator == Operator::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return want_absent == present.is_none();
        }
        let Some(actual) = present else {
            return match self.qualifier {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => self.if_exists || self.negated,
            };
        };
        // One request value against the listed values, negation applied.
        let test =
            |v: &String| self.values.iter().any(|p| compare(self.operator, v, p)) != self.negated;
        match self.qualifier {
            Some(SetQualifier::ForAllValues) => actual.iter().all(test),
            Some(SetQualifier::ForAnyValue) => actual.iter().any(test),
            None if self.negated => actual.iter().all(test),
            None => actual.iter().any(test),
        }
    }
}

/// Compares one request value with one policy value.
fn compare(operator: Operator, actual: &str, policy: &str) -> bool {
    use Operator::*;
    match operator {
        StringEquals => actual == policy,
        StringEqualsIgnoreCase => actual.eq_ignore_ascii_case(policy),
        StringLike | ArnLike => super::glob(policy, actual, false),
        NumericEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => match (actual.parse::<f64>(), policy.parse::<f64>()) {
            (Ok(a), Ok(p)) => ordered(operator, a.partial_cmp(&p)),
            _ => false,
        },
        DateEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => match (date(actual), date(policy)) {
            (Some(a), Some(p)) => ordered(operator, Some(a.cmp(&p))),
            _ => false,
        },
        Bool => actual.eq_ignore_ascii_case(policy),
        IpAddress => match (actual.parse::<IpAddr>(), Cidr::parse(policy)) {
            (Ok(ip), Some(cidr)) => cidr.contains(ip),
            _ => false,
        },
        Null => false,
    }
}

fn ordered(operator: Operator, order: Option<std::cmp::Ordering>) -> bool {
    use Operator::*;
    use std::cmp::Ordering::*;
    let Some(o) = order else { return false };
    match operator {
        NumericEquals | DateEquals => o == Equal,
        NumericLessThan | DateLessThan => o == Less,
        NumericLessThanEquals | DateLessThanEquals => o != Greater,
        NumericGreaterThan | DateGreaterThan => o == Greater,
        NumericGreaterThanEquals | DateGreaterThanEquals => o != Less,
        _ => false,
    }
}

/// An ISO 8601 (RFC 3339) date-time, a plain date, or epoch seconds.
fn date(text: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    if let Ok(secs) = text.parse::<i64>() {
        return OffsetDateTime::from_unix_timestamp(secs).ok();
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

/// An address block (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy)]
struct Cidr {
    network: IpAddr,
    prefix: u32,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u32>().ok()?)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Cidr { network, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) if self.network.is_ipv4() => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            other => other,
        };
        let mask = |bits: u32, width: u32| -> u128 {
            if bits == 0 {
                0
            } else {
                (!0u128) << (width - bits) & (!0u128 >> (128 - width))
            }
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = mask(self.prefix, 32);
                (u128::from(u32::from(n)) & m) == (u128::from(u32::from(a)) & m)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = mask(self.prefix, 128);
                (u128::from(n) & m) == (u128::from(a) & m)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block(v: Value) -> Vec<Condition> {
        parse_block(&v).unwrap()
    }

    fn keys(pairs: &[(&str, &[&str])]) -> ConditionValues {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    v.iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect()
    }

    fn all(conditions: &[Condition], request: &ConditionValues) -> bool {
        conditions.iter().all(|c| c.holds(request))
    }

    #[test]
    fn string_operators_and_missing_keys() {
        let eq = block(json!({"StringEquals": {"kms:EncryptionContext:Dept": ["hr", "it"]}}));
        assert!(all(&eq, &keys(&[("kms:encryptioncontext:dept", &["it"])])));
        assert!(!all(&eq, &keys(&[("kms:EncryptionContext:Dept", &["IT"])])));
        assert!(!all(&eq, &keys(&[])));
        let ne = block(json!({"StringNotEquals": {"kms:CallerAccount": "111122223333"}}));
        assert!(all(&ne, &keys(&[])));
        assert!(!all(
            &ne,
            &keys(&[("kms:CallerAccount", &["111122223333"])])
        ));
        let like = block(json!({"StringLike": {"kms:RequestAlias": "alias/app-*"}}));
        assert!(all(
            &like,
            &keys(&[("kms:RequestAlias", &["alias/app-one"])])
        ));
        assert!(!all(
            &like,
            &keys(&[("kms:RequestAlias", &["alias/other"])])
        ));
        let if_exists = block(
            json!({"StringEqualsIfExists": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}),
        );
        assert!(all(&if_exists, &keys(&[])));
        assert!(!all(
            &if_exists,
            &keys(&[("kms:ViaService", &["ec2.us-east-1.amazonaws.com"])])
        ));
        let ic = block(
            json!({"StringEqualsIgnoreCase": {"aws:PrincipalArn": "ARN:AWS:IAM::111122223333:USER/ALICE"}}),
        );
        assert!(all(
            &ic,
            &keys(&[(
                "aws:PrincipalArn",
                &["arn:aws:iam::111122223333:user/alice"]
            )])
        ));
    }

    #[test]
    fn set_qualifiers() {
        let any =
            block(json!({"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["a", "b"]}}));
        let all_of =
            block(json!({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["a", "b"]}}));
        let ab = keys(&[("kms:EncryptionContextKeys", &["a", "c"])]);
        assert!(all(&any, &ab));
        assert!(!all(&all_of, &ab));
        let b = keys(&[("kms:EncryptionContextKeys", &["b"])]);
        assert!(all(&all_of, &b));
        assert!(all(&all_of, &keys(&[])));
        assert!(!all(&any, &keys(&[])));
    }

    #[test]
    fn numeric_date_bool_null_ip() {
        let n = block(json!({"NumericLessThanEquals": {"kms:X": "10"}}));
        assert!(all(&n, &keys(&[("kms:X", &["10"])])));
        assert!(!all(&n, &keys(&[("kms:X", &["11"])])));
        let d = block(json!({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}));
        assert!(all(
            &d,
            &keys(&[("aws:CurrentTime", &["2026-11-29T12:00:00Z"])])
        ));
        assert!(!all(
            &d,
            &keys(&[("aws:CurrentTime", &["2031-01-01T00:00:00Z"])])
        ));
        let b = block(json!({"Bool": {"aws:SecureTransport": true}}));
        assert!(all(&b, &keys(&[("aws:SecureTransport", &["true"])])));
        assert!(!all(&b, &keys(&[("aws:SecureTransport", &["false"])])));
        let null = block(json!({"Null": {"kms:ViaService": "true"}}));
        assert!(all(&null, &keys(&[])));
        assert!(!all(&null, &keys(&[("kms:ViaService", &["s3"])])));
        let ip = block(json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}));
        assert!(all(&ip, &keys(&[("aws:SourceIp", &["10.1.2.3"])])));
        assert!(all(&ip, &keys(&[("aws:SourceIp", &["2001:db8::1"])])));
        assert!(!all(&ip, &keys(&[("aws:SourceIp", &["127.0.0.1"])])));
        let not_ip = block(json!({"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}));
        assert!(!all(&not_ip, &keys(&[("aws:SourceIp", &["127.0.0.1"])])));
        assert!(all(&not_ip, &keys(&[("aws:SourceIp", &["192.0.2.1"])])));
    }

    #[test]
    fn bad_operators_and_values_are_malformed() {
        for bad in [
            json!({"StringSortOf": {"a": "b"}}),
            json!({"NumericEquals": {"a": "ten"}}),
            json!({"DateEquals": {"a": "yesterday"}}),
            json!({"IpAddress": {"a": "10.0.0.0/33"}}),
            json!({"Bool": {"a": "maybe"}}),
            json!({"StringEquals": "a"}),
            json!({"StringEquals": {"a": []}}),
            json!({"StringEquals": {"a": {"b": 1}}}),
        ] {
            assert!(parse_block(&bad).is_err(), "accepted {bad}");
        }
    }
}
