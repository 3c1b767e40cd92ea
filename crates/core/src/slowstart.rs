//! Slow-start batching of pod creates.
//!
//! Creates go out in batches of 1, 2, 4, 8, ... and stop after the first batch with an error: a
//! template the API server rejects (quota, admission) then costs one failed request, not 250.

use crate::constants::SLOW_START_INITIAL_BATCH_SIZE;

/// Batch sizes for `total` creates: 1, 2, 4, ... with the last one cut to what remains.
pub fn batches(total: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut size = SLOW_START_INITIAL_BATCH_SIZE.min(total);
    let mut done = 0;
    while done < total {
        out.push(size);
        done += size;
        size = (size * 2).min(total - done);
    }
    out
}

/// What happened when a batch of creates was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlowStartOutcome {
    /// Creates attempted.
    pub attempted: usize,
    /// Attempts that failed.
    pub failed: usize,
    /// Creates never attempted because an earlier batch failed.
    pub skipped: usize,
}

/// Runs `create(index)` for `0..total` in slow-start batches (sequentially; an async runtime uses
/// [`batches`] to run each batch concurrently). `create` returns whether it succeeded.
pub fn run(total: usize, mut create: impl FnMut(usize) -> bool) -> SlowStartOutcome {
    let mut outcome = SlowStartOutcome::default();
    let mut pos = 0;
    for size in batches(total) {
        let mut batch_failed = false;
        for i in pos..pos + size {
            outcome.attempted += 1;
            if !create(i) {
                outcome.failed += 1;
                batch_failed = true;
            }
        }
        pos += size;
        if batch_failed {
            outcome.skipped = total - pos;
            break;
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_double_and_cover_the_total() {
        assert_eq!(batches(0), Vec::<usize>::new());
        assert_eq!(batches(1), [1]);
        assert_eq!(batches(10), [1, 2, 4, 3]);
        assert_eq!(batches(250).iter().sum::<usize>(), 250);
    }

    #[test]
    fn creation_stops_after_the_first_failing_batch() {
        let outcome = run(100, |i| i < 10);
        // Batches 1+2+4 succeed (7), the batch of 8 fails on its last 5: 15 attempted.
        assert_eq!(outcome, SlowStartOutcome { attempted: 15, failed: 5, skipped: 85 });
    }
}
