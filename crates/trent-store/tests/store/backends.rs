//! The backends the suite runs on.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use tempfile::TempDir;
use trent_store::Error;
use trent_store::postgres::PostgresStore;
use trent_store::sqlite::SqliteStore;

use crate::Backend;

/// A temporary directory holding one SQLite file.
pub(crate) struct Sqlite {
    _dir: TempDir,
    path: PathBuf,
}

impl Sqlite {
    fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).unwrap()
    }
}

impl Backend for Sqlite {
    type Store = SqliteStore;
    const SHARED: bool = false;

    fn new() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trent.db");
        Some(Self { _dir: dir, path })
    }

    fn try_open(&self) -> Result<SqliteStore, Error> {
        SqliteStore::open(&self.path)
    }

    fn query_text(&self, sql: &str) -> Option<String> {
        self.raw().query_row(sql, [], |row| row.get(0)).unwrap()
    }

    fn query_i64(&self, sql: &str) -> i64 {
        self.raw().query_row(sql, [], |row| row.get(0)).unwrap()
    }

    fn execute(&self, sql: &str) {
        self.raw().execute(sql, []).unwrap();
    }

    fn schema_version(&self) -> i64 {
        self.raw()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    }

    fn set_schema_version(&self, version: i64) {
        self.raw()
            .pragma_update(None, "user_version", version)
            .unwrap();
    }

    fn assert_durable_commits(&self) {
        // WAL with synchronous=FULL (set per connection, checked by the
        // store's own unit tests): the journal mode is in the file.
        let mode: String = self
            .raw()
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}

/// A database of its own on the test server, dropped afterwards.
pub(crate) struct Postgres {
    admin_url: String,
    database: String,
    url: String,
}

impl Postgres {
    fn raw(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }
}

/// The server URL with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (authority, _) = base.rsplit_once('/').unwrap();
    match query {
        Some(query) => format!("{authority}/{database}?{query}"),
        None => format!("{authority}/{database}"),
    }
}

impl Backend for Postgres {
    type Store = PostgresStore;
    const SHARED: bool = true;

    fn new() -> Option<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let Ok(admin_url) = std::env::var("TRENT_TEST_POSTGRES_URL") else {
            // Straight to stderr: the test harness swallows `eprintln!`.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! SKIPPED: TRENT_TEST_POSTGRES_URL is not set, so the PostgreSQL store \
                 suite did not run.\n!!! Run `eval \"$(scripts/ci/postgres.sh start)\"` first.\n"
            );
            return None;
        };
        let database = format!(
            "trent_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // CREATE DATABASE copies template1 and fails while another copy
        // runs: one at a time, retried if another process is copying too.
        static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = CREATING.lock().unwrap_or_else(|e| e.into_inner());
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .unwrap();
        let mut attempts = 0;
        while let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {database}")) {
            attempts += 1;
            assert!(attempts < 50, "creating {database}: {e}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let url = with_database(&admin_url, &database);
        Some(Self {
            admin_url,
            database,
            url,
        })
    }

    fn try_open(&self) -> Result<PostgresStore, Error> {
        PostgresStore::open(&self.url)
    }

    fn query_text(&self, sql: &str) -> Option<String> {
        self.raw().query_one(sql, &[]).unwrap().get(0)
    }

    fn query_i64(&self, sql: &str) -> i64 {
        self.raw().query_one(sql, &[]).unwrap().get(0)
    }

    fn execute(&self, sql: &str) {
        self.raw().batch_execute(sql).unwrap();
    }

    fn schema_version(&self) -> i64 {
        self.query_i64("SELECT version FROM trent_schema")
    }

    fn set_schema_version(&self, version: i64) {
        self.execute(&format!("UPDATE trent_schema SET version = {version}"));
    }

    fn assert_durable_commits(&self) {
        for (setting, durable) in [("fsync", "on"), ("synchronous_commit", "on")] {
            let value = self.query_text(&format!("SHOW {setting}"));
            assert_eq!(value.as_deref(), Some(durable), "{setting}");
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            ));
        }
    }
}
