//! Authentication: who signed a request. SigV4 is verified against the
//! secret of the access key, or, in `--dev-auth` mode, only parsed.

use std::sync::Arc;

use trent_proto::error::{ApiError, ErrorCode};
use trent_proto::sigv4;

use crate::context::RequestContext;
use crate::error::ServerError;
use crate::node::{AuthMode, Node};
use crate::ops::Caller;

/// Authenticates a request, returning the caller (who carries the request's
/// `context`).
///
/// Signature time is checked against the real clock, never the test clock,
/// so tests can move the scheduler's time without breaking signatures.
pub fn authenticate(
    node: &Node,
    request: &sigv4::Request<'_>,
    context: Arc<RequestContext>,
) -> Result<Caller, ServerError> {
    let auth = sigv4::parse(request).map_err(ApiError::from)?;
    if node.config.auth == AuthMode::DevAcceptAny {
        let account_id = if trent_core::ids::is_account_id(&auth.access_key_id) {
            auth.access_key_id.clone()
        } else {
            node.config.dev_default_account.clone()
        };
        return Ok(Caller {
            principal_arn: trent_core::credential::principal_arn(&account_id, None),
            account_id,
            access_key_id: auth.access_key_id,
            context,
        });
    }
    let root = node.root()?;
    let credential = node
        .credentials
        .lookup(&auth.access_key_id, node.store.as_ref(), &root)?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnrecognizedClient,
                "The security token included in the request is invalid.",
            )
        })?;
    // Derived for this node's own scope: a request scoped elsewhere fails the
    // scope check in `verify`, and a client cannot make the cache churn.
    let key = credential.signing_key(&auth.date, &node.config.region);
    let now = time::OffsetDateTime::now_utc();
    sigv4::verify(request, &auth, &key, now, &node.config.region, "kms").map_err(ApiError::from)?;
    Ok(Caller {
        account_id: credential.record.account_id.clone(),
        principal_arn: credential.principal_arn.clone(),
        access_key_id: auth.access_key_id,
        context,
    })
}
