//! The bare-hyper baseline: the same accept loop and HTTP stack Trent uses
//! (hyper 1, `hyper_util` auto connection builder, `TCP_NODELAY`), reading
//! the whole body of any POST and answering a fixed small JSON body. No
//! signature check, no JSON parsing, no cryptography: the ceiling for any
//! HTTP service on this machine with this load generator.

use std::convert::Infallible;
use std::io::Write;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// The answer to every POST: shaped like an Encrypt response for a 1 KiB
/// plaintext would be, but small and fixed.
const BODY: &[u8] = br#"{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#;

/// Serves on `listen` until the process is killed; prints
/// `listening on http://ADDR` once bound, like `trent serve`.
pub async fn serve(listen: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        let conn = builder
            .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer))
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

async fn answer(
    request: http::Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let is_post = request.method() == http::Method::POST;
    // Read the body as a real service must before answering.
    let _ = request.into_body().collect().await;
    let mut response = Response::new(Full::new(Bytes::from_static(if is_post {
        BODY
    } else {
        b"ok\n"
    })));
    if !is_post {
        *response.status_mut() = StatusCode::OK;
    }
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    Ok(response)
}
