//! The AWS JSON 1.1 wire protocol and SigV4 authentication, exercised with
//! hand-built requests: operation routing, body parsing, error shape,
//! request ids, authentication failures, body size limit, `--dev-auth`.

use std::io;
use std::time::{Duration, SystemTime};

use aws_sdk_kms::operation::RequestId;

use crate::harness::{
    ADMIN_AKID, ADMIN_SECRET, HttpResponse, KmsAuth, Options, SigningScope, Trent, expect_err,
    kms_request, send_raw, sigv4_headers, sigv4_headers_scoped,
};
use crate::keys::create_key;

fn admin() -> KmsAuth<'static> {
    KmsAuth::SigV4 {
        akid: ADMIN_AKID,
        secret: ADMIN_SECRET,
        time: SystemTime::now(),
    }
}

fn call(trent: &Trent, target: &str, body: &str, auth: KmsAuth<'_>) -> HttpResponse {
    kms_request(trent.addr(), target, body.as_bytes(), auth)
        .unwrap_or_else(|e| panic!("{target}: request failed: {e}"))
}

/// Asserts `response` is an AWS JSON error of type `expected`, in AWS's
/// shape: 4xx, `{"__type": ..., "message": ...}`, with a request id.
#[track_caller]
fn assert_error(response: &HttpResponse, expected: &str) -> String {
    assert_eq!(
        response.error_type(),
        expected,
        "status {}, body {}",
        response.status,
        response.body_text()
    );
    assert!(
        (400..500).contains(&response.status),
        "{expected} with status {}",
        response.status
    );
    assert!(
        response
            .header("x-amzn-RequestId")
            .is_some_and(|id| !id.is_empty()),
        "{expected} without x-amzn-RequestId: {:?}",
        response.headers
    );
    response.error_message()
}

#[tokio::test]
async fn successful_responses_are_json_with_request_ids() {
    let trent = Trent::start();
    let first = call(
        &trent,
        "TrentService.GenerateRandom",
        r#"{"NumberOfBytes": 8}"#,
        admin(),
    );
    assert_eq!(first.status, 200, "{}", first.body_text());
    assert_eq!(
        first.header("content-type"),
        Some("application/x-amz-json-1.1")
    );
    let plaintext = first.json()["Plaintext"].as_str().map(str::to_owned);
    assert!(
        plaintext.is_some_and(|p| !p.is_empty()),
        "{}",
        first.body_text()
    );
    let second = call(
        &trent,
        "TrentService.GenerateRandom",
        r#"{"NumberOfBytes": 8}"#,
        admin(),
    );
    let ids = [
        first.header("x-amzn-RequestId"),
        second.header("x-amzn-RequestId"),
    ];
    assert!(
        ids.iter().all(|id| id.is_some_and(|id| !id.is_empty())),
        "{ids:?}"
    );
    assert_ne!(ids[0], ids[1], "request ids repeat");

    // The SDK sees it too.
    let out = trent
        .client()
        .generate_random()
        .number_of_bytes(8)
        .send()
        .await
        .expect("GenerateRandom");
    assert!(out.request_id().is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn unknown_operation() {
    let trent = Trent::start();
    for target in ["TrentService.MakeCoffee", "DynamoDB_20120810.ListTables"] {
        let response = call(&trent, target, "{}", admin());
        assert_error(&response, "UnknownOperationException");
    }
}

#[tokio::test]
async fn malformed_json_is_a_serialization_error() {
    let trent = Trent::start();
    for body in [
        r#"{"NumberOfBytes": "#,
        "not json at all",
        r#"{"NumberOfBytes": 8,}"#,
    ] {
        let response = call(&trent, "TrentService.GenerateRandom", body, admin());
        assert_error(&response, "SerializationException");
    }
}

#[tokio::test]
async fn wrong_field_type_is_a_validation_error_naming_the_field() {
    let trent = Trent::start();
    let response = call(
        &trent,
        "TrentService.GenerateRandom",
        r#"{"NumberOfBytes": "x"}"#,
        admin(),
    );
    let message = assert_error(&response, "ValidationException");
    assert!(
        message.to_lowercase().contains("numberofbytes"),
        "message does not name the field: {message}"
    );
}

#[tokio::test]
async fn tampered_signature_is_rejected() {
    let trent = Trent::start();
    let wrong_secret = KmsAuth::SigV4 {
        akid: ADMIN_AKID,
        secret: "not-the-secret-not-the-secret-not-the-secr",
        time: SystemTime::now(),
    };
    let response = call(
        &trent,
        "TrentService.GenerateRandom",
        r#"{"NumberOfBytes": 8}"#,
        wrong_secret,
    );
    assert_error(&response, "InvalidSignatureException");

    // A valid signature over a different body does not carry over.
    let mut headers = vec![
        ("host".to_owned(), trent.addr().to_owned()),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        (
            "x-amz-target".to_owned(),
            "TrentService.GenerateRandom".to_owned(),
        ),
    ];
    let signature = sigv4_headers(
        trent.addr(),
        &headers,
        br#"{"NumberOfBytes": 8}"#,
        ADMIN_AKID,
        ADMIN_SECRET,
        SystemTime::now(),
    );
    headers.extend(signature);
    let swapped = send_raw(
        trent.addr(),
        "POST",
        "/",
        &headers,
        br#"{"NumberOfBytes": 9}"#,
    )
    .expect("swapped-body request");
    assert_error(&swapped, "InvalidSignatureException");
}

#[tokio::test]
async fn signature_scoped_to_another_region_or_service_is_rejected() {
    let trent = Trent::start();
    let body = br#"{"NumberOfBytes": 8}"#;
    let scopes = [
        SigningScope {
            region: "eu-west-1",
            service: "kms",
        },
        SigningScope {
            region: "us-east-1",
            service: "s3",
        },
    ];
    for scope in scopes {
        let mut headers = vec![
            ("host".to_owned(), trent.addr().to_owned()),
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            ),
            (
                "x-amz-target".to_owned(),
                "TrentService.GenerateRandom".to_owned(),
            ),
        ];
        let signature = sigv4_headers_scoped(
            trent.addr(),
            &headers,
            body,
            ADMIN_AKID,
            ADMIN_SECRET,
            SystemTime::now(),
            scope,
        );
        headers.extend(signature);
        let response = send_raw(trent.addr(), "POST", "/", &headers, body).expect("request");
        assert_ne!(
            response.status, 200,
            "accepted a signature scoped to {scope:?}"
        );
        assert_error(&response, "InvalidSignatureException");
    }
}

#[tokio::test]
async fn malformed_authorization_is_an_incomplete_signature() {
    let trent = Trent::start();
    for authorization in ["AWS4-HMAC-SHA256 Credential=foo", "Bearer abc"] {
        let headers = vec![
            ("host".to_owned(), trent.addr().to_owned()),
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            ),
            (
                "x-amz-target".to_owned(),
                "TrentService.GenerateRandom".to_owned(),
            ),
            ("authorization".to_owned(), authorization.to_owned()),
        ];
        let response = send_raw(
            trent.addr(),
            "POST",
            "/",
            &headers,
            br#"{"NumberOfBytes": 8}"#,
        )
        .expect("request");
        assert_error(&response, "IncompleteSignatureException");
    }
}

