//! Backups: a consistent snapshot of the store in one file, key material
//! still wrapped under the root key.
//!
//! ```text
//! "TRNTBKUP" ‖ version 0x01 ‖ created (u64, Unix ms) ‖ body length (u64) ‖ body (JSON)
//!   ‖ checksum = SHA-256 of everything before it (32)
//!   ‖ HMAC-SHA256(backup key, "trent/backup/v1" ‖ checksum) (32)
//! ```
//! The backup key is HKDF-SHA256 of the root key (salt "trent/backup/v1",
//! info "backup-mac").
//! The SHA-256 lets `trent restore` refuse a truncated or damaged file before
//! touching anything. The HMAC, under a key derived from the root key, lets
//! the root key's holder prove the file was not altered: `trent restore`
//! checks it at once when it can open the seal (dev file, passphrase),
//! otherwise the node checks it when operators unseal it and refuses to
//! unseal a restored store whose backup fails the check.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::{hkdf, hmac};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use trent_core::credential::CredentialRecord;
use trent_core::key::{KeyRecord, MaterialRecord, RotationType};
use trent_crypto::root::RootKey;
use trent_store::{AliasRecord, Snapshot};

const MAGIC: &[u8; 8] = b"TRNTBKUP";
const VERSION: u8 = 1;
const HEAD_LEN: usize = 8 + 1 + 8 + 8;
/// Metadata entry a restore leaves for the first unseal to check.
pub const PENDING_CHECK_META: &str = "backup.pending_check";

/// A backup file could not be read or verified.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackupError {
    /// Not a Trent backup, or an unknown version.
    #[error("not a Trent backup file (or written by a newer Trent)")]
    NotABackup,
    /// Shorter than its header says.
    #[error("the backup file is truncated")]
    Truncated,
    /// The checksum does not match: damaged or edited.
    #[error("the backup file is damaged or was altered (checksum mismatch)")]
    Checksum,
    /// The HMAC does not match this root key.
    #[error(
        "the backup failed its integrity check against this root key: it was altered or belongs to another store"
    )]
    Integrity,
    /// The body does not decode.
    #[error("the backup body is malformed: {0}")]
    Malformed(String),
}

#[derive(Serialize, Deserialize)]
struct Body {
    meta: Vec<(String, String)>,
    credentials: Vec<Credential>,
    keys: Vec<Key>,
    aliases: Vec<Alias>,
}

#[derive(Serialize, Deserialize)]
struct Credential {
    access_key_id: String,
    account_id: String,
    user: Option<String>,
    wrapped_secret: String,
    created: i64,
}

#[derive(Serialize, Deserialize)]
struct Key {
    record: KeyRecord,
    materials: Vec<Material>,
}

#[derive(Serialize, Deserialize)]
struct Material {
    material_id: String,
    created: i64,
    rotation: Option<String>,
    wrapped: String,
}

#[derive(Serialize, Deserialize)]
struct Alias {
    account_id: String,
    region: String,
    name: String,
    target_key_id: String,
    created: i64,
    updated: i64,
}

fn mac_key(root: &RootKey) -> hmac::Key {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"trent/backup/v1");
    let prk = salt.extract(root.expose_bytes());
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    if let Ok(okm) = prk.expand(&[b"backup-mac"], hkdf::HKDF_SHA256) {
        let _ = okm.fill(bytes.as_mut());
    }
    hmac::Key::new(hmac::HMAC_SHA256, bytes.as_ref())
}

