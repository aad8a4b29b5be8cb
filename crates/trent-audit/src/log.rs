//! The writing side: [`AuditLog`] takes records from any thread and hands
//! them to one writer thread over a channel, so no lock is held across a
//! write on the request path. The writer encrypts and chains each batch and
//! writes it with one `write`, then answers each record's [`Pending`]:
//! at once (`Buffered`) or after the syncer thread's next fsync (`Strict`).
//! The syncer fsyncs at least every `sync_interval` while there is
//! unsynced data; a third thread copies each durable checkpoint into the
//! store (`audit.checkpoint.<node>`), so cutting the log's tail is
//! detectable even when the cut removes the in-file checkpoints.
//!
//! Failure is loud and closed: if a write, an fsync or opening a segment
//! fails, every waiting record gets an error (the server answers 500) and
//! [`AuditLog::is_healthy`] turns false until a new segment opens.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use trent_store::Store;

use crate::commit::{Publisher, Syncer};
use crate::config::{AuditConfig, Durability};
use crate::error::{Error, Result};
use crate::event::AuditEvent;
use crate::format::{Checkpoint, GENESIS, Hash, RecordFrame, SegmentHeader, frame_bytes};
use crate::keys::AuditKeys;
use crate::segment::{
    self, SegmentFile, create_private_dir, create_segment, read_header, segment_name, sync_dir,
};

/// Most records written in one batch.
const MAX_BATCH: usize = 4096;
/// How often a broken log retries opening a segment, and how often an idle
/// writer checks checkpoints and segment age.
const TICK: Duration = Duration::from_millis(250);

/// The store meta entry holding a node's newest durable checkpoint.
pub fn checkpoint_meta(node: &str) -> String {
    format!("audit.checkpoint.{node}")
}

pub(crate) type Ack = oneshot::Sender<Result<()>>;

enum Msg {
    Record {
        time_ms: i64,
        json: Vec<u8>,
        ack: Ack,
    },
    Close(mpsc::Sender<()>),
}

/// A record on its way to the log.
#[derive(Debug)]
#[must_use = "a request must not be answered before its record is written"]
pub struct Pending(oneshot::Receiver<Result<()>>);

