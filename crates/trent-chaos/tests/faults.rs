//! Store faults and server limits, in process: a real `Node` over the real
//! SQLite store wrapped in a `FaultyStore`, served over HTTP on
//! 127.0.0.1:0, driven by the blocking SigV4 client.
//!
//! Rules: while a fault is on, a request either succeeds or fails with a
//! retryable server error (`KMSInternalException`, 500, "retried" in the
//! message) — never a panic, a hang or a wrong answer; once the fault
//! clears, everything works again without operator action, and what the
//! API reports matches what the store holds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trent_chaos::client::{CallError, Client, b64};
use trent_chaos::faults::Fault;
use trent_chaos::inprocess::Server;
use trent_chaos::process::DataDir;
use trent_server::limits::Limits;

const ACCOUNT: &str = trent_chaos::inprocess::ACCOUNT;

fn create_key(client: &mut Client) -> String {
    let v = client.call("CreateKey", &json!({})).unwrap();
    v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
}

fn state(client: &mut Client, key: &str) -> String {
    let v = client.call("DescribeKey", &json!({"KeyId": key})).unwrap();
    v["KeyMetadata"]["KeyState"].as_str().unwrap().to_owned()
}

/// A retryable server fault: 500 `KMSInternalException` saying to retry.
#[track_caller]
fn assert_retryable(result: Result<Value, CallError>, what: &str) {
    match result {
        Err(CallError::Api {
            status: 500,
            error_type,
            message,
        }) if error_type == "KMSInternalException"
            && message.to_ascii_lowercase().contains("retr") => {}
        other => panic!("{what}: expected a retryable KMSInternalException, got {other:?}"),
    }
}

/// The writes every fault is tried against.
fn writes(key: &str, n: usize) -> Vec<(&'static str, Value)> {
    vec![
        (
            "CreateKey",
            json!({"Description": format!("during fault {n}")}),
        ),
        (
            "CreateAlias",
            json!({"AliasName": format!("alias/fault-{n}"), "TargetKeyId": key}),
        ),
        (
            "TagResource",
            json!({"KeyId": key, "Tags": [{"TagKey": "fault", "TagValue": n.to_string()}]}),
        ),
        (
            "PutKeyPolicy",
            json!({"KeyId": key, "PolicyName": "default", "Policy": trent_core::policy::default_key_policy(ACCOUNT)}),
        ),
        ("RotateKeyOnDemand", json!({"KeyId": key})),
        (
            "UpdateKeyDescription",
            json!({"KeyId": key, "Description": format!("fault {n}")}),
        ),
        // Last: an fsync fault applies it, and later writes would then be
        // refused for the key's state instead.
        ("DisableKey", json!({"KeyId": key})),
    ]
}

/// What the API reports about a key, and what the hot path enforces, is
/// what the store holds: a Disabled key refuses Encrypt, an Enabled one
/// encrypts.
#[track_caller]
fn assert_consistent(server: &Server, client: &mut Client, key: &str) {
    let stored = server.real.get_key(key).unwrap().unwrap();
    let reported = state(client, key);
    assert_eq!(
        reported,
        stored.state.as_str(),
        "DescribeKey disagrees with the store"
    );
    let encrypt = client.call("Encrypt", &json!({"KeyId": key, "Plaintext": b64(b"x")}));
    match (reported.as_str(), &encrypt) {
        ("Enabled", Ok(_)) => {}
        ("Disabled", Err(e)) if e.error_type() == Some("DisabledException") => {}
        _ => panic!("key {key} is reported {reported} but Encrypt gives {encrypt:?}"),
    }
}

