//! The embedded store: one SQLite file in WAL mode, shared safely by several
//! processes (the server and the `trent credentials` CLI) through SQLite's
//! own locking.
//!
//! Writes go through one writer connection, each in a `BEGIN IMMEDIATE`
//! transaction committed with `synchronous=FULL`, so a write has been
//! fsync'd when it returns. Reads use a small pool of other connections, so
//! they never queue behind a writer's fsync. The schema is versioned; see
//! `sqlite/schema.rs` for the tables and the migration rules.

mod aliases;
mod credentials;
mod keys;
mod meta;
mod pool;
mod schema;
mod snapshot;
mod writer;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, Transaction};
use trent_core::credential::CredentialRecord;
use trent_core::key::{KeyRecord, MaterialRecord, UnixMillis};

use crate::{AliasRecord, Error, Page, Result, Snapshot, Store};
use pool::Readers;
use writer::Writer;

/// How many read connections a store keeps open.
const READERS: usize = 4;

/// A [`Store`] in one SQLite file.
///
/// Revisions: the store owns `KeyRecord::revision`. A created key starts at
/// revision 0 whatever the record says, every successful update adds one,
/// and reads report the stored value.
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: Readers,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file if absent and bringing
    /// its schema up to date. `Error::SchemaTooNew` if a newer binary has
    /// already migrated it.
    pub fn open(path: &Path) -> Result<Self> {
        let mut writer = pool::connect(path, pool::Role::Writer)?;
        schema::migrate(&mut writer)?;
        let readers = Readers::open(path, READERS)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Writer::start(writer)?,
            readers,
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs one write operation and returns once it is durable. Operations
    /// from concurrent callers share a transaction and its fsync (group
    /// commit, see `sqlite/writer.rs`); each runs under its own savepoint, so
    /// a failing one rolls back alone.
    fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.writer.write(op)
    }

    /// Runs one read on a pooled read connection.
    fn read<T>(&self, op: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.readers.with(op)
    }
}