/// Writes a snapshot as a backup file.
pub fn encode(snapshot: &Snapshot, root: &RootKey, created_millis: i64) -> Vec<u8> {
    let body = Body {
        meta: snapshot
            .meta
            .iter()
            .filter(|(n, _)| n != PENDING_CHECK_META)
            .map(|(n, v)| (n.clone(), STANDARD.encode(v)))
            .collect(),
        credentials: snapshot
            .credentials
            .iter()
            .map(|c| Credential {
                access_key_id: c.access_key_id.clone(),
                account_id: c.account_id.clone(),
                user: c.user.clone(),
                wrapped_secret: STANDARD.encode(&c.wrapped_secret),
                created: c.created,
            })
            .collect(),
        keys: snapshot
            .keys
            .iter()
            .map(|(record, materials)| Key {
                record: record.clone(),
                materials: materials
                    .iter()
                    .map(|m| Material {
                        material_id: m.material_id.clone(),
                        created: m.created,
                        rotation: m.rotation.map(|r| r.as_str().to_owned()),
                        wrapped: STANDARD.encode(&m.wrapped),
                    })
                    .collect(),
            })
            .collect(),
        aliases: snapshot
            .aliases
            .iter()
            .map(|a| Alias {
                account_id: a.account_id.clone(),
                region: a.region.clone(),
                name: a.name.clone(),
                target_key_id: a.target_key_id.clone(),
                created: a.created,
                updated: a.updated,
            })
            .collect(),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let mut out = Vec::with_capacity(HEAD_LEN + json.len() + 64);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(created_millis as u64).to_be_bytes());
    out.extend_from_slice(&(json.len() as u64).to_be_bytes());
    out.extend_from_slice(&json);
    let checksum = digest(&SHA256, &out);
    let tag = hmac::sign(&mac_key(root), &mac_input(checksum.as_ref()));
    out.extend_from_slice(checksum.as_ref());
    out.extend_from_slice(tag.as_ref());
    out
}

fn mac_input(checksum: &[u8]) -> Vec<u8> {
    let mut input = b"trent/backup/v1".to_vec();
    input.extend_from_slice(checksum);
    input
}

/// A backup file whose structure and checksum are good; its HMAC is not yet
/// checked (that needs the root key).
#[derive(Debug)]
pub struct Checked {
    /// The snapshot it holds.
    pub snapshot: Snapshot,
    /// SHA-256 of the authenticated part, and the HMAC over it, kept so the
    /// HMAC can be checked once the root key is available.
    pub pending: Vec<u8>,
}

/// Reads a backup file: structure, length and checksum.
pub fn decode(file: &[u8]) -> Result<Checked, BackupError> {
    if file.len() < HEAD_LEN || &file[..8] != MAGIC || file[8] != VERSION {
        return Err(
            if file.len() < HEAD_LEN && file.starts_with(&MAGIC[..file.len().min(8)]) {
                BackupError::Truncated
            } else {
                BackupError::NotABackup
            },
        );
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&file[17..25]);
    let body_len = usize::try_from(u64::from_be_bytes(len)).map_err(|_| BackupError::Truncated)?;
    let signed_len = HEAD_LEN
        .checked_add(body_len)
        .ok_or(BackupError::Truncated)?;
    if file.len() < signed_len + 64 {
        return Err(BackupError::Truncated);
    }
    if file.len() > signed_len + 64 {
        return Err(BackupError::Checksum);
    }
    let (signed, trailer) = file.split_at(signed_len);
    let checksum = digest(&SHA256, signed);
    if !trent_crypto::constant_time_eq(checksum.as_ref(), &trailer[..32]) {
        return Err(BackupError::Checksum);
    }
    let body: Body = serde_json::from_slice(&signed[HEAD_LEN..])
        .map_err(|e| BackupError::Malformed(e.to_string()))?;
    let mut pending = checksum.as_ref().to_vec();
    pending.extend_from_slice(&trailer[32..]);
    Ok(Checked {
        snapshot: snapshot_of(body)?,
        pending,
    })
}

/// Checks a backup's HMAC (the `pending` bytes kept by [`decode`]:
/// checksum ‖ tag) against a root key.
pub fn check(pending: &[u8], root: &RootKey) -> Result<(), BackupError> {
    if pending.len() != 64 {
        return Err(BackupError::Integrity);
    }
    let (checksum, tag) = pending.split_at(32);
    hmac::verify(&mac_key(root), &mac_input(checksum), tag).map_err(|_| BackupError::Integrity)
}

fn unb64(field: &str, text: &str) -> Result<Vec<u8>, BackupError> {
    STANDARD
        .decode(text)
        .map_err(|_| BackupError::Malformed(format!("{field} is not base64")))
}

