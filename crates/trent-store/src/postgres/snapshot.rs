//! Whole-store export and import, for backups. Export runs in one
//! `REPEATABLE READ` read-only transaction (the caller opens it), so it sees
//! a single instant without blocking writers. Import writes everything in
//! one transaction into a store that must be empty.

use postgres::GenericClient;

use super::{aliases, col, credentials, keys, meta, query};
use crate::{Error, Result, Snapshot};

pub(super) fn export(c: &mut impl GenericClient) -> Result<Snapshot> {
    let key_ids = query(c, "SELECT key_id FROM keys ORDER BY key_id", &[])?
        .iter()
        .map(|row| col(row, 0))
        .collect::<Result<Vec<String>>>()?;
    let mut all_keys = Vec::with_capacity(key_ids.len());
    for key_id in key_ids {
        let record = keys::get(c, &key_id)?
            .ok_or_else(|| Error::Corrupt(format!("key {key_id} vanished")))?;
        all_keys.push((record, keys::materials(c, &key_id)?));
    }
    Ok(Snapshot {
        meta: meta::all(c)?,
        credentials: credentials::list(c)?,
        keys: all_keys,
        aliases: aliases::all(c)?,
    })
}

pub(super) fn import(c: &mut impl GenericClient, snapshot: &Snapshot) -> Result<()> {
    let rows = query(
        c,
        "SELECT (SELECT COUNT(*) FROM meta) + (SELECT COUNT(*) FROM keys) + (SELECT COUNT(*) FROM credentials)",
        &[],
    )?;
    let occupied: i64 = match rows.first() {
        Some(row) => col(row, 0)?,
        None => 0,
    };
    if occupied > 0 {
        return Err(Error::AlreadyExists);
    }
    for (name, value) in &snapshot.meta {
        meta::put(c, name, value)?;
    }
    for credential in &snapshot.credentials {
        credentials::put(c, credential)?;
    }
    for (key, materials) in &snapshot.keys {
        let (first, rest) = materials
            .split_first()
            .ok_or_else(|| Error::Corrupt(format!("key {} has no material", key.key_id)))?;
        keys::create(c, key, first)?;
        for material in rest {
            keys::add_material(c, &key.key_id, material)?;
        }
    }
    for alias in &snapshot.aliases {
        aliases::create(c, alias)?;
    }
    Ok(())
}
