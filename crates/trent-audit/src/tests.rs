//! The writer, the verifier and the reader together, on real files: every
//! kind of tampering is found and located; rotation, retention, restarts
//! and failures keep the chain whole.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use trent_crypto::root::RootKey;
use trent_store::Store;
use trent_store::sqlite::SqliteStore;

use crate::event::{self, AuditEvent, UserIdentity};
use crate::format::Frame;
use crate::query::{self, Filter};
use crate::segment;
use crate::verify::{NodeReport, Trust, verify_dir};
use crate::{AuditConfig, AuditKeys, AuditLog, Durability, checkpoint_meta};

struct Fixture {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    keys: Arc<AuditKeys>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("trent.db")).unwrap());
        let root = RootKey::generate().unwrap();
        let keys = Arc::new(AuditKeys::load_or_create(store.as_ref(), &root).unwrap());
        // A second load sees the same keys.
        let again = AuditKeys::load(store.as_ref(), &root).unwrap().unwrap();
        assert_eq!(again.public_key(), keys.public_key());
        Fixture { dir, store, keys }
    }

    fn audit_dir(&self) -> PathBuf {
        self.dir.path().join("audit")
    }

    fn config(&self) -> AuditConfig {
        AuditConfig::new(self.audit_dir(), "n1")
    }

    fn open(&self, config: AuditConfig) -> AuditLog {
        AuditLog::open(config, self.keys.clone(), self.store.clone()).unwrap()
    }

    /// Writes `n` records numbered from `from` and closes the log.
    fn write(&self, config: AuditConfig, from: usize, n: usize) {
        let log = self.open(config);
        for i in from..from + n {
            log.append(&sample(i)).wait().unwrap();
        }
        log.close();
    }

    fn verify(&self) -> NodeReport {
        let pk = self.keys.public_key();
        let trust = Trust {
            public_key: &pk,
            keys: Some(&self.keys),
        };
        let store = self.store.clone();
        let mut reports = verify_dir(&self.audit_dir(), trust, &["n1".into()], &|node| {
            Ok(store.get_meta(&checkpoint_meta(node))?)
        })
        .unwrap();
        assert_eq!(reports.len(), 1);
        reports.remove(0)
    }

    fn names(&self) -> Vec<u64> {
        let all = segment::list(&self.audit_dir()).unwrap();
        all.get("n1")
            .map_or(vec![], |f| f.iter().map(|f| f.number).collect())
    }

    fn segment_path(&self, number: u64) -> PathBuf {
        self.audit_dir().join(segment::segment_name("n1", number))
    }

    fn events(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        query::scan(
            &self.audit_dir(),
            &self.keys,
            &Filter::default(),
            &mut |r| {
                out.push(r.event);
                true
            },
        )
        .unwrap();
        out
    }
}

fn sample(i: usize) -> AuditEvent {
    AuditEvent {
        event_version: event::EVENT_VERSION.into(),
        user_identity: UserIdentity {
            identity_type: Some("Root".into()),
            account_id: Some("111122223333".into()),
            ..UserIdentity::default()
        },
        event_time: event::event_time(time::OffsetDateTime::now_utc()),
        event_source: event::EVENT_SOURCE.into(),
        event_name: if i.is_multiple_of(2) {
            "Encrypt"
        } else {
            "Decrypt"
        }
        .into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "127.0.0.1".into(),
        user_agent: "unit".into(),
        error_code: None,
        error_message: None,
        request_parameters: Some(serde_json::json!({"keyId": format!("key-{i}")})),
        response_elements: None,
        request_id: Some(format!("req-{i}")),
        event_id: event::new_event_id(),
        read_only: true,
        resources: vec![],
        event_type: event::API_CALL.into(),
        management_event: true,
        recipient_account_id: None,
        event_category: "Management".into(),
        tls_details: None,
        service_event_details: None,
    }
}

/// Each frame of a segment: (offset, length, seq or None for checkpoints).
fn frames(path: &Path) -> Vec<(usize, usize, Option<u64>)> {
    let parsed = segment::read(path).unwrap();
    let mut out = Vec::new();
    for (i, (offset, frame)) in parsed.frames.iter().enumerate() {
        let end = parsed.frames.get(i + 1).map_or(parsed.len, |(o, _)| *o);
        let seq = match frame {
            Frame::Record(r) => Some(r.seq),
            Frame::Checkpoint(_) => None,
        };
        out.push((*offset, end - offset, seq));
    }
    out
}

fn frame_of(path: &Path, seq: u64) -> (usize, usize) {
    let (offset, len, _) = frames(path).into_iter().find(|f| f.2 == Some(seq)).unwrap();
    (offset, len)
}

