//! In-memory caches that keep the hot path (Encrypt, Decrypt,
//! GenerateDataKey) free of store reads and unwraps: loaded keys with their
//! unwrapped material versions, and alias → key id. Every write through this
//! node invalidates the affected entries before it returns. Evicted material
//! is wiped by its owner's `Drop` (aws-lc-rs zeroizes key bytes).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use trent_core::key::{KeyRecord, KeyState, KeyUsage};
use trent_crypto::backend::{MaterialOwner, SymmetricKey};

use crate::error::ServerError;
use crate::node::Node;

/// A key's metadata and its usable material versions.
#[derive(Debug)]
pub struct LoadedKey {
    /// The metadata, as of loading.
    pub record: KeyRecord,
    /// The key ARN.
    pub arn: String,
    versions: HashMap<String, Arc<dyn SymmetricKey>>,
}

impl LoadedKey {
    /// The current material version, for encryption.
    pub fn current(&self) -> Option<(&str, &Arc<dyn SymmetricKey>)> {
        let id = self.record.current_material.as_str();
        self.versions.get(id).map(|k| (id, k))
    }

    /// A material version by id, for decryption.
    pub fn version(&self, material_id: &str) -> Option<&Arc<dyn SymmetricKey>> {
        self.versions.get(material_id)
    }
}

/// Key id → loaded key.
#[derive(Debug)]
pub struct KeyCache {
    entries: RwLock<HashMap<String, Arc<LoadedKey>>>,
    capacity: usize,
    /// Bumped by every invalidation, so a load that raced with a change does
    /// not put stale data back into the cache.
    generation: AtomicU64,
}

impl KeyCache {
    /// A cache holding at most `capacity` keys.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
            generation: AtomicU64::new(0),
        }
    }

    /// The loaded key, from memory or loaded from the store. `None` if the
    /// key does not exist.
    pub fn get(&self, node: &Node, key_id: &str) -> Result<Option<Arc<LoadedKey>>, ServerError> {
        if let Ok(entries) = self.entries.read()
            && let Some(hit) = entries.get(key_id)
        {
            return Ok(Some(hit.clone()));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(record) = node.store.get_key(key_id)? else {
            return Ok(None);
        };
        let loaded = Arc::new(load(node, record)?);
        if let Ok(mut entries) = self.entries.write() {
            if self.generation.load(Ordering::Acquire) != generation {
                return Ok(Some(loaded));
            }
            if entries.len() >= self.capacity
                && let Some(victim) = entries.keys().next().cloned()
            {
                entries.remove(&victim);
            }
            entries.insert(key_id.to_owned(), loaded.clone());
        }
        Ok(Some(loaded))
    }

    /// Drops a key from the cache (after any change to it).
    pub fn invalidate(&self, key_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(key_id);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn load(node: &Node, record: KeyRecord) -> Result<LoadedKey, ServerError> {
    let arn = record.arn();
    let mut versions = HashMap::new();
    let usable =
        record.usage == KeyUsage::EncryptDecrypt && record.state != KeyState::PendingImport;
    if usable {
        let root = node.root()?;
        let backend = node.backend(&record.backend);
        for material in node.store.materials(&record.key_id)? {
            let owner = MaterialOwner {
                key_arn: &arn,
                material_id: &material.material_id,
            };
            let key = backend.load_symmetric(&root, owner, &material.wrapped)?;
            versions.insert(material.material_id, key);
        }
    }
    Ok(LoadedKey {
        record,
        arn,
        versions,
    })
}

/// (account, region, alias name) → key id.
#[derive(Debug)]
pub struct AliasCache {
    entries: RwLock<HashMap<(String, String), String>>,
    capacity: usize,
}

impl AliasCache {
    /// A cache holding at most `capacity` aliases.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The key id an alias points to, if the alias exists.
    pub fn resolve(
        &self,
        node: &Node,
        account: &str,
        name: &str,
    ) -> Result<Option<String>, ServerError> {
        let cache_key = (account.to_owned(), name.to_owned());
        if let Ok(entries) = self.entries.read()
            && let Some(hit) = entries.get(&cache_key)
        {
            return Ok(Some(hit.clone()));
        }
        let Some(alias) = node.store.get_alias(account, &node.config.region, name)? else {
            return Ok(None);
        };
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(cache_key, alias.target_key_id.clone());
        }
        Ok(Some(alias.target_key_id))
    }

    /// Drops one alias.
    pub fn invalidate(&self, account: &str, name: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&(account.to_owned(), name.to_owned()));
        }
    }

    /// Drops every alias (after a key deletion removed some).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}
