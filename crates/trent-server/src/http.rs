//! HTTP: the accept loop (plain or TLS), routing, body limits, and turning
//! results into AWS JSON 1.1 responses. One KMS route (`POST /`), plus
//! `/healthz`, `/readyz`, and the test-clock route when enabled.
//!
//! Every request to the KMS route, and every request no route takes, is
//! recorded in the audit log before it is answered (`crate::audit`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use trent_proto::error::{ApiError, ErrorCode};
use trent_proto::sigv4;

use crate::context::{Connection, RequestContext};
use crate::error::{ServerError, api};
use crate::limits::{BodyDeadline, IdleTimeout, Limits};
use crate::node::Node;
use crate::ops::{self, Caller};
use crate::tls::TlsConfig;
use crate::{audit, auth, scheduler};

/// Largest request body accepted; larger ones are refused before reading.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// How long a client may take to finish a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful shutdown waits for connections to finish (an idle
/// HTTP/2 client must answer the server's GOAWAY and PING before it closes).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub(crate) type Body = Full<Bytes>;

/// Accepts connections until `shutdown` resolves, then lets in-flight
/// requests finish. With `tls`, every connection must complete a TLS
/// handshake first (with the configuration current at accept time).
/// Enforces the default [`Limits`].
pub async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    tls: Option<Arc<TlsConfig>>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    serve_with(listener, node, tls, Limits::default(), shutdown).await;
}

/// The connection and request limits a server shares between connections.
#[derive(Debug)]
struct Gates {
    limits: Limits,
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// [`serve`] with chosen [`Limits`].
pub async fn serve_with(
    listener: TcpListener,
    node: Arc<Node>,
    tls: Option<Arc<TlsConfig>>,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .max_concurrent_streams(u32::try_from(limits.max_in_flight).unwrap_or(u32::MAX));
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let gates = Arc::new(Gates {
        limits,
        in_flight: Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight)),
    });
    let mut shed = 0u64;
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
        // Over the connection limit: close at once; the client retries.
        let Ok(slot) = connections.clone().try_acquire_owned() else {
            shed += 1;
            if shed.is_power_of_two() {
                tracing::warn!(%peer, shed, max = limits.max_connections, "connection limit reached; closing new connections");
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let stream = IdleTimeout::new(stream, limits.idle_timeout);
        let (node, builder, watcher) = (node.clone(), builder.clone(), graceful.watcher());
        let gates = (gates.clone(), slot);
        let Some(tls) = tls.clone() else {
            let connection = Connection { peer, tls: None };
            tokio::spawn(serve_connection(
                stream, connection, node, builder, watcher, gates,
            ));
            continue;
        };
        tokio::spawn(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config());
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let session = crate::tls::session(stream.get_ref().1);
            let connection = Connection {
                peer,
                tls: Some(Arc::new(session)),
            };
            serve_connection(stream, connection, node, builder, watcher, gates).await;
        });
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open {SHUTDOWN_GRACE:?} after shutdown began; closing them"
        );
    }
}

async fn serve_connection<S>(
    stream: S,
    connection: Connection,
    node: Arc<Node>,
    builder: auto::Builder<TokioExecutor>,
    watcher: Watcher,
    (gates, _slot): (Arc<Gates>, tokio::sync::OwnedSemaphorePermit),
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = Arc::new(connection);
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let (node, connection, gates) = (node.clone(), connection.clone(), gates.clone());
        async move {
            // Over the in-flight limit, KMS requests are shed before any work.
            let _permit = if req.method() == Method::POST {
                match gates.in_flight.clone().try_acquire_owned() {
                    Ok(permit) => Some(permit),
                    Err(_) => return Ok(shed(&node, req, &connection).await),
                }
            } else {
                None
            };
            let deadline = tokio::time::Instant::now() + gates.limits.body_timeout;
            req.extensions_mut().insert(BodyDeadline(deadline));
            handle(node, req, connection).await
        }
    });
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .into_owned();
    let _ = watcher.watch(conn).await;
}

