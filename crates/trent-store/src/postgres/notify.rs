//! Cross-node coordination: change notifications (LISTEN/NOTIFY) and
//! leases (session-level advisory locks).
//!
//! Every write `NOTIFY`s [`CHANNEL`] inside its own transaction, so a
//! notification is delivered exactly when (and only if) the change commits.
//! A subscriber is a thread with its own connection; after connecting — and
//! after every reconnect, when notifications may have been missed — it
//! reports [`Change::All`], so its consumer drops everything it caches.

use std::thread;
use std::time::Duration;

use postgres::Client;

use super::db;
use super::pool::ConnectOptions;
use crate::{Change, ChangeFeed, ChangeSender, Lease, Result};

/// The notification channel Trent's writes announce themselves on.
pub const CHANNEL: &str = "trent_changes";

/// How often a subscriber with no traffic checks that its consumer is
/// still there, and how long it waits before reconnecting.
const POLL: Duration = Duration::from_millis(500);

/// A change as a notification payload (PostgreSQL caps these at 8000 bytes;
/// ids and alias names are far shorter).
pub(super) fn encode(change: &Change) -> String {
    match change {
        Change::Key(id) => format!("k:{id}"),
        Change::Alias {
            account_id,
            region,
            name,
        } => format!("a:{account_id}:{region}:{name}"),
        Change::AllAliases => "A".into(),
        Change::Credential(id) => format!("c:{id}"),
        Change::All => "*".into(),
    }
}

/// The inverse of [`encode`]; anything unknown (a newer node's payload) is
/// read as [`Change::All`], which is always safe.
pub(super) fn decode(payload: &str) -> Change {
    let alias = |rest: &str| {
        let mut parts = rest.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(account_id), Some(region), Some(name)) => Change::alias(account_id, region, name),
            _ => Change::All,
        }
    };
    match payload.split_once(':') {
        Some(("k", id)) => Change::Key(id.to_owned()),
        Some(("c", id)) => Change::Credential(id.to_owned()),
        Some(("a", rest)) => alias(rest),
        _ if payload == "A" => Change::AllAliases,
        _ => Change::All,
    }
}

/// Starts a subscriber thread; it ends when the returned feed is dropped.
pub(super) fn subscribe(options: ConnectOptions) -> ChangeFeed {
    let (sender, feed) = ChangeFeed::channel();
    let spawned = thread::Builder::new()
        .name("trent-store-listen".into())
        .spawn(move || listen(&options, &sender));
    if let Err(e) = spawned {
        tracing_free_warning(&format!("cannot start the change listener: {e}"));
    }
    feed
}

/// The subscriber loop: (re)connect, LISTEN, forward.
fn listen(options: &ConnectOptions, sender: &ChangeSender) {
    loop {
        if let Ok(mut client) = options.connect().and_then(|mut client| {
            client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .map_err(db)?;
            Ok(client)
        }) {
            if sender.send(Change::All).is_err() {
                return;
            }
            if !forward(&mut client, sender) {
                return;
            }
        }
        // Disconnected: whatever happened meanwhile is unknown.
        if sender.send(Change::All).is_err() {
            return;
        }
        thread::sleep(POLL);
    }
}

/// Forwards notifications until the connection fails (returns true) or the
/// consumer goes away (false).
fn forward(client: &mut Client, sender: &ChangeSender) -> bool {
    loop {
        {
            let mut notifications = client.notifications();
            let mut batch = notifications.timeout_iter(POLL);
            loop {
                match postgres::fallible_iterator::FallibleIterator::next(&mut batch) {
                    Ok(Some(notification)) => {
                        if sender.send(decode(notification.payload())).is_err() {
                            return false;
                        }
                    }
                    Ok(None) => break,
                    Err(_) => return true,
                }
            }
        }
        if client.is_closed() {
            return true;
        }
        if sender.is_closed() {
            return false;
        }
        // Also makes sure a silently dead connection is noticed.
        if client.simple_query("").is_err() {
            return true;
        }
    }
}

/// The lock id of a lease name (FNV-1a, stable across builds and nodes).
fn lock_id(name: &str) -> i64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Tries to take the cluster-wide lease `name`: a session-level advisory
/// lock on a connection of its own, held until the lease is dropped or the
/// connection dies (PostgreSQL then releases the lock, so a crashed
/// holder's lease passes to the next node that asks).
pub(super) fn try_lease(options: &ConnectOptions, name: &str) -> Result<Option<Box<dyn Lease>>> {
    let mut client = options.connect()?;
    let id = lock_id(name);
    let rows = client
        .query("SELECT pg_try_advisory_lock($1)", &[&id])
        .map_err(db)?;
    let taken = rows
        .first()
        .and_then(|row| row.try_get::<_, bool>(0).ok())
        .unwrap_or(false);
    Ok(taken.then(|| {
        Box::new(AdvisoryLease {
            name: name.to_owned(),
            id,
            client: std::sync::Mutex::new(client),
        }) as Box<dyn Lease>
    }))
}

/// A held advisory lock.
struct AdvisoryLease {
    name: String,
    id: i64,
    client: std::sync::Mutex<Client>,
}

impl std::fmt::Debug for AdvisoryLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdvisoryLease")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Lease for AdvisoryLease {
    fn is_held(&self) -> bool {
        let mut client = self
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The lock lives exactly as long as the session: a live session
        // still holds it.
        !client.is_closed() && client.simple_query("").is_ok()
    }
}

impl Drop for AdvisoryLease {
    fn drop(&mut self) {
        // Closing the session would release the lock too, but only once the
        // server notices; unlocking first hands the lease over at once.
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&self.id]);
    }
}

fn tracing_free_warning(message: &str) {
    eprintln!("trent-store: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for change in [
            Change::Key("k1".into()),
            Change::alias("111122223333", "us-east-1", "alias/a:b"),
            Change::AllAliases,
            Change::Credential("AKID".into()),
            Change::All,
        ] {
            assert_eq!(decode(&encode(&change)), change);
        }
        assert_eq!(decode("z:future"), Change::All);
    }
}
