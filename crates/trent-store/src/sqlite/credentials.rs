//! The `credentials` table: access keys with their wrapped secrets.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use trent_core::credential::CredentialRecord;

use super::db;
use crate::Result;

const COLUMNS: &str = "access_key_id, account_id, user_name, wrapped_secret, created";

pub(super) fn put(tx: &Transaction<'_>, credential: &CredentialRecord) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO credentials (access_key_id, account_id, user_name, wrapped_secret, created)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (access_key_id) DO UPDATE SET
             account_id = excluded.account_id,
             user_name = excluded.user_name,
             wrapped_secret = excluded.wrapped_secret,
             created = excluded.created",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            credential.access_key_id,
            credential.account_id,
            credential.user,
            credential.wrapped_secret,
            credential.created,
        ])
    })
    .map_err(db)?;
    Ok(())
}

pub(super) fn get(conn: &Connection, access_key_id: &str) -> Result<Option<CredentialRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM credentials WHERE access_key_id = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([access_key_id], from_row).optional())
    .map_err(db)
}

pub(super) fn list(conn: &Connection) -> Result<Vec<CredentialRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM credentials ORDER BY access_key_id"
    ))
    .and_then(|mut stmt| stmt.query_map([], from_row)?.collect())
    .map_err(db)
}

pub(super) fn remove(tx: &Transaction<'_>, access_key_id: &str) -> Result<bool> {
    let removed = tx
        .prepare_cached("DELETE FROM credentials WHERE access_key_id = ?1")
        .and_then(|mut stmt| stmt.execute([access_key_id]))
        .map_err(db)?;
    Ok(removed > 0)
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<CredentialRecord> {
    Ok(CredentialRecord {
        access_key_id: row.get(0)?,
        account_id: row.get(1)?,
        user: row.get(2)?,
        wrapped_secret: row.get(3)?,
        created: row.get(4)?,
    })
}
