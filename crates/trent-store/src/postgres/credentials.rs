//! The `credentials` table: access keys with their wrapped secrets.

use postgres::{GenericClient, Row};
use trent_core::credential::CredentialRecord;

use super::{col, execute, query};
use crate::Result;

const COLUMNS: &str = "access_key_id, account_id, user_name, wrapped_secret, created";

pub(super) fn put(c: &mut impl GenericClient, credential: &CredentialRecord) -> Result<()> {
    execute(
        c,
        "INSERT INTO credentials (access_key_id, account_id, user_name, wrapped_secret, created)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (access_key_id) DO UPDATE SET
             account_id = excluded.account_id,
             user_name = excluded.user_name,
             wrapped_secret = excluded.wrapped_secret,
             created = excluded.created",
        &[
            &credential.access_key_id,
            &credential.account_id,
            &credential.user,
            &credential.wrapped_secret,
            &credential.created,
        ],
    )?;
    Ok(())
}

pub(super) fn get(
    c: &mut impl GenericClient,
    access_key_id: &str,
) -> Result<Option<CredentialRecord>> {
    query(
        c,
        &format!("SELECT {COLUMNS} FROM credentials WHERE access_key_id = $1"),
        &[&access_key_id],
    )?
    .first()
    .map(from_row)
    .transpose()
}

pub(super) fn list(c: &mut impl GenericClient) -> Result<Vec<CredentialRecord>> {
    query(
        c,
        &format!("SELECT {COLUMNS} FROM credentials ORDER BY access_key_id"),
        &[],
    )?
    .iter()
    .map(from_row)
    .collect()
}

pub(super) fn remove(c: &mut impl GenericClient, access_key_id: &str) -> Result<bool> {
    Ok(execute(
        c,
        "DELETE FROM credentials WHERE access_key_id = $1",
        &[&access_key_id],
    )? > 0)
}

fn from_row(row: &Row) -> Result<CredentialRecord> {
    Ok(CredentialRecord {
        access_key_id: col(row, 0)?,
        account_id: col(row, 1)?,
        user: col(row, 2)?,
        wrapped_secret: col(row, 3)?,
        created: col(row, 4)?,
    })
}