#[track_caller]
fn assert_broken_at(report: &NodeReport, seq: u64) {
    let first = report
        .first_problem()
        .unwrap_or_else(|| panic!("tampering not detected: {report:?}"));
    assert_eq!(first.seq, seq, "wrong first broken record: {report:#?}");
}

#[test]
fn a_written_log_verifies_and_reads_back_in_order() {
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 10);
    let report = fx.verify();
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.records, 10);
    assert_eq!(report.range, Some((1, 10)));
    assert_eq!(report.decrypted, 10);
    assert_eq!(report.newest_checkpoint.as_ref().unwrap().seq, 10);
    let ids: Vec<_> = fx.events().iter().map(|e| e["requestID"].clone()).collect();
    let want: Vec<_> = (0..10)
        .map(|i| serde_json::json!(format!("req-{i}")))
        .collect();
    assert_eq!(ids, want);

    // The files hold no readable event text: records are encrypted.
    let bytes = std::fs::read(fx.segment_path(1)).unwrap();
    assert!(!bytes.windows(5).any(|w| w == b"req-3"));
    assert!(!bytes.windows(7).any(|w| w == b"Encrypt"));
}

#[test]
fn restarts_continue_the_chain_in_a_new_segment() {
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 3);
    fx.write(fx.config(), 3, 3);
    fx.write(fx.config(), 6, 0);
    assert_eq!(fx.names(), vec![1, 2, 3]);
    let report = fx.verify();
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.range, Some((1, 6)));
    assert_eq!(fx.events().len(), 6);
}

#[test]
fn filters_select_by_operation_key_and_time() {
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 6);
    let count = |filter: Filter| {
        let mut n = 0;
        query::scan(&fx.audit_dir(), &fx.keys, &filter, &mut |_| {
            n += 1;
            true
        })
        .unwrap();
        n
    };
    assert_eq!(
        count(Filter {
            operation: Some("decrypt".into()),
            ..Filter::default()
        }),
        3
    );
    assert_eq!(
        count(Filter {
            key: Some("key-4".into()),
            ..Filter::default()
        }),
        1
    );
    assert_eq!(
        count(Filter {
            principal: Some("111122223333".into()),
            ..Filter::default()
        }),
        6
    );
    assert_eq!(
        count(Filter {
            error: Some("any".into()),
            ..Filter::default()
        }),
        0
    );
    assert_eq!(
        count(Filter {
            since_ms: Some(i64::MAX),
            ..Filter::default()
        }),
        0
    );
    assert_eq!(
        count(Filter {
            until_ms: Some(i64::MAX),
            ..Filter::default()
        }),
        6
    );
}

#[test]
fn an_edited_record_is_found() {
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 10);
    let path = fx.segment_path(1);
    let (offset, len) = frame_of(&path, 4);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset + len - 20] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    assert_broken_at(&fx.verify(), 4);
}

#[test]
fn an_edited_time_is_found() {
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 10);
    let path = fx.segment_path(1);
    let (offset, _) = frame_of(&path, 6);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset + 4 + 1 + 8 + 32 + 7] ^= 0x01; // last byte of the time
    std::fs::write(&path, bytes).unwrap();
    assert_broken_at(&fx.verify(), 6);
}

#[test]
fn a_deleted_record_is_found() {
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 10);
    let path = fx.segment_path(1);
    let (offset, len) = frame_of(&path, 4);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.drain(offset..offset + len);
    std::fs::write(&path, bytes).unwrap();
    let report = fx.verify();
    assert_broken_at(&report, 4);
    assert!(report.problems[0].what.contains("missing"), "{report:#?}");
}

#[test]
fn reordered_records_are_found() {
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 10);
    let path = fx.segment_path(1);
    let (o4, l4) = frame_of(&path, 4);
    let (o5, l5) = frame_of(&path, 5);
    let bytes = std::fs::read(&path).unwrap();
    let mut swapped = bytes[..o4].to_vec();
    swapped.extend_from_slice(&bytes[o5..o5 + l5]);
    swapped.extend_from_slice(&bytes[o4..o4 + l4]);
    swapped.extend_from_slice(&bytes[o5 + l5..]);
    std::fs::write(&path, swapped).unwrap();
    assert_broken_at(&fx.verify(), 4);
}

#[test]
fn a_cut_tail_is_found_even_with_its_checkpoints() {
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 10);
    let path = fx.segment_path(1);
    let (offset, _) = frame_of(&path, 8);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..offset]).unwrap();
    let report = fx.verify();
    assert_broken_at(&report, 8);
    assert!(report.problems[0].what.contains("8..=10"), "{report:#?}");
}

