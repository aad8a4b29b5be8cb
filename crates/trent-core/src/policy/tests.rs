//! Evaluation tests: the KMS rules case by case, then invariants over
//! generated policies (explicit deny wins; adding an Allow never removes
//! access; adding a Deny never adds access).

use proptest::prelude::*;

use super::*;

const ACCT: &str = "111122223333";
const OTHER: &str = "444455556666";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn principal(account: &str, kind: PrincipalKind, name: &str) -> Principal {
    let arn = match &kind {
        PrincipalKind::Root => format!("arn:aws:iam::{account}:root"),
        PrincipalKind::AssumedRole { .. } => {
            format!("arn:aws:sts::{account}:assumed-role/{name}/s1")
        }
        _ => format!("arn:aws:iam::{account}:user/{name}"),
    };
    Principal {
        arn,
        account: account.into(),
        kind,
    }
}

fn key_policy(statements: &str) -> Policy {
    parse(
        &format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#),
        PolicyKind::Resource,
    )
    .unwrap()
}

fn identity(statements: &str) -> Policy {
    parse(
        &format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#),
        PolicyKind::Identity,
    )
    .unwrap()
}

fn decide(
    who: &Principal,
    action: &str,
    key: Option<&Policy>,
    ids: &[Policy],
    conditions: &ConditionValues,
) -> Decision {
    let request = Request {
        principal: who,
        action,
        resource: if key.is_some() { KEY } else { "*" },
        resource_account: ACCT,
        conditions,
    };
    evaluate(&request, key, ids, false)
}

const ROOT_ALL: &str = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;
const ID_ENCRYPT: &str = r#"{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}"#;

#[test]
fn root_and_delegation_to_identity_policies() {
    let kp = key_policy(ROOT_ALL);
    let none = ConditionValues::new();
    let root = principal(ACCT, PrincipalKind::Root, "");
    let alice = principal(ACCT, PrincipalKind::User, "alice");
    assert_eq!(
        decide(&root, "kms:Encrypt", Some(&kp), &[], &none),
        Decision::Allow
    );
    assert_eq!(
        decide(&alice, "kms:Encrypt", Some(&kp), &[], &none),
        Decision::Deny(DenyReason::NoIdentityPolicyAllows)
    );
    let ids = [identity(ID_ENCRYPT)];
    assert_eq!(
        decide(&alice, "kms:Encrypt", Some(&kp), &ids, &none),
        Decision::Allow
    );
    assert_eq!(
        decide(&alice, "kms:Decrypt", Some(&kp), &ids, &none),
        Decision::Deny(DenyReason::NoIdentityPolicyAllows)
    );
    // Keyless operations: identity policies decide; root may.
    assert_eq!(
        decide(&root, "kms:CreateKey", None, &[], &none),
        Decision::Allow
    );
    assert_eq!(
        decide(&alice, "kms:CreateKey", None, &ids, &none),
        Decision::Deny(DenyReason::NoIdentityPolicyAllows)
    );
}

#[test]
fn key_policy_without_root_ignores_identity_policies() {
    let kp = key_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:Decrypt","Resource":"*"}"#,
    );
    let none = ConditionValues::new();
    let alice = principal(ACCT, PrincipalKind::User, "alice");
    let bob = principal(ACCT, PrincipalKind::User, "bob");
    let all = [identity(
        r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#,
    )];
    assert_eq!(
        decide(&alice, "kms:Decrypt", Some(&kp), &all, &none),
        Decision::Deny(DenyReason::NoResourcePolicyAllows)
    );
    assert_eq!(
        decide(&bob, "kms:Decrypt", Some(&kp), &[], &none),
        Decision::Allow
    );
    // Even the root is locked out when the policy does not name it.
    let root = principal(ACCT, PrincipalKind::Root, "");
    assert_eq!(
        decide(&root, "kms:Decrypt", Some(&kp), &[], &none),
        Decision::Deny(DenyReason::NoResourcePolicyAllows)
    );
}

#[test]
fn explicit_denies_win() {
    let kp = key_policy(&format!(
        r#"{ROOT_ALL},{{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{{"StringNotEquals":{{"kms:EncryptionContext:app":"billing"}}}}}}"#
    ));
    let root = principal(ACCT, PrincipalKind::Root, "");
    let billing: ConditionValues =
        [("kms:encryptioncontext:app".into(), vec!["billing".into()])].into();
    assert_eq!(
        decide(&root, "kms:Decrypt", Some(&kp), &[], &billing),
        Decision::Allow
    );
    assert_eq!(
        decide(
            &root,
            "kms:Decrypt",
            Some(&kp),
            &[],
            &ConditionValues::new()
        ),
        Decision::Deny(DenyReason::ExplicitDenyInResourcePolicy)
    );
    let alice = principal(ACCT, PrincipalKind::User, "alice");
    let ids = [identity(
        r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}"#,
    )];
    assert_eq!(
        decide(&alice, "kms:Encrypt", Some(&kp), &ids, &billing),
        Decision::Deny(DenyReason::ExplicitDenyInIdentityPolicy)
    );
    // A grant does not override an explicit deny.
    let request = Request {
        principal: &alice,
        action: "kms:Encrypt",
        resource: KEY,
        resource_account: ACCT,
        conditions: &billing,
    };
    assert_eq!(
        evaluate(&request, Some(&kp), &ids, true),
        Decision::Deny(DenyReason::ExplicitDenyInIdentityPolicy)
    );
}

