//! The scale-out store: one PostgreSQL database shared by any number of
//! Trent nodes (and the admin CLI), through a small pool of synchronous
//! connections.
//!
//! Each write runs in one transaction; PostgreSQL's default
//! `synchronous_commit = on` makes it durable before `COMMIT` returns.
//! Serialization failures and deadlocks (SQLSTATE 40001, 40P01, which
//! distributed PostgreSQL-compatible engines return routinely) are retried.
//! A connection that died (PostgreSQL restarted or failed over) is dropped
//! and replaced by the next checkout; an operation that failed *before* its
//! commit was sent is retried on the fresh connection, one whose commit may
//! or may not have landed is reported as `Error::Database` (retryable), so
//! no caller is ever told a wrong outcome. Every write also `NOTIFY`s the
//! [`CHANNEL`] channel in its own transaction, so other nodes learn what
//! changed (see [`PostgresStore::subscribe`]). The schema and its
//! migrations are in `postgres/schema.rs`.

mod aliases;
mod credentials;
mod keys;
mod meta;
mod notify;
mod pool;
mod schema;
mod snapshot;

use std::time::Duration;

use postgres::error::SqlState;
use postgres::{GenericClient, IsolationLevel, Transaction};
use trent_core::credential::CredentialRecord;
use trent_core::key::{KeyRecord, MaterialRecord, UnixMillis};

use crate::{AliasRecord, Change, ChangeFeed, Error, Page, Result, Snapshot, Store};
use pool::{ConnectOptions, Pool};

pub use notify::CHANNEL;

/// How many times an operation is retried after a serialization failure,
/// a deadlock, or a connection lost before its commit.
const RETRIES: u32 = 8;

