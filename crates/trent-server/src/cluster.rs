//! Several nodes on one shared store: keeping each node's caches in step
//! with the others' writes, and running background jobs on one node at a
//! time.
//!
//! Invalidation: a store that can announce changes (PostgreSQL, through
//! LISTEN/NOTIFY sent in the writing transaction) feeds a listener thread
//! that drops the affected cache entries. The feed says "anything may have
//! changed" whenever it (re)connects, and every cache is then cleared, so a
//! notification missed during an outage cannot leave a stale entry behind.
//! Access keys are additionally re-read after
//! [`crate::credentials::CREDENTIAL_TTL`], and as a last resort against a
//! notification lost in a way nobody noticed, the key and alias caches are
//! emptied every [`FALLBACK_FLUSH`] on a shared store.
//!
//! Jobs: the scheduler takes the store's `scheduler` lease before a pass;
//! the node holding it runs the jobs, the others stand by and take over
//! when the holder dies (PostgreSQL drops its advisory lock with its
//! session).

use std::sync::{Arc, Weak};
use std::time::Duration;

use trent_store::{Change, Lease};

use crate::node::Node;

/// The longest a cached key or alias can outlive a change on another node
/// if its notification was lost without the feed noticing.
pub const FALLBACK_FLUSH: Duration = Duration::from_secs(10);

/// The lease that makes scheduled jobs run on one node at a time.
pub const SCHEDULER_LEASE: &str = "trent/scheduler";

/// Starts the thread applying the store's change feed to `node`'s caches;
/// `None` for a store that has no feed (one node owns it).
pub fn spawn_change_listener(node: &Arc<Node>) -> Option<std::thread::JoinHandle<()>> {
    let feed = node.store.subscribe_changes()?;
    let node = Arc::downgrade(node);
    std::thread::Builder::new()
        .name("trent-cache-invalidation".into())
        .spawn(move || {
            let mut flushed = std::time::Instant::now();
            loop {
                if flushed.elapsed() >= FALLBACK_FLUSH {
                    let Some(node) = Weak::upgrade(&node) else {
                        return;
                    };
                    node.keys.clear();
                    node.aliases.clear();
                    flushed = std::time::Instant::now();
                }
                match feed.next_timeout(Duration::from_secs(1)) {
                    Ok(change) => {
                        let Some(node) = Weak::upgrade(&node) else {
                            return;
                        };
                        apply(&node, &change);
                    }
                    Err(true) => return,
                    Err(false) if node.strong_count() == 0 => return,
                    Err(false) => {}
                }
            }
        })
        .map_err(|e| tracing::error!(error = %e, "cannot start the cache invalidation thread"))
        .ok()
}

/// Drops what `change` made stale.
pub fn apply(node: &Node, change: &Change) {
    match change {
        Change::Key(key_id) => node.keys.invalidate(key_id),
        Change::Alias {
            account_id,
            region,
            name,
        } => {
            if *region == node.config.region {
                node.aliases.invalidate(account_id, name);
            }
        }
        Change::AllAliases => node.aliases.clear(),
        Change::Credential(_) => node.credentials.clear(),
        _ => {
            node.keys.clear();
            node.aliases.clear();
            node.credentials.clear();
        }
    }
}

/// Holds (or waits for) the scheduler lease across passes.
#[derive(Debug, Default)]
pub struct SchedulerLease {
    held: Option<Box<dyn Lease>>,
}

impl SchedulerLease {
    /// Whether this node may run a pass now: keeps a lease still held, or
    /// tries to take it. Blocks on the store: call off the async executor.
    pub fn acquire(&mut self, node: &Node) -> bool {
        if self.held.as_ref().is_some_and(|lease| lease.is_held()) {
            return true;
        }
        if self.held.take().is_some() {
            tracing::warn!("lost the scheduler lease");
        }
        match node.store.try_lease(SCHEDULER_LEASE) {
            Ok(Some(lease)) => {
                tracing::info!("took the scheduler lease: this node runs background jobs");
                self.held = Some(lease);
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach the store for the scheduler lease");
                false
            }
        }
    }
}
