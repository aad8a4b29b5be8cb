//! Fault injection at the store seam: [`FaultyStore`] wraps a real store and,
//! on command from its [`FaultSwitch`], fails or slows what passes through.
//!
//! The faults, as the real SQLite store would report them:
//!
//! - [`Fault::WriteError`] — a write fails before anything is applied
//!   (`disk I/O error`).
//! - [`Fault::FsyncError`] — the ambiguous one: the write reaches the store
//!   but the commit reports failure (`disk I/O error` from fsync), so the
//!   caller does not know whether it was applied. The server must neither
//!   acknowledge it nor keep serving stale state.
//! - [`Fault::DiskFull`] — `database or disk is full` (ENOSPC), nothing
//!   applied.
//! - [`Fault::ReadError`] — reads fail as well as writes.
//! - [`Fault::Slow`] — every call is delayed.
//!
//! The real ENOSPC, on a small tmpfs, is tested separately (it needs root).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use trent_core::credential::CredentialRecord;
use trent_core::key::{KeyRecord, MaterialRecord, UnixMillis};
use trent_store::{AliasRecord, Error, Page, Result, Snapshot, Store};

/// What the wrapper does to calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Pass everything through.
    #[default]
    None,
    /// Writes fail before anything is applied.
    WriteError,
    /// Writes are applied, then reported failed (fsync failed at commit).
    FsyncError,
    /// Writes fail with "disk full", nothing applied.
    DiskFull,
    /// Reads and writes fail.
    ReadError,
    /// Every call sleeps this long first.
    Slow(Duration),
}

/// Turns faults on and off while a server runs.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch {
    fault: Arc<Mutex<Fault>>,
    injected: Arc<AtomicU64>,
}

impl FaultSwitch {
    /// Sets the active fault.
    pub fn set(&self, fault: Fault) {
        if let Ok(mut f) = self.fault.lock() {
            *f = fault;
        }
    }

    /// Clears the fault.
    pub fn clear(&self) {
        self.set(Fault::None);
    }

    /// How many calls a fault has hit so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    fn current(&self) -> Fault {
        self.fault.lock().map(|f| *f).unwrap_or_default()
    }
}

/// A store that misbehaves on command.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    switch: FaultSwitch,
}

impl FaultyStore {
    /// Wraps `inner`; `switch` controls it.
    pub fn new(inner: Arc<dyn Store>, switch: FaultSwitch) -> FaultyStore {
        FaultyStore { inner, switch }
    }

    fn hit(&self, message: &str) -> Error {
        self.switch.injected.fetch_add(1, Ordering::SeqCst);
        Error::Database(message.to_owned())
    }

    fn read<T>(&self, op: impl FnOnce(&dyn Store) -> Result<T>) -> Result<T> {
        match self.switch.current() {
            Fault::ReadError => return Err(self.hit("disk I/O error (injected read fault)")),
            Fault::Slow(d) => std::thread::sleep(d),
            _ => {}
        }
        op(self.inner.as_ref())
    }

    fn write<T>(&self, op: impl FnOnce(&dyn Store) -> Result<T>) -> Result<T> {
        match self.switch.current() {
            Fault::None => op(self.inner.as_ref()),
            Fault::Slow(d) => {
                std::thread::sleep(d);
                op(self.inner.as_ref())
            }
            Fault::WriteError | Fault::ReadError => {
                Err(self.hit("disk I/O error (injected write fault)"))
            }
            Fault::DiskFull => Err(self.hit("database or disk is full (injected ENOSPC)")),
            Fault::FsyncError => {
                let _ = op(self.inner.as_ref());
                Err(self.hit("disk I/O error (injected fsync fault after the write)"))
            }
        }
    }
}

impl Store for FaultyStore {
    fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.read(|s| s.get_meta(name))
    }
    fn put_meta_if_absent(&self, name: &str, value: &[u8]) -> Result<bool> {
        self.write(|s| s.put_meta_if_absent(name, value))
    }
    fn put_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        self.write(|s| s.put_meta(name, value))
    }
    fn put_credential(&self, credential: &CredentialRecord) -> Result<()> {
        self.write(|s| s.put_credential(credential))
    }
    fn get_credential(&self, access_key_id: &str) -> Result<Option<CredentialRecord>> {
        self.read(|s| s.get_credential(access_key_id))
    }
    fn list_credentials(&self) -> Result<Vec<CredentialRecord>> {
        self.read(|s| s.list_credentials())
    }
    fn remove_credential(&self, access_key_id: &str) -> Result<bool> {
        self.write(|s| s.remove_credential(access_key_id))
    }
    fn create_key(&self, key: &KeyRecord, material: &MaterialRecord) -> Result<()> {
        self.write(|s| s.create_key(key, material))
    }
    fn get_key(&self, key_id: &str) -> Result<Option<KeyRecord>> {
        self.read(|s| s.get_key(key_id))
    }
    fn update_key(&self, key: &KeyRecord) -> Result<()> {
        self.write(|s| s.update_key(key))
    }
    fn update_key_with_material(&self, key: &KeyRecord, material: &MaterialRecord) -> Result<()> {
        self.write(|s| s.update_key_with_material(key, material))
    }
    fn update_key_and_material_bytes(
        &self,
        key: &KeyRecord,
        material_id: &str,
        wrapped: &[u8],
    ) -> Result<()> {
        self.write(|s| s.update_key_and_material_bytes(key, material_id, wrapped))
    }
    fn materials(&self, key_id: &str) -> Result<Vec<MaterialRecord>> {
        self.read(|s| s.materials(key_id))
    }
    fn delete_key(&self, key_id: &str) -> Result<bool> {
        self.write(|s| s.delete_key(key_id))
    }
    fn list_keys(
        &self,
        account_id: &str,
        region: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<KeyRecord>> {
        self.read(|s| s.list_keys(account_id, region, marker, limit))
    }
    fn export(&self) -> Result<Snapshot> {
        self.read(|s| s.export())
    }
    fn import(&self, snapshot: &Snapshot) -> Result<()> {
        self.write(|s| s.import(snapshot))
    }
    fn count_keys_by_state(&self) -> Result<Vec<(String, u64)>> {
        self.read(|s| s.count_keys_by_state())
    }
    fn keys_due(&self, now: UnixMillis) -> Result<Vec<String>> {
        self.read(|s| s.keys_due(now))
    }
    fn create_alias(&self, alias: &AliasRecord) -> Result<()> {
        self.write(|s| s.create_alias(alias))
    }
    fn update_alias(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
        target_key_id: &str,
        now: UnixMillis,
    ) -> Result<()> {
        self.write(|s| s.update_alias(account_id, region, name, target_key_id, now))
    }
    fn delete_alias(&self, account_id: &str, region: &str, name: &str) -> Result<bool> {
        self.write(|s| s.delete_alias(account_id, region, name))
    }
    fn get_alias(&self, account_id: &str, region: &str, name: &str) -> Result<Option<AliasRecord>> {
        self.read(|s| s.get_alias(account_id, region, name))
    }
    fn list_aliases(
        &self,
        account_id: &str,
        region: &str,
        target_key_id: Option<&str>,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<AliasRecord>> {
        self.read(|s| s.list_aliases(account_id, region, target_key_id, marker, limit))
    }
}
