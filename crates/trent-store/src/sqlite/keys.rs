//! The `keys` and `key_materials` tables.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use trent_core::key::{KeyRecord, MaterialRecord, RotationType, UnixMillis};

use super::{db, fetch_limit, page};
use crate::{Error, Page, Result};

/// A `keys` row as read: the JSON document and the revision column.
struct StoredKey {
    doc: String,
    revision: i64,
}

pub(super) fn create(
    tx: &Transaction<'_>,
    key: &KeyRecord,
    material: &MaterialRecord,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO keys (key_id, account_id, region, state, deletion_date, next_rotation, revision, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key.key_id,
            key.account_id,
            key.region,
            key.state.as_str(),
            key.deletion_date,
            next_rotation(key),
            encode(key)?,
        ])
    })
    .map_err(db)?;
    add_material(tx, &key.key_id, material)
}

pub(super) fn get(conn: &Connection, key_id: &str) -> Result<Option<KeyRecord>> {
    conn.prepare_cached("SELECT doc, revision FROM keys WHERE key_id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([key_id], |row| {
                Ok(StoredKey {
                    doc: row.get(0)?,
                    revision: row.get(1)?,
                })
            })
            .optional()
        })
        .map_err(db)?
        .map(|stored| decode(key_id, stored))
        .transpose()
}

/// Replaces the key's document if its revision is still `key.revision`.
pub(super) fn update(tx: &Transaction<'_>, key: &KeyRecord) -> Result<()> {
    // A revision past i64::MAX was never stored, so it cannot match.
    let Ok(expected) = i64::try_from(key.revision) else {
        return Err(missing_or_conflict(tx, &key.key_id));
    };
    let updated = tx
        .prepare_cached(
            "UPDATE keys SET account_id = ?2, region = ?3, state = ?4, deletion_date = ?5,
                 next_rotation = ?6, doc = ?7, revision = revision + 1
             WHERE key_id = ?1 AND revision = ?8",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                key.key_id,
                key.account_id,
                key.region,
                key.state.as_str(),
                key.deletion_date,
                next_rotation(key),
                encode(key)?,
                expected,
            ])
        })
        .map_err(db)?;
    if updated == 0 {
        return Err(missing_or_conflict(tx, &key.key_id));
    }
    Ok(())
}

/// Why an update matched no row: the key is gone, or its revision moved on.
fn missing_or_conflict(tx: &Transaction<'_>, key_id: &str) -> Error {
    let exists = tx
        .prepare_cached("SELECT 1 FROM keys WHERE key_id = ?1")
        .and_then(|mut stmt| stmt.exists([key_id]));
    match exists {
        Ok(true) => Error::Conflict,
        Ok(false) => Error::NotFound,
        Err(e) => db(e),
    }
}

/// Adds a material version to `key_id` as the newest one. The record's own
/// `key_id` is not consulted: the material is stored under the key it is
/// written with.
pub(super) fn add_material(
    tx: &Transaction<'_>,
    key_id: &str,
    material: &MaterialRecord,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO key_materials (key_id, material_id, seq, created, rotation, wrapped)
         SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, ?4, ?5 FROM key_materials WHERE key_id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key_id,
            material.material_id,
            material.created,
            material.rotation.map(RotationType::as_str),
            material.wrapped,
        ])
    })
    .map_err(db)?;
    Ok(())
}

/// Replaces the wrapped bytes of an existing material version (imported
/// material arriving, or emptied when it is deleted).
pub(super) fn set_material_bytes(
    tx: &Transaction<'_>,
    key_id: &str,
    material_id: &str,
    wrapped: &[u8],
) -> Result<()> {
    let updated = tx
        .prepare_cached(
            "UPDATE key_materials SET wrapped = ?3 WHERE key_id = ?1 AND material_id = ?2",
        )
        .and_then(|mut stmt| stmt.execute(params![key_id, material_id, wrapped]))
        .map_err(db)?;
    if updated == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// A `key_materials` row as read, before its rotation type is parsed.
struct StoredMaterial {
    material_id: String,
    created: UnixMillis,
    rotation: Option<String>,
    wrapped: Vec<u8>,
}

pub(super) fn materials(conn: &Connection, key_id: &str) -> Result<Vec<MaterialRecord>> {
    let rows: Vec<StoredMaterial> = conn
        .prepare_cached(
            "SELECT material_id, created, rotation, wrapped FROM key_materials WHERE key_id = ?1 ORDER BY seq",
        )
        .and_then(|mut stmt| {
            stmt.query_map([key_id], |row| {
                Ok(StoredMaterial {
                    material_id: row.get(0)?,
                    created: row.get(1)?,
                    rotation: row.get(2)?,
                    wrapped: row.get(3)?,
                })
            })?
            .collect()
        })
        .map_err(db)?;
    rows.into_iter()
        .map(|row| {
            let rotation = match row.rotation.as_deref() {
                None => None,
                Some(name) => Some(RotationType::parse(name).ok_or_else(|| {
                    Error::Corrupt(format!(
                        "material {} of key {key_id}: rotation type {name:?}",
                        row.material_id
                    ))
                })?),
            };
            Ok(MaterialRecord {
                key_id: key_id.to_owned(),
                material_id: row.material_id,
                created: row.created,
                rotation,
                wrapped: row.wrapped,
            })
        })
        .collect()
}

/// Deletes a key with its materials and the aliases pointing to it.
pub(super) fn delete(tx: &Transaction<'_>, key_id: &str) -> Result<bool> {
    // Materials would also go by ON DELETE CASCADE; deleting them by name
    // keeps this correct on a connection without foreign keys enabled.
    let execute = |sql: &str| {
        tx.prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute([key_id]))
            .map_err(db)
    };
    execute("DELETE FROM aliases WHERE target_key_id = ?1")?;
    execute("DELETE FROM key_materials WHERE key_id = ?1")?;
    Ok(execute("DELETE FROM keys WHERE key_id = ?1")? > 0)
}