fn snapshot_of(body: Body) -> Result<Snapshot, BackupError> {
    let meta = body
        .meta
        .into_iter()
        .map(|(n, v)| Ok((n, unb64("meta", &v)?)))
        .collect::<Result<_, _>>()?;
    let credentials = body
        .credentials
        .into_iter()
        .map(|c| {
            Ok(CredentialRecord {
                wrapped_secret: unb64("credential", &c.wrapped_secret)?,
                access_key_id: c.access_key_id,
                account_id: c.account_id,
                user: c.user,
                created: c.created,
            })
        })
        .collect::<Result<_, BackupError>>()?;
    let mut keys = Vec::with_capacity(body.keys.len());
    for key in body.keys {
        let materials =
            key.materials
                .into_iter()
                .map(|m| {
                    Ok(MaterialRecord {
                        key_id: key.record.key_id.clone(),
                        wrapped: unb64("material", &m.wrapped)?,
                        rotation: match m.rotation.as_deref() {
                            None => None,
                            Some(r) => Some(RotationType::parse(r).ok_or_else(|| {
                                BackupError::Malformed(format!("rotation type {r}"))
                            })?),
                        },
                        material_id: m.material_id,
                        created: m.created,
                    })
                })
                .collect::<Result<_, BackupError>>()?;
        keys.push((key.record, materials));
    }
    let aliases = body
        .aliases
        .into_iter()
        .map(|a| AliasRecord {
            account_id: a.account_id,
            region: a.region,
            name: a.name,
            target_key_id: a.target_key_id,
            created: a.created,
            updated: a.updated,
        })
        .collect();
    Ok(Snapshot {
        meta,
        credentials,
        keys,
        aliases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use trent_core::key::{
        BackendRef, KeyManager, KeySpec, KeyState, KeyUsage, Origin, RotationConfig,
    };

    fn snapshot() -> Snapshot {
        let record = KeyRecord {
            key_id: "k1".into(),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            created: 1,
            description: "d".into(),
            usage: KeyUsage::EncryptDecrypt,
            spec: KeySpec::SymmetricDefault,
            origin: Origin::AwsKms,
            manager: KeyManager::Customer,
            state: KeyState::Enabled,
            deletion_date: None,
            pending_window_days: None,
            policy: "{}".into(),
            tags: vec![],
            rotation: RotationConfig::default(),
            current_material: "m2".into(),
            backend: BackendRef::Software,
            import: None,
            revision: 0,
        };
        let material = |id: &str, rotation| MaterialRecord {
            key_id: "k1".into(),
            material_id: id.into(),
            created: 2,
            rotation,
            wrapped: vec![1, 2, 3],
        };
        Snapshot {
            meta: vec![("root_key.sealed".into(), vec![9; 40])],
            credentials: vec![CredentialRecord {
                access_key_id: "AKID".into(),
                account_id: "111122223333".into(),
                user: Some("alice".into()),
                wrapped_secret: vec![4, 5],
                created: 3,
            }],
            keys: vec![(
                record,
                vec![
                    material("m1", None),
                    material("m2", Some(RotationType::OnDemand)),
                ],
            )],
            aliases: vec![AliasRecord {
                account_id: "111122223333".into(),
                region: "us-east-1".into(),
                name: "alias/a".into(),
                target_key_id: "k1".into(),
                created: 4,
                updated: 5,
            }],
        }
    }

    #[test]
    fn round_trip_and_integrity() {
        let root = RootKey::generate().unwrap();
        let file = encode(&snapshot(), &root, 42);
        let checked = decode(&file).unwrap();
        assert_eq!(checked.snapshot, snapshot());
        assert_eq!(check(&checked.pending, &root), Ok(()));
        let other = RootKey::generate().unwrap();
        assert_eq!(check(&checked.pending, &other), Err(BackupError::Integrity));
    }

    #[test]
    fn truncation_and_alteration_are_refused() {
        let root = RootKey::generate().unwrap();
        let file = encode(&snapshot(), &root, 42);
        for cut in [0, 5, 20, file.len() / 2, file.len() - 1] {
            let err = decode(&file[..cut]).unwrap_err();
            assert!(
                matches!(err, BackupError::Truncated | BackupError::NotABackup),
                "cut {cut}: {err:?}"
            );
        }
        for i in (9..file.len() - 32).step_by(7) {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            assert!(decode(&bad).is_err(), "flip at {i} accepted");
        }
        let mut extended = file.clone();
        extended.push(0);
        assert!(decode(&extended).is_err());
        // An attacker who edits the body and fixes the checksum still fails the HMAC.
        let mut forged = file[..file.len() - 64].to_vec();
        let pos = forged.windows(5).position(|w| w == b"alice").unwrap();
        forged[pos] = b'A';
        let checksum = digest(&SHA256, &forged);
        forged.extend_from_slice(checksum.as_ref());
        forged.extend_from_slice(&file[file.len() - 32..]);
        let checked = decode(&forged).unwrap();
        assert_eq!(check(&checked.pending, &root), Err(BackupError::Integrity));
    }
}