#[test]
fn cross_account_needs_both() {
    let kp = key_policy(&format!(
        r#"{ROOT_ALL},{{"Effect":"Allow","Principal":{{"AWS":"{OTHER}"}},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}}"#
    ));
    let none = ConditionValues::new();
    let carol = principal(OTHER, PrincipalKind::User, "carol");
    let other_root = principal(OTHER, PrincipalKind::Root, "");
    assert_eq!(
        decide(&carol, "kms:Encrypt", Some(&kp), &[], &none),
        Decision::Deny(DenyReason::NoIdentityPolicyAllows)
    );
    assert_eq!(
        decide(
            &carol,
            "kms:Encrypt",
            Some(&kp),
            &[identity(ID_ENCRYPT)],
            &none
        ),
        Decision::Allow
    );
    assert_eq!(
        decide(&other_root, "kms:Decrypt", Some(&kp), &[], &none),
        Decision::Allow
    );
    assert_eq!(
        decide(
            &other_root,
            "kms:ScheduleKeyDeletion",
            Some(&kp),
            &[],
            &none
        ),
        Decision::Deny(DenyReason::NoResourcePolicyAllows)
    );
    // Keyless operations never reach into another account.
    let request = Request {
        principal: &other_root,
        action: "kms:ListKeys",
        resource: "*",
        resource_account: ACCT,
        conditions: &none,
    };
    assert!(matches!(
        evaluate(&request, None, &[], false),
        Decision::Deny(_)
    ));
}

#[test]
fn roles_services_and_not_forms() {
    let kp = key_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:Describe*","Resource":"*"},
           {"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"NotAction":"kms:Schedule*","Resource":"*"},
           {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:DescribeKey","Resource":"*"}"#,
    );
    let none = ConditionValues::new();
    let session = principal(
        ACCT,
        PrincipalKind::AssumedRole {
            role_arn: "arn:aws:iam::111122223333:role/app".into(),
        },
        "app",
    );
    let s3 = principal(
        ACCT,
        PrincipalKind::Service {
            service: "s3.amazonaws.com".into(),
        },
        "s3",
    );
    assert_eq!(
        decide(&session, "kms:DescribeKey", Some(&kp), &[], &none),
        Decision::Allow
    );
    assert_eq!(
        decide(&session, "kms:Encrypt", Some(&kp), &[], &none),
        Decision::Deny(DenyReason::NoResourcePolicyAllows)
    );
    assert_eq!(
        decide(&s3, "kms:Encrypt", Some(&kp), &[], &none),
        Decision::Allow
    );
    assert_eq!(
        decide(&s3, "kms:ScheduleKeyDeletion", Some(&kp), &[], &none),
        Decision::Deny(DenyReason::NoResourcePolicyAllows)
    );
    assert_eq!(
        decide(&s3, "kms:DescribeKey", Some(&kp), &[], &none),
        Decision::Deny(DenyReason::ExplicitDenyInResourcePolicy)
    );
}

#[test]
fn resources_and_action_wildcards() {
    assert!(glob("kms:*", "kms:Encrypt", true));
    assert!(glob("KMS:encrypt", "kms:Encrypt", true));
    assert!(glob("kms:Generate*Pair", "kms:GenerateDataKeyPair", true));
    assert!(!glob("kms:Generate*Pair", "kms:GenerateDataKey", true));
    assert!(glob("a?c", "abc", false));
    assert!(!glob("A?c", "abc", false));
    let kp = key_policy(&format!(
        r#"{{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"arn:aws:kms:*:{ACCT}:key/other"}}"#
    ));
    let root = principal(ACCT, PrincipalKind::Root, "");
    assert!(matches!(
        decide(
            &root,
            "kms:Encrypt",
            Some(&kp),
            &[],
            &ConditionValues::new()
        ),
        Decision::Deny(_)
    ));
}

#[test]
fn lockout_check() {
    let root = principal(ACCT, PrincipalKind::Root, "");
    assert!(check_lockout(&key_policy(ROOT_ALL), &root, KEY, ACCT, &[]).is_ok());
    let narrow = key_policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}"#,
    );
    assert!(matches!(
        check_lockout(&narrow, &root, KEY, ACCT, &[]),
        Err(Error::MalformedPolicy(_))
    ));
}

// Invariants over generated policies.