/// A [`Store`] in a PostgreSQL database.
///
/// Revisions: as in the SQLite store, the store owns
/// `KeyRecord::revision`: 0 on creation, +1 on every successful update.
pub struct PostgresStore {
    options: ConnectOptions,
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.options.redacted())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/db?…`)
    /// and brings its schema up to date; several nodes opening one database at
    /// once migrate it exactly once. Besides libpq's `sslmode`
    /// (`disable`, `prefer` — the default —, `require`; certificates are
    /// always verified, hostname included), the URL may carry
    /// `sslrootcert=PATH` (PEM CA certificates; the system roots otherwise) and
    /// `pool_max_size=N` (default 16). `Error::SchemaTooNew` if a newer binary
    /// already migrated the database.
    pub fn open(url: &str) -> Result<Self> {
        let options = ConnectOptions::parse(url)?;
        let pool = Pool::new(options.clone());
        let store = Self { options, pool };
        store.with_retries(|| {
            let mut conn = store.pool.get()?;
            schema::migrate(conn.client()).map_err(|e| conn.failed(e))
        })?;
        Ok(store)
    }

    /// The URL this store connects to, without its password.
    pub fn redacted_url(&self) -> String {
        self.options.redacted()
    }

    /// Runs `op` until it succeeds, fails for good, or runs out of retries.
    fn with_retries<T: Send>(&self, mut op: impl FnMut() -> Result<T> + Send) -> Result<T> {
        off_runtime(move || {
            let mut attempt = 0;
            loop {
                match op() {
                    Err(Error::Database(ref reason))
                        if is_retryable(reason) && attempt < RETRIES =>
                    {
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(5 << attempt.min(6)));
                    }
                    Err(Error::Database(reason)) => {
                        return Err(Error::Database(strip_retry(reason)));
                    }
                    other => return other,
                }
            }
        })
    }

    /// Runs one read on a pooled connection, outside any explicit transaction.
    fn read<T: Send>(&self, op: impl Fn(&mut postgres::Client) -> Result<T> + Sync) -> Result<T> {
        self.with_retries(|| {
            let mut conn = self.pool.get()?;
            op(conn.client()).map_err(|e| conn.failed(e))
        })
    }

    /// Runs one write in its own transaction and commits it.
    fn write<T: Send>(&self, op: impl Fn(&mut Transaction<'_>) -> Result<T> + Sync) -> Result<T> {
        self.with_retries(|| {
            let mut conn = self.pool.get()?;
            let outcome = (|| {
                let mut tx = conn.client().transaction().map_err(db)?;
                let value = op(&mut tx)?;
                // Past this point a lost connection leaves the outcome
                // unknown: never retried, reported as it is.
                tx.commit().map_err(|e| match db(e) {
                    Error::Database(reason) => Error::Database(strip_retry(reason)),
                    other => other,
                })?;
                Ok(value)
            })();
            outcome.map_err(|e| conn.failed(e))
        })
    }
}

/// Runs blocking driver work where it may block. The synchronous driver
/// drives each connection with a runtime of its own, which tokio forbids
/// inside another runtime's worker; callers reach the store from plain
/// threads, blocking threads, and (at start-up, authentication) from async
/// code on the server's multi-thread runtime, where `block_in_place` steps
/// out of the runtime first. On a current-thread runtime (some tests) the
/// work runs on a helper thread.
fn off_runtime<T: Send>(op: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Err(_) => op(),
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(op)
        }
        Ok(_) => std::thread::scope(|scope| match scope.spawn(op).join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}

/// Marks a database error as safe to retry (the transaction did not commit).
const RETRY: &str = "[retryable] ";

fn is_retryable(reason: &str) -> bool {
    reason.starts_with(RETRY)
}

fn strip_retry(reason: String) -> String {
    reason
        .strip_prefix(RETRY)
        .map(str::to_owned)
        .unwrap_or(reason)
}

/// Maps a PostgreSQL failure to the store's error. A unique violation can
/// only come from an insert, so it means the record exists. Only the
/// server's message is kept, never its DETAIL, which may quote stored values.
fn db(e: postgres::Error) -> Error {
    let retryable = e.is_closed()
        || matches!(
            e.code(),
            Some(&SqlState::T_R_SERIALIZATION_FAILURE | &SqlState::T_R_DEADLOCK_DETECTED)
        )
        || e.code().is_some_and(|code| {
            // Connection exceptions, and the server shutting down.
            code.code().starts_with("08") || code.code().starts_with("57P")
        });
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        return Error::AlreadyExists;
    }
    let reason = match e.as_db_error() {
        Some(server) => format!("{}: {}", server.code().code(), server.message()),
        None => e.to_string(),
    };
    if retryable {
        Error::Database(format!("{RETRY}{reason}"))
    } else {
        Error::Database(reason)
    }
}

/// Publishes `change` to other nodes when the surrounding transaction commits.
fn announce(tx: &mut Transaction<'_>, change: &Change) -> Result<()> {
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&CHANNEL, &notify::encode(change)],
    )
    .map_err(db)?;
    Ok(())
}

impl Store for PostgresStore {
    fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.read(|c| meta::get(c, name))
    }

    fn put_meta_if_absent(&self, name: &str, value: &[u8]) -> Result<bool> {
        self.write(|tx| meta::put_if_absent(tx, name, value))
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        self.write(|tx| meta::put(tx, name, value))
    }

    fn put_credential(&self, credential: &CredentialRecord) -> Result<()> {
        self.write(|tx| {
            credentials::put(tx, credential)?;
            announce(tx, &Change::Credential(credential.access_key_id.clone()))
        })
    }

    fn get_credential(&self, access_key_id: &str) -> Result<Option<CredentialRecord>> {
        self.read(|c| credentials::get(c, access_key_id))
    }

    fn list_credentials(&self) -> Result<Vec<CredentialRecord>> {
        self.read(credentials::list)
    }

    fn remove_credential(&self, access_key_id: &str) -> Result<bool> {
        self.write(|tx| {
            let removed = credentials::remove(tx, access_key_id)?;
            announce(tx, &Change::Credential(access_key_id.to_owned()))?;
            Ok(removed)
        })
    }

    fn create_key(&self, key: &KeyRecord, material: &MaterialRecord) -> Result<()> {
        self.write(|tx| {
            keys::create(tx, key, material)?;
            announce(tx, &Change::Key(key.key_id.clone()))
        })
    }

    fn get_key(&self, key_id: &str) -> Result<Option<KeyRecord>> {
        self.read(|c| keys::get(c, key_id))
    }

    fn update_key(&self, key: &KeyRecord) -> Result<()> {
        self.write(|tx| {
            keys::update(tx, key)?;
            announce(tx, &Change::Key(key.key_id.clone()))
        })
    }

    fn update_key_with_material(&self, key: &KeyRecord, material: &MaterialRecord) -> Result<()> {
        self.write(|tx| {
            keys::update(tx, key)?;
            keys::add_material(tx, &key.key_id, material)?;
            announce(tx, &Change::Key(key.key_id.clone()))
        })
    }

    fn update_key_and_material_bytes(
        &self,
        key: &KeyRecord,
        material_id: &str,
        wrapped: &[u8],
    ) -> Result<()> {
        self.write(|tx| {
            keys::update(tx, key)?;
            keys::set_material_bytes(tx, &key.key_id, material_id, wrapped)?;
            announce(tx, &Change::Key(key.key_id.clone()))
        })
    }

    fn materials(&self, key_id: &str) -> Result<Vec<MaterialRecord>> {
        self.read(|c| keys::materials(c, key_id))
    }

    fn delete_key(&self, key_id: &str) -> Result<bool> {
        self.write(|tx| {
            let deleted = keys::delete(tx, key_id)?;
            // Its aliases went with it: other nodes drop them too.
            announce(tx, &Change::Key(key_id.to_owned()))?;
            announce(tx, &Change::AllAliases)?;
            Ok(deleted)
        })
    }

    fn list_keys(
        &self,
        account_id: &str,
        region: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<KeyRecord>> {
        self.read(|c| keys::list(c, account_id, region, marker, limit))
    }

    fn export(&self) -> Result<Snapshot> {
        self.with_retries(|| {
            let mut conn = self.pool.get()?;
            let outcome = (|| {
                let mut tx = conn
                    .client()
                    .build_transaction()
                    .isolation_level(IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .map_err(db)?;
                let snapshot = snapshot::export(&mut tx)?;
                tx.commit().map_err(db)?;
                Ok(snapshot)
            })();
            outcome.map_err(|e| conn.failed(e))
        })
    }

    fn import(&self, snapshot: &Snapshot) -> Result<()> {
        self.write(|tx| {
            snapshot::import(tx, snapshot)?;
            announce(tx, &Change::All)
        })
    }

    fn count_keys_by_state(&self) -> Result<Vec<(String, u64)>> {
        self.read(keys::count_by_state)
    }

    fn keys_due(&self, now: UnixMillis) -> Result<Vec<String>> {
        self.read(|c| keys::due(c, now))
    }

    fn create_alias(&self, alias: &AliasRecord) -> Result<()> {
        self.write(|tx| {
            aliases::create(tx, alias)?;
            announce(
                tx,
                &Change::alias(&alias.account_id, &alias.region, &alias.name),
            )
        })
    }

    fn update_alias(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
        target_key_id: &str,
        now: UnixMillis,
    ) -> Result<()> {
        self.write(|tx| {
            aliases::update(tx, account_id, region, name, target_key_id, now)?;
            announce(tx, &Change::alias(account_id, region, name))
        })
    }

    fn delete_alias(&self, account_id: &str, region: &str, name: &str) -> Result<bool> {
        self.write(|tx| {
            let deleted = aliases::delete(tx, account_id, region, name)?;
            announce(tx, &Change::alias(account_id, region, name))?;
            Ok(deleted)
        })
    }

    fn get_alias(&self, account_id: &str, region: &str, name: &str) -> Result<Option<AliasRecord>> {
        self.read(|c| aliases::get(c, account_id, region, name))
    }

    fn list_aliases(
        &self,
        account_id: &str,
        region: &str,
        target_key_id: Option<&str>,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<AliasRecord>> {
        self.read(|c| aliases::list(c, account_id, region, target_key_id, marker, limit))
    }

    fn subscribe_changes(&self) -> Option<ChangeFeed> {
        Some(notify::subscribe(self.options.clone()))
    }

    fn try_lease(&self, name: &str) -> Result<Option<Box<dyn crate::Lease>>> {
        off_runtime(|| notify::try_lease(&self.options, name))
    }
}

/// Reads column `i` of `row`, a type mismatch being a corrupt store.
fn col<'a, T: postgres::types::FromSql<'a>>(row: &'a postgres::Row, i: usize) -> Result<T> {
    row.try_get(i)
        .map_err(|e| Error::Corrupt(format!("column {i}: {e}")))
}

/// Runs a query on any client or transaction.
fn query(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Vec<postgres::Row>> {
    c.query(sql, params).map_err(db)
}

/// Runs a statement on any client or transaction; returns the rows affected.
fn execute(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<u64> {
    c.execute(sql, params).map_err(db)
}
