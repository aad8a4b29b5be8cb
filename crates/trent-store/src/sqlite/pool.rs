//! Opening and configuring connections, and the pool of read connections.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode};

use super::db;
use crate::{Error, Result};

/// How long a connection waits for another connection's (or process's) lock
/// before giving up with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The one connection that writes.
    Writer,
    /// A connection that only reads (`query_only`, so a bug cannot write
    /// around the writer's transactions).
    Reader,
}

/// Opens `path` (creating it if absent) and configures the connection.
pub(super) fn connect(path: &Path, role: Role) -> Result<Connection> {
    let conn = Connection::open(path).map_err(db)?;
    // First, so that the pragmas below wait for other processes' locks too.
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    enable_wal(&conn, path)?;
    // In WAL mode, FULL syncs the log on every commit; NORMAL would not be durable.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db)?;
    conn.pragma_update(None, "foreign_keys", true).map_err(db)?;
    if role == Role::Reader {
        conn.pragma_update(None, "query_only", true).map_err(db)?;
    }
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Switches the file to WAL mode (a persistent setting, so a no-op after the
/// first open). Switching needs an exclusive lock and SQLite does not call
/// the busy handler for it, so when several processes open a new file at
/// once the losers retry here until the busy timeout.
fn enable_wal(conn: &Connection, path: &Path) -> Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(Error::Database(format!(
                    "{}: journal mode is {mode}, not WAL",
                    path.display()
                )));
            }
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(db(e)),
        }
    }
}

/// Locks a connection's mutex. A poisoned mutex is still usable: a panic
/// inside an operation unwinds through `rusqlite::Transaction`'s drop, which
/// rolls back, so the connection is left outside any transaction.
pub(super) fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fixed set of read connections. A read takes any idle one, or else
/// waits for one chosen round-robin.
pub(super) struct Readers {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl Readers {
    /// Opens `count` (at least one) read connections to `path`.
    pub(super) fn open(path: &Path, count: usize) -> Result<Self> {
        let conns = (0..count.max(1))
            .map(|_| connect(path, Role::Reader).map(Mutex::new))
            .collect::<Result<_>>()?;
        Ok(Self {
            conns,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `op` on a read connection.
    pub(super) fn with<T>(&self, op: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        for conn in &self.conns {
            match conn.try_lock() {
                Ok(guard) => return op(&guard),
                Err(TryLockError::Poisoned(poisoned)) => return op(&poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        // `open` made at least one connection, so the modulo and index are sound.
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        let guard = lock(&self.conns[index]);
        op(&guard)
    }
}
