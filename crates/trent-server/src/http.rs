//! HTTP: the accept loop, routing, body limits, and turning results into
//! AWS JSON 1.1 responses. One KMS route (`POST /`), plus `/healthz`,
//! `/readyz`, and the test-clock route when enabled.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use trent_proto::error::{ApiError, ErrorCode};
use trent_proto::sigv4;

use crate::error::{ServerError, api};
use crate::node::Node;
use crate::ops::{self, Caller};
use crate::{auth, scheduler};

/// Largest request body accepted; larger ones are refused before reading.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

type Body = Full<Bytes>;

/// Accepts connections until `shutdown` resolves, then lets in-flight
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let node = node.clone();
        let service = hyper::service::service_fn(move |req| handle(node.clone(), req, peer));
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    graceful.shutdown().await;
}

async fn handle(
    node: Arc<Node>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let response = match (req.method(), req.uri().path()) {
        (&Method::POST, "/") => kms(&node, req, peer, &request_id).await,
        (&Method::GET, "/healthz") => plain(StatusCode::OK, "ok\n"),
        (&Method::GET, "/readyz") if node.is_unsealed() => plain(StatusCode::OK, "ready\n"),
        (&Method::GET, "/readyz") => plain(StatusCode::SERVICE_UNAVAILABLE, "sealed\n"),
        (&Method::POST, "/_trent/test/advance-clock") if node.config.test_clock => {
            advance_clock(&node, req).await
        }
        _ => error_response(&ApiError::new(ErrorCode::UnknownOperation, "")),
    };
    let mut response = response;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    Ok(response)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    response
}

fn error_response(error: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    json(status, error.body())
}

/// Reads the body, refusing anything over the limit before reading it.
async fn read_body(req: Request<Incoming>) -> Result<(http::request::Parts, Bytes), ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::RequestEntityTooLarge,
            format!("Request body exceeds {MAX_BODY_BYTES} bytes."),
        )
    };
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    let bytes = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|_| too_large())?
        .to_bytes();
    Ok((parts, bytes))
}

fn operation(parts: &http::request::Parts) -> Result<String, ApiError> {
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match target.strip_prefix("TrentService.") {
        Some(op) if !op.is_empty() && op.len() <= 64 => Ok(op.to_owned()),
        _ => Err(ApiError::new(ErrorCode::UnknownOperation, "")),
    }
}

async fn kms(
    node: &Arc<Node>,
    req: Request<Incoming>,
    peer: SocketAddr,
    request_id: &str,
) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = match read_body(req).await {
        Ok(pair) => pair,
        Err(e) => return error_response(&e),
    };
    let op = match operation(&parts) {
        Ok(op) => op,
        Err(e) => return error_response(&e),
    };
    let result = match authenticate(node, &parts, &body) {
        Ok(caller) => run_operation(node.clone(), caller, op.clone(), body).await,
        Err(e) => Err(e),
    };
    let elapsed_us = started.elapsed().as_micros() as u64;
    match result {
        Ok(body) => {
            tracing::debug!(%request_id, %peer, op, status = 200, elapsed_us, "request");
            json(StatusCode::OK, body)
        }
        Err(e) => {
            let error = e.to_api();
            if error.code.status() >= 500 {
                tracing::error!(%request_id, %peer, op, error = %e, elapsed_us, "request failed");
            } else {
                tracing::debug!(%request_id, %peer, op, code = error.code.as_str(), elapsed_us, "request refused");
            }
            error_response(&error)
        }
    }
}

fn authenticate(
    node: &Node,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<Caller, ServerError> {
    let mut headers: Vec<sigv4::Header<'_>> = parts
        .headers
        .iter()
        .map(|(name, value)| sigv4::Header {
            name: name.as_str(),
            value: value.as_bytes(),
        })
        .collect();
    // HTTP/2 carries the host as the `:authority` pseudo-header, which clients
    // sign as `host`.
    if !parts.headers.contains_key(http::header::HOST)
        && let Some(authority) = parts.uri.authority()
    {
        headers.push(sigv4::Header {
            name: "host",
            value: authority.as_str().as_bytes(),
        });
    }
    let request = sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body,
    };
    if !node.is_unsealed() {
        return Err(ServerError::Sealed);
    }
    auth::authenticate(node, &request)
}

async fn run_operation(
    node: Arc<Node>,
    caller: Caller,
    op: String,
    body: Bytes,
) -> Result<Vec<u8>, ServerError> {
    if ops::is_hot(&op) {
        return ops::dispatch(&node, &caller, &op, &body);
    }
    tokio::task::spawn_blocking(move || ops::dispatch(&node, &caller, &op, &body))
        .await
        .map_err(|_| api(ErrorCode::KmsInternal, "An internal error occurred."))?
}

async fn advance_clock(node: &Arc<Node>, req: Request<Incoming>) -> Response<Body> {
    #[derive(serde::Deserialize)]
    struct Advance {
        seconds: i64,
    }
    let advance = match read_body(req)
        .await
        .and_then(|(_, body)| trent_proto::json::decode::<Advance>(&body))
    {
        Ok(a) => a,
        Err(e) => return error_response(&e),
    };
    node.clock.advance(advance.seconds);
    let worker = node.clone();
    let pass = tokio::task::spawn_blocking(move || scheduler::run_once(&worker)).await;
    let report = match pass {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => return error_response(&e.to_api()),
        Err(_) => {
            return error_response(&ApiError::new(
                ErrorCode::KmsInternal,
                "scheduler pass panicked",
            ));
        }
    };
    let body = serde_json::json!({
        "now": node.clock.now().unix_timestamp(),
        "deleted": report.deleted,
        "rotated": report.rotated,
    });
    json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}
