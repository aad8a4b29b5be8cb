//! Persistence behind one seam, [`Store`]. Every write method returns only
//! after its change is durable (fsync'd), so an acknowledged change survives
//! a crash at any instant. Implementations: [`sqlite::SqliteStore`] (the
//! embedded default) and [`postgres::PostgresStore`] (many nodes on one
//! database); [`open`] picks one from a location string.
//!
//! The store holds key material only as the wrapped bytes the crypto layer
//! produced; it never sees plaintext material.

#![warn(missing_docs)]

mod error;
pub mod postgres;
pub mod sqlite;
mod sync;

pub use error::{Error, Result};
pub use sync::{Change, ChangeFeed, ChangeSender, Lease, LocalLease};
use trent_core::credential::CredentialRecord;
use trent_core::key::{KeyRecord, MaterialRecord, UnixMillis};

/// An alias as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRecord {
    /// Owning account.
    pub account_id: String,
    /// Region.
    pub region: String,
    /// The alias name, with its `alias/` prefix.
    pub name: String,
    /// The key id it points to.
    pub target_key_id: String,
    /// Creation time.
    pub created: UnixMillis,
    /// Last update time.
    pub updated: UnixMillis,
}

/// One page of a listing, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Present when more items follow; pass it back to continue.
    pub next_marker: Option<String>,
}

/// Everything a store holds, read at one instant: what a backup carries.
/// Secrets inside are still wrapped under the root key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Metadata entries (the sealed root key among them).
    pub meta: Vec<(String, Vec<u8>)>,
    /// Access keys.
    pub credentials: Vec<CredentialRecord>,
    /// Keys with their material versions, oldest first.
    pub keys: Vec<(KeyRecord, Vec<MaterialRecord>)>,
    /// Aliases.
    pub aliases: Vec<AliasRecord>,
}