impl Pending {
    fn failed(e: Error) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(e));
        Pending(rx)
    }

    /// Waits until the record is written (per the log's durability).
    pub async fn written(self) -> Result<()> {
        self.0.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// The same, for blocking threads (never inside an async task).
    pub fn wait(self) -> Result<()> {
        self.0.blocking_recv().unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> Error {
    Error::Unavailable("the audit writer has stopped".into())
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) healthy: AtomicBool,
    pub(crate) closed: AtomicBool,
    /// Set by the syncer when an fsync failed: the writer abandons the
    /// segment (its unsynced pages may be gone).
    pub(crate) sync_failed: AtomicBool,
}

impl Shared {
    pub(crate) fn fail(&self, what: &str) {
        if self.healthy.swap(false, Ordering::SeqCst) {
            tracing::error!(
                "audit log failure: {what}; requests are refused until the log can be written"
            );
        }
    }
}

/// A node's audit log, open for writing.
#[derive(Debug)]
pub struct AuditLog {
    /// Shared by every request thread without a lock (`Sender` is `Sync`).
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
    node: String,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl AuditLog {
    /// Opens the log: finds where this node's chain ends (in its files, or
    /// in the store's checkpoint if the files end earlier), starts a new
    /// segment, and starts the writer, syncer and publisher threads.
    pub fn open(config: AuditConfig, keys: Arc<AuditKeys>, store: Arc<dyn Store>) -> Result<Self> {
        config.validate()?;
        create_private_dir(&config.dir)?;
        let chain = recover(&config, &keys, store.as_ref())?;
        let shared = Arc::new(Shared {
            healthy: AtomicBool::new(true),
            closed: AtomicBool::new(false),
            sync_failed: AtomicBool::new(false),
        });
        let publisher = Arc::new(Publisher::new(store, &config.node));
        let syncer = Arc::new(Syncer::new(config.sync_interval));
        let mut writer = Writer {
            keys,
            shared: shared.clone(),
            syncer: syncer.clone(),
            publisher: publisher.clone(),
            segment: None,
            last_number: chain.next_segment - 1,
            next_seq: chain.next_seq,
            prev: chain.prev,
            first_seq: chain.first_seq,
            since_checkpoint: 0,
            last_checkpoint: Instant::now(),
            buf: Vec::new(),
            config,
        };
        writer.open_next_segment()?;
        let node = writer.config.node.clone();
        let (tx, rx) = mpsc::channel();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(|e| Error::Unavailable(format!("starting the {name} thread: {e}")))
        };
        let threads = vec![
            spawn("audit-syncer", {
                let (shared, publisher) = (shared.clone(), publisher.clone());
                Box::new(move || syncer.run(&shared, &publisher))
            })?,
            spawn("audit-publisher", Box::new(move || publisher.run()))?,
            spawn("audit-writer", Box::new(move || writer.run(rx)))?,
        ];
        Ok(AuditLog {
            tx,
            shared,
            node,
            threads: Mutex::new(threads),
        })
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether records are being written. False after a failed write or
    /// fsync, until a new segment opens (retried several times a second).
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy.load(Ordering::SeqCst) && !self.shared.closed.load(Ordering::SeqCst)
    }

    /// Queues a record; the caller awaits [`Pending::written`] before it
    /// answers the request.
    pub fn append(&self, event: &AuditEvent) -> Pending {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Pending::failed(Error::Unavailable("the audit log is closed".into()));
        }
        let json = match serde_json::to_vec(event) {
            Ok(json) => json,
            Err(e) => return Pending::failed(e.into()),
        };
        let (ack, rx) = oneshot::channel();
        let msg = Msg::Record {
            time_ms: now_ms(),
            json,
            ack,
        };
        match self.tx.send(msg) {
            Ok(()) => Pending(rx),
            Err(_) => Pending::failed(stopped()),
        }
    }

    /// Writes what is queued, a final checkpoint, fsyncs, records the
    /// checkpoint in the store and stops the threads. Later appends fail.
    pub fn close(&self) {
        if !self.shared.closed.swap(true, Ordering::SeqCst) {
            let (done_tx, done_rx) = mpsc::channel();
            if self.tx.send(Msg::Close(done_tx)).is_ok() {
                let _ = done_rx.recv();
            }
        }
        for handle in std::mem::take(&mut *lock(&self.threads)) {
            let _ = handle.join();
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.close();
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Where this node's chain continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainEnd {
    pub(crate) next_seq: u64,
    pub(crate) prev: Hash,
    pub(crate) first_seq: u64,
    pub(crate) next_segment: u64,
}

/// Finds the end of this node's chain: the last record of its newest
/// readable segment, or the store's checkpoint if that is further on (the
/// files were cut: the gap stays visible to `verify`).
fn recover(config: &AuditConfig, keys: &AuditKeys, store: &dyn Store) -> Result<ChainEnd> {
    let files = segment::list(&config.dir)?
        .remove(&config.node)
        .unwrap_or_default();
    let next_segment = files.last().map_or(1, |f| f.number + 1);
    let mut end: Option<(u64, Hash)> = None;
    for file in files.iter().rev() {
        match segment::read(&file.path) {
            Ok(parsed) => {
                let last = parsed.frames.iter().rev().find_map(|(_, f)| match f {
                    crate::format::Frame::Record(r) => Some((r.seq, r.hash())),
                    crate::format::Frame::Checkpoint(_) => None,
                });
                end = Some(last.unwrap_or((
                    parsed.header.first_seq.saturating_sub(1),
                    parsed.header.prev_hash,
                )));
                break;
            }
            Err(e) => {
                tracing::warn!(path = %file.path.display(), error = %e, "skipping an unreadable audit segment");
            }
        }
    }
    let (mut last_seq, mut prev) = end.unwrap_or((0, GENESIS));
    // The oldest record the log still vouches for: what the newest stored
    // checkpoint promised (retention only moves it by a checkpoint), so
    // files deleted while the server was down stay missing.
    let mut first_seq = files
        .first()
        .and_then(|f| read_header(&f.path))
        .map(|h| h.first_seq);
    if let Some(stored) = store.get_meta(&checkpoint_meta(&config.node))? {
        match Checkpoint::decode(&stored) {
            Ok(cp) if cp.verify(&keys.public_key(), &config.node) => {
                first_seq = Some(cp.first_seq);
                if cp.seq > last_seq {
                    tracing::error!(
                        node = %config.node,
                        "the audit log ends at record {last_seq} but the store's checkpoint covers record {}: records were removed; \
                         continuing the chain after the checkpoint (`trent audit verify` reports the gap)",
                        cp.seq
                    );
                    last_seq = cp.seq;
                    prev = cp.head;
                }
            }
            _ => tracing::error!(node = %config.node, "the store's audit checkpoint is invalid"),
        }
    }
    Ok(ChainEnd {
        next_seq: last_seq + 1,
        prev,
        first_seq: first_seq.unwrap_or(last_seq + 1),
        next_segment,
    })
}

struct OpenSegment {
    number: u64,
    file: Arc<File>,
    len: u64,
    header_len: u64,
    opened: Instant,
}

struct Writer {
    config: AuditConfig,
    keys: Arc<AuditKeys>,
    shared: Arc<Shared>,
    syncer: Arc<Syncer>,
    publisher: Arc<Publisher>,
    segment: Option<OpenSegment>,
    last_number: u64,
    next_seq: u64,
    prev: Hash,
    first_seq: u64,
    since_checkpoint: u64,
    last_checkpoint: Instant,
    buf: Vec<u8>,
}

struct QueuedRecord {
    time_ms: i64,
    json: Vec<u8>,
    ack: Ack,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        loop {
            let mut batch = Vec::new();
            let mut close = None;
            let mut take = |msg: Msg, batch: &mut Vec<QueuedRecord>| match msg {
                Msg::Record { time_ms, json, ack } => {
                    batch.push(QueuedRecord { time_ms, json, ack });
                    true
                }
                Msg::Close(done) => {
                    close = Some(done);
                    false
                }
            };
            let mut more = match rx.recv_timeout(TICK) {
                Ok(msg) => take(msg, &mut batch),
                Err(RecvTimeoutError::Timeout) => false,
                Err(RecvTimeoutError::Disconnected) => {
                    self.finish();
                    return;
                }
            };
            while more && batch.len() < MAX_BATCH {
                more = match rx.try_recv() {
                    Ok(msg) => take(msg, &mut batch),
                    Err(_) => false,
                };
            }
            if !batch.is_empty() {
                self.write_batch(batch);
            }
            self.maintain();
            if let Some(done) = close {
                self.finish();
                let _ = done.send(());
                return;
            }
        }
    }

    fn write_batch(&mut self, batch: Vec<QueuedRecord>) {
        if self.segment.is_none() {
            self.retry_segment();
        }
        let Some(segment) = self.segment.as_mut() else {
            for record in batch {
                let _ = record.ack.send(Err(unavailable()));
            }
            return;
        };
        let (seq0, prev0) = (self.next_seq, self.prev);
        self.buf.clear();
        let mut acks = Vec::with_capacity(batch.len());
        for record in batch {
            match RecordFrame::seal(
                &self.keys,
                &self.config.node,
                self.next_seq,
                &self.prev,
                record.time_ms,
                &record.json,
            ) {
                Ok(frame) => {
                    frame_bytes(&frame.body, &mut self.buf);
                    self.prev = frame.hash();
                    self.next_seq += 1;
                    acks.push(record.ack);
                }
                Err(e) => {
                    let _ = record.ack.send(Err(e));
                }
            }
        }
        if acks.is_empty() {
            return;
        }
        match (&*segment.file).write_all(&self.buf) {
            Ok(()) => {
                segment.len += self.buf.len() as u64;
                self.since_checkpoint += acks.len() as u64;
                match self.config.durability {
                    Durability::Buffered => {
                        for ack in acks {
                            let _ = ack.send(Ok(()));
                        }
                        self.syncer.mark_dirty();
                    }
                    Durability::Strict => self.syncer.wait_for_sync(acks),
                }
            }
            Err(e) => {
                // Drop the partial batch from the file; the next segment
                // continues the chain from the last whole record.
                let _ = segment.file.set_len(segment.len);
                self.next_seq = seq0;
                self.prev = prev0;
                self.abandon_segment(&format!("writing a segment: {e}"));
                for ack in acks {
                    let _ = ack.send(Err(unavailable()));
                }
            }
        }
    }

    /// Periodic work: checkpoints, rotation, recovery from failures.
    fn maintain(&mut self) {
        if self.shared.sync_failed.swap(false, Ordering::SeqCst) {
            self.abandon_segment("fsync failed");
        }
        if self.segment.is_none() {
            self.retry_segment();
            return;
        }
        let rotate = self.segment.as_ref().is_some_and(|s| {
            s.len > s.header_len
                && (s.len >= self.config.segment_max_bytes
                    || s.opened.elapsed() >= self.config.segment_max_age)
        });
        if rotate {
            self.rotate();
        } else if self.since_checkpoint > 0
            && self.last_checkpoint.elapsed() >= self.config.checkpoint_interval
            && let Some(cp) = self.write_checkpoint()
        {
            self.syncer.publish_after_sync(cp);
        }
    }

    /// Appends a signed checkpoint of the chain so far.
    fn write_checkpoint(&mut self) -> Option<Checkpoint> {
        let segment = self.segment.as_mut()?;
        let cp = Checkpoint::sign(
            &self.keys,
            &self.config.node,
            self.next_seq - 1,
            self.prev,
            self.first_seq,
            now_ms(),
        );
        let mut bytes = Vec::new();
        frame_bytes(&cp.encode(), &mut bytes);
        match (&*segment.file).write_all(&bytes) {
            Ok(()) => {
                segment.len += bytes.len() as u64;
                self.since_checkpoint = 0;
                self.last_checkpoint = Instant::now();
                self.syncer.mark_dirty();
                Some(cp)
            }
            Err(e) => {
                let _ = segment.file.set_len(segment.len);
                self.abandon_segment(&format!("writing a checkpoint: {e}"));
                None
            }
        }
    }

    /// Seals the current segment (checkpoint, fsync) and opens the next;
    /// then applies retention.
    fn rotate(&mut self) {
        if let Some(cp) = self.write_checkpoint()
            && self.sync_current()
        {
            self.publisher.publish(cp);
        }
        if self.segment.is_none() {
            return;
        }
        self.segment = None;
        if let Err(e) = self.open_next_segment() {
            self.shared.fail(&format!("opening the next segment: {e}"));
            return;
        }
        self.apply_retention();
    }

    fn sync_current(&mut self) -> bool {
        let Some(segment) = self.segment.as_ref() else {
            return false;
        };
        match segment.file.sync_data() {
            Ok(()) => true,
            Err(e) => {
                self.abandon_segment(&format!("fsync: {e}"));
                false
            }
        }
    }

    fn abandon_segment(&mut self, what: &str) {
        self.shared.fail(what);
        self.segment = None;
        self.syncer.set_file(None);
    }

    fn retry_segment(&mut self) {
        match self.open_next_segment() {
            Ok(()) => {
                tracing::info!(node = %self.config.node, "audit log writable again");
            }
            Err(e) => self.shared.fail(&format!("opening the next segment: {e}")),
        }
    }

    /// Creates segment `last_number + 1`, starting where the chain is.
    fn open_next_segment(&mut self) -> Result<()> {
        let number = self.last_number + 1;
        let path = self
            .config
            .dir
            .join(segment_name(&self.config.node, number));
        let header = SegmentHeader {
            node: self.config.node.clone(),
            segment: number,
            first_seq: self.next_seq,
            prev_hash: self.prev,
            created_ms: now_ms(),
        }
        .encode();
        let file = create_segment(&path, &header)?;
        if let Err(e) = sync_dir(&self.config.dir) {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        let file = Arc::new(file);
        self.syncer.set_file(Some(file.clone()));
        self.segment = Some(OpenSegment {
            number,
            file,
            len: header.len() as u64,
            header_len: header.len() as u64,
            opened: Instant::now(),
        });
        self.last_number = number;
        self.shared.healthy.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Deletes the oldest closed segments past the retention limits. The
    /// new oldest record is first recorded in a durable, published
    /// checkpoint, so a deletion by retention is not mistaken for tampering.
    fn apply_retention(&mut self) {
        if self.config.retain_age.is_none() && self.config.retain_bytes.is_none() {
            return;
        }
        let current = self.segment.as_ref().map_or(0, |s| s.number);
        let files: Vec<SegmentFile> = match segment::list(&self.config.dir) {
            Ok(mut all) => all.remove(&self.config.node).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "audit retention: listing segments");
                return;
            }
        };
        let sizes: Vec<(u64, Option<std::time::SystemTime>)> = files
            .iter()
            .map(|f| {
                let meta = std::fs::metadata(&f.path).ok();
                (
                    meta.as_ref().map_or(0, |m| m.len()),
                    meta.and_then(|m| m.modified().ok()),
                )
            })
            .collect();
        let mut total: u64 = sizes.iter().map(|(len, _)| len).sum();
        let mut doomed = Vec::new();
        for (file, (len, modified)) in files.iter().zip(&sizes) {
            if file.number >= current {
                break;
            }
            let too_old = match (self.config.retain_age, modified) {
                (Some(age), Some(m)) => m.elapsed().is_ok_and(|e| e > age),
                _ => false,
            };
            let too_big = self.config.retain_bytes.is_some_and(|max| total > max);
            if !(too_old || too_big) {
                break;
            }
            total -= len;
            doomed.push(file.clone());
        }
        if doomed.is_empty() {
            return;
        }
        let kept_first = files
            .iter()
            .find(|f| f.number > doomed[doomed.len() - 1].number)
            .and_then(|f| read_header(&f.path))
            .map_or(self.next_seq, |h| h.first_seq);
        self.first_seq = kept_first;
        let Some(cp) = self.write_checkpoint() else {
            return;
        };
        if !self.sync_current() {
            return;
        }
        if let Err(e) = self.publisher.publish_now(&cp) {
            tracing::warn!(error = %e, "audit retention postponed: recording the checkpoint");
            return;
        }
        for file in doomed {
            match std::fs::remove_file(&file.path) {
                Ok(()) => {
                    tracing::info!(path = %file.path.display(), "audit segment removed by retention")
                }
                Err(e) => {
                    tracing::warn!(path = %file.path.display(), error = %e, "audit retention")
                }
            }
        }
        let _ = sync_dir(&self.config.dir);
    }

    /// On close: a final checkpoint, fsync, publish, stop the helpers.
    fn finish(&mut self) {
        let cp = self.write_checkpoint();
        let synced = self.sync_current();
        if let (Some(cp), true) = (cp, synced)
            && let Err(e) = self.publisher.publish_now(&cp)
        {
            tracing::warn!(error = %e, "recording the final audit checkpoint");
        }
        self.syncer.stop();
        self.publisher.stop();
    }
}

pub(crate) fn unavailable() -> Error {
    Error::Unavailable("the audit log cannot be written; see the server log".into())
}
