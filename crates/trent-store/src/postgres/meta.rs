//! The `meta` table: named opaque values.

use postgres::GenericClient;

use super::{col, execute, query};
use crate::Result;

pub(super) fn get(c: &mut impl GenericClient, name: &str) -> Result<Option<Vec<u8>>> {
    query(c, "SELECT value FROM meta WHERE name = $1", &[&name])?
        .first()
        .map(|row| col(row, 0))
        .transpose()
}

pub(super) fn put_if_absent(c: &mut impl GenericClient, name: &str, value: &[u8]) -> Result<bool> {
    let written = execute(
        c,
        "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&name, &value],
    )?;
    Ok(written == 1)
}

pub(super) fn put(c: &mut impl GenericClient, name: &str, value: &[u8]) -> Result<()> {
    execute(
        c,
        "INSERT INTO meta (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        &[&name, &value],
    )?;
    Ok(())
}

/// Every entry, for a snapshot.
pub(super) fn all(c: &mut impl GenericClient) -> Result<Vec<(String, Vec<u8>)>> {
    query(c, "SELECT name, value FROM meta ORDER BY name", &[])?
        .iter()
        .map(|row| Ok((col(row, 0)?, col(row, 1)?)))
        .collect()
}
