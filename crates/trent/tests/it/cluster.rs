//! Three `trent serve` nodes on one PostgreSQL database (issue 9): a key
//! created on one is usable on the others, a disable on one is refused by
//! the others within the invalidation bound, racing alias creations have
//! one winner, and scheduled rotation survives the death of the node that
//! held the scheduler lease; a PostgreSQL restart under load costs at most
//! retryable errors and loses no acknowledged write. Needs
//! `TRENT_TEST_POSTGRES_URL` and `TRENT_TEST_POSTGRES_RESTART` (see
//! `scripts/ci/postgres.sh`); skips loudly without them. The tests run one
//! at a time: one of them takes the database down.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::harness::{
    ACCOUNT_ID, ADMIN_AKID, ADMIN_SECRET, Options, Seal, Trent, describe_output, err_code,
};
use crate::keys::{create_key, encrypt};

/// The invalidation bound the issue sets (docs/OPERATIONS.md has the
/// measured value).
const BOUND: Duration = Duration::from_secs(1);
const DAY: i64 = 86_400;
const PASSPHRASE: &str = "cluster test passphrase, not a secret";

/// Held by each test: the restart test must not hit the others.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A fresh database on the test server, dropped afterwards.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

/// Runs `work` on a thread of its own: the synchronous PostgreSQL client
/// cannot run on an async test's thread.
fn on_own_thread<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(work).join().unwrap())
}

impl Database {
    fn create() -> Option<Database> {
        on_own_thread(Database::create_here)
    }

    fn create_here() -> Option<Database> {
        let Ok(admin_url) = std::env::var("TRENT_TEST_POSTGRES_URL") else {
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! SKIPPED: TRENT_TEST_POSTGRES_URL is not set, so the multi-node tests did not run.\n"
            );
            return None;
        };
        let name = format!("trent_cluster_{}_{}", std::process::id(), unique_suffix());
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        for attempt in 0.. {
            match admin.batch_execute(&format!("CREATE DATABASE {name}")) {
                Ok(()) => break,
                // Another CREATE DATABASE is copying the template: retry.
                Err(_) if attempt < 50 => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => panic!("creating {name}: {e}"),
            }
        }
        let (base, _) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let (server, _) = base.rsplit_once('/').unwrap();
        let url = format!("{server}/{name}");
        Some(Database {
            admin_url,
            name,
            url,
        })
    }
}

/// Distinct for tests started in one process.
fn unique_suffix() -> u128 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    nanos % 1_000_000_000
}

impl Drop for Database {
    fn drop(&mut self) {
        on_own_thread(|| {
            if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
                let drop_database = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                let _ = admin.batch_execute(&drop_database);
            }
        });
    }
}

