//! `trent audit verify`: checks every node's chain across its segments, the
//! signature of every checkpoint, and the store's newest checkpoint, and
//! reports each problem with the record where it starts, first one first.
//!
//! What each kind of tampering looks like:
//! - a record edited: it no longer authenticates (with the record key), and
//!   the next record's `prev` no longer matches;
//! - a record deleted: a gap in the sequence numbers;
//! - records reordered: a sequence number out of place;
//! - the tail cut (records, checkpoints, whole segment files): the store's
//!   checkpoint covers records the files no longer have;
//! - the oldest segments deleted: the newest checkpoint says which record
//!   retention keeps from, and the files start later.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::Result;
use crate::format::{Checkpoint, Frame, GENESIS, Hash};
use crate::keys::{AuditKeys, PublicKey};
use crate::segment::{self, SegmentEnd, SegmentFile};

/// Something wrong with a chain, located at the first record it affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The first record affected.
    pub seq: u64,
    /// Where in the files, when known (`file @ offset`).
    pub location: String,
    /// What is wrong.
    pub what: String,
}

/// The verdict on one node's chain.
#[derive(Debug, Clone, Default)]
pub struct NodeReport {
    /// The node.
    pub node: String,
    /// Segment files read.
    pub segments: usize,
    /// Records read.
    pub records: u64,
    /// First and last record seen.
    pub range: Option<(u64, u64)>,
    /// Valid checkpoints seen in the files.
    pub checkpoints: u64,
    /// The newest valid checkpoint (files or store).
    pub newest_checkpoint: Option<Checkpoint>,
    /// Records that could be decrypted (when the record key was given).
    pub decrypted: u64,
    /// Problems, sorted by record.
    pub problems: Vec<Problem>,
    /// Things worth knowing that are not tampering (a write cut short by a
    /// crash, segments removed by retention).
    pub notes: Vec<String>,
}

impl NodeReport {
    /// Whether the chain is intact.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first broken or missing record.
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

/// What verification checks against.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// The checkpoint verification key.
    pub public_key: &'a PublicKey,
    /// The record key, to check every record decrypts (optional: the chain
    /// and signatures verify without it).
    pub keys: Option<&'a AuditKeys>,
}

/// Verifies every node found in `dir`, plus the `expected` nodes (whose
/// files may all be gone). `stored_checkpoint(node)` returns the store's
/// checkpoint bytes for a node.
pub fn verify_dir(
    dir: &Path,
    trust: Trust<'_>,
    expected: &[String],
    stored_checkpoint: &dyn Fn(&str) -> Result<Option<Vec<u8>>>,
) -> Result<Vec<NodeReport>> {
    let mut all = segment::list(dir)?;
    let nodes: BTreeSet<String> = all
        .keys()
        .cloned()
        .chain(expected.iter().cloned())
        .collect();
    let mut reports = Vec::new();
    for node in nodes {
        let files = all.remove(&node).unwrap_or_default();
        let stored = stored_checkpoint(&node)?;
        reports.push(verify_node(&node, &files, trust, stored.as_deref()));
    }
    Ok(reports)
}

/// Verifies one node's chain.
pub fn verify_node(
    node: &str,
    files: &[SegmentFile],
    trust: Trust<'_>,
    stored: Option<&[u8]>,
) -> NodeReport {
    let mut v = Verifier {
        report: NodeReport {
            node: node.to_owned(),
            ..NodeReport::default()
        },
        trust,
        last: None,
        stored: None,
        stored_hash: None,
        first_present: None,
    };
    if let Some(bytes) = stored {
        match Checkpoint::decode(bytes) {
            Ok(cp) if cp.verify(trust.public_key, node) => v.stored = Some(cp),
            _ => v.problem(
                0,
                "store",
                "the store's checkpoint is malformed or its signature is invalid".into(),
            ),
        }
    }
    let mut previous_number = None;
    for (i, file) in files.iter().enumerate() {
        let name = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(prev) = previous_number
            && file.number != prev + 1
        {
            v.report.notes.push(format!(
                "segment numbers jump from {prev} to {} (a segment without records may be missing)",
                file.number
            ));
        }
        previous_number = Some(file.number);
        v.segment(file, &name, i + 1 == files.len());
    }
    v.finish();
    v.report.problems.sort_by_key(|p| p.seq);
    v.report
}

