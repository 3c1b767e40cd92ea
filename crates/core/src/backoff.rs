//! Per-node exponential backoff for deleting failed daemon pods.
//!
//! A node whose kubelet keeps rejecting the daemon pod would otherwise make the controller and the
//! kubelet fight in a hot loop (create, fail, delete, create...). Upstream keys the backoff by
//! `<ds uid>/<observedGeneration>/<node>`, so a spec change starts afresh; delays double from 1 s
//! to 15 min, and an entry idle for twice the maximum is forgotten.

use std::collections::HashMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The first delay.
pub const INITIAL: SignedDuration = SignedDuration::from_secs(1);
/// The longest delay.
pub const MAX: SignedDuration = SignedDuration::from_secs(15 * 60);

/// One key's backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffEntry {
    /// The current delay.
    pub delay: SignedDuration,
    /// When the delay was last raised.
    pub last_update: Timestamp,
}

/// The backoff state, owned by the runtime and passed to each sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailedPodBackoff {
    entries: HashMap<String, BackoffEntry>,
}

/// The key for a DaemonSet, generation and node.
pub fn backoff_key(ds_uid: &str, observed_generation: i64, node: &str) -> String {
    format!("{ds_uid}/{observed_generation}/{node}")
}

impl FailedPodBackoff {
    /// The entry for a key.
    pub fn get(&self, key: &str) -> Option<BackoffEntry> {
        self.entries.get(key).copied()
    }

    /// Still waiting: less than the current delay has passed since the last raise.
    pub fn in_backoff(&self, key: &str, now: Timestamp) -> bool {
        self.entries.get(key).is_some_and(|e| now.duration_since(e.last_update) < e.delay)
    }

    /// How long until the backoff for `key` ends (zero when it has).
    pub fn remaining(&self, key: &str, now: Timestamp) -> SignedDuration {
        self.entries.get(key).map_or(SignedDuration::ZERO, |e| {
            (e.delay - now.duration_since(e.last_update)).max(SignedDuration::ZERO)
        })
    }

    /// The entry `key` has after a failure at `now`: the initial delay for a new or long-idle key,
    /// else the delay doubled up to [`MAX`] (flowcontrol `Backoff.Next`).
    pub fn next_entry(&self, key: &str, now: Timestamp) -> BackoffEntry {
        let delay = match self.entries.get(key) {
            Some(e) if now.duration_since(e.last_update) <= MAX * 2 => (e.delay * 2).min(MAX),
            _ => INITIAL,
        };
        BackoffEntry { delay, last_update: now }
    }

    /// Records entries a plan computed.
    pub fn apply(&mut self, updates: &[(String, BackoffEntry)]) {
        for (key, entry) in updates {
            self.entries.insert(key.clone(), *entry);
        }
    }

    /// Forgets entries idle for more than twice the maximum delay.
    pub fn gc(&mut self, now: Timestamp) {
        self.entries.retain(|_, e| now.duration_since(e.last_update) <= MAX * 2);
    }

    /// Number of tracked keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No key is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    #[test]
    fn delays_double_up_to_fifteen_minutes() {
        let mut b = FailedPodBackoff::default();
        let mut now = t(0);
        let mut seen = Vec::new();
        for _ in 0..12 {
            let e = b.next_entry("k", now);
            seen.push(e.delay.as_secs());
            b.apply(&[("k".into(), e)]);
            now += e.delay;
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
    }

    #[test]
    fn backoff_ends_exactly_at_the_delay() {
        let mut b = FailedPodBackoff::default();
        b.apply(&[("k".into(), b.next_entry("k", t(0)))]);
        assert!(b.in_backoff("k", t(0) + SignedDuration::from_nanos(999_999_999)));
        assert!(!b.in_backoff("k", t(1)));
        assert_eq!(b.remaining("k", t(0)), SignedDuration::from_secs(1));
    }

    #[test]
    fn idle_keys_restart_from_one_second_and_are_collected() {
        let mut b = FailedPodBackoff::default();
        b.apply(&[("k".into(), BackoffEntry { delay: MAX, last_update: t(0) })]);
        assert_eq!(b.next_entry("k", t(1801)).delay, INITIAL);
        b.gc(t(1800));
        assert_eq!(b.len(), 1);
        b.gc(t(1801));
        assert!(b.is_empty());
    }
}