fn arb_statement(identity: bool) -> impl Strategy<Value = String> {
    let effect = prop_oneof![Just("Allow"), Just("Deny")];
    let action = prop_oneof![
        Just("kms:*"),
        Just("kms:Encrypt"),
        Just("kms:Decrypt"),
        Just("kms:Gen*"),
        Just("kms:Describe*"),
    ];
    let not_action = any::<bool>();
    let principal = prop_oneof![
        Just(r#""*""#.to_owned()),
        Just(format!(r#"{{"AWS":"{ACCT}"}}"#)),
        Just(format!(r#"{{"AWS":"{OTHER}"}}"#)),
        Just(format!(r#"{{"AWS":"arn:aws:iam::{ACCT}:user/alice"}}"#)),
        Just(format!(r#"{{"AWS":"arn:aws:iam::{OTHER}:user/carol"}}"#)),
    ];
    let condition = prop_oneof![
        Just(String::new()),
        Just(r#","Condition":{"StringEquals":{"kms:EncryptionContext:app":"x"}}"#.to_owned()),
        Just(r#","Condition":{"StringNotEquals":{"kms:EncryptionContext:app":"x"}}"#.to_owned()),
        Just(r#","Condition":{"Null":{"kms:ViaService":"true"}}"#.to_owned()),
    ];
    (effect, action, not_action, principal, condition).prop_map(move |(e, a, n, p, c)| {
        let act = if n { "NotAction" } else { "Action" };
        let who = if identity {
            String::new()
        } else {
            format!(r#","Principal":{p}"#)
        };
        format!(r#"{{"Effect":"{e}"{who},"{act}":"{a}","Resource":"*"{c}}}"#)
    })
}

fn arb_policy(identity: bool) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(arb_statement(identity), 1..4)
}

fn arb_principal() -> impl Strategy<Value = Principal> {
    prop_oneof![
        Just(principal(ACCT, PrincipalKind::Root, "")),
        Just(principal(ACCT, PrincipalKind::User, "alice")),
        Just(principal(ACCT, PrincipalKind::User, "bob")),
        Just(principal(OTHER, PrincipalKind::User, "carol")),
        Just(principal(OTHER, PrincipalKind::Root, "")),
    ]
}

fn arb_request() -> impl Strategy<Value = (Principal, &'static str, ConditionValues)> {
    let action = prop_oneof![
        Just("kms:Encrypt"),
        Just("kms:Decrypt"),
        Just("kms:DescribeKey"),
        Just("kms:GenerateDataKey")
    ];
    let context = prop_oneof![
        Just(ConditionValues::new()),
        Just([("kms:encryptioncontext:app".to_owned(), vec!["x".to_owned()])].into()),
        Just([("kms:encryptioncontext:app".to_owned(), vec!["y".to_owned()])].into()),
    ];
    (arb_principal(), action, context)
}

fn build(statements: &[String], kind: PolicyKind) -> Policy {
    parse(
        &format!(r#"{{"Statement":[{}]}}"#, statements.join(",")),
        kind,
    )
    .unwrap()
}

fn allowed(
    req: &(Principal, &'static str, ConditionValues),
    key: &[String],
    ids: &[String],
    grant: bool,
) -> Decision {
    let kp = build(key, PolicyKind::Resource);
    let ids: Vec<Policy> = if ids.is_empty() {
        Vec::new()
    } else {
        vec![build(ids, PolicyKind::Identity)]
    };
    let request = Request {
        principal: &req.0,
        action: req.1,
        resource: KEY,
        resource_account: ACCT,
        conditions: &req.2,
    };
    evaluate(&request, Some(&kp), &ids, grant)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn adding_an_allow_never_removes_access(
        key in arb_policy(false), ids in proptest::collection::vec(arb_statement(true), 0..3),
        extra in arb_statement(false), grant in any::<bool>(), req in arb_request(),
    ) {
        let extra = extra.replacen(r#""Effect":"Deny""#, r#""Effect":"Allow""#, 1);
        if allowed(&req, &key, &ids, grant) == Decision::Allow {
            let mut more = key.clone();
            more.push(extra);
            prop_assert_eq!(allowed(&req, &more, &ids, grant), Decision::Allow);
        }
    }

    #[test]
    fn adding_a_deny_never_adds_access(
        key in arb_policy(false), ids in proptest::collection::vec(arb_statement(true), 0..3),
        extra in arb_statement(false), id_extra in arb_statement(true),
        grant in any::<bool>(), req in arb_request(),
    ) {
        if allowed(&req, &key, &ids, grant) != Decision::Allow {
            let mut more = key.clone();
            more.push(extra.replacen(r#""Effect":"Allow""#, r#""Effect":"Deny""#, 1));
            prop_assert_ne!(allowed(&req, &more, &ids, grant), Decision::Allow);
            let mut more_ids = ids.clone();
            more_ids.push(id_extra.replacen(r#""Effect":"Allow""#, r#""Effect":"Deny""#, 1));
            prop_assert_ne!(allowed(&req, &key, &more_ids, grant), Decision::Allow);
        }
    }

    #[test]
    fn an_applicable_explicit_deny_always_wins(
        key in arb_policy(false), ids in proptest::collection::vec(arb_statement(true), 0..3),
        grant in any::<bool>(), req in arb_request(),
    ) {
        let mut with_deny = key.clone();
        with_deny.push(r#"{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}"#.to_owned());
        prop_assert_eq!(
            allowed(&req, &with_deny, &ids, grant),
            Decision::Deny(DenyReason::ExplicitDenyInResourcePolicy)
        );
    }
}
