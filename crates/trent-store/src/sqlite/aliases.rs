//! The `aliases` table.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use trent_core::key::UnixMillis;

use super::{db, fetch_limit, page};
use crate::{AliasRecord, Error, Page, Result};

const COLUMNS: &str = "account_id, region, name, target_key_id, created, updated";

pub(super) fn create(tx: &Transaction<'_>, alias: &AliasRecord) -> Result<()> {
    tx.prepare_cached(&format!(
        "INSERT INTO aliases ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(params![
            alias.account_id,
            alias.region,
            alias.name,
            alias.target_key_id,
            alias.created,
            alias.updated,
        ])
    })
    .map_err(db)?;
    Ok(())
}

pub(super) fn update(
    tx: &Transaction<'_>,
    account_id: &str,
    region: &str,
    name: &str,
    target_key_id: &str,
    now: UnixMillis,
) -> Result<()> {
    let updated = tx
        .prepare_cached(
            "UPDATE aliases SET target_key_id = ?4, updated = ?5
             WHERE account_id = ?1 AND region = ?2 AND name = ?3",
        )
        .and_then(|mut stmt| stmt.execute(params![account_id, region, name, target_key_id, now]))
        .map_err(db)?;
    if updated == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

pub(super) fn delete(
    tx: &Transaction<'_>,
    account_id: &str,
    region: &str,
    name: &str,
) -> Result<bool> {
    let deleted = tx
        .prepare_cached("DELETE FROM aliases WHERE account_id = ?1 AND region = ?2 AND name = ?3")
        .and_then(|mut stmt| stmt.execute([account_id, region, name]))
        .map_err(db)?;
    Ok(deleted > 0)
}

pub(super) fn get(
    conn: &Connection,
    account_id: &str,
    region: &str,
    name: &str,
) -> Result<Option<AliasRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM aliases WHERE account_id = ?1 AND region = ?2 AND name = ?3"
    ))
    .and_then(|mut stmt| {
        stmt.query_row([account_id, region, name], from_row)
            .optional()
    })
    .map_err(db)
}

pub(super) fn list(
    conn: &Connection,
    account_id: &str,
    region: &str,
    target_key_id: Option<&str>,
    marker: Option<&str>,
    limit: usize,
) -> Result<Page<AliasRecord>> {
    let aliases = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM aliases
             WHERE account_id = ?1 AND region = ?2 AND name > ?3 AND (?4 IS NULL OR target_key_id = ?4)
             ORDER BY name LIMIT ?5"
        ))
        .and_then(|mut stmt| {
            stmt.query_map(
                params![account_id, region, marker.unwrap_or(""), target_key_id, fetch_limit(limit)],
                from_row,
            )?
            .collect()
        })
        .map_err(db)?;
    Ok(page(aliases, limit, |alias: &AliasRecord| &alias.name))
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<AliasRecord> {
    Ok(AliasRecord {
        account_id: row.get(0)?,
        region: row.get(1)?,
        name: row.get(2)?,
        target_key_id: row.get(3)?,
        created: row.get(4)?,
        updated: row.get(5)?,
    })
}
