//! Trent's server: a node's state ([`node::Node`]), HTTP routing
//! ([`http`]), authentication ([`auth`]), the KMS operations ([`ops`]),
//! caches ([`cache`], [`credentials`]) and background jobs ([`scheduler`]).
//!
//! A request flows one way: HTTP → body limit → SigV4 → operation handler →
//! domain rules (trent-core) → crypto backend and store → response. Errors of
//! every layer meet in [`error::ServerError`] and become AWS error names in
//! one function.

#![warn(missing_docs)]

pub mod audit;
pub mod auth;
pub mod authz;
pub mod backup;
pub mod cache;
mod cert_subject;
pub mod cluster;
pub mod context;
pub mod credentials;
pub mod error;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod node;
pub mod operator;
pub mod ops;
pub mod scheduler;
pub mod tls;

use std::sync::Arc;

/// Runs the background scheduler until the process ends.
pub fn spawn_scheduler(node: Arc<node::Node>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(scheduler::INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Nodes sharing a store run jobs one at a time: see `cluster`.
        let lease = Arc::new(std::sync::Mutex::new(cluster::SchedulerLease::default()));
        loop {
            tick.tick().await;
            if !node.is_unsealed() {
                continue;
            }
            let (worker, lease) = (node.clone(), lease.clone());
            let pass = move || {
                let mut lease = lease
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if !lease.acquire(&worker) {
                    return Ok(scheduler::PassReport::default());
                }
                scheduler::run_once(&worker)
            };
            match tokio::task::spawn_blocking(pass).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "scheduler pass failed"),
                Err(e) => tracing::error!(error = %e, "scheduler pass panicked"),
            }
        }
    })
}
