//! Evaluating a request the way AWS KMS does:
//!
//! 1. An explicit Deny in the key policy or in the caller's identity policies
//!    refuses the request, whatever else allows it.
//! 2. The key policy is the primary resource policy. A statement allowing a
//!    principal directly (its ARN, `*`, its service) allows the request; a
//!    statement allowing an *account* (its id or root ARN) allows that
//!    account's root and delegates everyone else in it to their identity
//!    policies.
//! 3. A caller from another account needs both: the key policy allowing it
//!    (directly or through its account) and its own identity policies.
//! 4. A grant for the principal and operation allows the request on its own.
//!
//! Requests without a key (CreateKey, ListKeys, …) have no key policy: the
//! caller's identity policies decide, and an account root may do them.

use super::condition::ConditionValues;
use super::document::{Effect, Matcher, Policy, PrincipalEntry, Statement};

/// What kind of principal is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account root: all permissions within its own account.
    Root,
    /// An IAM user.
    User,
    /// A role session; carries the role's ARN, which key policies name.
    AssumedRole {
        /// `arn:aws:iam::<acct>:role/<name>`.
        role_arn: String,
    },
    /// A service identity acting for the account (`s3.amazonaws.com`).
    Service {
        /// The service principal name.
        service: String,
    },
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The caller's ARN (`aws:PrincipalArn`).
    pub arn: String,
    /// The caller's account (`aws:PrincipalAccount`, `kms:CallerAccount`).
    pub account: String,
    /// Root, user, role session or service.
    pub kind: PrincipalKind,
}

/// One request to authorize.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// `kms:<Operation>`.
    pub action: &'a str,
    /// The key ARN, or `*` for operations without a key.
    pub resource: &'a str,
    /// The account owning the resource (the caller's for keyless operations).
    pub resource_account: &'a str,
    /// The request's condition keys.
    pub conditions: &'a ConditionValues,
}

/// Why a request was refused: the four endings of AWS's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// A key policy statement denies it.
    ExplicitDenyInResourcePolicy,
    /// An identity policy statement denies it.
    ExplicitDenyInIdentityPolicy,
    /// Nothing in the key policy (or a grant) allows it.
    NoResourcePolicyAllows,
    /// The key policy delegates to IAM, and no identity policy allows it.
    NoIdentityPolicyAllows,
}

impl DenyReason {
    /// The end of AWS's `AccessDeniedException` message.
    pub fn phrase(self, action: &str) -> String {
        match self {
            DenyReason::ExplicitDenyInResourcePolicy => {
                "with an explicit deny in a resource-based policy".to_owned()
            }
            DenyReason::ExplicitDenyInIdentityPolicy => {
                "with an explicit deny in an identity-based policy".to_owned()
            }
            DenyReason::NoResourcePolicyAllows => {
                format!("because no resource-based policy allows the {action} action")
            }
            DenyReason::NoIdentityPolicyAllows => {
                format!("because no identity-based policy allows the {action} action")
            }
        }
    }
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The request may proceed.
    Allow,
    /// The request is refused.
    Deny(DenyReason),
}

/// How a statement's principal element matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrincipalMatch {
    /// By ARN, `*` or service.
    Direct,
    /// Through the caller's account.
    Account,
}

/// Evaluates `request` against the key policy (`None` for keyless
/// operations), the caller's identity policies, and whether a grant allows it.
pub fn evaluate(
    request: &Request<'_>,
    key_policy: Option<&Policy>,
    identity_policies: &[Policy],
    grant_allows: bool,
) -> Decision {
    let mut key_direct = false;
    let mut key_delegates = false;
    if let Some(policy) = key_policy {
        for statement in applicable(policy, request) {
            let Some(how) = principal_matches(statement, request.principal) else {
                continue;
            };
            match statement.effect {
                Effect::Deny => return Decision::Deny(DenyReason::ExplicitDenyInResourcePolicy),
                Effect::Allow if how == PrincipalMatch::Account => {
                    if request.principal.kind == PrincipalKind::Root {
                        key_direct = true;
                    } else {
                        key_delegates = true;
                    }
                }
                Effect::Allow => key_direct = true,
            }
        }
    }
    let mut identity_allows = request.principal.kind == PrincipalKind::Root;
    for policy in identity_policies {
        for statement in applicable(policy, request) {
            match statement.effect {
                Effect::Deny => return Decision::Deny(DenyReason::ExplicitDenyInIdentityPolicy),
                Effect::Allow => identity_allows = true,
            }
        }
    }
    if grant_allows {
        return Decision::Allow;
    }
    let same_account = request.principal.account == request.resource_account;
    let Some(_) = key_policy else {
        return if same_account && identity_allows {
            Decision::Allow
        } else {
            Decision::Deny(DenyReason::NoIdentityPolicyAllows)
        };
    };
    if same_account {
        if key_direct || (key_delegates && identity_allows) {
            Decision::Allow
        } else if key_delegates {
            Decision::Deny(DenyReason::NoIdentityPolicyAllows)
        } else {
            Decision::Deny(DenyReason::NoResourcePolicyAllows)
        }
    } else if !(key_direct || key_delegates) {
        Decision::Deny(DenyReason::NoResourcePolicyAllows)
    } else if !identity_allows {
        Decision::Deny(DenyReason::NoIdentityPolicyAllows)
    } else {
        Decision::Allow
    }
}

/// The statements whose action, resource and conditions match.
fn applicable<'p>(
    policy: &'p Policy,
    request: &'p Request<'_>,
) -> impl Iterator<Item = &'p Statement> + 'p {
    policy.statements.iter().filter(move |s| {
        matcher(&s.action, |p| super::glob(p, request.action, true))
            && s.resource
                .as_ref()
                .is_none_or(|r| matcher(r, |p| super::glob(p, request.resource, false)))
            && s.conditions.iter().all(|c| c.holds(request.conditions))
    })
}

fn matcher<T>(m: &Matcher<T>, matches: impl Fn(&T) -> bool) -> bool {
    m.items.iter().any(matches) != m.negated
}

fn principal_matches(statement: &Statement, principal: &Principal) -> Option<PrincipalMatch> {
    let element = statement.principal.as_ref()?;
    let mut best = None;
    for entry in &element.items {
        let hit = match entry {
            PrincipalEntry::Anyone => Some(PrincipalMatch::Direct),
            PrincipalEntry::Account(a) if *a == principal.account => Some(PrincipalMatch::Account),
            PrincipalEntry::Account(_) => None,
            PrincipalEntry::Arn(arn) => {
                let role = match &principal.kind {
                    PrincipalKind::AssumedRole { role_arn } => role_arn == arn,
                    _ => false,
                };
                (*arn == principal.arn || role).then_some(PrincipalMatch::Direct)
            }
            PrincipalEntry::Service(s) => match &principal.kind {
                PrincipalKind::Service { service } if service == s => Some(PrincipalMatch::Direct),
                _ => None,
            },
        };
        if hit == Some(PrincipalMatch::Direct) {
            best = hit;
            break;
        }
        best = best.or(hit);
    }
    match (element.negated, best) {
        (false, hit) => hit,
        (true, None) => Some(PrincipalMatch::Direct),
        (true, Some(_)) => None,
    }
}
