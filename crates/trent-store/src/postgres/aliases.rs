//! The `aliases` table.

use postgres::{GenericClient, Row};
use trent_core::key::UnixMillis;

use super::{col, execute, query};
use crate::sqlite::{fetch_limit, page};
use crate::{AliasRecord, Error, Page, Result};

const COLUMNS: &str = "account_id, region, name, target_key_id, created, updated";

pub(super) fn create(c: &mut impl GenericClient, alias: &AliasRecord) -> Result<()> {
    execute(
        c,
        &format!("INSERT INTO aliases ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        &[
            &alias.account_id,
            &alias.region,
            &alias.name,
            &alias.target_key_id,
            &alias.created,
            &alias.updated,
        ],
    )?;
    Ok(())
}

pub(super) fn update(
    c: &mut impl GenericClient,
    account_id: &str,
    region: &str,
    name: &str,
    target_key_id: &str,
    now: UnixMillis,
) -> Result<()> {
    let updated = execute(
        c,
        "UPDATE aliases SET target_key_id = $4, updated = $5
         WHERE account_id = $1 AND region = $2 AND name = $3",
        &[&account_id, &region, &name, &target_key_id, &now],
    )?;
    if updated == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

pub(super) fn delete(
    c: &mut impl GenericClient,
    account_id: &str,
    region: &str,
    name: &str,
) -> Result<bool> {
    let deleted = execute(
        c,
        "DELETE FROM aliases WHERE account_id = $1 AND region = $2 AND name = $3",
        &[&account_id, &region, &name],
    )?;
    Ok(deleted > 0)
}

pub(super) fn get(
    c: &mut impl GenericClient,
    account_id: &str,
    region: &str,
    name: &str,
) -> Result<Option<AliasRecord>> {
    query(
        c,
        &format!(
            "SELECT {COLUMNS} FROM aliases WHERE account_id = $1 AND region = $2 AND name = $3"
        ),
        &[&account_id, &region, &name],
    )?
    .first()
    .map(from_row)
    .transpose()
}

pub(super) fn list(
    c: &mut impl GenericClient,
    account_id: &str,
    region: &str,
    target_key_id: Option<&str>,
    marker: Option<&str>,
    limit: usize,
) -> Result<Page<AliasRecord>> {
    let aliases = query(
        c,
        &format!(
            "SELECT {COLUMNS} FROM aliases
             WHERE account_id = $1 AND region = $2 AND name > $3
               AND ($4::TEXT IS NULL OR target_key_id = $4)
             ORDER BY name LIMIT $5"
        ),
        &[
            &account_id,
            &region,
            &marker.unwrap_or(""),
            &target_key_id,
            &fetch_limit(limit),
        ],
    )?
    .iter()
    .map(from_row)
    .collect::<Result<Vec<_>>>()?;
    Ok(page(aliases, limit, |alias: &AliasRecord| &alias.name))
}

/// Every alias, for a snapshot.
pub(super) fn all(c: &mut impl GenericClient) -> Result<Vec<AliasRecord>> {
    query(
        c,
        &format!("SELECT {COLUMNS} FROM aliases ORDER BY account_id, region, name"),
        &[],
    )?
    .iter()
    .map(from_row)
    .collect()
}

fn from_row(row: &Row) -> Result<AliasRecord> {
    Ok(AliasRecord {
        account_id: col(row, 0)?,
        region: col(row, 1)?,
        name: col(row, 2)?,
        target_key_id: col(row, 3)?,
        created: col(row, 4)?,
        updated: col(row, 5)?,
    })
}
