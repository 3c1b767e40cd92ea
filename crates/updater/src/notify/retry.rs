//! When to retry a notification delivery and how long to wait (pure: a step function over attempts).
//!
//! Retried: network errors, timeouts, 429 and 5xx, which are the receiver's transient trouble. Not
//! retried: every other status, since a 400 or 404 means our payload or URL is wrong and will stay
//! wrong. Delays double from `initial_backoff` up to `max_backoff`; a `Retry-After` from the receiver
//! (Slack sends one with 429) lengthens the wait but never beyond `max_backoff`, so one slow channel
//! cannot hold a delivery task for long.

use std::time::Duration;

/// How persistently to deliver one notification to one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; `3` means up to four attempts.
    pub max_retries: u32,
    /// Wait before the first retry; doubles for each further retry.
    pub initial_backoff: Duration,
    /// Upper bound of any single wait, including one asked for by `Retry-After`.
    pub max_backoff: Duration,
    /// How long one attempt may take before it counts as a (retryable) failure.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// Three retries after 1 s, 2 s and 4 s, ten seconds per attempt: under a minute in the worst case.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The exponential wait before retry number `retry` (0-based), before any `Retry-After`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.checked_pow(retry).unwrap_or(u32::MAX);
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// Every wait, in order, if every attempt fails: `[1s, 2s, 4s]` by default.
    pub fn schedule(&self) -> Vec<Duration> {
        (0..self.max_retries).map(|retry| self.backoff(retry)).collect()
    }

    /// Decides what follows an attempt, given how many retries have already been made.
    pub fn next_step(&self, retries_done: u32, attempt: &Attempt) -> Step {
        let (reason, retry_after) = match attempt {
            Attempt::Status { status, retry_after } => match classify(*status) {
                Verdict::Delivered => return Step::Finish(DeliveryOutcome::Delivered),
                Verdict::GiveUp => return Step::Finish(DeliveryOutcome::Rejected { status: *status }),
                Verdict::Retry => (format!("HTTP {status}"), *retry_after),
            },
            Attempt::Error(reason) => (reason.clone(), None),
        };
        if retries_done >= self.max_retries {
            return Step::Finish(DeliveryOutcome::Failed { last_error: reason });
        }
        let wait =
            retry_after.map_or(self.backoff(retries_done), |asked| asked.max(self.backoff(retries_done)));
        Step::Wait(wait.min(self.max_backoff))
    }
}

/// What one attempt produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered.
    Status {
        /// HTTP status code.
        status: u16,
        /// The receiver's `Retry-After`, in seconds form.
        retry_after: Option<Duration>,
    },
    /// No answer: connection failure or timeout (already free of the URL).
    Error(String),
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Wait this long, then try again.
    Wait(Duration),
    /// Stop with this outcome.
    Finish(DeliveryOutcome),
}

/// How a delivery to one channel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver accepted it (2xx).
    Delivered,
    /// The receiver refused it with a status that retrying would not change.
    Rejected {
        /// The refusing status.
        status: u16,
    },
    /// Every attempt failed transiently.
    Failed {
        /// The last failure, e.g. `HTTP 503` or a connection error.
        last_error: String,
    },
}

/// How a status code is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx.
    Delivered,
    /// 429 or 5xx.
    Retry,
    /// Anything else: 1xx, 3xx (redirects are the client's business) and other 4xx.
    GiveUp,
}

/// Classifies a response status.
pub fn classify(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        429 | 500..=599 => Verdict::Retry,
        _ => Verdict::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn status(status: u16) -> Attempt {
        Attempt::Status { status, retry_after: None }
    }

    #[test]
    fn default_schedule_waits_one_two_four_seconds() {
        assert_eq!(RetryPolicy::default().schedule(), vec![secs(1), secs(2), secs(4)]);
    }

    #[test]
    fn backoff_is_capped_and_never_overflows() {
        let policy = RetryPolicy { max_retries: 40, max_backoff: secs(10), ..RetryPolicy::default() };
        assert_eq!(policy.backoff(3), secs(8));
        assert_eq!(policy.backoff(4), secs(10));
        assert_eq!(policy.backoff(39), secs(10));
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(200), Verdict::Delivered);
        assert_eq!(classify(204), Verdict::Delivered);
        assert_eq!(classify(429), Verdict::Retry);
        assert_eq!(classify(500), Verdict::Retry);
        assert_eq!(classify(503), Verdict::Retry);
        for status in [301, 400, 401, 403, 404, 410, 413] {
            assert_eq!(classify(status), Verdict::GiveUp, "{status}");
        }
    }

    #[test]
    fn success_finishes_immediately() {
        assert_eq!(
            RetryPolicy::default().next_step(0, &status(200)),
            Step::Finish(DeliveryOutcome::Delivered)
        );
    }

    #[test]
    fn client_error_is_not_retried() {
        assert_eq!(
            RetryPolicy::default().next_step(0, &status(400)),
            Step::Finish(DeliveryOutcome::Rejected { status: 400 })
        );
    }

    #[test]
    fn transient_failures_wait_then_give_up() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.next_step(0, &status(503)), Step::Wait(secs(1)));
        assert_eq!(policy.next_step(1, &Attempt::Error("connection refused".into())), Step::Wait(secs(2)));
        assert_eq!(policy.next_step(2, &status(500)), Step::Wait(secs(4)));
        assert_eq!(
            policy.next_step(3, &status(502)),
            Step::Finish(DeliveryOutcome::Failed { last_error: "HTTP 502".into() })
        );
    }

    #[test]
    fn retry_after_lengthens_the_wait_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let asked = |s| Attempt::Status { status: 429, retry_after: Some(secs(s)) };
        assert_eq!(policy.next_step(0, &asked(5)), Step::Wait(secs(5)));
        assert_eq!(policy.next_step(2, &asked(0)), Step::Wait(secs(4)));
        assert_eq!(policy.next_step(0, &asked(3600)), Step::Wait(secs(30)));
    }

    #[test]
    fn zero_retries_means_one_attempt() {
        let policy = RetryPolicy { max_retries: 0, ..RetryPolicy::default() };
        assert!(matches!(policy.next_step(0, &status(503)), Step::Finish(DeliveryOutcome::Failed { .. })));
        assert!(policy.schedule().is_empty());
    }
}
