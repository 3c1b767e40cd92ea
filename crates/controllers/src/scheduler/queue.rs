//! When a pod that failed to schedule may be tried again (the scheduling queue's backoff and
//! unschedulable pools, without the queues).
//!
//! A pod that fits nowhere waits until something could have changed the answer (a node appeared,
//! changed labels, taints or capacity, or a bound pod went away; or the pod's own spec changed),
//! and at least its backoff (1 s doubling to 10 s, as upstream). Without any such change it is
//! still retried after `unschedulable_timeout` (upstream's 5 minutes), in case a change was missed.
//! A pod whose binding failed is retried after its backoff regardless.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Backoff and retry intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Backoff after the first failure (`podInitialBackoffSeconds`, 1 s).
    pub initial_backoff: Duration,
    /// Backoff ceiling (`podMaxBackoffSeconds`, 10 s).
    pub max_backoff: Duration,
    /// Retry an unschedulable pod at least this often (`podMaxInUnschedulablePodsDuration`, 5 min).
    pub unschedulable_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            unschedulable_timeout: Duration::from_secs(300),
        }
    }
}

/// `ts + d`, saturating.
pub fn after(ts: Timestamp, d: Duration) -> Timestamp {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    ts.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// Why the last attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No node fits.
    Unschedulable,
    /// A node fit, but the binding call failed.
    BindError,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failure: Failure,
    attempts: u32,
    failed_at: Timestamp,
    cluster_generation: u64,
    pod_generation: i64,
}

/// Failed pods by UID.
#[derive(Debug, Clone, Default)]
pub struct Retries {
    policy: RetryPolicy,
    entries: HashMap<String, Entry>,
}

impl Retries {
    /// An empty book with this policy.
    pub fn new(policy: RetryPolicy) -> Retries {
        Retries { policy, entries: HashMap::new() }
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(20);
        self.policy.initial_backoff.saturating_mul(1 << doublings).min(self.policy.max_backoff)
    }

    /// When the entry may be retried, given the current cluster generation.
    fn due(&self, entry: &Entry, cluster_generation: u64, pod_generation: i64) -> Timestamp {
        let backoff_done = after(entry.failed_at, self.backoff(entry.attempts));
        let changed =
            entry.cluster_generation != cluster_generation || entry.pod_generation != pod_generation;
        if entry.failure == Failure::BindError || changed {
            backoff_done
        } else {
            after(entry.failed_at, self.policy.unschedulable_timeout.max(self.backoff(entry.attempts)))
        }
    }

    /// Whether the pod may be attempted now. Pods never seen failing always may.
    pub fn is_ready(&self, uid: &str, pod_generation: i64, cluster_generation: u64, now: Timestamp) -> bool {
        match self.entries.get(uid) {
            None => true,
            Some(entry) => now >= self.due(entry, cluster_generation, pod_generation),
        }
    }

    /// Records a failed attempt.
    pub fn record(
        &mut self,
        uid: &str,
        failure: Failure,
        pod_generation: i64,
        cluster_generation: u64,
        now: Timestamp,
    ) {
        let attempts = self.entries.get(uid).map_or(0, |e| e.attempts).saturating_add(1);
        self.entries.insert(
            uid.to_owned(),
            Entry { failure, attempts, failed_at: now, cluster_generation, pod_generation },
        );
    }

    /// Forgets a pod (bound or deleted).
    pub fn forget(&mut self, uid: &str) {
        self.entries.remove(uid);
    }

    /// Drops entries of pods no longer pending.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.entries.retain(|uid, _| keep(uid));
    }

    /// The earliest time a failed pod becomes ready, assuming the pods' generations stay.
    pub fn next_due(&self, cluster_generation: u64) -> Option<Timestamp> {
        self.entries.values().map(|e| self.due(e, cluster_generation, e.pod_generation)).min()
    }

    /// The attempt count of a pod (0 when it never failed).
    pub fn attempts(&self, uid: &str) -> u32 {
        self.entries.get(uid).map_or(0, |e| e.attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn an_unschedulable_pod_waits_for_a_cluster_change_and_its_backoff() {
        let mut r = Retries::new(RetryPolicy::default());
        r.record("u", Failure::Unschedulable, 1, 7, t(0));
        assert!(!r.is_ready("u", 1, 7, t(5)), "nothing changed");
        assert!(!r.is_ready("u", 1, 8, t(0)), "changed, but still backing off");
        assert!(r.is_ready("u", 1, 8, t(1)), "changed and backed off");
        assert!(r.is_ready("u", 2, 7, t(1)), "the pod itself changed");
        assert!(r.is_ready("u", 1, 7, t(300)), "periodic retry");
    }

    #[test]
    fn backoff_doubles_up_to_the_ceiling() {
        let mut r = Retries::new(RetryPolicy::default());
        for _ in 0..3 {
            r.record("u", Failure::BindError, 1, 1, t(0));
        }
        assert!(!r.is_ready("u", 1, 1, t(3)));
        assert!(r.is_ready("u", 1, 1, t(4)));
        for _ in 0..10 {
            r.record("u", Failure::BindError, 1, 1, t(0));
        }
        assert!(r.is_ready("u", 1, 1, t(10)));
        assert_eq!(r.attempts("u"), 13);
    }

    #[test]
    fn next_due_is_the_earliest_retry() {
        let mut r = Retries::new(RetryPolicy::default());
        assert_eq!(r.next_due(1), None);
        r.record("a", Failure::Unschedulable, 1, 1, t(0));
        r.record("b", Failure::BindError, 1, 1, t(2));
        assert_eq!(r.next_due(1), Some(t(3)));
        r.forget("b");
        assert_eq!(r.next_due(1), Some(t(300)));
        assert_eq!(r.next_due(2), Some(t(1)));
    }
}
