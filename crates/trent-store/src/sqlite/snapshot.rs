//! Whole-store export and import, for backups. Export reads every table
//! inside one read transaction, so in WAL mode it sees a single instant and
//! never blocks writers. Import writes everything in one transaction into a
//! store that must be empty.

use rusqlite::{Connection, Transaction};

use super::{aliases, credentials, db, keys, meta};
use crate::{AliasRecord, Error, Result, Snapshot};

pub(super) fn export(conn: &Connection) -> Result<Snapshot> {
    conn.execute_batch("BEGIN").map_err(db)?;
    let result = read_all(conn);
    // A read transaction has nothing to keep; end it whatever happened.
    let _ = conn.execute_batch("COMMIT");
    result
}

fn read_all(conn: &Connection) -> Result<Snapshot> {
    let meta = conn
        .prepare("SELECT name, value FROM meta ORDER BY name")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .map_err(db)?;
    let key_ids: Vec<String> = conn
        .prepare("SELECT key_id FROM keys ORDER BY key_id")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
        .map_err(db)?;
    let mut all_keys = Vec::with_capacity(key_ids.len());
    for key_id in key_ids {
        let record = keys::get(conn, &key_id)?
            .ok_or_else(|| Error::Corrupt(format!("key {key_id} vanished")))?;
        all_keys.push((record, keys::materials(conn, &key_id)?));
    }
    let aliases = conn
        .prepare(
            "SELECT account_id, region, name, target_key_id, created, updated FROM aliases
             ORDER BY account_id, region, name",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |row| {
                Ok(AliasRecord {
                    account_id: row.get(0)?,
                    region: row.get(1)?,
                    name: row.get(2)?,
                    target_key_id: row.get(3)?,
                    created: row.get(4)?,
                    updated: row.get(5)?,
                })
            })?
            .collect()
        })
        .map_err(db)?;
    Ok(Snapshot {
        meta,
        credentials: credentials::list(conn)?,
        keys: all_keys,
        aliases,
    })
}

pub(super) fn import(tx: &Transaction<'_>, snapshot: &Snapshot) -> Result<()> {
    let occupied: i64 = tx
        .query_row(
            "SELECT (SELECT COUNT(*) FROM meta) + (SELECT COUNT(*) FROM keys) + (SELECT COUNT(*) FROM credentials)",
            [],
            |row| row.get(0),
        )
        .map_err(db)?;
    if occupied > 0 {
        return Err(Error::AlreadyExists);
    }
    for (name, value) in &snapshot.meta {
        meta::put(tx, name, value)?;
    }
    for credential in &snapshot.credentials {
        credentials::put(tx, credential)?;
    }
    for (key, materials) in &snapshot.keys {
        let (first, rest) = materials
            .split_first()
            .ok_or_else(|| Error::Corrupt(format!("key {} has no material", key.key_id)))?;
        keys::create(tx, key, first)?;
        for material in rest {
            keys::add_material(tx, &key.key_id, material)?;
        }
    }
    for alias in &snapshot.aliases {
        aliases::create(tx, alias)?;
    }
    Ok(())
}
