//! Access keys: wrapping their secrets under the root key, and a small cache
//! so signature checks do not read the store on every request. Entries live
//! for a short time so that keys added or removed by `trent credentials`
//! (another process) take effect on a running server within that time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use trent_core::credential::CredentialRecord;
use trent_crypto::root::RootKey;
use zeroize::Zeroizing;

use crate::error::ServerError;

/// How long a cached access key is trusted before the store is asked again.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(1);

/// The associated data binding a wrapped secret to its access key id.
fn aad(access_key_id: &str) -> Vec<u8> {
    let mut aad = b"trent/credential/v1\0".to_vec();
    aad.extend_from_slice(access_key_id.as_bytes());
    aad
}

/// Wraps a secret access key for storage.
pub fn wrap_secret(
    root: &RootKey,
    access_key_id: &str,
    secret: &[u8],
) -> Result<Vec<u8>, ServerError> {
    Ok(root.wrap(&aad(access_key_id), secret)?)
}

/// An access key ready for signature checks.
#[derive(Debug)]
pub struct ActiveCredential {
    /// The stored record (secret still wrapped).
    pub record: CredentialRecord,
    /// The unwrapped secret.
    pub secret: Zeroizing<Vec<u8>>,
    /// The principal's ARN.
    pub principal_arn: String,
    fetched: Instant,
    /// The SigV4 signing key of the last date seen (derivation is four
    /// HMACs; requests of one day share it).
    signing_key: std::sync::Mutex<Option<(String, trent_proto::sigv4::SigningKey)>>,
}

impl ActiveCredential {
    /// The SigV4 signing key for `date` (yyyymmdd) in `region`, service kms.
    pub fn signing_key(&self, date: &str, region: &str) -> trent_proto::sigv4::SigningKey {
        if let Ok(cached) = self.signing_key.lock()
            && let Some((day, key)) = cached.as_ref()
            && day == date
        {
            return key.clone();
        }
        let key = trent_proto::sigv4::derive_signing_key(&self.secret, date, region, "kms");
        if let Ok(mut cached) = self.signing_key.lock() {
            *cached = Some((date.to_owned(), key.clone()));
        }
        key
    }
}

/// Access key id → unwrapped credential, with a short TTL.
#[derive(Debug, Default)]
pub struct CredentialCache {
    entries: RwLock<HashMap<String, Arc<ActiveCredential>>>,
}

impl CredentialCache {
    /// Finds an access key, from the cache or the store.
    pub fn lookup(
        &self,
        access_key_id: &str,
        store: &dyn trent_store::Store,
        root: &RootKey,
    ) -> Result<Option<Arc<ActiveCredential>>, ServerError> {
        if let Ok(entries) = self.entries.read()
            && let Some(hit) = entries.get(access_key_id)
            && hit.fetched.elapsed() < CREDENTIAL_TTL
        {
            return Ok(Some(hit.clone()));
        }
        let Some(record) = store.get_credential(access_key_id)? else {
            if let Ok(mut entries) = self.entries.write() {
                entries.remove(access_key_id);
            }
            return Ok(None);
        };
        let secret = root.unwrap(&aad(access_key_id), &record.wrapped_secret)?;
        let active = Arc::new(ActiveCredential {
            principal_arn: record.principal_arn(),
            record,
            secret,
            fetched: Instant::now(),
            signing_key: std::sync::Mutex::new(None),
        });
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(access_key_id.to_owned(), active.clone());
        }
        Ok(Some(active))
    }

    /// Forgets every cached secret.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}
