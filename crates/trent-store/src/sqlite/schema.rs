//! The schema and its migrations.
//!
//! The schema version is SQLite's `user_version` (0 in a new file). Each
//! entry of [`MIGRATIONS`] takes the schema from its index to its index + 1
//! and runs in its own `BEGIN IMMEDIATE` transaction together with the
//! version bump, so a crash or a second process opening the same file at the
//! same moment can neither skip nor repeat a step. Migrations are only ever
//! appended; a released one is never edited.
//!
//! Tables (version 1):
//! - `meta(name, value)`: opaque values such as the sealed root key.
//! - `credentials(access_key_id, account_id, user_name, wrapped_secret, created)`.
//! - `keys(key_id, account_id, region, state, deletion_date, next_rotation,
//!   revision, doc)`: `doc` is the `KeyRecord` as JSON, without its revision;
//!   the other columns are copies of its fields that queries need, rewritten
//!   from it on every write. `next_rotation` is set only while automatic
//!   rotation is enabled. `revision` is the truth for optimistic concurrency.
//! - `key_materials(key_id, material_id, seq, created, rotation, wrapped)`:
//!   material versions, `seq` counting from 1, `rotation` the wire name of a
//!   `RotationType`; deleted with their key.
//! - `aliases(account_id, region, name, target_key_id, created, updated)`.

use rusqlite::{Connection, TransactionBehavior};

use super::db;
use crate::{Error, Result};

/// The schema steps; version N is reached by running the first N.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    CREATE TABLE meta (
        name  TEXT NOT NULL PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;

    CREATE TABLE credentials (
        access_key_id  TEXT NOT NULL PRIMARY KEY,
        account_id     TEXT NOT NULL,
        user_name      TEXT,
        wrapped_secret BLOB NOT NULL,
        created        INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE keys (
        key_id        TEXT NOT NULL PRIMARY KEY,
        account_id    TEXT NOT NULL,
        region        TEXT NOT NULL,
        state         TEXT NOT NULL,
        deletion_date INTEGER,
        next_rotation INTEGER,
        revision      INTEGER NOT NULL,
        doc           TEXT NOT NULL
    ) STRICT;
    CREATE INDEX keys_by_account ON keys (account_id, region, key_id);
    CREATE INDEX keys_pending_deletion ON keys (deletion_date) WHERE state = 'PendingDeletion';
    CREATE INDEX keys_next_rotation ON keys (next_rotation) WHERE next_rotation IS NOT NULL;

    CREATE TABLE key_materials (
        key_id      TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
        material_id TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        created     INTEGER NOT NULL,
        rotation    TEXT,
        wrapped     BLOB NOT NULL,
        PRIMARY KEY (key_id, material_id),
        UNIQUE (key_id, seq)
    ) STRICT;

    CREATE TABLE aliases (
        account_id    TEXT NOT NULL,
        region        TEXT NOT NULL,
        name          TEXT NOT NULL,
        target_key_id TEXT NOT NULL,
        created       INTEGER NOT NULL,
        updated       INTEGER NOT NULL,
        PRIMARY KEY (account_id, region, name)
    ) STRICT;
    CREATE INDEX aliases_by_target ON aliases (target_key_id);
    ",
];

/// The schema version this binary writes.
pub(super) const SUPPORTED: i64 = MIGRATIONS.len() as i64;

/// Brings the schema of `conn`'s database up to [`SUPPORTED`].
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    // Checked without a write lock first: an up-to-date store (the common
    // case) opens without waiting for a busy writer.
    if check(version(conn)?)? == SUPPORTED {
        return Ok(());
    }
    for (done, step) in (0..).zip(MIGRATIONS) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        // Re-read under the lock: another process may have migrated meanwhile.
        if check(version(&tx)?)? == done {
            tx.execute_batch(step).map_err(db)?;
            tx.pragma_update(None, "user_version", done + 1)
                .map_err(db)?;
        }
        tx.commit().map_err(db)?;
    }
    Ok(())
}

/// The schema version of `conn`'s database.
pub(super) fn version(conn: &Connection) -> Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(db)
}

fn check(found: i64) -> Result<i64> {
    if found > SUPPORTED {
        return Err(Error::SchemaTooNew {
            found,
            supported: SUPPORTED,
        });
    }
    Ok(found)
}