async fn handle(
    node: Arc<Node>,
    req: Request<Incoming>,
    connection: Arc<Connection>,
) -> Result<Response<Body>, Infallible> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let context = || Arc::new(RequestContext::new(&connection, req.headers(), req.uri()));
    let response = match (req.method(), req.uri().path()) {
        (&Method::POST, "/") => {
            let context = context();
            kms(&node, req, context, &request_id).await
        }
        (&Method::GET, "/healthz") => plain(StatusCode::OK, "ok\n"),
        (&Method::GET, "/readyz") => readiness(&node).await,
        (_, path) if path.starts_with("/_trent/operator/") => {
            crate::operator::route(&node, req).await
        }
        (&Method::GET, "/metrics") => metrics(&node).await,
        (&Method::POST, "/_trent/test/advance-clock") if node.config.test_clock => {
            advance_clock(&node, req).await
        }
        _ => {
            let context = context();
            unrouted(&node, &context, &request_id).await
        }
    };
    let mut response = response;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    Ok(response)
}

pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

pub(crate) fn json(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    response
}

/// Refuses a request over the in-flight limit without reading its body,
/// and records the refusal (what the head says: operation, claimed access
/// key) like any other.
async fn shed(node: &Node, req: Request<Incoming>, connection: &Connection) -> Response<Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let context = RequestContext::new(connection, req.headers(), req.uri());
    let (parts, _body) = req.into_parts();
    let known = Known {
        operation: operation(&parts).ok(),
        claimed_access_key: claimed_access_key(&parts),
        ..Known::default()
    };
    let error = ApiError::new(
        ErrorCode::Throttling,
        "Rate exceeded: too many requests in progress. Retry with backoff.",
    );
    // Nothing was done, so the refusal stands even if it cannot be recorded.
    let _ = record(node, &context, &request_id, &known, Err(&error)).await;
    node.metrics.observe(
        known.operation.as_deref().unwrap_or(""),
        error.code.as_str(),
        std::time::Duration::ZERO,
    );
    let mut response = error_response(&error);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

pub(crate) fn error_response(error: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    json(status, error.body())
}

/// Reads the body, refusing anything over the limit before reading it.
pub(crate) async fn read_body(
    req: Request<Incoming>,
) -> Result<(http::request::Parts, Bytes), ApiError> {
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
    let deadline = req.extensions().get::<BodyDeadline>().map(|d| d.0);
    let (parts, body) = req.into_parts();
    let collect = Limited::new(body, MAX_BODY_BYTES).collect();
    let collected = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, collect)
            .await
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::RequestTimeout,
                    "The request body did not arrive in time. Retry the request.",
                )
            })?,
        None => collect.await,
    };
    let bytes = collected.map_err(|_| too_large())?.to_bytes();
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

/// What became known about a KMS request on its way through, for its
/// audit record.
#[derive(Debug, Default)]
struct Known {
    operation: Option<String>,
    caller: Option<Arc<Caller>>,
    claimed_access_key: Option<String>,
    body: Option<Bytes>,
}

async fn kms(
    node: &Arc<Node>,
    req: Request<Incoming>,
    context: Arc<RequestContext>,
    request_id: &str,
) -> Response<Body> {
    let started = Instant::now();
    let mut known = Known::default();
    let result = attempt(node, req, &context, &mut known).await;
    let api_error = result.as_ref().err().map(ServerError::to_api);
    let outcome = match &api_error {
        Some(error) => Err(error),
        None => Ok(result.as_deref().unwrap_or_default()),
    };
    // Fail closed: an answer whose record could not be written is not sent.
    let result = match record(node, &context, request_id, &known, outcome).await {
        Ok(()) => result,
        Err(not_recorded) => Err(not_recorded),
    };
    let op = known.operation.as_deref().unwrap_or("");
    let elapsed = started.elapsed();
    let elapsed_us = elapsed.as_micros() as u64;
    let peer = context.source_ip;
    match result {
        Ok(body) => {
            node.metrics.observe(op, "OK", elapsed);
            tracing::debug!(%request_id, %peer, op, status = 200, elapsed_us, "request");
            json(StatusCode::OK, body)
        }
        Err(e) => {
            let error = e.to_api();
            node.metrics.observe(op, error.code.as_str(), elapsed);
            if error.code.status() >= 500 {
                tracing::error!(%request_id, %peer, op, error = %e, elapsed_us, "request failed");
            } else {
                tracing::debug!(%request_id, %peer, op, code = error.code.as_str(), elapsed_us, "request refused");
            }
            error_response(&error)
        }
    }
}

