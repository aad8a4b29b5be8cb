//! Time as the server sees it. Production uses the system clock; tests may
//! move an offset forward to make scheduled deletions and rotations come due.

use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// The system clock plus an adjustable offset (zero outside tests).
#[derive(Debug, Default)]
pub struct Clock {
    offset_seconds: AtomicI64,
}

impl Clock {
    /// The system clock with no offset.
    pub fn system() -> Self {
        Self::default()
    }

    /// The current time, truncated to whole milliseconds.
    pub fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now + time::Duration::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `seconds` (test clock only).
    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }
}

impl Clock {
    /// The current time in Unix milliseconds.
    pub fn now_millis(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }
}
