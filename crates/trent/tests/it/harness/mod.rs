//! Test harness: a real `trent` process per test, SDK clients pointed at it,
//! and a tiny raw HTTP/1.1 client for what the SDK cannot express.

mod raw_http;
mod sdk;
mod server;
mod temp_dir;

pub(crate) use raw_http::{
    HttpResponse, KmsAuth, SigningScope, kms_request, send_raw, sigv4_headers, sigv4_headers_scoped,
};
pub(crate) use sdk::{
    ACCOUNT_ID, ADMIN_AKID, ADMIN_SECRET, Blob, ctx, err_code, expect_err, key_arn, now_secs, secs,
};
pub(crate) use server::{Options, Seal, Trent, describe_output};
pub(crate) use temp_dir::TempDir;
