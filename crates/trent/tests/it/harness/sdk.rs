//! Building SDK clients against a test server, and reading SDK results.

use std::fmt::Debug;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_kms::Client;
use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::DateTime;

pub(crate) use aws_sdk_kms::primitives::Blob;

/// The account every harness-provisioned credential belongs to.
pub(crate) const ACCOUNT_ID: &str = "111122223333";
pub(crate) const REGION: &str = "us-east-1";
/// Credentials the harness provisions before starting a server.
pub(crate) const ADMIN_AKID: &str = "AKIATRENTTESTADMIN01";
pub(crate) const ADMIN_SECRET: &str = "trentTestAdminSecret0000000000000000000001";

/// An SDK client for `endpoint`; retries are off so a test sees the first
/// answer, and a hung server fails the test instead of stalling the suite.
pub(crate) fn sdk_client(endpoint: &str, akid: &str, secret: &str) -> Client {
    let config = aws_sdk_kms::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(akid, secret, None, None, "trent-it"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// The ARN AWS gives key `key_id` of the test account.
pub(crate) fn key_arn(key_id: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}")
}

/// The AWS error code of a failed call; panics if the call succeeded or
/// failed without reaching the service.
#[track_caller]
pub(crate) fn err_code<T, E, R>(result: Result<T, SdkError<E, R>>) -> String
where
    T: Debug,
    E: ProvideErrorMetadata + Debug,
    R: Debug,
{
    match result {
        Ok(output) => panic!("expected an AWS error, got success: {output:?}"),
        Err(err) => match err.code() {
            Some(code) => code.to_owned(),
            None => panic!("expected an AWS error code, got: {err:?}"),
        },
    }
}

/// Asserts the call failed with AWS error `code`.
#[track_caller]
pub(crate) fn expect_err<T, E, R>(result: Result<T, SdkError<E, R>>, code: &str)
where
    T: Debug,
    E: ProvideErrorMetadata + Debug,
    R: Debug,
{
    let got = err_code(result);
    assert_eq!(got, code, "wrong AWS error code");
}

/// Encryption context from pairs.
pub(crate) fn ctx(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Wall-clock seconds since the epoch.
pub(crate) fn now_secs() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_secs()).expect("epoch seconds fit i64")
}

/// Seconds of an optional SDK timestamp; panics when absent.
#[track_caller]
pub(crate) fn secs(t: Option<&DateTime>) -> i64 {
    t.expect("timestamp present").secs()
}
