//! In-memory caches that keep the hot path (Encrypt, Decrypt,
//! GenerateDataKey, Sign, Verify, GenerateMac, …) free of store reads and
//! unwraps: loaded keys with their material versions, each loaded once into
//! what its usage needs (a [`KeyVersion`]), and alias → key id. Every write
//! through this node invalidates the affected entries before it returns.
//! Evicted material is wiped by its owner's `Drop` (aws-lc-rs zeroizes key
//! bytes).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use trent_core::key::{KeyRecord, KeyState};
use trent_crypto::backend::{
    AgreementKey, DecryptingKey, KemKey, KeyVersion, MacKey, MaterialOwner, SigningKey,
    SymmetricKey,
};
use trent_proto::error::ErrorCode;

use crate::error::{ServerError, api};
use crate::node::Node;

/// A key's metadata and its usable material versions. Symmetric encryption
/// keys gain a version with every rotation; other keys have exactly one.
#[derive(Debug)]
pub struct LoadedKey {
    /// The metadata, as of loading.
    pub record: KeyRecord,
    /// The key ARN.
    pub arn: String,
    versions: HashMap<String, KeyVersion>,
}

impl LoadedKey {
    /// The current material version and its id.
    pub fn current(&self) -> Option<(&str, &KeyVersion)> {
        let id = self.record.current_material.as_str();
        self.versions.get(id).map(|k| (id, k))
    }

    /// A material version by id, for decryption.
    pub fn version(&self, material_id: &str) -> Option<&KeyVersion> {
        self.versions.get(material_id)
    }

    /// The current version as `pick` sees it. A key whose material does not
    /// match its usage is an internal fault: handlers check the usage first.
    fn current_as<'a, T: ?Sized>(
        &'a self,
        pick: impl Fn(&'a KeyVersion) -> Option<&'a Arc<T>>,
    ) -> Result<&'a Arc<T>, ServerError> {
        let (_, version) = self.current().ok_or(ServerError::Sealed)?;
        pick(version).ok_or_else(|| {
            api(
                ErrorCode::KmsInternal,
                "The key material does not match the key usage.",
            )
        })
    }

    /// The current symmetric encryption version and its id.
    pub fn current_symmetric(&self) -> Result<(&str, &Arc<dyn SymmetricKey>), ServerError> {
        let key = self.current_as(|v| {
            if let KeyVersion::Symmetric(k) = v {
                Some(k)
            } else {
                None
            }
        })?;
        Ok((self.record.current_material.as_str(), key))
    }

    /// A symmetric encryption version by id.
    pub fn symmetric_version(&self, material_id: &str) -> Option<&Arc<dyn SymmetricKey>> {
        match self.versions.get(material_id) {
            Some(KeyVersion::Symmetric(k)) => Some(k),
            _ => None,
        }
    }

    /// The signing key pair.
    pub fn signing(&self) -> Result<&Arc<dyn SigningKey>, ServerError> {
        self.current_as(|v| {
            if let KeyVersion::Signing(k) = v {
                Some(k)
            } else {
                None
            }
        })
    }

    /// The asymmetric encryption key pair.
    pub fn decrypting(&self) -> Result<&Arc<dyn DecryptingKey>, ServerError> {
        self.current_as(|v| {
            if let KeyVersion::Decrypting(k) = v {
                Some(k)
            } else {
                None
            }
        })
    }

    /// The HMAC key.
    pub fn mac(&self) -> Result<&Arc<dyn MacKey>, ServerError> {
        self.current_as(|v| {
            if let KeyVersion::Mac(k) = v {
                Some(k)
            } else {
                None
            }
        })
    }

    /// The key agreement key pair.
    pub fn agreement(&self) -> Result<&Arc<dyn AgreementKey>, ServerError> {
        self.current_as(|v| {
            if let KeyVersion::Agreement(k) = v {
                Some(k)
            } else {
                None
            }
        })
    }

    /// The KEM key pair.
    pub fn kem(&self) -> Result<&Arc<dyn KemKey>, ServerError> {
        self.current_as(|v| {
            if let KeyVersion::Kem(k) = v {
                Some(k)
            } else {
                None
            }
        })
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

    /// Drops every key (when the node is sealed).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
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
    if record.state != KeyState::PendingImport {
        let root = node.root()?;
        let backend = node.backend(&record.backend);
        for material in node.store.materials(&record.key_id)? {
            // Deleted imported material: nothing to load.
            if material.wrapped.is_empty() {
                continue;
            }
            let owner = MaterialOwner {
                key_arn: &arn,
                material_id: &material.material_id,
            };
            let version =
                backend.load(&root, owner, record.spec, record.usage, &material.wrapped)?;
            versions.insert(material.material_id, version);
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
