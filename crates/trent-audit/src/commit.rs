//! Group commit and checkpoint publication, the writer's two helpers:
//! the syncer fsyncs the current segment (at most every `sync_interval` in
//! buffered mode, at once for strict waiters, who arrive in groups while
//! the previous fsync runs); the publisher copies each durable checkpoint
//! into the store, newest only, never going backwards.

use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use trent_store::Store;

use crate::error::Result;
use crate::format::Checkpoint;
use crate::log::{Ack, Shared, checkpoint_meta, lock, unavailable};

/// Group commit: fsyncs the current segment when asked to, at most every
/// `interval` in buffered mode and right away for strict waiters (who
/// arrive in groups while the previous fsync runs).
pub(crate) struct Syncer {
    state: Mutex<SyncState>,
    wake: Condvar,
    interval: Duration,
}

#[derive(Default)]
struct SyncState {
    file: Option<Arc<File>>,
    dirty: bool,
    waiters: Vec<Ack>,
    checkpoint: Option<Checkpoint>,
    stop: bool,
}

impl Syncer {
    pub(crate) fn new(interval: Duration) -> Self {
        Syncer {
            state: Mutex::default(),
            wake: Condvar::new(),
            interval,
        }
    }

    pub(crate) fn set_file(&self, file: Option<Arc<File>>) {
        let mut state = lock(&self.state);
        if file.is_none() {
            for ack in state.waiters.drain(..) {
                let _ = ack.send(Err(unavailable()));
            }
            state.checkpoint = None;
            state.dirty = false;
        }
        state.file = file;
    }

    pub(crate) fn mark_dirty(&self) {
        let mut state = lock(&self.state);
        if !state.dirty {
            state.dirty = true;
            self.wake.notify_one();
        }
    }

    pub(crate) fn wait_for_sync(&self, acks: Vec<Ack>) {
        let mut state = lock(&self.state);
        state.dirty = true;
        state.waiters.extend(acks);
        self.wake.notify_one();
    }

    pub(crate) fn publish_after_sync(&self, cp: Checkpoint) {
        let mut state = lock(&self.state);
        state.checkpoint = Some(cp);
        state.dirty = true;
        self.wake.notify_one();
    }

    pub(crate) fn stop(&self) {
        lock(&self.state).stop = true;
        self.wake.notify_one();
    }

    pub(crate) fn run(&self, shared: &Shared, publisher: &Publisher) {
        let mut last_sync = Instant::now() - self.interval;
        loop {
            let (file, waiters, checkpoint) = {
                let mut state = lock(&self.state);
                loop {
                    let due = !state.waiters.is_empty()
                        || (state.dirty && (state.stop || last_sync.elapsed() >= self.interval));
                    if due {
                        break;
                    }
                    if state.stop {
                        return;
                    }
                    let wait = if state.dirty {
                        self.interval.saturating_sub(last_sync.elapsed())
                    } else {
                        self.interval
                    };
                    state = self
                        .wake
                        .wait_timeout(state, wait)
                        .map(|(guard, _)| guard)
                        .unwrap_or_else(|poisoned| poisoned.into_inner().0);
                }
                state.dirty = false;
                (
                    state.file.clone(),
                    std::mem::take(&mut state.waiters),
                    state.checkpoint.take(),
                )
            };
            let result = match &file {
                Some(file) => file.sync_data(),
                None => Err(std::io::Error::other("no open segment")),
            };
            last_sync = Instant::now();
            match result {
                Ok(()) => {
                    for ack in waiters {
                        let _ = ack.send(Ok(()));
                    }
                    if let Some(cp) = checkpoint {
                        publisher.publish(cp);
                    }
                }
                Err(e) => {
                    shared.fail(&format!("fsync: {e}"));
                    shared.sync_failed.store(true, Ordering::SeqCst);
                    for ack in waiters {
                        let _ = ack.send(Err(unavailable()));
                    }
                }
            }
        }
    }
}

/// Copies durable checkpoints into the store, newest only, never going
/// backwards.
pub(crate) struct Publisher {
    store: Arc<dyn Store>,
    meta_name: String,
    slot: Mutex<(Option<Checkpoint>, bool)>,
    wake: Condvar,
    /// Held while writing; the seq last written.
    written: Mutex<u64>,
}

impl Publisher {
    pub(crate) fn new(store: Arc<dyn Store>, node: &str) -> Self {
        Publisher {
            store,
            meta_name: checkpoint_meta(node),
            slot: Mutex::new((None, false)),
            wake: Condvar::new(),
            written: Mutex::new(0),
        }
    }

    pub(crate) fn publish(&self, cp: Checkpoint) {
        lock(&self.slot).0 = Some(cp);
        self.wake.notify_one();
    }

    pub(crate) fn publish_now(&self, cp: &Checkpoint) -> Result<()> {
        let mut written = lock(&self.written);
        if cp.seq < *written {
            return Ok(());
        }
        self.store.put_meta(&self.meta_name, &cp.encode())?;
        *written = cp.seq;
        Ok(())
    }

    pub(crate) fn stop(&self) {
        lock(&self.slot).1 = true;
        self.wake.notify_one();
    }

    pub(crate) fn run(&self) {
        loop {
            let cp = {
                let mut slot = lock(&self.slot);
                while slot.0.is_none() && !slot.1 {
                    slot = self
                        .wake
                        .wait(slot)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                match slot.0.take() {
                    Some(cp) => cp,
                    None => return,
                }
            };
            if let Err(e) = self.publish_now(&cp) {
                tracing::warn!(error = %e, "recording the audit checkpoint in the store");
            }
        }
    }
}
