//! The store suite (`suite.rs`), run against every backend: SQLite in a
//! temporary file, and PostgreSQL in a fresh database per test on the
//! server `TRENT_TEST_POSTGRES_URL` names (`scripts/ci/postgres.sh start`
//! prints it; `.ci/run` sets it). Without that variable the PostgreSQL
//! half is skipped, loudly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backends;
mod suite;

use trent_store::{Error, Store};

/// A backend under test: a fresh, empty store location plus the raw
/// access some tests need to look behind the `Store` seam.
pub(crate) trait Backend: Sized + Sync {
    /// The store type.
    type Store: Store;
    /// Whether several servers share this kind of store (change feeds and
    /// exclusive leases are expected).
    const SHARED: bool;
    /// A fresh location; `None` if this backend is unavailable here.
    fn new() -> Option<Self>;
    /// Another fresh, empty location of the same backend.
    fn fresh(&self) -> Self {
        Self::new().expect("the backend was available a moment ago")
    }
    /// Opens (and migrates) the store.
    fn try_open(&self) -> Result<Self::Store, Error>;
    fn open(&self) -> Self::Store {
        self.try_open().unwrap()
    }
    /// The first column of the first row of `sql`, as text.
    fn query_text(&self, sql: &str) -> Option<String>;
    /// The first column of the first row of `sql`, as a number.
    fn query_i64(&self, sql: &str) -> i64;
    /// Runs a statement behind the store's back.
    fn execute(&self, sql: &str);
    fn schema_version(&self) -> i64;
    fn set_schema_version(&self, version: i64);
    /// Checks that a commit is durable when it returns.
    fn assert_durable_commits(&self);
}

/// Instantiates every suite test for one backend.
macro_rules! store_suite {
    ($backend:ty: $($test:ident)*) => {
        $(
            #[test]
            fn $test() {
                if let Some(fixture) = <$backend as crate::Backend>::new() {
                    crate::suite::$test(&fixture);
                }
            }
        )*
    };
}

macro_rules! all_tests {
    ($backend:ty) => {
        store_suite!($backend: meta_round_trip credentials_round_trip key_round_trip_and_revisions stored_document_carries_no_revision rotation_type_is_stored_by_wire_name rotation_adds_material_in_the_same_transaction duplicates_are_already_exists aliases_round_trip alias_listing_pages_and_filters delete_key_cascades_to_materials_and_aliases key_listing_pages keys_due_for_deletion_and_rotation migrations_are_idempotent newer_schema_is_refused simultaneous_first_opens_migrate_once open_configures_durable_commits two_stores_on_one_database_see_each_other concurrent_writers_on_one_database_all_commit writes_survive_reopening concurrent_writes_share_commits_and_fail_alone racing_alias_creations_have_one_winner racing_updates_of_one_key_have_one_winner export_import_round_trip keys_are_counted_by_state changes_and_leases_across_stores material_bytes_are_replaced_with_the_key );
    };
}

mod sqlite {
    all_tests!(crate::backends::Sqlite);
}

mod postgres {
    all_tests!(crate::backends::Postgres);
}
