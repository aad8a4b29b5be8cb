//! The `meta` table: named opaque values.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::db;
use crate::Result;

pub(super) fn get(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")
        .and_then(|mut stmt| stmt.query_row([name], |row| row.get(0)).optional())
        .map_err(db)
}

pub(super) fn put_if_absent(tx: &Transaction<'_>, name: &str, value: &[u8]) -> Result<bool> {
    let written = tx
        .prepare_cached(
            "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        )
        .and_then(|mut stmt| stmt.execute(params![name, value]))
        .map_err(db)?;
    Ok(written == 1)
}

pub(super) fn put(tx: &Transaction<'_>, name: &str, value: &[u8]) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta (name, value) VALUES (?1, ?2) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .and_then(|mut stmt| stmt.execute(params![name, value]))
    .map_err(db)?;
    Ok(())
}
