//! Operator actions on a running node, behind `/_trent/operator/*`:
//! status, unsealing with Shamir shares one at a time, and sealing again.
//!
//! Unseal and status need no credentials: for a Shamir-sealed store the
//! shares are the authority, as in other secret stores. Sealing needs one
//! valid share, so a stranger cannot take the service down.

use std::sync::Mutex;

use serde::Serialize;
use trent_crypto::seal::sealed_kind;
use trent_crypto::shamir::{ShamirSeal, Share};

use crate::error::ServerError;
use crate::node::{Node, SEALED_ROOT_META};

/// What `trent operator status` shows.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Whether the root key is unavailable.
    pub sealed: bool,
    /// The seal kind the store was initialized with.
    pub seal: Option<&'static str>,
    /// Shares needed (Shamir only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u8>,
    /// Shares made (Shamir only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shares: Option<u8>,
    /// Distinct valid shares submitted since the last seal (Shamir only).
    pub progress: usize,
}

/// Shares submitted so far (zeroized when dropped).
#[derive(Debug, Default)]
pub struct PendingShares {
    shares: Mutex<Vec<Share>>,
}

/// An operator request failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The share is malformed, damaged or not this store's.
    #[error("{0}")]
    BadShare(String),
    /// The store is not sealed with Shamir shares.
    #[error("this store is sealed with the {0} seal, not with Shamir shares")]
    NotShamir(&'static str),
    /// The node failed.
    #[error(transparent)]
    Server(#[from] ServerError),
}

fn sealed_blob(node: &Node) -> Result<Vec<u8>, OperatorError> {
    node.store
        .get_meta(SEALED_ROOT_META)
        .map_err(ServerError::from)?
        .ok_or(OperatorError::NotShamir("no"))
}

/// The node's seal status.
pub fn status(node: &Node) -> Result<Status, OperatorError> {
    let sealed = sealed_blob(node)?;
    let kind = sealed_kind(&sealed);
    let policy = ShamirSeal::policy(&sealed).ok();
    let progress = node
        .pending_shares
        .shares
        .lock()
        .map(|s| s.len())
        .unwrap_or(0);
    Ok(Status {
        sealed: !node.is_unsealed(),
        seal: kind,
        threshold: policy.map(|p| p.threshold),
        shares: policy.map(|p| p.shares),
        progress,
    })
}

fn parse_share(sealed: &[u8], text: &str) -> Result<Share, OperatorError> {
    let share = Share::from_text(text).map_err(|e| OperatorError::BadShare(e.to_string()))?;
    ShamirSeal::check_share(sealed, &share).map_err(|e| OperatorError::BadShare(e.to_string()))?;
    Ok(share)
}

/// Adds one share; once the threshold is reached, unseals the node.
pub fn submit_share(node: &Node, text: &str) -> Result<Status, OperatorError> {
    let sealed = sealed_blob(node)?;
    match sealed_kind(&sealed) {
        Some("shamir") => {}
        other => return Err(OperatorError::NotShamir(other.unwrap_or("unknown"))),
    }
    if node.is_unsealed() {
        return status(node);
    }
    let share = parse_share(&sealed, text)?;
    let ready = {
        let mut pending = node
            .pending_shares
            .shares
            .lock()
            .map_err(|_| ServerError::Sealed)?;
        if !pending.iter().any(|s| s.id() == share.id()) {
            pending.push(share);
        }
        let threshold = ShamirSeal::policy(&sealed)
            .map(|p| usize::from(p.threshold))
            .unwrap_or(usize::MAX);
        (pending.len() >= threshold).then(|| std::mem::take(&mut *pending))
    };
    if let Some(shares) = ready {
        let seal = ShamirSeal::from_shares(&sealed, &shares)
            .map_err(|e| OperatorError::BadShare(e.to_string()))?;
        node.unseal(&seal)?;
        tracing::info!("unsealed with Shamir shares");
    }
    status(node)
}

/// Seals the node again: the root key and every unwrapped key leave memory.
pub fn seal(node: &Node, share_text: &str) -> Result<Status, OperatorError> {
    let sealed = sealed_blob(node)?;
    if sealed_kind(&sealed) == Some("shamir") {
        parse_share(&sealed, share_text)?;
    } else {
        return Err(OperatorError::NotShamir(
            sealed_kind(&sealed).unwrap_or("unknown"),
        ));
    }
    node.seal();
    tracing::warn!("sealed by an operator");
    status(node)
}

/// Metadata entry holding SHA-256 of the operator token.
pub const OPERATOR_TOKEN_META: &str = "operator_token.sha256";

/// Checks `Authorization: Bearer <operator token>` in constant time.
fn authorized(node: &Node, parts: &http::request::Parts) -> bool {
    let Some(token) = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let Ok(Some(expected)) = node.store.get_meta(OPERATOR_TOKEN_META) else {
        return false;
    };
    let given = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.trim().as_bytes());
    trent_crypto::constant_time_eq(given.as_ref(), &expected)
}

