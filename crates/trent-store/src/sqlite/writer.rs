//! Group commit: one writer thread owns the write connection. Callers hand
//! it write operations and block until their operation is durable. The
//! thread takes every operation already queued, runs each under its own
//! savepoint inside one `BEGIN IMMEDIATE` transaction, and commits once — so
//! N concurrent writers pay one fsync, not N. An operation that fails rolls
//! back to its savepoint and does not disturb the others in the batch. A
//! lone write is never delayed: the thread does not wait for company.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::db;
use crate::{Error, Result};

/// Most operations committed together.
const MAX_BATCH: usize = 256;
/// Queue length before callers block (back-pressure).
const QUEUE: usize = 1024;

/// Called with the batch's commit outcome once it is known.
type Completion = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;
/// A queued operation: runs inside the batch's transaction, or is skipped
/// (`None`) when the transaction could not start.
type Job = Box<dyn FnOnce(Option<&Transaction<'_>>) -> Completion + Send>;

/// The handle callers use; dropping it stops the thread after it drains.
pub(super) struct Writer {
    jobs: SyncSender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(super) fn start(conn: Connection) -> Result<Self> {
        let (jobs, queue) = sync_channel::<Job>(QUEUE);
        thread::Builder::new()
            .name("trent-sqlite-writer".into())
            .spawn(move || run(conn, queue))
            .map_err(|e| Error::Database(format!("starting the writer thread: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `op` in the next batch and returns its result once the batch has
    /// been committed (fsync'd), or the commit's error.
    pub(super) fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = sync_channel::<Result<T>>(1);
        let job: Job = Box::new(move |tx| {
            let outcome = tx.map(|tx| in_savepoint(tx, op));
            Box::new(move |commit| {
                let result = match (outcome, commit) {
                    (Some(Ok(value)), Ok(())) => Ok(value),
                    (Some(Err(e)), _) => Err(e),
                    (_, Err(message)) => Err(Error::Database(message)),
                    (None, Ok(())) => Err(Error::Database("the write was not run".into())),
                };
                let _ = reply.send(result);
            })
        });
        let stopped = || Error::Database("the store's writer thread has stopped".into());
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

fn in_savepoint<T>(
    tx: &Transaction<'_>,
    op: impl FnOnce(&Transaction<'_>) -> Result<T>,
) -> Result<T> {
    tx.execute_batch("SAVEPOINT op").map_err(db)?;
    match op(tx) {
        Ok(value) => {
            tx.execute_batch("RELEASE op").map_err(db)?;
            Ok(value)
        }
        Err(e) => {
            tx.execute_batch("ROLLBACK TO op; RELEASE op").map_err(db)?;
            Err(e)
        }
    }
}

fn run(mut conn: Connection, queue: Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, batch);
    }
}

fn commit_batch(conn: &mut Connection, batch: Vec<Job>) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let message = db(e).to_string();
            for job in batch {
                job(None)(Err(message.clone()));
            }
            return;
        }
    };
    let completions: Vec<Completion> = batch.into_iter().map(|job| job(Some(&tx))).collect();
    let outcome = tx.commit().map_err(|e| db(e).to_string());
    for complete in completions {
        complete(outcome.clone());
    }
}