#[tokio::test]
async fn future_dated_signature_is_rejected() {
    let trent = Trent::start();
    let future = KmsAuth::SigV4 {
        akid: ADMIN_AKID,
        secret: ADMIN_SECRET,
        time: SystemTime::now() + Duration::from_secs(20 * 60),
    };
    let response = call(
        &trent,
        "TrentService.GenerateRandom",
        r#"{"NumberOfBytes": 8}"#,
        future,
    );
    assert_error(&response, "InvalidSignatureException");
}

#[tokio::test]
async fn stale_signature_is_rejected() {
    let trent = Trent::start();
    let stale = KmsAuth::SigV4 {
        akid: ADMIN_AKID,
        secret: ADMIN_SECRET,
        time: SystemTime::now() - Duration::from_secs(20 * 60),
    };
    let response = call(
        &trent,
        "TrentService.GenerateRandom",
        r#"{"NumberOfBytes": 8}"#,
        stale,
    );
    assert_error(&response, "InvalidSignatureException");
}

#[tokio::test]
async fn unknown_access_key_is_unrecognized() {
    let trent = Trent::start();
    let stranger = KmsAuth::SigV4 {
        akid: "AKIAUNKNOWNKEY000000",
        secret: ADMIN_SECRET,
        time: SystemTime::now(),
    };
    let response = call(
        &trent,
        "TrentService.GenerateRandom",
        r#"{"NumberOfBytes": 8}"#,
        stranger,
    );
    assert_error(&response, "UnrecognizedClientException");

    let client = trent.client_as("AKIAUNKNOWNKEY000000", "whatever");
    expect_err(
        client.list_keys().send().await,
        "UnrecognizedClientException",
    );
}

#[tokio::test]
async fn missing_authorization_is_rejected() {
    let trent = Trent::start();
    let response = call(
        &trent,
        "TrentService.GenerateRandom",
        r#"{"NumberOfBytes": 8}"#,
        KmsAuth::None,
    );
    assert_error(&response, "MissingAuthenticationTokenException");
}

