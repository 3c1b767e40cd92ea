//! When to poll an image's registry next: the interval after a success, backing off after failures.
//!
//! A registry outage must not turn every tracked image into a request loop, yet polling should
//! resume promptly once the registry is back. So retryable failures (network, 5xx, 429) back off
//! exponentially from a short first retry up to a cap, and the first success resets the count.
//! Failures that need a human (401, 403, 404) are polled no more often than the interval or the
//! cap, whichever is longer: retrying sooner cannot help, and repeated failed logins can get an
//! account locked. Time is passed in, so every schedule is a plain unit test.

use std::ops::Add;
use std::time::Duration;

use super::error::RegistryError;

/// Shortest first retry after a failure: long enough to ride out a registry restart.
pub const DEFAULT_FIRST_RETRY: Duration = Duration::from_secs(10);
/// Longest backoff: an outage is noticed to be over within this, whatever the interval.
pub const DEFAULT_MAX_RETRY: Duration = Duration::from_secs(15 * 60);
/// Headwind's default `headwind.sh/polling-interval` (seconds).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// What a poll of one image came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    /// Tags (and digests) were read.
    Success,
    /// A failure that may go away by itself ([`RegistryError::is_retryable`]).
    Retryable,
    /// A failure that needs a change somewhere: credentials, image name, registry.
    Permanent,
}

impl PollOutcome {
    /// The outcome of a registry call.
    pub fn of<T>(result: &Result<T, RegistryError>) -> Self {
        match result {
            Ok(_) => Self::Success,
            Err(error) if error.is_retryable() => Self::Retryable,
            Err(_) => Self::Permanent,
        }
    }
}

/// One image's polling history, as much of it as the schedule needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollState {
    /// Failures since the last success (retryable or not).
    pub consecutive_failures: u32,
}

/// The polling rhythm of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSchedule {
    /// Time between polls while they succeed.
    pub interval: Duration,
    /// Delay after the first retryable failure; each further one doubles it.
    pub first_retry: Duration,
    /// Cap of the doubling.
    pub max_retry: Duration,
}

impl Default for PollSchedule {
    fn default() -> Self {
        Self::with_interval(DEFAULT_INTERVAL)
    }
}

impl PollSchedule {
    /// The schedule for a polling interval: backoff from 10 s, capped at four intervals or 15
    /// minutes, whichever is shorter (a short interval keeps a short cap; a long one still notices
    /// the end of an outage within 15 minutes).
    pub fn with_interval(interval: Duration) -> Self {
        let max_retry = interval.saturating_mul(4).min(DEFAULT_MAX_RETRY).max(DEFAULT_FIRST_RETRY);
        Self { interval, first_retry: DEFAULT_FIRST_RETRY, max_retry }
    }

    /// Records `outcome` in `state` and returns when to poll next, counted from `now`.
    ///
    /// `T` is whatever clock the caller uses: `tokio::time::Instant` (for paused-time tests),
    /// `std::time::Instant`, or `jiff::Timestamp`.
    pub fn next_poll<T: Add<Duration, Output = T>>(
        &self,
        state: &mut PollState,
        outcome: PollOutcome,
        now: T,
    ) -> T {
        let delay = match outcome {
            PollOutcome::Success => {
                state.consecutive_failures = 0;
                self.interval
            }
            PollOutcome::Retryable => {
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                self.retry_delay(state.consecutive_failures)
            }
            PollOutcome::Permanent => {
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                self.interval.max(self.max_retry)
            }
        };
        now + delay
    }

    /// `first_retry * 2^(failures - 1)`, capped; `failures` counts from 1.
    fn retry_delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first_retry.saturating_mul(1 << doublings).min(self.max_retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Feeds outcomes one after another, each poll happening when scheduled, and returns the delays.
    fn delays(schedule: PollSchedule, outcomes: &[PollOutcome]) -> Vec<u64> {
        let mut state = PollState::default();
        let mut now = secs(1_000);
        outcomes
            .iter()
            .map(|&outcome| {
                let next = schedule.next_poll(&mut state, outcome, now);
                let delay = (next - now).as_secs();
                now = next;
                delay
            })
            .collect()
    }

    use PollOutcome::{Permanent, Retryable, Success};

    #[test]
    fn successes_poll_at_the_interval() {
        assert_eq!(delays(PollSchedule::with_interval(secs(300)), &[Success, Success]), [300, 300]);
    }

    #[test]
    fn retryable_failures_double_from_ten_seconds_up_to_the_cap() {
        let got = delays(PollSchedule::with_interval(secs(300)), &[Retryable; 9]);
        assert_eq!(got, [10, 20, 40, 80, 160, 320, 640, 900, 900]);
    }

    #[test]
    fn success_resets_the_backoff() {
        let got = delays(PollSchedule::with_interval(secs(300)), &[Retryable, Retryable, Success, Retryable]);
        assert_eq!(got, [10, 20, 300, 10]);
    }

    #[test]
    fn short_intervals_cap_the_backoff_at_four_intervals() {
        let schedule = PollSchedule::with_interval(secs(30));
        assert_eq!(schedule.max_retry, secs(120));
        assert_eq!(delays(schedule, &[Retryable; 6]), [10, 20, 40, 80, 120, 120]);
    }

    #[test]
    fn long_intervals_still_retry_within_fifteen_minutes() {
        let got = delays(PollSchedule::with_interval(secs(3600)), &[Retryable; 8]);
        assert_eq!(got.last(), Some(&900));
    }

    #[test]
    fn very_short_intervals_never_retry_faster_than_the_first_retry() {
        let schedule = PollSchedule::with_interval(secs(1));
        assert_eq!(delays(schedule, &[Success, Retryable, Retryable]), [1, 10, 10]);
    }

    #[test]
    fn permanent_failures_wait_the_longer_of_interval_and_cap() {
        assert_eq!(delays(PollSchedule::with_interval(secs(300)), &[Permanent, Permanent]), [900, 900]);
        assert_eq!(delays(PollSchedule::with_interval(secs(3600)), &[Permanent]), [3600]);
    }

    #[test]
    fn failures_are_counted_across_kinds_and_reset_by_success() {
        let schedule = PollSchedule::default();
        let mut state = PollState::default();
        let now = secs(0);
        schedule.next_poll(&mut state, Permanent, now);
        schedule.next_poll(&mut state, Retryable, now);
        assert_eq!(state.consecutive_failures, 2);
        schedule.next_poll(&mut state, Success, now);
        assert_eq!(state, PollState::default());
    }

    #[test]
    fn thousands_of_failures_do_not_overflow() {
        let schedule = PollSchedule::default();
        let mut state = PollState { consecutive_failures: u32::MAX - 1 };
        let next = schedule.next_poll(&mut state, Retryable, secs(0));
        assert_eq!(next, secs(900));
        assert_eq!(state.consecutive_failures, u32::MAX);
        schedule.next_poll(&mut state, Retryable, secs(0));
        assert_eq!(state.consecutive_failures, u32::MAX);
    }

    #[test]
    fn wall_clock_timestamps_work_as_the_clock() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut state = PollState::default();
        let next = PollSchedule::default().next_poll(&mut state, Retryable, now);
        assert_eq!(next.to_string(), "2026-01-01T00:00:10Z");
    }
}
