//! A running Trent node's shared state: the store, the root key (or its
//! absence while sealed), the key backends, the caches and the clock.

use std::sync::{Arc, RwLock};

use trent_core::clock::Clock;
use trent_core::key::BackendRef;
use trent_crypto::backend::KeyBackend;
use trent_crypto::pkcs11::{HsmConfig, Pkcs11Backend};
use trent_crypto::root::RootKey;
use trent_crypto::seal::Seal;
use trent_crypto::software::SoftwareBackend;
use trent_store::Store;

use crate::cache::{AliasCache, KeyCache};
use crate::credentials::CredentialCache;
use crate::error::ServerError;

/// Metadata entry holding the sealed root key.
pub const SEALED_ROOT_META: &str = "root_key.sealed";

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// SigV4 verified against stored secrets (the default).
    Verify,
    /// Any well-formed SigV4 request is accepted (local development only).
    DevAcceptAny,
}

/// Settings a node runs with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The region this node serves (e.g. `us-east-1`).
    pub region: String,
    /// How requests are authenticated.
    pub auth: AuthMode,
    /// The account `--dev-auth` uses for access key ids that are not account ids.
    pub dev_default_account: String,
    /// Whether the test clock endpoint is enabled.
    pub test_clock: bool,
}

/// The shared state of a node.
#[derive(Debug)]
pub struct Node {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock (system time, plus a test offset).
    pub clock: Clock,
    /// Settings.
    pub config: NodeConfig,
    /// Unwrapped key material and metadata of keys in use.
    pub keys: KeyCache,
    /// Alias → key id.
    pub aliases: AliasCache,
    /// Access keys.
    pub credentials: CredentialCache,
    /// Identity policies of users and roles.
    pub identities: crate::authz::IdentityPolicyCache,
    /// Key id → parsed key policy (re-parsed when the text changes).
    pub key_policies: crate::authz::KeyPolicyCache,
    /// Request and cache counters for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Shamir shares submitted towards unsealing.
    pub pending_shares: crate::operator::PendingShares,
    /// The audit log: open while unsealed (its keys are under the root key).
    pub audit: crate::audit::AuditState,
    root: RwLock<Option<Arc<RootKey>>>,
    software: Arc<SoftwareBackend>,
    /// The HSMs custom key stores may use, from the configuration.
    hsms: Vec<HsmConfig>,
    /// Custom key store id → its backend (and connection).
    key_stores: RwLock<std::collections::HashMap<String, Arc<Pkcs11Backend>>>,
}

impl Node {
    /// A node over `store`, sealed until [`Node::unseal`] succeeds.
    pub fn new(store: Arc<dyn Store>, config: NodeConfig) -> Self {
        Self {
            store,
            clock: Clock::system(),
            config,
            keys: KeyCache::new(100_000),
            aliases: AliasCache::new(100_000),
            credentials: CredentialCache::default(),
            identities: Default::default(),
            key_policies: Default::default(),
            pending_shares: Default::default(),
            metrics: Default::default(),
            audit: Default::default(),
            root: RwLock::new(None),
            software: Arc::new(SoftwareBackend),
            hsms: Vec::new(),
            key_stores: Default::default(),
        }
    }

    /// Declares the HSMs custom key stores may be bound to (`[[hsm]]` in the
    /// configuration).
    pub fn with_hsms(mut self, hsms: Vec<HsmConfig>) -> Self {
        self.hsms = hsms;
        self
    }

    /// The configured HSM called `name`.
    pub fn hsm(&self, name: &str) -> Option<&HsmConfig> {
        self.hsms.iter().find(|h| h.name == name)
    }

    /// The backend of custom key store `store_id` (made, disconnected, on
    /// first use).
    pub fn key_store(&self, store_id: &str) -> Arc<Pkcs11Backend> {
        if let Ok(stores) = self.key_stores.read()
            && let Some(backend) = stores.get(store_id)
        {
            return backend.clone();
        }
        match self.key_stores.write() {
            Ok(mut stores) => stores.entry(store_id.to_owned()).or_default().clone(),
            Err(_) => Arc::new(Pkcs11Backend::new()),
        }
    }

    /// The root key, or `Sealed`.
    pub fn root(&self) -> Result<Arc<RootKey>, ServerError> {
        match self.root.read() {
            Ok(guard) => guard.clone().ok_or(ServerError::Sealed),
            Err(_) => Err(ServerError::Sealed),
        }
    }

    /// Whether the root key is available.
    pub fn is_unsealed(&self) -> bool {
        self.root().is_ok()
    }

    /// Opens the store's root key with `seal`, creating and sealing a new
    /// root key if the store has none.
    pub fn unseal(&self, seal: &dyn Seal) -> Result<(), ServerError> {
        let root = unseal_or_init(self.store.as_ref(), seal)?;
        check_restored_backup(self.store.as_ref(), &root)?;
        // The log opens before the root key is published: no request runs
        // unrecorded.
        self.audit.open(&self.store, &root)?;
        if let Ok(mut guard) = self.root.write() {
            *guard = Some(Arc::new(root));
        }
        crate::ops::custom_key_stores::reconnect_all(self);
        Ok(())
    }

    /// Forgets the root key and every unwrapped secret derived from it.
    pub fn seal(&self) {
        if let Ok(mut guard) = self.root.write() {
            *guard = None;
        }
        self.keys.clear();
        self.credentials.clear();
        self.audit.close();
    }

    /// The backend a key's material lives in.
    pub fn backend(&self, backend: &BackendRef) -> Arc<dyn KeyBackend> {
        match backend {
            BackendRef::Software => self.software.clone(),
            BackendRef::Pkcs11 { store_id, .. } => self.key_store(store_id),
        }
    }
}

/// Reads and unseals the store's root key; on a new store, generates one and
/// stores it sealed. Safe when several processes initialize at once: only
/// one sealed root key is ever stored, and every caller unseals that one.
pub fn unseal_or_init(store: &dyn Store, seal: &dyn Seal) -> Result<RootKey, ServerError> {
    if let Some(sealed) = store.get_meta(SEALED_ROOT_META)? {
        return Ok(seal.unseal(&sealed)?);
    }
    let root = RootKey::generate()?;
    let sealed = seal.seal(&root)?;
    if store.put_meta_if_absent(SEALED_ROOT_META, &sealed)? {
        return Ok(root);
    }
    let sealed = store
        .get_meta(SEALED_ROOT_META)?
        .ok_or(ServerError::Sealed)?;
    Ok(seal.unseal(&sealed)?)
}

/// After `trent restore` without the root key at hand, the first unseal
/// checks the backup's HMAC and refuses a backup that fails it.
pub fn check_restored_backup(store: &dyn Store, root: &RootKey) -> Result<(), ServerError> {
    let meta = crate::backup::PENDING_CHECK_META;
    match store.get_meta(meta)? {
        Some(pending) if !pending.is_empty() => {
            crate::backup::check(&pending, root)
                .map_err(|e| trent_crypto::Error::Unseal(e.to_string()))?;
            store.put_meta(meta, &[])?;
            tracing::info!("the restored backup passed its integrity check");
            Ok(())
        }
        _ => Ok(()),
    }
}