impl Store for SqliteStore {
    fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.read(|conn| meta::get(conn, name))
    }

    fn put_meta_if_absent(&self, name: &str, value: &[u8]) -> Result<bool> {
        let (name, value) = (name.to_owned(), value.to_vec());
        self.write(move |tx| meta::put_if_absent(tx, &name, &value))
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        let (name, value) = (name.to_owned(), value.to_vec());
        self.write(move |tx| meta::put(tx, &name, &value))
    }

    fn put_credential(&self, credential: &CredentialRecord) -> Result<()> {
        let credential = credential.clone();
        self.write(move |tx| credentials::put(tx, &credential))
    }

    fn get_credential(&self, access_key_id: &str) -> Result<Option<CredentialRecord>> {
        self.read(|conn| credentials::get(conn, access_key_id))
    }

    fn list_credentials(&self) -> Result<Vec<CredentialRecord>> {
        self.read(credentials::list)
    }

    fn remove_credential(&self, access_key_id: &str) -> Result<bool> {
        let access_key_id = access_key_id.to_owned();
        self.write(move |tx| credentials::remove(tx, &access_key_id))
    }

    fn create_key(&self, key: &KeyRecord, material: &MaterialRecord) -> Result<()> {
        let (key, material) = (key.clone(), material.clone());
        self.write(move |tx| keys::create(tx, &key, &material))
    }

    fn get_key(&self, key_id: &str) -> Result<Option<KeyRecord>> {
        self.read(|conn| keys::get(conn, key_id))
    }

    fn update_key(&self, key: &KeyRecord) -> Result<()> {
        let key = key.clone();
        self.write(move |tx| keys::update(tx, &key))
    }

    fn update_key_with_material(&self, key: &KeyRecord, material: &MaterialRecord) -> Result<()> {
        let (key, material) = (key.clone(), material.clone());
        self.write(move |tx| {
            keys::update(tx, &key)?;
            keys::add_material(tx, &key.key_id, &material)
        })
    }

    fn update_key_and_material_bytes(
        &self,
        key: &KeyRecord,
        material_id: &str,
        wrapped: &[u8],
    ) -> Result<()> {
        let (key, material_id, wrapped) = (key.clone(), material_id.to_owned(), wrapped.to_vec());
        self.write(move |tx| {
            keys::update(tx, &key)?;
            keys::set_material_bytes(tx, &key.key_id, &material_id, &wrapped)
        })
    }

    fn materials(&self, key_id: &str) -> Result<Vec<MaterialRecord>> {
        self.read(|conn| keys::materials(conn, key_id))
    }

    fn delete_key(&self, key_id: &str) -> Result<bool> {
        let key_id = key_id.to_owned();
        self.write(move |tx| keys::delete(tx, &key_id))
    }

    fn list_keys(
        &self,
        account_id: &str,
        region: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<KeyRecord>> {
        self.read(|conn| keys::list(conn, account_id, region, marker, limit))
    }

    fn export(&self) -> Result<Snapshot> {
        self.read(snapshot::export)
    }

    fn import(&self, snapshot: &Snapshot) -> Result<()> {
        let snapshot = snapshot.clone();
        self.write(move |tx| snapshot::import(tx, &snapshot))
    }

    fn count_keys_by_state(&self) -> Result<Vec<(String, u64)>> {
        self.read(keys::count_by_state)
    }

    fn keys_due(&self, now: UnixMillis) -> Result<Vec<String>> {
        self.read(|conn| keys::due(conn, now))
    }

    fn create_alias(&self, alias: &AliasRecord) -> Result<()> {
        let alias = alias.clone();
        self.write(move |tx| aliases::create(tx, &alias))
    }

    fn update_alias(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
        target_key_id: &str,
        now: UnixMillis,
    ) -> Result<()> {
        let args = [account_id, region, name, target_key_id].map(str::to_owned);
        self.write(move |tx| {
            let [account_id, region, name, target_key_id] = &args;
            aliases::update(tx, account_id, region, name, target_key_id, now)
        })
    }

    fn delete_alias(&self, account_id: &str, region: &str, name: &str) -> Result<bool> {
        let args = [account_id, region, name].map(str::to_owned);
        self.write(move |tx| {
            let [account_id, region, name] = &args;
            aliases::delete(tx, account_id, region, name)
        })
    }

    fn get_alias(&self, account_id: &str, region: &str, name: &str) -> Result<Option<AliasRecord>> {
        self.read(|conn| aliases::get(conn, account_id, region, name))
    }

    fn list_aliases(
        &self,
        account_id: &str,
        region: &str,
        target_key_id: Option<&str>,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<AliasRecord>> {
        self.read(|conn| aliases::list(conn, account_id, region, target_key_id, marker, limit))
    }
}

/// Maps a SQLite failure to the store's error. A primary-key or unique
/// violation can only come from an insert, so it means the record exists.
/// SQLite's messages name tables and columns, never bound values, so no
/// stored bytes leak into the message.
fn db(e: rusqlite::Error) -> Error {
    use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
    match e.sqlite_extended_error_code() {
        Some(SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE) => Error::AlreadyExists,
        _ => Error::Database(e.to_string()),
    }
}

/// A listing's page size as SQL wants it: one more than asked for (to learn
/// whether a next page exists), at least 2 (a limit of 0 is read as 1).
pub(crate) fn fetch_limit(limit: usize) -> i64 {
    i64::try_from(limit.max(1)).unwrap_or(i64::MAX - 1) + 1
}

/// Turns `limit + 1` fetched rows into a page whose marker is the last
/// returned item's sort key.
pub(crate) fn page<T>(mut items: Vec<T>, limit: usize, sort_key: impl Fn(&T) -> &str) -> Page<T> {
    let limit = limit.max(1);
    let more = items.len() > limit;
    items.truncate(limit);
    let next_marker = if more {
        items.last().map(|item| sort_key(item).to_owned())
    } else {
        None
    };
    Page { items, next_marker }
}