#[tokio::test]
async fn oversized_body_is_refused_promptly() {
    let trent = Trent::start();
    let padding = "A".repeat(1024 * 1024 + 64 * 1024);
    let body = format!(r#"{{"NumberOfBytes": 8, "Padding": "{padding}"}}"#);
    let started = std::time::Instant::now();
    let outcome = kms_request(
        trent.addr(),
        "TrentService.GenerateRandom",
        body.as_bytes(),
        admin(),
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "oversized body took {:?}",
        started.elapsed()
    );
    match outcome {
        Ok(response) => assert!(
            (400..500).contains(&response.status),
            "oversized body answered {}: {}",
            response.status,
            response.body_text()
        ),
        // Closing the connection mid-upload is a refusal too.
        Err(e) => assert!(
            matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            ),
            "oversized body: {e}"
        ),
    }
    // And the server is still serving.
    let response = call(
        &trent,
        "TrentService.GenerateRandom",
        r#"{"NumberOfBytes": 8}"#,
        admin(),
    );
    assert_eq!(response.status, 200, "{}", response.body_text());
}

#[tokio::test]
async fn service_errors_use_the_aws_error_shape() {
    let trent = Trent::start();
    let response = call(
        &trent,
        "TrentService.DescribeKey",
        r#"{"KeyId": "0f3b7a52-64c7-4d2a-9d0e-5c1b2a3d4e5f"}"#,
        admin(),
    );
    assert_error(&response, "NotFoundException");
    let response = call(
        &trent,
        "TrentService.GenerateRandom",
        r#"{"NumberOfBytes": 0}"#,
        admin(),
    );
    assert_error(&response, "ValidationException");
}

#[tokio::test]
async fn test_clock_endpoint_needs_the_flag() {
    let trent = Trent::start_with(Options {
        test_clock: false,
        ..Options::default()
    });
    let headers = vec![
        ("host".to_owned(), trent.addr().to_owned()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    let response = send_raw(
        trent.addr(),
        "POST",
        "/_trent/test/advance-clock",
        &headers,
        br#"{"seconds": 86400}"#,
    )
    .expect("advance-clock request");
    assert_ne!(
        response.status, 200,
        "advance-clock open without --unsafe-test-clock"
    );
}

#[tokio::test]
async fn dev_auth_maps_a_numeric_access_key_to_its_account() {
    let trent = Trent::start_with(Options {
        dev_auth: true,
        ..Options::default()
    });
    let alice = trent.client_as("444455556666", "any secret at all");
    let key = create_key(&alice).await;
    assert_eq!(key.aws_account_id.as_deref(), Some("444455556666"));
    let arn = key.arn.clone().expect("Arn");
    assert!(
        arn.starts_with("arn:aws:kms:us-east-1:444455556666:key/"),
        "{arn}"
    );

    // Any secret works for the same account.
    let again = trent.client_as("444455556666", "a different secret");
    let meta = again
        .describe_key()
        .key_id(&key.key_id)
        .send()
        .await
        .expect("DescribeKey");
    assert_eq!(
        meta.key_metadata().map(|m| m.key_id.as_str()),
        Some(key.key_id.as_str())
    );

    // Another account does not see it.
    let bob = trent.client_as("777788889999", "whatever");
    expect_err(
        bob.describe_key().key_id(&key.key_id).send().await,
        "NotFoundException",
    );
    let listed = bob.list_keys().send().await.expect("ListKeys");
    assert!(
        listed.keys().is_empty(),
        "account 777788889999 lists {listed:?}"
    );
}

#[tokio::test]
async fn encryption_context_order_does_not_matter() {
    let trent = Trent::start();
    let key = create_key(&trent.client()).await.key_id;
    let encrypt = format!(
        r#"{{"KeyId": "{key}", "Plaintext": "aGVsbG8=",
            "EncryptionContext": {{"zeta": "1", "alpha": "2", "Mitte": "ü"}}}}"#
    );
    let response = call(&trent, "TrentService.Encrypt", &encrypt, admin());
    assert_eq!(response.status, 200, "{}", response.body_text());
    let blob = response.json()["CiphertextBlob"]
        .as_str()
        .expect("CiphertextBlob")
        .to_owned();
    let decrypt = format!(
        r#"{{"CiphertextBlob": "{blob}",
            "EncryptionContext": {{"Mitte": "ü", "alpha": "2", "zeta": "1"}}}}"#
    );
    let response = call(&trent, "TrentService.Decrypt", &decrypt, admin());
    assert_eq!(response.status, 200, "{}", response.body_text());
    assert_eq!(response.json()["Plaintext"], "aGVsbG8=");
}
