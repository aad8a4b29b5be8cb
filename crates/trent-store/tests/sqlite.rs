//! The SQLite store against the `Store` contract: round trips, optimistic
//! concurrency, cascades, paging, due keys, migrations, several processes on
//! one file, and durability across reopening.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use trent_core::credential::CredentialRecord;
use trent_core::key::{
    BackendRef, KeyManager, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialRecord, Origin,
    RotationConfig, RotationType, Tag,
};
use trent_store::sqlite::SqliteStore;
use trent_store::{AliasRecord, Error, Page, Store};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

/// A temporary directory holding one store file.
struct Fixture {
    _dir: TempDir,
    path: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trent.db");
        Self { _dir: dir, path }
    }

    fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path).unwrap()
    }
}

fn key(key_id: &str) -> KeyRecord {
    key_in(key_id, ACCOUNT, REGION)
}

fn key_in(key_id: &str, account_id: &str, region: &str) -> KeyRecord {
    KeyRecord {
        key_id: key_id.into(),
        account_id: account_id.into(),
        region: region.into(),
        created: 1_700_000_000_000,
        description: format!("key {key_id}"),
        usage: KeyUsage::EncryptDecrypt,
        spec: KeySpec::SymmetricDefault,
        origin: Origin::AwsKms,
        manager: KeyManager::Customer,
        state: KeyState::Enabled,
        deletion_date: None,
        pending_window_days: None,
        policy: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
        tags: vec![Tag {
            key: "team".into(),
            value: "payments".into(),
        }],
        rotation: RotationConfig::default(),
        current_material: material_id(key_id, 1),
        backend: BackendRef::Software,
        revision: 0,
    }
}

fn material_id(key_id: &str, n: u8) -> String {
    format!("{:0>62}{n:02x}", key_id.len())
}

fn material(key_id: &str, n: u8, rotation: Option<RotationType>) -> MaterialRecord {
    MaterialRecord {
        key_id: key_id.into(),
        material_id: material_id(key_id, n),
        created: 1_700_000_000_000 + i64::from(n),
        rotation,
        wrapped: vec![n; 60],
    }
}

fn credential(access_key_id: &str, user: Option<&str>) -> CredentialRecord {
    CredentialRecord {
        access_key_id: access_key_id.into(),
        account_id: ACCOUNT.into(),
        user: user.map(Into::into),
        wrapped_secret: access_key_id.bytes().rev().collect(),
        created: 42,
    }
}

fn alias(name: &str, target_key_id: &str) -> AliasRecord {
    AliasRecord {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        name: name.into(),
        target_key_id: target_key_id.into(),
        created: 5,
        updated: 5,
    }
}

fn create(store: &SqliteStore, key_id: &str) -> KeyRecord {
    let record = key(key_id);
    store
        .create_key(&record, &material(key_id, 1, None))
        .unwrap();
    record
}