/// The persistence seam. Methods block; async callers run them on a blocking
/// thread. All writes are atomic and durable when they return.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Reads an opaque metadata value (e.g. the sealed root key).
    fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Writes a metadata value unless one exists; returns whether it wrote.
    fn put_meta_if_absent(&self, name: &str, value: &[u8]) -> Result<bool>;
    /// Writes a metadata value, replacing any existing one (e.g. the audit
    /// log's newest checkpoint).
    fn put_meta(&self, name: &str, value: &[u8]) -> Result<()>;

    /// Adds or replaces an access key.
    fn put_credential(&self, credential: &CredentialRecord) -> Result<()>;
    /// Looks up an access key.
    fn get_credential(&self, access_key_id: &str) -> Result<Option<CredentialRecord>>;
    /// Lists all access keys, ordered by access key id.
    fn list_credentials(&self) -> Result<Vec<CredentialRecord>>;
    /// Removes an access key; returns whether it existed.
    fn remove_credential(&self, access_key_id: &str) -> Result<bool>;

    /// Creates a key with its first material version, atomically.
    /// `Error::AlreadyExists` if the key id is taken.
    fn create_key(&self, key: &KeyRecord, material: &MaterialRecord) -> Result<()>;
    /// Reads a key's metadata (with its current `revision`).
    fn get_key(&self, key_id: &str) -> Result<Option<KeyRecord>>;
    /// Replaces a key's metadata if its stored revision still equals
    /// `key.revision`; the stored revision is then incremented.
    /// `Error::Conflict` if someone else updated it first, `Error::NotFound`
    /// if it is gone.
    fn update_key(&self, key: &KeyRecord) -> Result<()>;
    /// Like [`Store::update_key`], adding a new material version in the same
    /// transaction (rotation).
    fn update_key_with_material(&self, key: &KeyRecord, material: &MaterialRecord) -> Result<()>;
    /// Like [`Store::update_key`], replacing the stored bytes of one of the
    /// key's existing material versions in the same transaction: imported
    /// material arriving (the wrapped bytes), or being deleted (empty bytes,
    /// which mean "no material"; readers skip such versions).
    /// `Error::NotFound` if the key or the version does not exist.
    ///
    /// The default refuses, for stores that have not implemented it yet.
    fn update_key_and_material_bytes(
        &self,
        key: &KeyRecord,
        material_id: &str,
        wrapped: &[u8],
    ) -> Result<()> {
        let _ = (key, material_id, wrapped);
        Err(Error::Database(
            "this store does not support replacing material bytes".into(),
        ))
    }
    /// All material versions of a key, oldest first.
    fn materials(&self, key_id: &str) -> Result<Vec<MaterialRecord>>;
    /// Deletes a key, its material versions and every alias pointing to it.
    /// Returns whether it existed.
    fn delete_key(&self, key_id: &str) -> Result<bool>;
    /// Lists an account's keys in a region, ordered by key id, starting after
    /// `marker` (a value from a previous page).
    fn list_keys(
        &self,
        account_id: &str,
        region: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<KeyRecord>>;
    /// Reads the whole store in one consistent snapshot, without stopping
    /// writers.
    fn export(&self) -> Result<Snapshot>;
    /// Loads a snapshot into an empty store, atomically; `Error::AlreadyExists`
    /// if the store holds anything.
    fn import(&self, snapshot: &Snapshot) -> Result<()>;
    /// The number of keys in each state, for metrics.
    fn count_keys_by_state(&self) -> Result<Vec<(String, u64)>>;
    /// Keys whose scheduled deletion or rotation is due at `now`: ids of keys
    /// in PendingDeletion with deletion date ≤ now, or with rotation enabled
    /// and next rotation ≤ now.
    fn keys_due(&self, now: UnixMillis) -> Result<Vec<String>>;

    /// Creates an alias; `Error::AlreadyExists` if the name is taken in the
    /// account and region.
    fn create_alias(&self, alias: &AliasRecord) -> Result<()>;
    /// Points an existing alias at another key; `Error::NotFound` if absent.
    fn update_alias(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
        target_key_id: &str,
        now: UnixMillis,
    ) -> Result<()>;
    /// Deletes an alias; returns whether it existed.
    fn delete_alias(&self, account_id: &str, region: &str, name: &str) -> Result<bool>;
    /// Looks up an alias.
    fn get_alias(&self, account_id: &str, region: &str, name: &str) -> Result<Option<AliasRecord>>;
    /// Lists an account's aliases in a region, optionally only those of one
    /// key, ordered by name, after `marker`.
    fn list_aliases(
        &self,
        account_id: &str,
        region: &str,
        target_key_id: Option<&str>,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<AliasRecord>>;

    /// A feed of the changes other processes commit to this store, for
    /// stores shared by several nodes; `None` (the default) when the store
    /// cannot tell, as with SQLite, whose only other writer is the local
    /// CLI. Each call starts a new feed.
    fn subscribe_changes(&self) -> Option<ChangeFeed> {
        None
    }

    /// Tries to take the exclusive, cluster-wide lease `name` (e.g. for a
    /// background job); `None` if another process holds it. The lease lasts
    /// until it is dropped or [`Lease::is_held`] says it was lost. The
    /// default suits a store only one server uses: always granted.
    fn try_lease(&self, name: &str) -> Result<Option<Box<dyn Lease>>> {
        Ok(Some(Box::new(LocalLease::new(name))))
    }
}

/// Opens the store at `location`: a `postgres://` or `postgresql://` URL, or
/// the path of a SQLite file.
pub fn open(location: &str) -> Result<std::sync::Arc<dyn Store>> {
    if is_postgres_url(location) {
        Ok(std::sync::Arc::new(postgres::PostgresStore::open(
            location,
        )?))
    } else {
        Ok(std::sync::Arc::new(sqlite::SqliteStore::open(
            std::path::Path::new(location),
        )?))
    }
}

/// Whether `location` names a PostgreSQL database rather than a file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}