const LIST: &str = "SELECT key_id, doc, revision FROM keys
     WHERE account_id = ?1 AND region = ?2 AND key_id > ?3
     ORDER BY key_id LIMIT ?4";

pub(super) fn list(
    conn: &Connection,
    account_id: &str,
    region: &str,
    marker: Option<&str>,
    limit: usize,
) -> Result<Page<KeyRecord>> {
    let rows: Vec<(String, StoredKey)> = conn
        .prepare_cached(LIST)
        .and_then(|mut stmt| {
            stmt.query_map(
                params![account_id, region, marker.unwrap_or(""), fetch_limit(limit)],
                |row| {
                    Ok((
                        row.get(0)?,
                        StoredKey {
                            doc: row.get(1)?,
                            revision: row.get(2)?,
                        },
                    ))
                },
            )?
            .collect()
        })
        .map_err(db)?;
    let keys = rows
        .into_iter()
        .map(|(key_id, stored)| decode(&key_id, stored))
        .collect::<Result<_>>()?;
    Ok(page(keys, limit, |key: &KeyRecord| &key.key_id))
}

/// Ids of keys in PendingDeletion whose deletion date has come, or whose
/// rotation is enabled and due (in any state: the caller re-reads the key
/// and decides). Each half is served by its partial index; a UNION or an
/// ORDER BY would tempt the planner into merging two scans of the primary
/// key instead, so the (few) ids are sorted and deduplicated here.
const DUE: &str = "SELECT key_id FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= ?1
     UNION ALL
     SELECT key_id FROM keys WHERE next_rotation <= ?1";

pub(super) fn count_by_state(conn: &Connection) -> Result<Vec<(String, u64)>> {
    conn.prepare_cached("SELECT state, COUNT(*) FROM keys GROUP BY state ORDER BY state")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?.max(0) as u64,
                ))
            })?
            .collect()
        })
        .map_err(db)
}

pub(super) fn due(conn: &Connection, now: UnixMillis) -> Result<Vec<String>> {
    let mut ids: Vec<String> = conn
        .prepare_cached(DUE)
        .and_then(|mut stmt| stmt.query_map([now], |row| row.get(0))?.collect())
        .map_err(db)?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The `next_rotation` column: when the scheduler must next look at the key
/// for a job other than deletion — the next automatic rotation (while
/// enabled), or imported material or import parameters expiring, whichever
/// comes first. The scheduler re-reads the key and decides what is due
/// (`KeyRecord::next_job`).
fn next_rotation(key: &KeyRecord) -> Option<UnixMillis> {
    key.next_job()
}

/// The `doc` column: the record as JSON without its revision, which lives
/// in its own column only (a copy in the document would go stale).
fn encode(key: &KeyRecord) -> rusqlite::Result<String> {
    let mut doc =
        serde_json::to_value(key).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    if let Some(fields) = doc.as_object_mut() {
        fields.remove("revision");
    }
    Ok(doc.to_string())
}

fn decode(key_id: &str, stored: StoredKey) -> Result<KeyRecord> {
    let mut key: KeyRecord = serde_json::from_str(&stored.doc)
        .map_err(|e| Error::Corrupt(format!("key {key_id}: {e}")))?;
    key.revision = u64::try_from(stored.revision)
        .map_err(|_| Error::Corrupt(format!("key {key_id}: revision {}", stored.revision)))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan of `sql`, one line per step.
    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let bound = (1..=stmt.parameter_count())
            .map(|_| 0)
            .collect::<Vec<i64>>();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(bound), |row| {
                row.get::<_, String>(3)
            })
            .unwrap();
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("\n")
    }

    #[test]
    fn queries_use_their_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let due = plan(&conn, DUE);
        assert!(due.contains("USING INDEX keys_pending_deletion"), "{due}");
        assert!(due.contains("USING INDEX keys_next_rotation"), "{due}");
        assert!(!due.contains("SCAN keys"), "{due}");
        let list = plan(&conn, LIST);
        assert!(
            list.contains("USING COVERING INDEX keys_by_account")
                || list.contains("USING INDEX keys_by_account"),
            "{list}"
        );
        assert!(!list.contains("TEMP B-TREE"), "{list}");
    }
}
