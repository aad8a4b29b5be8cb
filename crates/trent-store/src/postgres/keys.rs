//! The `keys` and `key_materials` tables.

use postgres::{GenericClient, Row};
use trent_core::key::{KeyRecord, MaterialRecord, RotationType, UnixMillis};

use super::{col, execute, query};
use crate::sqlite::{fetch_limit, page};
use crate::{Error, Page, Result};

pub(super) fn create(
    c: &mut impl GenericClient,
    key: &KeyRecord,
    material: &MaterialRecord,
) -> Result<()> {
    execute(
        c,
        "INSERT INTO keys (key_id, account_id, region, state, deletion_date, next_rotation, revision, doc)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        &[
            &key.key_id,
            &key.account_id,
            &key.region,
            &key.state.as_str(),
            &key.deletion_date,
            &next_rotation(key),
            &encode(key)?,
        ],
    )?;
    add_material(c, &key.key_id, material)
}

pub(super) fn get(c: &mut impl GenericClient, key_id: &str) -> Result<Option<KeyRecord>> {
    query(
        c,
        "SELECT key_id, doc, revision FROM keys WHERE key_id = $1",
        &[&key_id],
    )?
    .first()
    .map(decode)
    .transpose()
}

/// Replaces the key's document if its revision is still `key.revision`.
pub(super) fn update(c: &mut impl GenericClient, key: &KeyRecord) -> Result<()> {
    // A revision past i64::MAX was never stored, so it cannot match.
    let Ok(expected) = i64::try_from(key.revision) else {
        return Err(missing_or_conflict(c, &key.key_id));
    };
    let updated = execute(
        c,
        "UPDATE keys SET account_id = $2, region = $3, state = $4, deletion_date = $5,
             next_rotation = $6, doc = $7, revision = revision + 1
         WHERE key_id = $1 AND revision = $8",
        &[
            &key.key_id,
            &key.account_id,
            &key.region,
            &key.state.as_str(),
            &key.deletion_date,
            &next_rotation(key),
            &encode(key)?,
            &expected,
        ],
    )?;
    if updated == 0 {
        return Err(missing_or_conflict(c, &key.key_id));
    }
    Ok(())
}

/// Why an update matched no row: the key is gone, or its revision moved on.
fn missing_or_conflict(c: &mut impl GenericClient, key_id: &str) -> Error {
    match query(c, "SELECT 1 FROM keys WHERE key_id = $1", &[&key_id]) {
        Ok(rows) if rows.is_empty() => Error::NotFound,
        Ok(_) => Error::Conflict,
        Err(e) => e,
    }
}

/// Adds a material version to `key_id` as the newest one (the record's own
/// `key_id` is not consulted). Concurrent rotations of one key are already
/// serialized by the row lock of the `keys` update that precedes this.
pub(super) fn add_material(
    c: &mut impl GenericClient,
    key_id: &str,
    material: &MaterialRecord,
) -> Result<()> {
    execute(
        c,
        "INSERT INTO key_materials (key_id, material_id, seq, created, rotation, wrapped)
         SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5 FROM key_materials WHERE key_id = $1",
        &[
            &key_id,
            &material.material_id,
            &material.created,
            &material.rotation.map(RotationType::as_str),
            &material.wrapped,
        ],
    )?;
    Ok(())
}

