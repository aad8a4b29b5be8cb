//! The `Store` contract, written once and run against every backend (see
//! `main.rs`): round trips, optimistic concurrency, cascades, paging, due
//! keys, migrations, several stores on one database, and durability across
//! reopening.

use trent_core::credential::CredentialRecord;
use trent_core::key::{
    BackendRef, KeyManager, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialRecord, Origin,
    RotationConfig, RotationType, Tag,
};
use trent_store::{AliasRecord, Error, Page, Store};

use crate::Backend;

pub(crate) const ACCOUNT: &str = "111122223333";
pub(crate) const REGION: &str = "us-east-1";

pub(crate) fn key(key_id: &str) -> KeyRecord {
    key_in(key_id, ACCOUNT, REGION)
}

pub(crate) fn key_in(key_id: &str, account_id: &str, region: &str) -> KeyRecord {
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
        import: None,
        revision: 0,
    }
}

pub(crate) fn material_id(key_id: &str, n: u8) -> String {
    format!("{:0>62}{n:02x}", key_id.len())
}

pub(crate) fn material(key_id: &str, n: u8, rotation: Option<RotationType>) -> MaterialRecord {
    MaterialRecord {
        key_id: key_id.into(),
        material_id: material_id(key_id, n),
        created: 1_700_000_000_000 + i64::from(n),
        rotation,
        wrapped: vec![n; 60],
    }
}

pub(crate) fn credential(access_key_id: &str, user: Option<&str>) -> CredentialRecord {
    CredentialRecord {
        access_key_id: access_key_id.into(),
        account_id: ACCOUNT.into(),
        user: user.map(Into::into),
        wrapped_secret: access_key_id.bytes().rev().collect(),
        created: 42,
    }
}

pub(crate) fn alias(name: &str, target_key_id: &str) -> AliasRecord {
    AliasRecord {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        name: name.into(),
        target_key_id: target_key_id.into(),
        created: 5,
        updated: 5,
    }
}

pub(crate) fn create(store: &impl Store, key_id: &str) -> KeyRecord {
    let record = key(key_id);
    store
        .create_key(&record, &material(key_id, 1, None))
        .unwrap();
    record
}

pub(crate) fn ids(page: &Page<KeyRecord>) -> Vec<&str> {
    page.items.iter().map(|k| k.key_id.as_str()).collect()
}

pub(crate) fn meta_round_trip<B: Backend>(fx: &B) {
    let store = fx.open();
    assert_eq!(store.get_meta("root").unwrap(), None);
    assert!(store.put_meta_if_absent("root", b"sealed-1").unwrap());
    assert!(!store.put_meta_if_absent("root", b"sealed-2").unwrap());
    assert_eq!(
        store.get_meta("root").unwrap().as_deref(),
        Some(&b"sealed-1"[..])
    );
}

