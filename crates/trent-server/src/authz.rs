//! Authorization: every KMS handler calls [`authorize`] once its key is
//! resolved (or with no key, for CreateKey, ListKeys, ListAliases and
//! GenerateRandom). The decision is trent-core's
//! ([`trent_core::policy::evaluate`]); this module gathers its inputs — the
//! caller as a principal, the key policy, the caller's identity policies and
//! the request's condition keys — and turns a refusal into AWS's
//! `AccessDeniedException`.
//!
//! Identity policies are stored as store metadata under
//! `iam.policies/<principal ARN>` (a JSON object, policy name → document),
//! so every store implementation carries them without a schema change; they
//! are cached for [`IDENTITY_TTL`] so `trent iam` changes reach a running
//! server promptly.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use trent_core::context::EncryptionContext;
use trent_core::key::KeyRecord;
use trent_core::policy::{
    self, ConditionValues, Decision, Policy, PolicyKind, Principal, PrincipalKind, Request,
};
use trent_proto::error::ErrorCode;

use crate::error::{ServerError, api};
use crate::node::Node;
use crate::ops::Caller;

/// How long cached identity policies are trusted.
pub const IDENTITY_TTL: Duration = Duration::from_secs(1);

/// The metadata entry holding a principal's identity policies.
pub fn identity_policy_meta(principal_arn: &str) -> String {
    format!("iam.policies/{principal_arn}")
}

/// Reads a principal's identity policies (name → document) from the store.
pub fn read_identity_policies(
    store: &dyn trent_store::Store,
    principal_arn: &str,
) -> Result<BTreeMap<String, String>, ServerError> {
    let Some(raw) = store.get_meta(&identity_policy_meta(principal_arn))? else {
        return Ok(BTreeMap::new());
    };
    serde_json::from_slice(&raw).map_err(|_| {
        api(
            ErrorCode::KmsInternal,
            "A stored identity policy is unreadable.",
        )
    })
}

/// A principal's parsed identity policies and when they were read.
type CachedPolicies = (Instant, Arc<Vec<Policy>>);

/// Principal ARN → parsed identity policies, with a short TTL.
#[derive(Debug, Default)]
pub struct IdentityPolicyCache {
    entries: RwLock<HashMap<String, CachedPolicies>>,
}

impl IdentityPolicyCache {
    fn get(&self, node: &Node, principal_arn: &str) -> Result<Arc<Vec<Policy>>, ServerError> {
        if let Ok(entries) = self.entries.read()
            && let Some((at, hit)) = entries.get(principal_arn)
            && at.elapsed() < IDENTITY_TTL
        {
            return Ok(hit.clone());
        }
        let docs = read_identity_policies(node.store.as_ref(), principal_arn)?;
        // Documents were validated when attached; one that no longer parses
        // grants nothing rather than failing every request.
        let parsed: Vec<Policy> = docs
            .values()
            .filter_map(|d| policy::parse(d, PolicyKind::Identity).ok())
            .collect();
        let parsed = Arc::new(parsed);
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(principal_arn.to_owned(), (Instant::now(), parsed.clone()));
        }
        Ok(parsed)
    }
}

/// The caller as a policy principal.
pub fn principal_of(caller: &Caller) -> Principal {
    let arn = caller.principal_arn.clone();
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    let kind = if resource == "root" {
        PrincipalKind::Root
    } else if let Some(rest) = resource.strip_prefix("assumed-role/") {
        let role = rest.split('/').next().unwrap_or_default();
        PrincipalKind::AssumedRole {
            role_arn: format!("arn:aws:iam::{}:role/{role}", caller.account_id),
        }
    } else if let Some(service) = resource.strip_prefix("service/") {
        PrincipalKind::Service {
            service: service.to_owned(),
        }
    } else {
        PrincipalKind::User
    };
    Principal {
        arn,
        account: caller.account_id.clone(),
        kind,
    }
}

/// The ARN whose identity policies apply: a role session's role, else the
/// caller itself.
fn identity_arn(principal: &Principal) -> &str {
    match &principal.kind {
        PrincipalKind::AssumedRole { role_arn } => role_arn,
        _ => &principal.arn,
    }
}

