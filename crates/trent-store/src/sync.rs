//! What nodes sharing one store use to agree: change notifications and
//! leases.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// A committed change another process made, as far as caches care.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A key's metadata or material changed, or it was created or deleted.
    Key(String),
    /// An alias was created, retargeted or deleted.
    Alias {
        /// Owning account.
        account_id: String,
        /// Region.
        region: String,
        /// The alias name, with its `alias/` prefix.
        name: String,
    },
    /// Some aliases changed (a deleted key took its aliases along).
    AllAliases,
    /// An access key was added, replaced or removed.
    Credential(String),
    /// Anything may have changed (a restore, or notifications were missed
    /// while disconnected): drop everything cached.
    All,
}

impl Change {
    /// An alias change.
    pub fn alias(account_id: &str, region: &str, name: &str) -> Self {
        Self::Alias {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// The receiving end of a store's change notifications. Dropping it stops
/// the store's listener.
#[derive(Debug)]
pub struct ChangeFeed {
    receiver: Receiver<Change>,
    _alive: Arc<()>,
}

/// The sending end of a [`ChangeFeed`], for store implementations.
#[derive(Debug)]
pub struct ChangeSender {
    sender: Sender<Change>,
    alive: Weak<()>,
}

impl ChangeFeed {
    /// A new feed and its sender.
    pub fn channel() -> (ChangeSender, ChangeFeed) {
        let (sender, receiver) = mpsc::channel();
        let alive = Arc::new(());
        let sender = ChangeSender {
            sender,
            alive: Arc::downgrade(&alive),
        };
        (
            sender,
            ChangeFeed {
                receiver,
                _alive: alive,
            },
        )
    }

    /// The next change, waiting at most `timeout`; `Err(true)` once the
    /// store's listener has stopped for good, `Err(false)` on a timeout.
    pub fn next_timeout(&self, timeout: Duration) -> std::result::Result<Change, bool> {
        self.receiver.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => false,
            RecvTimeoutError::Disconnected => true,
        })
    }
}

impl ChangeSender {
    /// Delivers a change; `Err` once the feed was dropped.
    pub fn send(&self, change: Change) -> std::result::Result<(), Change> {
        self.sender.send(change).map_err(|e| e.0)
    }

    /// Whether the feed was dropped.
    pub fn is_closed(&self) -> bool {
        self.alive.strong_count() == 0
    }
}

/// An exclusive lease on a cluster-wide job, from [`crate::Store::try_lease`].
pub trait Lease: Send + Sync + std::fmt::Debug {
    /// Whether the lease is still held. A lease once lost stays lost: drop
    /// it and ask for a new one.
    fn is_held(&self) -> bool;
}

/// The lease of a store that only one server uses: always held.
#[derive(Debug)]
pub struct LocalLease {
    _name: String,
}

impl LocalLease {
    /// A lease on `name`.
    pub fn new(name: &str) -> Self {
        Self {
            _name: name.to_owned(),
        }
    }
}

impl Lease for LocalLease {
    fn is_held(&self) -> bool {
        true
    }
}