pub(crate) fn credentials_round_trip<B: Backend>(fx: &B) {
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

pub(crate) fn key_round_trip_and_revisions<B: Backend>(fx: &B) {
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

pub(crate) fn stored_document_carries_no_revision<B: Backend>(fx: &B) {
    let store = fx.open();
    let mut record = create(&store, "k1");
    record.revision = 0;
    store.update_key(&record).unwrap();
    let doc = fx.query_text("SELECT doc FROM keys").unwrap();
    assert!(!doc.contains("revision"), "{doc}");
    assert!(doc.contains("payments"), "{doc}");
}

pub(crate) fn rotation_type_is_stored_by_wire_name<B: Backend>(fx: &B) {
    let store = fx.open();
    let record = create(&store, "k1");
    store
        .update_key_with_material(&record, &material("k1", 2, Some(RotationType::OnDemand)))
        .unwrap();
    let stored = fx.query_text("SELECT rotation FROM key_materials WHERE seq = 2");
    assert_eq!(stored.as_deref(), Some("ON_DEMAND"));

    fx.execute("UPDATE key_materials SET rotation = 'SOMETIMES' WHERE seq = 2");
    assert!(matches!(store.materials("k1"), Err(Error::Corrupt(_))));
}

pub(crate) fn rotation_adds_material_in_the_same_transaction<B: Backend>(fx: &B) {
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

pub(crate) fn duplicates_are_already_exists<B: Backend>(fx: &B) {
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

pub(crate) fn aliases_round_trip<B: Backend>(fx: &B) {
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

pub(crate) fn alias_listing_pages_and_filters<B: Backend>(fx: &B) {
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

pub(crate) fn delete_key_cascades_to_materials_and_aliases<B: Backend>(fx: &B) {
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
    let orphans = fx.query_i64("SELECT count(*) FROM key_materials WHERE key_id = 'k1'");
    assert_eq!(orphans, 0);
    assert!(!store.delete_key("k1").unwrap());

    // The id can be reused afterwards.
    create(&store, "k1");
    assert_eq!(
        store.materials("k1").unwrap(),
        vec![material("k1", 1, None)]
    );
}

pub(crate) fn key_listing_pages<B: Backend>(fx: &B) {
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

pub(crate) fn keys_due_for_deletion_and_rotation<B: Backend>(fx: &B) {
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

pub(crate) fn migrations_are_idempotent<B: Backend>(fx: &B) {
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
    assert_eq!(fx.schema_version(), 1);
}

pub(crate) fn newer_schema_is_refused<B: Backend>(fx: &B) {
    drop(fx.open());
    fx.set_schema_version(99);
    match fx.try_open() {
        Err(Error::SchemaTooNew { found, supported }) => assert_eq!((found, supported), (99, 1)),
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

pub(crate) fn simultaneous_first_opens_migrate_once<B: Backend>(fx: &B) {
    std::thread::scope(|scope| {
        let openers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| fx.try_open().map(drop)))
            .collect();
        for opener in openers {
            opener.join().unwrap().unwrap();
        }
    });
    assert_eq!(fx.schema_version(), 1);
}

pub(crate) fn open_configures_durable_commits<B: Backend>(fx: &B) {
    let _store = fx.open();
    fx.assert_durable_commits();
}

pub(crate) fn two_stores_on_one_database_see_each_other<B: Backend>(fx: &B) {
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

pub(crate) fn concurrent_writers_on_one_database_all_commit<B: Backend>(fx: &B) {
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

pub(crate) fn writes_survive_reopening<B: Backend>(fx: &B) {
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

pub(crate) fn concurrent_writes_share_commits_and_fail_alone<B: Backend>(fx: &B) {
    let store = std::sync::Arc::new(fx.open());
    create(store.as_ref(), "dup");
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

pub(crate) fn racing_alias_creations_have_one_winner<B: Backend>(fx: &B) {
    let stores = [fx.open(), fx.open(), fx.open()];
    for round in 0..10 {
        let name = format!("alias/race-{round}");
        let results: Vec<_> = std::thread::scope(|scope| {
            let racers: Vec<_> = stores
                .iter()
                .enumerate()
                .map(|(i, store)| {
                    let name = &name;
                    scope.spawn(move || store.create_alias(&alias(name, &format!("k{i}"))))
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "{results:?}");
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || matches!(r, Err(Error::AlreadyExists))),
            "{results:?}"
        );
    }
}

pub(crate) fn racing_updates_of_one_key_have_one_winner<B: Backend>(fx: &B) {
    let stores = [fx.open(), fx.open(), fx.open()];
    let record = create(&stores[0], "k1");
    let results: Vec<_> = std::thread::scope(|scope| {
        let racers: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let mut mine = record.clone();
                mine.rotated(material_id("k1", 2 + i as u8), RotationType::OnDemand, 10);
                scope.spawn(move || {
                    store.update_key_with_material(
                        &mine,
                        &material("k1", 2 + i as u8, Some(RotationType::OnDemand)),
                    )
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(Error::Conflict))),
        "{results:?}"
    );
    assert_eq!(stores[1].materials("k1").unwrap().len(), 2);
    assert_eq!(stores[2].get_key("k1").unwrap().unwrap().revision, 1);
}

pub(crate) fn export_import_round_trip<B: Backend>(fx: &B) {
    let store = fx.open();
    store.put_meta_if_absent("root", b"sealed").unwrap();
    store
        .put_credential(&credential("AKID", Some("ops")))
        .unwrap();
    let mut record = create(&store, "k1");
    record.rotated(material_id("k1", 2), RotationType::OnDemand, 10);
    store
        .update_key_with_material(&record, &material("k1", 2, Some(RotationType::OnDemand)))
        .unwrap();
    create(&store, "k2");
    store.create_alias(&alias("alias/one", "k1")).unwrap();
    let snapshot = store.export().unwrap();
    assert_eq!(snapshot.keys.len(), 2);
    assert_eq!(snapshot.keys[0].1.len(), 2);
    assert!(matches!(store.import(&snapshot), Err(Error::AlreadyExists)));

    let other = fx.fresh();
    let restored = other.open();
    restored.import(&snapshot).unwrap();
    let mut again = restored.export().unwrap();
    // Revisions restart at 0: the store owns them.
    for (key, _) in &mut again.keys {
        key.revision = snapshot
            .keys
            .iter()
            .find(|(k, _)| k.key_id == key.key_id)
            .unwrap()
            .0
            .revision;
    }
    assert_eq!(again, snapshot);
}

pub(crate) fn keys_are_counted_by_state<B: Backend>(fx: &B) {
    let store = fx.open();
    assert!(store.count_keys_by_state().unwrap().is_empty());
    create(&store, "k1");
    let mut k2 = create(&store, "k2");
    create(&store, "k3");
    k2.disable().unwrap();
    store.update_key(&k2).unwrap();
    assert_eq!(
        store.count_keys_by_state().unwrap(),
        [("Disabled".to_owned(), 1), ("Enabled".to_owned(), 2)]
    );
}

/// Shared stores announce every committed write to every other store's
/// feed and hand a lease to one holder at a time; a store only one server
/// uses has no feed and grants every lease.
pub(crate) fn changes_and_leases_across_stores<B: Backend>(fx: &B) {
    use std::time::Duration;
    use trent_store::Change;
    let (node_a, node_b) = (fx.open(), fx.open());
    let Some(feed) = node_b.subscribe_changes() else {
        assert!(!B::SHARED);
        let first = node_a.try_lease("scheduler").unwrap();
        let second = node_b.try_lease("scheduler").unwrap();
        assert!(first.unwrap().is_held() && second.unwrap().is_held());
        return;
    };
    assert!(B::SHARED);
    // The first message says "anything may have changed" (nothing was
    // heard before the subscription).
    assert_eq!(feed.next_timeout(Duration::from_secs(10)), Ok(Change::All));
    let mut record = create(&node_a, "k1");
    record.disable().unwrap();
    node_a.update_key(&record).unwrap();
    node_a.create_alias(&alias("alias/a", "k1")).unwrap();
    node_a.put_credential(&credential("AKID", None)).unwrap();
    // A failed write announces nothing.
    assert!(node_a.create_alias(&alias("alias/a", "k1")).is_err());
    node_a.delete_key("k1").unwrap();
    let mut heard = Vec::new();
    while let Ok(change) = feed.next_timeout(Duration::from_secs(2)) {
        heard.push(change);
    }
    assert_eq!(
        heard,
        [
            Change::Key("k1".into()),
            Change::Key("k1".into()),
            Change::alias(ACCOUNT, REGION, "alias/a"),
            Change::Credential("AKID".into()),
            Change::Key("k1".into()),
            Change::AllAliases,
        ]
    );

    let lease = node_a
        .try_lease("scheduler")
        .unwrap()
        .expect("a free lease");
    assert!(lease.is_held());
    assert!(node_b.try_lease("scheduler").unwrap().is_none());
    assert!(node_b.try_lease("another-job").unwrap().is_some());
    drop(lease);
    let taken_over = node_b.try_lease("scheduler").unwrap().expect("released");
    assert!(taken_over.is_held());
}

/// Imported material arrives in (or leaves) a material slot made with the
/// key, in the same transaction as the key's metadata.
pub(crate) fn material_bytes_are_replaced_with_the_key<B: Backend>(fx: &B) {
    let store = fx.open();
    let record = create(&store, "k1");
    store
        .update_key_and_material_bytes(&record, &material_id("k1", 1), b"imported")
        .unwrap();
    assert_eq!(
        store.materials("k1").unwrap()[0].wrapped,
        b"imported".to_vec()
    );
    let current = store.get_key("k1").unwrap().unwrap();
    assert_eq!(current.revision, 1);
    // Deleted material: empty bytes, key and slot kept.
    store
        .update_key_and_material_bytes(&current, &material_id("k1", 1), b"")
        .unwrap();
    assert!(store.materials("k1").unwrap()[0].wrapped.is_empty());
    // A stale revision changes nothing; an unknown slot is NotFound.
    let stale = store.update_key_and_material_bytes(&record, &material_id("k1", 1), b"x");
    assert!(matches!(stale, Err(Error::Conflict)));
    assert!(store.materials("k1").unwrap()[0].wrapped.is_empty());
    let current = store.get_key("k1").unwrap().unwrap();
    let missing = store.update_key_and_material_bytes(&current, &material_id("k1", 7), b"x");
    assert!(matches!(missing, Err(Error::NotFound)));
}