/// `POST /_trent/operator/backup`: a backup file of the whole store, read
/// in one consistent snapshot while traffic goes on.
async fn backup(
    node: &std::sync::Arc<Node>,
    parts: &http::request::Parts,
) -> http::Response<crate::http::Body> {
    use http::StatusCode;
    if !authorized(node, parts) {
        let body = serde_json::json!({"error": "a valid operator token is required (Authorization: Bearer …)"});
        return crate::http::json(StatusCode::FORBIDDEN, body.to_string().into_bytes());
    }
    let worker = node.clone();
    let made = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ServerError> {
        let root = worker.root()?;
        let snapshot = worker.store.export()?;
        Ok(crate::backup::encode(
            &snapshot,
            &root,
            worker.clock.now_millis(),
        ))
    })
    .await;
    match made {
        Ok(Ok(file)) => {
            let mut response =
                http::Response::new(http_body_util::Full::new(bytes::Bytes::from(file)));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/octet-stream"),
            );
            response
        }
        Ok(Err(e)) => {
            let body = serde_json::json!({"error": e.to_api().message});
            crate::http::json(
                StatusCode::SERVICE_UNAVAILABLE,
                body.to_string().into_bytes(),
            )
        }
        Err(_) => crate::http::plain(StatusCode::INTERNAL_SERVER_ERROR, "backup failed\n"),
    }
}

/// Routes `/_trent/operator/*`.
pub(crate) async fn route(
    node: &std::sync::Arc<Node>,
    req: http::Request<hyper::body::Incoming>,
) -> http::Response<crate::http::Body> {
    use http::{Method, StatusCode};
    #[derive(serde::Deserialize)]
    struct ShareBody {
        share: String,
    }
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let (parts, body) = match crate::http::read_body(req).await {
        Ok(pair) => pair,
        Err(e) => return crate::http::error_response(&e),
    };
    if (method.clone(), path.as_str()) == (Method::POST, "/_trent/operator/backup") {
        return backup(node, &parts).await;
    }
    let share = || {
        serde_json::from_slice::<ShareBody>(&body)
            .map(|b| zeroize::Zeroizing::new(b.share))
            .map_err(|_| {
                OperatorError::BadShare("the body must be {\"share\": \"trent-share-1-…\"}".into())
            })
    };
    let worker = node.clone();
    let result = match (method, path.as_str()) {
        (Method::GET, "/_trent/operator/status") => status(node),
        (Method::POST, "/_trent/operator/unseal") => match share() {
            // Combining shares and unwrapping are quick, but unseal reads the store.
            Ok(text) => tokio::task::spawn_blocking(move || submit_share(&worker, &text))
                .await
                .unwrap_or(Err(OperatorError::Server(ServerError::Sealed))),
            Err(e) => Err(e),
        },
        (Method::POST, "/_trent/operator/seal") => share().and_then(|text| seal(node, &text)),
        _ => return crate::http::plain(StatusCode::NOT_FOUND, "not found\n"),
    };
    let (code, body) = match result {
        Ok(status) => (
            StatusCode::OK,
            serde_json::to_vec(&status).unwrap_or_default(),
        ),
        Err(OperatorError::Server(e)) => {
            let api = e.to_api();
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::to_vec(&serde_json::json!({"error": api.message})).unwrap_or_default(),
            )
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            serde_json::to_vec(&serde_json::json!({"error": e.to_string()})).unwrap_or_default(),
        ),
    };
    crate::http::json(code, body)
}