struct Verifier<'a> {
    report: NodeReport,
    trust: Trust<'a>,
    /// The last record accepted: (seq, hash).
    last: Option<(u64, Hash)>,
    stored: Option<Checkpoint>,
    stored_hash: Option<Hash>,
    first_present: Option<u64>,
}

impl Verifier<'_> {
    fn problem(&mut self, seq: u64, location: &str, what: String) {
        self.report.problems.push(Problem {
            seq,
            location: location.to_owned(),
            what,
        });
    }

    fn segment(&mut self, file: &SegmentFile, name: &str, is_last: bool) {
        let parsed = match segment::read(&file.path) {
            Ok(p) => p,
            Err(e) => {
                let seq = self.last.map_or(1, |(s, _)| s + 1);
                self.problem(seq, name, format!("unreadable segment: {e}"));
                return;
            }
        };
        self.report.segments += 1;
        let h = &parsed.header;
        if h.node != self.report.node || h.segment != file.number {
            let seq = h.first_seq;
            self.problem(
                seq,
                name,
                format!(
                    "header names node '{}' segment {}: the file was renamed or copied",
                    h.node, h.segment
                ),
            );
        }
        match self.last {
            None => {
                if h.first_seq == 1 && h.prev_hash != GENESIS {
                    self.problem(1, name, "the first segment does not start the chain".into());
                }
                self.first_present = Some(h.first_seq);
                self.last = Some((h.first_seq.saturating_sub(1), h.prev_hash));
            }
            Some((last, prev)) if h.first_seq != last + 1 || h.prev_hash != prev => {
                if h.first_seq > last + 1 {
                    self.problem(
                        last + 1,
                        name,
                        format!(
                            "records {}..={} are missing (this segment starts at {})",
                            last + 1,
                            h.first_seq - 1,
                            h.first_seq
                        ),
                    );
                } else {
                    self.problem(
                        h.first_seq.max(1),
                        name,
                        format!("segment does not continue the chain after record {last}"),
                    );
                }
                self.last = Some((h.first_seq.saturating_sub(1), h.prev_hash));
            }
            Some(_) => {}
        }
        if self
            .stored
            .as_ref()
            .is_some_and(|cp| cp.seq + 1 == h.first_seq)
        {
            self.stored_hash = Some(h.prev_hash);
        }
        for (offset, frame) in &parsed.frames {
            let location = format!("{name} @ {offset}");
            match frame {
                Frame::Record(r) => self.record(r, &location),
                Frame::Checkpoint(cp) => self.checkpoint(cp, &location),
            }
        }
        match parsed.end {
            SegmentEnd::Clean => {}
            SegmentEnd::Torn { offset, bytes } => self.report.notes.push(format!(
                "{name} ends with an incomplete frame ({bytes} bytes at {offset}): a write cut short{}",
                if is_last { " (by a crash, or in progress)" } else { " by a crash" }
            )),
            SegmentEnd::Malformed { offset, reason } => {
                let seq = self.last.map_or(1, |(s, _)| s + 1);
                self.problem(seq, &format!("{name} @ {offset}"), format!("bytes that are not a frame ({reason})"));
            }
        }
    }

    fn record(&mut self, r: &crate::format::RecordFrame, location: &str) {
        let (last, prev) = self.last.unwrap_or((0, GENESIS));
        if self.first_present.is_none() {
            self.first_present = Some(r.seq);
        }
        if let Some(keys) = self.trust.keys {
            match r.open(keys, &self.report.node) {
                Some(json) if serde_json::from_slice::<serde_json::Value>(&json).is_ok() => {
                    self.report.decrypted += 1;
                }
                _ => self.problem(
                    r.seq,
                    location,
                    format!("record {} was altered: it does not authenticate", r.seq),
                ),
            }
        }
        if r.seq != last + 1 {
            if r.seq > last + 1 {
                let what = if r.seq == last + 2 {
                    format!(
                        "record {} is missing (the next present is {})",
                        last + 1,
                        r.seq
                    )
                } else {
                    format!(
                        "records {}..={} are missing (the next present is {})",
                        last + 1,
                        r.seq - 1,
                        r.seq
                    )
                };
                self.problem(last + 1, location, what);
            } else {
                self.problem(
                    r.seq,
                    location,
                    format!("record {} is out of order (expected {})", r.seq, last + 1),
                );
            }
        } else if r.prev != prev {
            self.problem(r.seq, location, format!("record {} does not follow record {}: the chain is broken (a record was altered or replaced)", r.seq, last));
        }
        let hash = r.hash();
        if self.stored.as_ref().is_some_and(|cp| cp.seq == r.seq) {
            self.stored_hash = Some(hash);
        }
        self.last = Some((r.seq, hash));
        self.report.records += 1;
        let first = self.report.range.map_or(r.seq, |(f, _)| f.min(r.seq));
        self.report.range = Some((first, r.seq.max(self.report.range.map_or(0, |(_, l)| l))));
    }

    fn checkpoint(&mut self, cp: &Checkpoint, location: &str) {
        if !cp.verify(self.trust.public_key, &self.report.node) {
            self.problem(
                cp.seq.max(1),
                location,
                format!("checkpoint for record {} has an invalid signature", cp.seq),
            );
            return;
        }
        let (last, prev) = self.last.unwrap_or((0, GENESIS));
        if cp.seq != last || cp.head != prev {
            self.problem(cp.seq.max(1), location, format!("checkpoint for record {} does not match the chain (which is at record {last} here)", cp.seq));
        }
        self.report.checkpoints += 1;
        self.newer(cp.clone());
    }

    fn newer(&mut self, cp: Checkpoint) {
        let newer = self
            .report
            .newest_checkpoint
            .as_ref()
            .is_none_or(|n| (cp.seq, cp.time_ms) > (n.seq, n.time_ms));
        if newer {
            self.report.newest_checkpoint = Some(cp);
        }
    }

    fn finish(&mut self) {
        let last = self.last.map_or(0, |(s, _)| s);
        if let Some(stored) = self.stored.clone() {
            if stored.seq > last {
                let what = if self.report.segments == 0 {
                    format!(
                        "records {}..={} are missing: the store's checkpoint covers them but there are no segment files",
                        last + 1,
                        stored.seq
                    )
                } else {
                    format!(
                        "records {}..={} are missing: the log ends at record {last} but the store's checkpoint covers record {} (the tail was cut)",
                        last + 1,
                        stored.seq,
                        stored.seq
                    )
                };
                self.problem(last + 1, "end of log", what);
            } else if self.first_present.is_some_and(|f| stored.seq + 1 >= f)
                && self.stored_hash != Some(stored.head)
            {
                self.problem(
                    stored.seq.max(1),
                    "store",
                    format!(
                        "record {} does not match the store's checkpoint",
                        stored.seq
                    ),
                );
            }
            self.newer(stored);
        }
        if let (Some(cp), Some(first)) = (&self.report.newest_checkpoint, self.first_present)
            && first > cp.first_seq
        {
            let (from, to) = (cp.first_seq, first - 1);
            self.problem(from, "start of log", format!("records {from}..={to} are missing from the start (retention keeps records from {from})"));
        }
        if let (Some(cp), Some(first)) = (&self.report.newest_checkpoint, self.first_present)
            && first < cp.first_seq
        {
            self.report.notes.push(format!(
                "records {first}..{} are past retention and due for removal",
                cp.first_seq
            ));
        }
    }
}