#[test]
fn write_faults_fail_retryably_and_recover_without_operator_action() {
    let server = Server::start(Limits::default());
    let mut client = server.client();
    for (n, fault) in [Fault::WriteError, Fault::DiskFull, Fault::FsyncError]
        .into_iter()
        .enumerate()
    {
        let key = create_key(&mut client);
        let ciphertext = client
            .call(
                "Encrypt",
                &json!({"KeyId": key, "Plaintext": b64(b"before the fault")}),
            )
            .unwrap()["CiphertextBlob"]
            .clone();
        server.switch.set(fault);
        for (op, body) in writes(&key, n) {
            assert_retryable(client.call(op, &body), &format!("{op} under {fault:?}"));
        }
        server.switch.clear();
        // The server recovers by itself: the same writes now succeed, and
        // the state the API reports is the state the hot path enforces.
        assert_consistent(&server, &mut client, &key);
        client.call("EnableKey", &json!({"KeyId": key})).unwrap();
        for (op, body) in writes(&key, n) {
            if op == "DisableKey" {
                continue;
            }
            let result = client.call(op, &body);
            // An fsync fault may have applied the alias before failing.
            if op == "CreateAlias" && fault == Fault::FsyncError {
                assert!(
                    result.is_ok()
                        || result.as_ref().err().and_then(|e| e.error_type())
                            == Some("AlreadyExistsException"),
                    "{op} after {fault:?}: {result:?}"
                );
            } else {
                result.unwrap_or_else(|e| panic!("{op} after {fault:?} cleared: {e}"));
            }
        }
        let plain = client
            .call("Decrypt", &json!({"CiphertextBlob": ciphertext}))
            .unwrap();
        assert_eq!(plain["Plaintext"], json!(b64(b"before the fault")));
        assert!(server.switch.injected() > 0);
    }
}

#[test]
fn an_fsync_fault_never_leaves_the_cache_disagreeing_with_the_store() {
    let server = Server::start(Limits::default());
    let mut client = server.client();
    let key = create_key(&mut client);
    // Warm the cache, then disable under a fault that applies the write but
    // reports it failed.
    client
        .call("Encrypt", &json!({"KeyId": key, "Plaintext": b64(b"warm")}))
        .unwrap();
    server.switch.set(Fault::FsyncError);
    assert_retryable(
        client.call("DisableKey", &json!({"KeyId": key})),
        "DisableKey",
    );
    server.switch.clear();
    assert_consistent(&server, &mut client, &key);
    // Rotation too: the material Encrypt uses is the one the store says is current.
    client.call("EnableKey", &json!({"KeyId": key})).unwrap();
    client
        .call("Encrypt", &json!({"KeyId": key, "Plaintext": b64(b"warm")}))
        .unwrap();
    server.switch.set(Fault::FsyncError);
    assert_retryable(
        client.call("RotateKeyOnDemand", &json!({"KeyId": key})),
        "RotateKeyOnDemand",
    );
    server.switch.clear();
    let rotations = client
        .call("ListKeyRotations", &json!({"KeyId": key}))
        .unwrap();
    let current = rotations["Rotations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["KeyMaterialState"] == "CURRENT")
        .map(|r| r["KeyMaterialId"].clone());
    let blob = client
        .call(
            "Encrypt",
            &json!({"KeyId": key, "Plaintext": b64(b"after")}),
        )
        .unwrap()["CiphertextBlob"]
        .clone();
    let used = client
        .call("Decrypt", &json!({"CiphertextBlob": blob}))
        .unwrap()["KeyMaterialId"]
        .clone();
    if let Some(current) = current {
        assert_eq!(
            used, current,
            "Encrypt uses stale material after an ambiguous rotation"
        );
    }
}

#[test]
fn read_faults_fail_retryably_then_recover() {
    let server = Server::start(Limits::default());
    let mut client = server.client();
    let key = create_key(&mut client);
    server.switch.set(Fault::ReadError);
    assert_retryable(client.call("ListKeys", &json!({})), "ListKeys");
    assert_retryable(
        client.call("GetKeyPolicy", &json!({"KeyId": key})),
        "GetKeyPolicy",
    );
    server.switch.clear();
    client.call("ListKeys", &json!({})).unwrap();
    assert_eq!(state(&mut client, &key), "Enabled");
}

#[test]
fn slow_store_writes_complete_and_the_answer_is_right() {
    let server = Server::start(Limits::default());
    let mut client = server.client();
    let key = create_key(&mut client);
    server.switch.set(Fault::Slow(Duration::from_millis(300)));
    let started = Instant::now();
    client.call("DisableKey", &json!({"KeyId": key})).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    server.switch.clear();
    assert_eq!(state(&mut client, &key), "Disabled");
}

#[test]
fn over_the_in_flight_limit_requests_are_shed_with_throttling() {
    let limits = Limits {
        max_in_flight: 2,
        ..Limits::default()
    };
    let server = Server::start(limits);
    server.switch.set(Fault::Slow(Duration::from_millis(400)));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let mut client = server.client();
            std::thread::spawn(move || client.call("CreateKey", &json!({})))
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    server.switch.clear();
    let throttled = results
        .iter()
        .filter(|r| matches!(r, Err(CallError::Api { status: 400, error_type, .. }) if error_type == "ThrottlingException"))
        .count();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok + throttled, 8, "{results:?}");
    assert!(throttled >= 1 && ok >= 1, "{results:?}");
    // Once the load is gone, the server serves again at once.
    server.client().call("ListKeys", &json!({})).unwrap();
}

fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(0) | Err(_)) && {
        // A timeout is also an Err: tell it apart from a close.
        stream
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        !matches!(stream.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

#[test]
fn connections_over_the_limit_are_closed_and_idle_ones_time_out() {
    let limits = Limits {
        max_connections: 4,
        idle_timeout: Duration::from_millis(800),
        ..Limits::default()
    };
    let server = Server::start(limits);
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut extra = TcpStream::connect(server.addr).unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_secs(2)),
        "a connection over the limit stayed open"
    );
    // Idle connections are closed by the server, giving their slots back.
    let started = Instant::now();
    for mut s in idle {
        assert!(
            closed_within(&mut s, Duration::from_secs(5)),
            "an idle connection stayed open"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(100));
    server.client().call("ListKeys", &json!({})).unwrap();
}

#[test]
fn slow_headers_and_slow_bodies_are_cut_off() {
    let limits = Limits {
        header_read_timeout: Duration::from_millis(700),
        body_timeout: Duration::from_millis(700),
        ..Limits::default()
    };
    let server = Server::start(limits);
    let headers = trent_chaos::hostile::slow_headers(
        server.addr,
        Duration::from_millis(100),
        Duration::from_secs(10),
    );
    assert!(headers.ok, "{headers:?}");
    let client = server.client();
    let body = trent_chaos::hostile::slow_body(
        &client,
        Duration::from_millis(100),
        Duration::from_secs(10),
    );
    assert!(body.ok && body.detail.contains("408"), "{body:?}");
    let short = trent_chaos::hostile::short_body(&client, Duration::from_secs(10));
    assert!(short.ok && short.detail.contains("408"), "{short:?}");
}

/// A real full disk: the data dir on a 1 MiB tmpfs (needs root and
/// `mount`; skipped with a message otherwise). Writes fail retryably while
/// the disk is full, and succeed once space is freed; the store stays
/// intact.
#[test]
fn a_real_full_disk_fails_retryably_and_recovers() {
    let dir = DataDir::new("enospc").unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(dir.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (needs root); the injected DiskFull fault covers the logic"
        );
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(dir.path().to_path_buf());
    let path = dir.path().to_path_buf();
    let server = Server::start_in(dir, Limits::default());
    let mut client = server.client();
    let key = create_key(&mut client);
    let filler = fill(&path);
    let mut refused = 0;
    for n in 0..200 {
        match client.call("CreateKey", &json!({"Description": "x".repeat(4000), "Tags": [{"TagKey": "n", "TagValue": n.to_string()}]})) {
            Ok(_) => {}
            Err(e) => {
                assert_retryable(Err(e), "CreateKey on a full disk");
                refused += 1;
                if refused >= 3 {
                    break;
                }
            }
        }
    }
    assert!(refused >= 3, "the disk never filled");
    std::fs::remove_file(&filler).unwrap();
    // Space is back: writes succeed without a restart.
    let mut last = None;
    for _ in 0..50 {
        match client.call("DisableKey", &json!({"KeyId": key})) {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        last.is_none(),
        "writes did not recover after space was freed: {last:?}"
    );
    assert_eq!(state(&mut client, &key), "Disabled");
    let conn = rusqlite::Connection::open(path.join("trent.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(server);
}

/// Fills the filesystem holding `dir`; returns the filler file.
fn fill(dir: &Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    for _ in 0..100_000 {
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    let _ = f.sync_all();
    path
}
