//! A log-linear latency histogram in the style of HdrHistogram: values
//! (nanoseconds) below 128 are counted exactly, larger ones in 128
//! sub-buckets per power of two, so every reported quantile is within 0.8%
//! of the true value. Fixed size (58 KiB), no allocation while recording,
//! mergeable across workers.

/// Sub-buckets per power of two: `2^SUB_BITS`.
const SUB_BITS: u32 = 7;
const SUB_COUNT: usize = 1 << SUB_BITS;
/// Buckets needed to cover every `u64`.
const LEN: usize = SUB_COUNT + (64 - SUB_BITS as usize) * SUB_COUNT;

/// Counts of latencies, in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("total", &self.total)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; LEN].into_boxed_slice(),
            total: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

/// The bucket a value falls in.
fn index_of(value: u64) -> usize {
    if value < SUB_COUNT as u64 {
        return value as usize;
    }
    let msb = 63 - value.leading_zeros();
    let shift = msb - SUB_BITS;
    let sub = (value >> shift) as usize - SUB_COUNT;
    SUB_COUNT + shift as usize * SUB_COUNT + sub
}

/// The largest value that falls in bucket `index`.
fn highest_in(index: usize) -> u64 {
    if index < SUB_COUNT {
        return index as u64;
    }
    let shift = ((index - SUB_COUNT) / SUB_COUNT) as u32;
    let sub = ((index - SUB_COUNT) % SUB_COUNT) as u64;
    let lowest = (SUB_COUNT as u64 + sub) << shift;
    lowest.saturating_add((1u64 << shift) - 1)
}

impl Histogram {
    /// Counts one value.
    pub fn record(&mut self, nanos: u64) {
        self.counts[index_of(nanos)] += 1;
        self.total += 1;
        self.sum += u128::from(nanos);
        self.min = self.min.min(nanos);
        self.max = self.max.max(nanos);
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest value recorded (0 if none).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The mean (0 if none).
    pub fn mean(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            (self.sum / u128::from(self.total)) as u64
        }
    }

    /// The value at quantile `q` (0.0–1.0): the highest value of the bucket
    /// holding the `ceil(q × count)`-th smallest value, capped at the max.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return highest_in(index).min(self.max).max(self.min);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_with_bounded_error() {
        for value in [
            0u64,
            1,
            127,
            128,
            129,
            255,
            256,
            1000,
            123_456,
            999_999_999,
            u64::MAX,
        ] {
            let index = index_of(value);
            assert!(index < LEN, "{value}");
            let high = highest_in(index);
            assert!(high >= value, "{value} > {high}");
            let low = if index == 0 {
                0
            } else {
                highest_in(index - 1) + 1
            };
            assert!(low <= value, "{value} < {low}");
            assert!(
                (high - low) as f64 <= value as f64 / 127.0 + 1.0,
                "{value}: {low}..{high}"
            );
        }
    }

    #[test]
    fn quantiles_of_a_uniform_run() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        let close = |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 0.01;
        assert!(close(h.quantile(0.5), 50_000_000), "{}", h.quantile(0.5));
        assert!(close(h.quantile(0.99), 99_000_000), "{}", h.quantile(0.99));
        assert!(
            close(h.quantile(0.999), 99_900_000),
            "{}",
            h.quantile(0.999)
        );
        assert_eq!(h.quantile(1.0), 100_000_000);
        assert_eq!(h.max(), 100_000_000);
        assert_eq!(h.count(), 100_000);
        assert_eq!(h.mean(), 50_000_500);
    }

    #[test]
    fn merging_equals_recording_together() {
        let (mut a, mut b, mut both) = (
            Histogram::default(),
            Histogram::default(),
            Histogram::default(),
        );
        for v in 0..5000u64 {
            let value = v * v;
            if v % 3 == 0 {
                a.record(value)
            } else {
                b.record(value)
            }
            both.record(value);
        }
        a.merge(&b);
        for q in [0.1, 0.5, 0.9, 0.99, 0.999] {
            assert_eq!(a.quantile(q), both.quantile(q));
        }
        assert_eq!(a.count(), both.count());
        assert_eq!(Histogram::default().quantile(0.5), 0);
    }
}