/// Condition keys a handler adds to the ones every request carries.
#[derive(Debug, Default)]
pub struct Conditions(ConditionValues);

impl Conditions {
    /// No request-specific keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a single-valued key.
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.insert(key.to_ascii_lowercase(), vec![value.into()]);
        self
    }

    /// `kms:EncryptionContext:<k>` for each pair and `kms:EncryptionContextKeys`.
    pub fn encryption_context(mut self, context: &Option<EncryptionContext>) -> Self {
        let Some(context) = context else { return self };
        for (k, v) in context {
            self.0.insert(
                format!("kms:encryptioncontext:{}", k.to_ascii_lowercase()),
                vec![v.clone()],
            );
        }
        if !context.is_empty() {
            self.0.insert(
                "kms:encryptioncontextkeys".into(),
                context.keys().cloned().collect(),
            );
        }
        self
    }

    /// `kms:RequestAlias` when the request named the key by an alias.
    pub fn request_alias(self, key_arg: &str) -> Self {
        let alias = match key_arg.split_once(":alias/") {
            Some((_, name)) if key_arg.starts_with("arn:") => Some(format!("alias/{name}")),
            _ => key_arg.starts_with("alias/").then(|| key_arg.to_owned()),
        };
        match alias {
            Some(a) => self.set("kms:RequestAlias", a),
            None => self,
        }
    }
}

/// Key id → its key policy, parsed. Parsing JSON on every request was a
/// visible share of the hot path; an entry is reused only while the stored
/// policy text is unchanged, so PutKeyPolicy (on any node) needs no
/// invalidation: the next request sees new text and parses it again.
#[derive(Debug, Default)]
pub struct KeyPolicyCache {
    entries: RwLock<HashMap<String, (String, Arc<Policy>)>>,
}

impl KeyPolicyCache {
    /// The parsed policy of `record`, or `None` if it no longer parses.
    fn get(&self, record: &KeyRecord) -> Option<Arc<Policy>> {
        if let Ok(entries) = self.entries.read()
            && let Some((text, parsed)) = entries.get(&record.key_id)
            && *text == record.policy
        {
            return Some(parsed.clone());
        }
        let parsed = Arc::new(policy::parse(&record.policy, PolicyKind::Resource).ok()?);
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() > 100_000 {
                entries.clear();
            }
            entries.insert(
                record.key_id.clone(),
                (record.policy.clone(), parsed.clone()),
            );
        }
        Some(parsed)
    }
}

/// Decides whether `caller` may perform `kms:<operation>` on `key` (or, with
/// no key, on `*` in its own account). `grant_allows` says whether one of the
/// key's grants covers the request.
pub fn authorize(
    node: &Node,
    caller: &Caller,
    operation: &str,
    key: Option<&KeyRecord>,
    conditions: Conditions,
) -> Result<(), ServerError> {
    let principal = principal_of(caller);
    let action = format!("kms:{operation}");
    let mut values = conditions.0;
    common_conditions(node, caller, key, &mut values);
    let key_policy = match key {
        Some(record) => Some(node.key_policies.get(record).ok_or_else(|| {
            // A stored policy that no longer parses allows nothing.
            deny_error(
                caller,
                &action,
                key,
                policy::DenyReason::NoResourcePolicyAllows,
            )
        })?),
        None => None,
    };
    let identities = if principal.kind == PrincipalKind::Root {
        Arc::new(Vec::new())
    } else {
        node.identities.get(node, identity_arn(&principal))?
    };
    let resource = key.map(KeyRecord::arn).unwrap_or_else(|| "*".to_owned());
    let request = Request {
        principal: &principal,
        action: &action,
        resource: &resource,
        resource_account: key.map_or(&caller.account_id, |k| &k.account_id),
        conditions: &values,
    };
    match policy::evaluate(&request, key_policy.as_deref(), &identities, false) {
        Decision::Allow => Ok(()),
        Decision::Deny(reason) => Err(deny_error(caller, &action, key, reason)),
    }
}