/// `n` nodes on `db`, sharing a passphrase seal, with the harness admin.
fn cluster(db: &Database, n: usize) -> Vec<Trent> {
    let options = Options {
        provision_admin: false,
        seal: Seal::Passphrase(PASSPHRASE.into()),
        extra_args: vec!["--store".into(), db.url.clone()],
        ..Options::default()
    };
    let mut nodes: Vec<Trent> = (0..n).map(|_| Trent::stopped(options.clone())).collect();
    let out = nodes[0].cli(&[
        "credentials",
        "add",
        "--store",
        &db.url,
        "--seal",
        "passphrase",
        "--account-id",
        ACCOUNT_ID,
        "--access-key-id",
        ADMIN_AKID,
        "--secret-access-key",
        ADMIN_SECRET,
    ]);
    assert!(out.status.success(), "{}", describe_output(&out));
    for node in &mut nodes {
        node.run();
    }
    nodes
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_agree_on_keys_aliases_and_disables() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(db) = Database::create() else { return };
    let nodes = cluster(&db, 3);
    let clients: Vec<_> = nodes.iter().map(Trent::client).collect();

    // Created on one, usable on the others at once.
    let key_id = create_key(&clients[0]).await.key_id;
    let blob = encrypt(&clients[1], &key_id, b"across nodes").await;
    let plain = clients[2]
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.plaintext.unwrap().as_ref(), b"across nodes");

    // Disabled on one: refused by the others within the bound (their
    // caches are warm, so only invalidation can make them refuse).
    encrypt(&clients[2], &key_id, b"warm").await;
    clients[0]
        .disable_key()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    let disabled = Instant::now();
    for client in &clients[1..] {
        loop {
            let result = client
                .encrypt()
                .key_id(&key_id)
                .plaintext(b"x".to_vec().into())
                .send()
                .await;
            if result.is_err() {
                assert_eq!(err_code(result), "DisabledException");
                break;
            }
            assert!(
                disabled.elapsed() < BOUND,
                "still encrypting {:?} after the disable",
                disabled.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // Racing alias creations on three nodes: exactly one wins.
    for round in 0..5 {
        let name = format!("alias/race-{round}");
        let racers = clients.iter().map(|client| {
            let (client, name, key_id) = (client.clone(), name.clone(), key_id.clone());
            tokio::spawn(async move {
                client
                    .create_alias()
                    .alias_name(name)
                    .target_key_id(key_id)
                    .send()
                    .await
            })
        });
        let mut wins = 0;
        for racer in racers.collect::<Vec<_>>() {
            match racer.await.unwrap() {
                Ok(_) => wins += 1,
                failed => assert_eq!(err_code(failed), "AlreadyExistsException"),
            }
        }
        assert_eq!(wins, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_rotation_survives_the_lease_holder() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(db) = Database::create() else { return };
    let mut nodes = cluster(&db, 3);
    let client = nodes[2].client();
    let key_id = create_key(&client).await.key_id;
    client
        .enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();

    // The first node started took the lease (the others saw it held).
    let deadline = Instant::now() + Duration::from_secs(20);
    let holder = loop {
        if let Some(i) = nodes
            .iter()
            .position(|n| n.log().contains("took the scheduler lease"))
        {
            break i;
        }
        assert!(
            Instant::now() < deadline,
            "no node took the scheduler lease"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    nodes[holder].kill();
    for (i, node) in nodes.iter().enumerate() {
        if i != holder {
            node.advance_clock(91 * DAY);
        }
    }
    let survivor = nodes
        .iter()
        .enumerate()
        .find(|(i, _)| *i != holder)
        .unwrap()
        .1
        .client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = survivor
            .list_key_rotations()
            .key_id(&key_id)
            .send()
            .await
            .unwrap();
        if !listed.rotations().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no rotation 30 s after the lease holder died"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restart_under_load_loses_no_acknowledged_write() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(db) = Database::create() else { return };
    let Ok(restart) = std::env::var("TRENT_TEST_POSTGRES_RESTART") else {
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! SKIPPED: TRENT_TEST_POSTGRES_RESTART is not set, so the PostgreSQL restart test did not run.\n"
        );
        return;
    };
    let nodes = cluster(&db, 2);
    let clients: Vec<_> = nodes.iter().map(Trent::client).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|i| {
            let (client, stop) = (clients[i % 2].clone(), stop.clone());
            tokio::spawn(async move {
                let (mut acknowledged, mut failed) = (Vec::new(), 0);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match client.create_key().send().await {
                        Ok(made) => acknowledged.push(made.key_metadata.unwrap().key_id),
                        Err(_) => failed += 1,
                    }
                }
                (acknowledged, failed)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restarted = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&restart)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        restarted.status.success(),
        "{}",
        describe_output(&restarted)
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for writer in writers {
        let (keys, _failed) = writer.await.unwrap();
        acknowledged.extend(keys);
    }
    assert!(!acknowledged.is_empty());
    // Requests resume on both nodes, and every acknowledged key is there.
    for client in &clients {
        let deadline = Instant::now() + Duration::from_secs(15);
        while client.create_key().send().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "writes did not resume after the restart"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for key_id in &acknowledged {
        let described = clients[1].describe_key().key_id(key_id).send().await;
        assert!(
            described.is_ok(),
            "acknowledged key {key_id} lost: {described:?}"
        );
    }
}