/// Reads, authenticates and runs a KMS request, noting what it learns.
async fn attempt(
    node: &Arc<Node>,
    req: Request<Incoming>,
    context: &Arc<RequestContext>,
    known: &mut Known,
) -> Result<Vec<u8>, ServerError> {
    let (parts, body) = read_body(req).await?;
    known.body = Some(body.clone());
    let op = operation(&parts)?;
    known.operation = Some(op.clone());
    let caller = match authenticate(node, &parts, &body, context.clone()) {
        Ok(caller) => Arc::new(caller),
        Err(e) => {
            known.claimed_access_key = claimed_access_key(&parts);
            return Err(e);
        }
    };
    known.caller = Some(caller.clone());
    audit::ensure_writable(node)?;
    run_operation(node.clone(), caller, op, body).await
}

/// Writes the request's audit record. A sealed node has no log open (its
/// key is under the root key) and does nothing but refuse: those records
/// are kept in memory and written at the next unseal. Everything else is
/// recorded or fails.
async fn record(
    node: &Node,
    context: &RequestContext,
    request_id: &str,
    known: &Known,
    outcome: Result<&[u8], &ApiError>,
) -> Result<(), ServerError> {
    let sealed = node.audit.log().is_none() && !node.is_unsealed();
    let event = audit::request_event(
        node,
        &audit::Exchange {
            context,
            request_id,
            operation: known.operation.as_deref(),
            caller: known.caller.as_deref(),
            claimed_access_key: known.claimed_access_key.clone(),
            request: known.body.as_deref(),
            outcome,
        },
    );
    if sealed {
        node.audit.hold(event);
        return Ok(());
    }
    audit::record(node, &event).await
}

/// A request no route takes: recorded as a protocol error, then refused.
async fn unrouted(node: &Node, context: &RequestContext, request_id: &str) -> Response<Body> {
    let error = ApiError::new(ErrorCode::UnknownOperation, "");
    match record(node, context, request_id, &Known::default(), Err(&error)).await {
        Ok(()) => error_response(&error),
        Err(e) => error_response(&e.to_api()),
    }
}

/// The access key id named in an `Authorization` header, for the record
/// of a request that did not authenticate.
fn claimed_access_key(parts: &http::request::Parts) -> Option<String> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let rest = &header[header.find("Credential=")? + "Credential=".len()..];
    let id = rest.split('/').next()?;
    trent_core::credential::valid_access_key_id(id).then(|| id.to_owned())
}

fn authenticate(
    node: &Node,
    parts: &http::request::Parts,
    body: &[u8],
    context: Arc<RequestContext>,
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
    auth::authenticate(node, &request, context)
}

async fn run_operation(
    node: Arc<Node>,
    caller: Arc<Caller>,
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

async fn metrics(node: &Arc<Node>) -> Response<Body> {
    let worker = node.clone();
    let text = tokio::task::spawn_blocking(move || worker.metrics.render(&worker))
        .await
        .unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// `/readyz`: 200 only when unsealed, the store answers and the audit log
/// can be written; otherwise 503 naming what is missing.
async fn readiness(node: &Arc<Node>) -> Response<Body> {
    if !node.is_unsealed() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "sealed\n");
    }
    let worker = node.clone();
    let store_ok = tokio::task::spawn_blocking(move || {
        worker.store.get_meta(crate::node::SEALED_ROOT_META).is_ok()
    })
    .await
    .unwrap_or(false);
    if !store_ok {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n");
    }
    if !node.audit.writable() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "audit log not writable\n");
    }
    plain(StatusCode::OK, "ready\n")
}