#[test]
fn deleted_segment_files_are_found() {
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 3);
    fx.write(fx.config(), 3, 3);
    fx.write(fx.config(), 6, 3);
    // The newest file: the tail.
    std::fs::remove_file(fx.segment_path(3)).unwrap();
    assert_broken_at(&fx.verify(), 7);
    // A middle file.
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 3);
    fx.write(fx.config(), 3, 3);
    fx.write(fx.config(), 6, 3);
    std::fs::remove_file(fx.segment_path(2)).unwrap();
    assert_broken_at(&fx.verify(), 4);
    // The oldest file: no retention asked for it.
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 3);
    fx.write(fx.config(), 3, 3);
    std::fs::remove_file(fx.segment_path(1)).unwrap();
    assert_broken_at(&fx.verify(), 1);
    // Everything.
    std::fs::remove_dir_all(fx.audit_dir()).unwrap();
    assert_broken_at(&fx.verify(), 1);
}

#[test]
fn a_forged_checkpoint_is_found() {
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 4);
    let path = fx.segment_path(1);
    let (offset, len, _) = *frames(&path).iter().find(|f| f.2.is_none()).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset + len - 1] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let report = fx.verify();
    assert!(!report.ok());
    assert!(report.problems[0].what.contains("signature"), "{report:#?}");
}

#[test]
fn segments_rotate_by_size_and_verify_across() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.segment_max_bytes = 1024;
    config.checkpoint_interval = Duration::from_millis(10);
    let log = fx.open(config);
    for i in 0..60 {
        log.append(&sample(i)).wait().unwrap();
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(300)); // let the writer tick
        }
    }
    log.close();
    assert!(fx.names().len() > 2, "no rotation: {:?}", fx.names());
    let report = fx.verify();
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.records, 60);
}

#[test]
fn retention_removes_old_segments_without_breaking_verification() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.segment_max_bytes = 1024;
    config.retain_bytes = Some(4096);
    let log = fx.open(config);
    for i in 0..80 {
        log.append(&sample(i)).wait().unwrap();
        if i % 5 == 0 {
            std::thread::sleep(Duration::from_millis(260));
        }
    }
    log.close();
    let names = fx.names();
    assert!(names[0] > 1, "nothing removed: {names:?}");
    let report = fx.verify();
    assert!(report.ok(), "{report:#?}");
    let (first, last) = report.range.unwrap();
    assert!(first > 1);
    assert_eq!(last, 80);
    // Removing one more old segment by hand is tampering.
    std::fs::remove_file(fx.segment_path(names[0])).unwrap();
    assert_broken_at(&fx.verify(), first);
}

#[test]
fn strict_durability_answers_after_fsync() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.durability = Durability::Strict;
    let log = fx.open(config);
    let pending: Vec<_> = (0..20).map(|i| log.append(&sample(i))).collect();
    for p in pending {
        p.wait().unwrap();
    }
    log.close();
    assert!(fx.verify().ok());
}

#[test]
fn a_log_that_cannot_be_written_fails_closed_and_recovers() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.segment_max_bytes = 1024;
    let log = fx.open(config);
    // Something in the way of the next segment.
    std::fs::create_dir(fx.segment_path(2)).unwrap();
    let mut failed = false;
    for i in 0..200 {
        if log.append(&sample(i)).wait().is_err() {
            failed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(failed, "appends kept succeeding");
    assert!(!log.is_healthy());
    std::fs::remove_dir(fx.segment_path(2)).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(log.is_healthy());
    log.append(&sample(999)).wait().unwrap();
    log.close();
    let report = fx.verify();
    assert!(report.ok(), "{report:#?}");
    assert!(
        log.append(&sample(1000)).wait().is_err(),
        "closed log accepted a record"
    );
}

#[test]
fn a_restart_after_a_cut_continues_after_the_stored_checkpoint() {
    let fx = Fixture::new();
    fx.write(fx.config(), 0, 5);
    std::fs::remove_file(fx.segment_path(1)).unwrap();
    fx.write(fx.config(), 5, 2);
    let report = fx.verify();
    assert_broken_at(&report, 1);
    assert_eq!(report.range, Some((6, 7)));
}

#[test]
fn node_ids_are_created_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = crate::local_node_id(dir.path()).unwrap();
    let b = crate::local_node_id(dir.path()).unwrap();
    assert_eq!(a, b);
    assert!(crate::format::valid_node_id(&a));
}
