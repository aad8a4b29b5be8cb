//! How a node's audit log is written: where, how durably, and when segments
//! rotate and expire.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::format::valid_node_id;

/// When a record counts as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Handed to the OS (`write`) before the response leaves; flushed to
    /// disk (`fsync`) by group commit at least every `sync_interval`. A
    /// process crash loses nothing answered; a power loss can lose the
    /// records of the last `sync_interval` (plus one fsync).
    Buffered,
    /// On disk (`fsync`) before the response leaves; concurrent requests
    /// share each fsync. A power loss loses nothing answered.
    Strict,
}

/// Settings of a node's audit log.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The directory of segment files (`DATA_DIR/audit`).
    pub dir: PathBuf,
    /// This node's id: names its segment files and its chain.
    pub node: String,
    /// When a record counts as written.
    pub durability: Durability,
    /// Longest time between a write and its fsync in `Buffered` mode.
    pub sync_interval: Duration,
    /// How often a signed checkpoint is written while records arrive.
    pub checkpoint_interval: Duration,
    /// A segment is closed once it is this large…
    pub segment_max_bytes: u64,
    /// …or this old.
    pub segment_max_age: Duration,
    /// Closed segments older than this are deleted (`None`: kept).
    pub retain_age: Option<Duration>,
    /// Oldest closed segments are deleted while all of the node's segments
    /// together exceed this (`None`: no limit).
    pub retain_bytes: Option<u64>,
}

impl AuditConfig {
    /// Defaults: buffered, fsync every 100 ms, a checkpoint every second,
    /// 64 MiB or daily segments, everything kept.
    pub fn new(dir: PathBuf, node: impl Into<String>) -> Self {
        AuditConfig {
            dir,
            node: node.into(),
            durability: Durability::Buffered,
            sync_interval: Duration::from_millis(100),
            checkpoint_interval: Duration::from_secs(1),
            segment_max_bytes: 64 * 1024 * 1024,
            segment_max_age: Duration::from_secs(24 * 3600),
            retain_age: None,
            retain_bytes: None,
        }
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if !valid_node_id(&self.node) {
            return Err(Error::Config(format!(
                "node id '{}' must be 1–64 of letters, digits, '_' and '-'",
                self.node
            )));
        }
        if self.sync_interval.is_zero() || self.sync_interval > Duration::from_millis(100) {
            return Err(Error::Config(
                "the sync interval must be between 1 ms and 100 ms".into(),
            ));
        }
        if self.checkpoint_interval < Duration::from_millis(10) {
            return Err(Error::Config(
                "the checkpoint interval must be at least 10 ms".into(),
            ));
        }
        if self.segment_max_bytes < 1024 {
            return Err(Error::Config(
                "segments must be allowed at least 1024 bytes".into(),
            ));
        }
        if self.segment_max_age < Duration::from_secs(1) {
            return Err(Error::Config("segments must live at least 1 s".into()));
        }
        Ok(())
    }
}