/// Replaces one material version's stored bytes (imported material arriving,
/// or deleted: empty bytes). `Error::NotFound` if the version does not exist.
pub(super) fn set_material_bytes(
    c: &mut impl GenericClient,
    key_id: &str,
    material_id: &str,
    wrapped: &[u8],
) -> Result<()> {
    let updated = execute(
        c,
        "UPDATE key_materials SET wrapped = $3 WHERE key_id = $1 AND material_id = $2",
        &[&key_id, &material_id, &wrapped],
    )?;
    if updated == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

pub(super) fn materials(c: &mut impl GenericClient, key_id: &str) -> Result<Vec<MaterialRecord>> {
    query(
        c,
        "SELECT material_id, created, rotation, wrapped FROM key_materials WHERE key_id = $1 ORDER BY seq",
        &[&key_id],
    )?
    .iter()
    .map(|row| {
        let material_id: String = col(row, 0)?;
        let rotation: Option<String> = col(row, 2)?;
        let rotation = match rotation.as_deref() {
            None => None,
            Some(name) => Some(RotationType::parse(name).ok_or_else(|| {
                Error::Corrupt(format!(
                    "material {material_id} of key {key_id}: rotation type {name:?}"
                ))
            })?),
        };
        Ok(MaterialRecord {
            key_id: key_id.to_owned(),
            material_id,
            created: col(row, 1)?,
            rotation,
            wrapped: col(row, 3)?,
        })
    })
    .collect()
}

/// Deletes a key with its materials and the aliases pointing to it.
pub(super) fn delete(c: &mut impl GenericClient, key_id: &str) -> Result<bool> {
    execute(
        c,
        "DELETE FROM aliases WHERE target_key_id = $1",
        &[&key_id],
    )?;
    execute(c, "DELETE FROM key_materials WHERE key_id = $1", &[&key_id])?;
    Ok(execute(c, "DELETE FROM keys WHERE key_id = $1", &[&key_id])? > 0)
}

pub(super) fn list(
    c: &mut impl GenericClient,
    account_id: &str,
    region: &str,
    marker: Option<&str>,
    limit: usize,
) -> Result<Page<KeyRecord>> {
    let keys = query(
        c,
        "SELECT key_id, doc, revision FROM keys
         WHERE account_id = $1 AND region = $2 AND key_id > $3
         ORDER BY key_id LIMIT $4",
        &[
            &account_id,
            &region,
            &marker.unwrap_or(""),
            &fetch_limit(limit),
        ],
    )?
    .iter()
    .map(decode)
    .collect::<Result<Vec<_>>>()?;
    Ok(page(keys, limit, |key: &KeyRecord| &key.key_id))
}

pub(super) fn count_by_state(c: &mut impl GenericClient) -> Result<Vec<(String, u64)>> {
    query(
        c,
        "SELECT state, COUNT(*) FROM keys GROUP BY state ORDER BY state",
        &[],
    )?
    .iter()
    .map(|row| Ok((col(row, 0)?, col::<i64>(row, 1)?.max(0).unsigned_abs())))
    .collect()
}

/// Ids of keys whose deletion or rotation is due; see the SQLite store.
pub(super) fn due(c: &mut impl GenericClient, now: UnixMillis) -> Result<Vec<String>> {
    let mut ids = query(
        c,
        "SELECT key_id FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= $1
         UNION ALL
         SELECT key_id FROM keys WHERE next_rotation <= $1",
        &[&now],
    )?
    .iter()
    .map(|row| col(row, 0))
    .collect::<Result<Vec<String>>>()?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The `next_rotation` column: when the scheduler next has work on the key
/// (automatic rotation while enabled, or imported material expiring), as
/// `KeyRecord::next_job` says — the same column the SQLite store fills.
fn next_rotation(key: &KeyRecord) -> Option<UnixMillis> {
    key.next_job()
}

/// The `doc` column: the record as JSON without its revision.
fn encode(key: &KeyRecord) -> Result<String> {
    let mut doc = serde_json::to_value(key)
        .map_err(|e| Error::Corrupt(format!("key {}: {e}", key.key_id)))?;
    if let Some(fields) = doc.as_object_mut() {
        fields.remove("revision");
    }
    Ok(doc.to_string())
}

/// A `(key_id, doc, revision)` row.
fn decode(row: &Row) -> Result<KeyRecord> {
    let key_id: String = col(row, 0)?;
    let doc: String = col(row, 1)?;
    let revision: i64 = col(row, 2)?;
    let mut key: KeyRecord =
        serde_json::from_str(&doc).map_err(|e| Error::Corrupt(format!("key {key_id}: {e}")))?;
    key.revision = u64::try_from(revision)
        .map_err(|_| Error::Corrupt(format!("key {key_id}: revision {revision}")))?;
    Ok(key)
}