/// Keys every request carries.
fn common_conditions(
    node: &Node,
    caller: &Caller,
    key: Option<&KeyRecord>,
    values: &mut ConditionValues,
) {
    let mut set = |k: &str, v: String| {
        values.entry(k.to_owned()).or_insert_with(|| vec![v]);
    };
    set("kms:calleraccount", caller.account_id.clone());
    set("aws:principalaccount", caller.account_id.clone());
    set("aws:principalarn", caller.principal_arn.clone());
    set("aws:sourceip", caller.context.source_ip.to_string());
    set(
        "aws:securetransport",
        caller.context.secure_transport.to_string(),
    );
    if let Ok(text) = node
        .clock
        .now()
        .format(&time::format_description::well_known::Rfc3339)
    {
        set("aws:currenttime", text);
    }
    if let Some(record) = key {
        set("kms:keyspec", record.spec.as_str().to_owned());
        set("kms:keyusage", record.usage.as_str().to_owned());
        set("kms:keyorigin", record.origin.as_str().to_owned());
    }
}

/// AWS's refusal: "User: <arn> is not authorized to perform: <action> on
/// resource: <arn> because …".
fn deny_error(
    caller: &Caller,
    action: &str,
    key: Option<&KeyRecord>,
    reason: policy::DenyReason,
) -> ServerError {
    let resource = key.map(KeyRecord::arn).unwrap_or_else(|| "*".to_owned());
    api(
        ErrorCode::AccessDenied,
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {}",
            caller.principal_arn,
            reason.phrase(action)
        ),
    )
}

/// The lockout safety check for CreateKey and PutKeyPolicy: unless the
/// caller bypasses it, `policy` must still let the caller call PutKeyPolicy.
pub fn check_lockout(
    node: &Node,
    caller: &Caller,
    policy_text: &str,
    key_arn: &str,
    key_account: &str,
    bypass: Option<bool>,
) -> Result<(), ServerError> {
    let parsed = policy::parse(policy_text, PolicyKind::Resource)?;
    if bypass == Some(true) {
        return Ok(());
    }
    let principal = principal_of(caller);
    let identities = if principal.kind == PrincipalKind::Root {
        Arc::new(Vec::new())
    } else {
        node.identities.get(node, identity_arn(&principal))?
    };
    policy::check_lockout(&parsed, &principal, key_arn, key_account, &identities)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(arn: &str) -> Caller {
        Caller {
            account_id: "111122223333".into(),
            principal_arn: arn.into(),
            access_key_id: "AKIAEXAMPLE".into(),
            context: Arc::new(crate::context::RequestContext::default()),
        }
    }

    #[test]
    fn principals_by_arn_shape() {
        let root = principal_of(&caller("arn:aws:iam::111122223333:root"));
        assert_eq!(root.kind, PrincipalKind::Root);
        let user = principal_of(&caller("arn:aws:iam::111122223333:user/alice"));
        assert_eq!(user.kind, PrincipalKind::User);
        let session = principal_of(&caller("arn:aws:sts::111122223333:assumed-role/app/s1"));
        assert_eq!(
            session.kind,
            PrincipalKind::AssumedRole {
                role_arn: "arn:aws:iam::111122223333:role/app".into()
            }
        );
        assert_eq!(identity_arn(&session), "arn:aws:iam::111122223333:role/app");
    }

    #[test]
    fn request_conditions() {
        let context: EncryptionContext = [("Dept".to_owned(), "hr".to_owned())].into();
        let c = Conditions::new()
            .encryption_context(&Some(context))
            .request_alias("arn:aws:kms:us-east-1:111122223333:alias/app")
            .0;
        assert_eq!(c["kms:encryptioncontext:dept"], vec!["hr".to_owned()]);
        assert_eq!(c["kms:encryptioncontextkeys"], vec!["Dept".to_owned()]);
        assert_eq!(c["kms:requestalias"], vec!["alias/app".to_owned()]);
        let by_id = Conditions::new().request_alias("1234abcd-12ab-34cd-56ef-1234567890ab");
        assert!(by_id.0.is_empty());
    }
}
