//! The schema and its migrations.
//!
//! The version lives in `trent_schema(version)`. Migrating takes a
//! transaction-scoped advisory lock first, so when several nodes start at
//! once exactly one runs each step and the others, once the lock is theirs,
//! find the work done. PostgreSQL's DDL is transactional: a step and its
//! version bump commit together or not at all. Steps are only ever appended.
//!
//! The tables mirror the SQLite store's (see `sqlite/schema.rs`) column for
//! column, with PostgreSQL's types: `TEXT`, `BIGINT` (Unix milliseconds,
//! revisions), `BYTEA` (wrapped secrets and material). Ids and names that
//! listings sort and page by are `COLLATE "C"`: byte order, as in SQLite,
//! whatever the database's locale.

use postgres::Client;

use super::{col, db, query};
use crate::{Error, Result};

/// The advisory lock id that serializes migrations ("trent-mi").
const MIGRATION_LOCK: i64 = 0x7472_656e_742d_6d69;

/// The schema steps; version N is reached by running the first N.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    CREATE TABLE meta (
        name  TEXT NOT NULL PRIMARY KEY,
        value BYTEA NOT NULL
    );

    CREATE TABLE credentials (
        access_key_id  TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,
        account_id     TEXT NOT NULL,
        user_name      TEXT,
        wrapped_secret BYTEA NOT NULL,
        created        BIGINT NOT NULL
    );

    CREATE TABLE keys (
        key_id        TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,
        account_id    TEXT NOT NULL,
        region        TEXT NOT NULL,
        state         TEXT NOT NULL,
        deletion_date BIGINT,
        next_rotation BIGINT,
        revision      BIGINT NOT NULL,
        doc           TEXT NOT NULL
    );
    CREATE INDEX keys_by_account ON keys (account_id, region, key_id);
    CREATE INDEX keys_pending_deletion ON keys (deletion_date) WHERE state = 'PendingDeletion';
    CREATE INDEX keys_next_rotation ON keys (next_rotation) WHERE next_rotation IS NOT NULL;

    CREATE TABLE key_materials (
        key_id      TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        material_id TEXT NOT NULL,
        seq         BIGINT NOT NULL,
        created     BIGINT NOT NULL,
        rotation    TEXT,
        wrapped     BYTEA NOT NULL,
        PRIMARY KEY (key_id, material_id),
        UNIQUE (key_id, seq)
    );

    CREATE TABLE aliases (
        account_id    TEXT NOT NULL,
        region        TEXT NOT NULL,
        name          TEXT COLLATE \"C\" NOT NULL,
        target_key_id TEXT NOT NULL,
        created       BIGINT NOT NULL,
        updated       BIGINT NOT NULL,
        PRIMARY KEY (account_id, region, name)
    );
    CREATE INDEX aliases_by_target ON aliases (target_key_id);
    ",
];

/// The schema version this binary writes.
pub(crate) const SUPPORTED: i64 = MIGRATIONS.len() as i64;

/// Brings the database's schema up to [`SUPPORTED`], in one transaction.
pub(super) fn migrate(client: &mut Client) -> Result<()> {
    let mut tx = client.transaction().map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(db)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS trent_schema (version BIGINT NOT NULL);
         INSERT INTO trent_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM trent_schema);",
    )
    .map_err(db)?;
    let rows = query(&mut tx, "SELECT version FROM trent_schema", &[])?;
    let found: i64 = match rows.first() {
        Some(row) => col(row, 0)?,
        None => 0,
    };
    if found > SUPPORTED {
        return Err(Error::SchemaTooNew {
            found,
            supported: SUPPORTED,
        });
    }
    for step in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
        tx.batch_execute(step).map_err(db)?;
    }
    if found < SUPPORTED {
        tx.execute("UPDATE trent_schema SET version = $1", &[&SUPPORTED])
            .map_err(db)?;
    }
    tx.commit().map_err(db)
}