fn ids(page: &Page<KeyRecord>) -> Vec<&str> {
    page.items.iter().map(|k| k.key_id.as_str()).collect()
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[test]
fn meta_round_trip() {
    let fx = Fixture::new();
    let store = fx.open();
    assert_eq!(store.get_meta("root").unwrap(), None);
    assert!(store.put_meta_if_absent("root", b"sealed-1").unwrap());
    assert!(!store.put_meta_if_absent("root", b"sealed-2").unwrap());
    assert_eq!(
        store.get_meta("root").unwrap().as_deref(),
        Some(&b"sealed-1"[..])
    );
}

#[test]
fn credentials_round_trip() {
    let fx = Fixture::new();
    let store = fx.open();
    assert_eq!(store.get_credential("AKIDB").unwrap(), None);
    store
        .put_credential(&credential("AKIDB", Some("alice")))
        .unwrap();
    store.put_credential(&credential("AKIDA", None)).unwrap();
    assert_eq!(
        store.get_credential("AKIDB").unwrap(),
        Some(credential("AKIDB", Some("alice")))
    );
    assert_eq!(
        store.list_credentials().unwrap(),
        vec![
            credential("AKIDA", None),
            credential("AKIDB", Some("alice"))
        ]
    );

    let mut replaced = credential("AKIDB", None);
    replaced.wrapped_secret = vec![9; 48];
    store.put_credential(&replaced).unwrap();
    assert_eq!(store.get_credential("AKIDB").unwrap(), Some(replaced));

    assert!(store.remove_credential("AKIDB").unwrap());
    assert!(!store.remove_credential("AKIDB").unwrap());
    assert_eq!(store.get_credential("AKIDB").unwrap(), None);
    assert_eq!(store.list_credentials().unwrap().len(), 1);
}

#[test]
fn key_round_trip_and_revisions() {
    let fx = Fixture::new();
    let store = fx.open();
    assert_eq!(store.get_key("k1").unwrap(), None);
    let mut record = key("k1");
    record.revision = 7; // ignored: the store owns revisions
    store.create_key(&record, &material("k1", 1, None)).unwrap();

    let mut stored = store.get_key("k1").unwrap().unwrap();
    assert_eq!(stored.revision, 0);
    assert_eq!(
        stored,
        KeyRecord {
            revision: 0,
            ..record
        }
    );
    assert_eq!(
        store.materials("k1").unwrap(),
        vec![material("k1", 1, None)]
    );

    stored.disable().unwrap();
    stored.description = "changed".into();
    store.update_key(&stored).unwrap();
    let updated = store.get_key("k1").unwrap().unwrap();
    assert_eq!(updated.revision, 1);
    assert_eq!(
        updated,
        KeyRecord {
            revision: 1,
            ..stored.clone()
        }
    );

    // `stored` still carries revision 0: someone else won.
    assert!(matches!(store.update_key(&stored), Err(Error::Conflict)));
    assert!(matches!(
        store.update_key(&key("missing")),
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.update_key(&KeyRecord {
            revision: u64::MAX,
            ..key("k1")
        }),
        Err(Error::Conflict)
    ));
    assert_eq!(store.get_key("k1").unwrap().unwrap(), updated);
}

#[test]
fn stored_document_carries_no_revision() {
    let fx = Fixture::new();
    let store = fx.open();
    let mut record = create(&store, "k1");
    record.revision = 0;
    store.update_key(&record).unwrap();
    let doc: String = raw(&fx.path)
        .query_row("SELECT doc FROM keys", [], |row| row.get(0))
        .unwrap();
    assert!(!doc.contains("revision"), "{doc}");
    assert!(doc.contains("payments"), "{doc}");
}

#[test]
fn rotation_type_is_stored_by_wire_name() {
    let fx = Fixture::new();
    let store = fx.open();
    let record = create(&store, "k1");
    store
        .update_key_with_material(&record, &material("k1", 2, Some(RotationType::OnDemand)))
        .unwrap();
    let conn = raw(&fx.path);
    let stored: Option<String> = conn
        .query_row(
            "SELECT rotation FROM key_materials WHERE seq = 2",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(stored.as_deref(), Some("ON_DEMAND"));

    conn.execute(
        "UPDATE key_materials SET rotation = 'SOMETIMES' WHERE seq = 2",
        [],
    )
    .unwrap();
    assert!(matches!(store.materials("k1"), Err(Error::Corrupt(_))));
}

#[test]
fn rotation_adds_material_in_the_same_transaction() {
    let fx = Fixture::new();
    let store = fx.open();
    let mut record = create(&store, "k1");

    record.rotated(material_id("k1", 2), RotationType::OnDemand, 10);
    store
        .update_key_with_material(&record, &material("k1", 2, Some(RotationType::OnDemand)))
        .unwrap();
    let mut current = store.get_key("k1").unwrap().unwrap();
    assert_eq!(current.revision, 1);
    assert_eq!(current.current_material, material_id("k1", 2));

    current.rotated(material_id("k1", 3), RotationType::Automatic, 20);
    store
        .update_key_with_material(&current, &material("k1", 3, Some(RotationType::Automatic)))
        .unwrap();

    // A stale rotation fails as a whole: no material is added.
    record.rotated(material_id("k1", 4), RotationType::OnDemand, 30);
    let stale =
        store.update_key_with_material(&record, &material("k1", 4, Some(RotationType::OnDemand)));
    assert!(matches!(stale, Err(Error::Conflict)));
    let missing = store.update_key_with_material(&key("nope"), &material("nope", 1, None));
    assert!(matches!(missing, Err(Error::NotFound)));

    assert_eq!(
        store.materials("k1").unwrap(),
        vec![
            material("k1", 1, None),
            material("k1", 2, Some(RotationType::OnDemand)),
            material("k1", 3, Some(RotationType::Automatic)),
        ]
    );
    assert_eq!(store.get_key("k1").unwrap().unwrap().revision, 2);
    assert!(store.materials("nope").unwrap().is_empty());
}

#[test]
fn duplicates_are_already_exists() {
    let fx = Fixture::new();
    let store = fx.open();
    create(&store, "k1");
    let again = store.create_key(&key("k1"), &material("k1", 9, None));
    assert!(matches!(again, Err(Error::AlreadyExists)));
    assert_eq!(store.materials("k1").unwrap().len(), 1);

    store.create_alias(&alias("alias/app", "k1")).unwrap();
    assert!(matches!(
        store.create_alias(&alias("alias/app", "k2")),
        Err(Error::AlreadyExists)
    ));
    assert_eq!(
        store
            .get_alias(ACCOUNT, REGION, "alias/app")
            .unwrap()
            .unwrap()
            .target_key_id,
        "k1"
    );
    // The same name in another region is another alias.
    store
        .create_alias(&AliasRecord {
            region: "eu-west-1".into(),
            ..alias("alias/app", "k1")
        })
        .unwrap();
}

#[test]
fn aliases_round_trip() {
    let fx = Fixture::new();
    let store = fx.open();
    assert_eq!(store.get_alias(ACCOUNT, REGION, "alias/a").unwrap(), None);
    store.create_alias(&alias("alias/a", "k1")).unwrap();
    assert_eq!(
        store.get_alias(ACCOUNT, REGION, "alias/a").unwrap(),
        Some(alias("alias/a", "k1"))
    );

    store
        .update_alias(ACCOUNT, REGION, "alias/a", "k2", 9)
        .unwrap();
    let updated = AliasRecord {
        target_key_id: "k2".into(),
        updated: 9,
        ..alias("alias/a", "k1")
    };
    assert_eq!(
        store.get_alias(ACCOUNT, REGION, "alias/a").unwrap(),
        Some(updated)
    );
    assert!(matches!(
        store.update_alias(ACCOUNT, REGION, "alias/zz", "k2", 9),
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.update_alias("999999999999", REGION, "alias/a", "k2", 9),
        Err(Error::NotFound)
    ));

    assert!(store.delete_alias(ACCOUNT, REGION, "alias/a").unwrap());
    assert!(!store.delete_alias(ACCOUNT, REGION, "alias/a").unwrap());
    assert_eq!(store.get_alias(ACCOUNT, REGION, "alias/a").unwrap(), None);
}

#[test]
fn alias_listing_pages_and_filters() {
    let fx = Fixture::new();
    let store = fx.open();
    for (name, target) in [
        ("alias/c", "k1"),
        ("alias/a", "k1"),
        ("alias/b", "k2"),
        ("alias/d", "k1"),
    ] {
        store.create_alias(&alias(name, target)).unwrap();
    }
    store
        .create_alias(&AliasRecord {
            account_id: "999999999999".into(),
            ..alias("alias/x", "k1")
        })
        .unwrap();
    let names = |page: &Page<AliasRecord>| {
        page.items
            .iter()
            .map(|a| a.name.clone())
            .collect::<Vec<_>>()
    };

    let first = store.list_aliases(ACCOUNT, REGION, None, None, 2).unwrap();
    assert_eq!(names(&first), ["alias/a", "alias/b"]);
    assert_eq!(first.next_marker.as_deref(), Some("alias/b"));
    let second = store
        .list_aliases(ACCOUNT, REGION, None, first.next_marker.as_deref(), 2)
        .unwrap();
    assert_eq!(names(&second), ["alias/c", "alias/d"]);
    assert_eq!(second.next_marker, None);

    let of_k1 = store
        .list_aliases(ACCOUNT, REGION, Some("k1"), None, 2)
        .unwrap();
    assert_eq!(names(&of_k1), ["alias/a", "alias/c"]);
    let rest = store
        .list_aliases(ACCOUNT, REGION, Some("k1"), of_k1.next_marker.as_deref(), 2)
        .unwrap();
    assert_eq!(names(&rest), ["alias/d"]);
    assert_eq!(rest.next_marker, None);
    assert!(
        store
            .list_aliases(ACCOUNT, "eu-west-1", None, None, 10)
            .unwrap()
            .items
            .is_empty()
    );
}

#[test]
fn delete_key_cascades_to_materials_and_aliases() {
    let fx = Fixture::new();
    let store = fx.open();
    let mut record = create(&store, "k1");
    create(&store, "k2");
    record.rotated(material_id("k1", 2), RotationType::OnDemand, 10);
    store
        .update_key_with_material(&record, &material("k1", 2, Some(RotationType::OnDemand)))
        .unwrap();
    store.create_alias(&alias("alias/one", "k1")).unwrap();
    store.create_alias(&alias("alias/two", "k1")).unwrap();
    store.create_alias(&alias("alias/other", "k2")).unwrap();

    assert!(store.delete_key("k1").unwrap());
    assert_eq!(store.get_key("k1").unwrap(), None);
    assert!(store.materials("k1").unwrap().is_empty());
    assert_eq!(store.get_alias(ACCOUNT, REGION, "alias/one").unwrap(), None);
    assert_eq!(store.get_alias(ACCOUNT, REGION, "alias/two").unwrap(), None);
    assert!(
        store
            .get_alias(ACCOUNT, REGION, "alias/other")
            .unwrap()
            .is_some()
    );
    assert_eq!(store.materials("k2").unwrap().len(), 1);
    let orphans: i64 = raw(&fx.path)
        .query_row(
            "SELECT count(*) FROM key_materials WHERE key_id = 'k1'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    assert!(!store.delete_key("k1").unwrap());

    // The id can be reused afterwards.
    create(&store, "k1");
    assert_eq!(
        store.materials("k1").unwrap(),
        vec![material("k1", 1, None)]
    );
}

#[test]
fn key_listing_pages() {
    let fx = Fixture::new();
    let store = fx.open();
    for id in ["k3", "k1", "k2"] {
        create(&store, id);
    }
    store
        .create_key(
            &key_in("k0", "999999999999", REGION),
            &material("k0", 1, None),
        )
        .unwrap();
    store
        .create_key(
            &key_in("k4", ACCOUNT, "eu-west-1"),
            &material("k4", 1, None),
        )
        .unwrap();

    let first = store.list_keys(ACCOUNT, REGION, None, 2).unwrap();
    assert_eq!(ids(&first), ["k1", "k2"]);
    let marker = first.next_marker.expect("a second page");
    let second = store.list_keys(ACCOUNT, REGION, Some(&marker), 2).unwrap();
    assert_eq!(ids(&second), ["k3"]);
    assert_eq!(second.next_marker, None);

    let exact = store.list_keys(ACCOUNT, REGION, None, 3).unwrap();
    assert_eq!(ids(&exact), ["k1", "k2", "k3"]);
    assert_eq!(exact.next_marker, None);
    assert_eq!(
        ids(&store.list_keys(ACCOUNT, "eu-west-1", None, 100).unwrap()),
        ["k4"]
    );
    assert!(
        store
            .list_keys("000000000000", REGION, None, 100)
            .unwrap()
            .items
            .is_empty()
    );

    // Listed records carry their revision like `get_key`.
    let mut k2 = store.get_key("k2").unwrap().unwrap();
    k2.description = "new".into();
    store.update_key(&k2).unwrap();
    let listed = store.list_keys(ACCOUNT, REGION, Some("k1"), 1).unwrap();
    assert_eq!(listed.items, vec![store.get_key("k2").unwrap().unwrap()]);
    assert_eq!(listed.items[0].revision, 1);
}

#[test]
fn keys_due_for_deletion_and_rotation() {
    let fx = Fixture::new();
    let store = fx.open();
    let now = 1_800_000_000_000;
    let mut deleting = create(&store, "deleting");
    let mut later = create(&store, "later");
    let mut rotating = create(&store, "rotating");
    let mut rotating_later = create(&store, "rotating-later");
    let mut rotation_off = create(&store, "rotation-off");
    create(&store, "idle");

    deleting
        .schedule_deletion(Some(7), now - 7 * trent_core::key::DAY_MILLIS)
        .unwrap();
    store.update_key(&deleting).unwrap();
    later.schedule_deletion(Some(7), now).unwrap();
    store.update_key(&later).unwrap();
    rotating
        .enable_rotation(Some(90), now - 90 * trent_core::key::DAY_MILLIS)
        .unwrap();
    store.update_key(&rotating).unwrap();
    rotating_later.enable_rotation(Some(90), now).unwrap();
    store.update_key(&rotating_later).unwrap();
    // Rotation switched off keeps no schedule, even if the record has a date.
    rotation_off.rotation = RotationConfig {
        enabled: false,
        period_days: None,
        next_rotation: Some(0),
        on_demand_started: None,
    };
    store.update_key(&rotation_off).unwrap();

    assert_eq!(store.keys_due(now).unwrap(), ["deleting", "rotating"]);
    assert_eq!(store.keys_due(now - 1).unwrap(), Vec::<String>::new());

    // Cancelling the deletion takes the key off the list.
    let mut deleting = store.get_key("deleting").unwrap().unwrap();
    deleting.cancel_deletion().unwrap();
    store.update_key(&deleting).unwrap();
    assert_eq!(store.keys_due(now).unwrap(), ["rotating"]);

    let far = now + 365 * trent_core::key::DAY_MILLIS;
    assert_eq!(
        store.keys_due(far).unwrap(),
        ["later", "rotating", "rotating-later"]
    );
}

#[test]
fn migrations_are_idempotent() {
    let fx = Fixture::new();
    let store = fx.open();
    store.put_credential(&credential("AKID", None)).unwrap();
    let second = fx.open();
    drop(store);
    drop(second);
    let third = fx.open();
    assert_eq!(
        third.get_credential("AKID").unwrap(),
        Some(credential("AKID", None))
    );
    let version: i64 = raw(&fx.path)
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 1);
}

#[test]
fn newer_schema_is_refused() {
    let fx = Fixture::new();
    drop(fx.open());
    raw(&fx.path)
        .pragma_update(None, "user_version", 99)
        .unwrap();
    match SqliteStore::open(&fx.path) {
        Err(Error::SchemaTooNew { found, supported }) => assert_eq!((found, supported), (99, 1)),
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn simultaneous_first_opens_migrate_once() {
    let fx = Fixture::new();
    let path = &fx.path;
    std::thread::scope(|scope| {
        let openers: Vec<_> = (0..4)
            .map(|_| scope.spawn(move || SqliteStore::open(path).map(drop)))
            .collect();
        for opener in openers {
            opener.join().unwrap().unwrap();
        }
    });
    let version: i64 = raw(&fx.path)
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 1);
}

#[test]
fn open_configures_wal() {
    let fx = Fixture::new();
    let _store = fx.open();
    let mode: String = raw(&fx.path)
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn two_stores_on_one_file_see_each_other() {
    let fx = Fixture::new();
    let server = fx.open();
    let cli = fx.open();

    // A read before the write must not pin an old snapshot on the reader.
    assert_eq!(server.get_credential("AKIDCLI").unwrap(), None);
    cli.put_credential(&credential("AKIDCLI", Some("bob")))
        .unwrap();
    assert_eq!(
        server.get_credential("AKIDCLI").unwrap(),
        Some(credential("AKIDCLI", Some("bob")))
    );
    assert!(server.remove_credential("AKIDCLI").unwrap());
    assert_eq!(cli.get_credential("AKIDCLI").unwrap(), None);

    // Optimistic concurrency holds across processes too.
    let record = create(&server, "k1");
    let mut by_cli = cli.get_key("k1").unwrap().unwrap();
    by_cli.description = "cli".into();
    cli.update_key(&by_cli).unwrap();
    assert!(matches!(server.update_key(&record), Err(Error::Conflict)));
    assert_eq!(server.get_key("k1").unwrap().unwrap().description, "cli");
}

#[test]
fn concurrent_writers_on_one_file_all_commit() {
    let fx = Fixture::new();
    let stores = [fx.open(), fx.open()];
    std::thread::scope(|scope| {
        for (s, store) in stores.iter().enumerate() {
            for t in 0..2 {
                scope.spawn(move || {
                    for i in 0..15 {
                        store
                            .put_credential(&credential(&format!("AKID{s}{t}{i:02}"), None))
                            .unwrap();
                    }
                });
            }
        }
    });
    assert_eq!(stores[0].list_credentials().unwrap().len(), 60);
}

#[test]
fn writes_survive_reopening() {
    let fx = Fixture::new();
    let mut record = key("k1");
    {
        let store = fx.open();
        store.put_meta_if_absent("root", b"sealed").unwrap();
        store.put_credential(&credential("AKID", None)).unwrap();
        store.create_key(&record, &material("k1", 1, None)).unwrap();
        record.rotated(material_id("k1", 2), RotationType::OnDemand, 10);
        store
            .update_key_with_material(&record, &material("k1", 2, Some(RotationType::OnDemand)))
            .unwrap();
        store.create_alias(&alias("alias/k1", "k1")).unwrap();
    }
    let store = fx.open();
    assert_eq!(
        store.get_meta("root").unwrap().as_deref(),
        Some(&b"sealed"[..])
    );
    assert_eq!(
        store.get_credential("AKID").unwrap(),
        Some(credential("AKID", None))
    );
    assert_eq!(
        store.get_key("k1").unwrap(),
        Some(KeyRecord {
            revision: 1,
            ..record
        })
    );
    assert_eq!(store.materials("k1").unwrap().len(), 2);
    assert_eq!(
        store.get_alias(ACCOUNT, REGION, "alias/k1").unwrap(),
        Some(alias("alias/k1", "k1"))
    );
}

#[test]
fn concurrent_writes_share_commits_and_fail_alone() {
    let fixture = Fixture::new();
    let store = std::sync::Arc::new(fixture.open());
    create(&store, "dup");
    let threads: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                // Every eighth writer collides with an existing key: it must
                // fail without taking its batch-mates down with it.
                let key_id = if i % 8 == 0 {
                    "dup".to_owned()
                } else {
                    format!("k{i:02}")
                };
                store.create_key(&key(&key_id), &material(&key_id, 1, None))
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for (i, result) in results.iter().enumerate() {
        if i % 8 == 0 {
            assert!(
                matches!(result, Err(Error::AlreadyExists)),
                "writer {i}: {result:?}"
            );
        } else {
            assert!(result.is_ok(), "writer {i}: {result:?}");
        }
    }
    let page = store.list_keys(ACCOUNT, REGION, None, 1000).unwrap();
    assert_eq!(page.items.len(), 1 + 56);
    for (i, _) in results.iter().enumerate().filter(|(i, _)| i % 8 != 0) {
        assert_eq!(store.materials(&format!("k{i:02}")).unwrap().len(), 1);
    }
}
