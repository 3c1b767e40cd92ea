//! Expectations: creates and deletes a controller has sent but not yet seen in its caches.
//!
//! Until the informer shows the effects of the last sync, another sync would decide from stale
//! data and create duplicates. So a DaemonSet is only managed again once its expectations are
//! met, or after they expire (five minutes: a lost watch event must not wedge it forever).

use std::collections::HashMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// How long unmet expectations block a DaemonSet.
pub const EXPECTATIONS_TIMEOUT: SignedDuration = SignedDuration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    adds: i64,
    deletes: i64,
    set_at: Timestamp,
}

/// Outstanding creates/deletes per DaemonSet key (`namespace/name`).
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    entries: HashMap<String, Entry>,
}

impl Expectations {
    /// Expects `adds` creates and `deletes` deletes to be observed for `key`.
    pub fn set(&mut self, key: &str, adds: usize, deletes: usize, now: Timestamp) {
        let entry = Entry {
            adds: i64::try_from(adds).unwrap_or(i64::MAX),
            deletes: i64::try_from(deletes).unwrap_or(i64::MAX),
            set_at: now,
        };
        self.entries.insert(key.to_string(), entry);
    }

    /// One create was observed (or failed, or was skipped).
    pub fn creation_observed(&mut self, key: &str) {
        if let Some(e) = self.entries.get_mut(key) {
            e.adds -= 1;
        }
    }

    /// One delete was observed (or failed).
    pub fn deletion_observed(&mut self, key: &str) {
        if let Some(e) = self.entries.get_mut(key) {
            e.deletes -= 1;
        }
    }

    /// Whether the DaemonSet may be managed: nothing expected, all observed, or expired.
    pub fn satisfied(&self, key: &str, now: Timestamp) -> bool {
        match self.entries.get(key) {
            None => true,
            Some(e) => (e.adds <= 0 && e.deletes <= 0) || now.duration_since(e.set_at) > EXPECTATIONS_TIMEOUT,
        }
    }

    /// Forgets a deleted DaemonSet.
    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    #[test]
    fn expectations_are_met_when_every_create_and_delete_is_observed() {
        let mut e = Expectations::default();
        assert!(e.satisfied("ns/ds", t(0)));
        e.set("ns/ds", 2, 1, t(0));
        assert!(!e.satisfied("ns/ds", t(0)));
        e.creation_observed("ns/ds");
        e.creation_observed("ns/ds");
        assert!(!e.satisfied("ns/ds", t(0)));
        e.deletion_observed("ns/ds");
        assert!(e.satisfied("ns/ds", t(0)));
    }

    #[test]
    fn unmet_expectations_expire_after_five_minutes() {
        let mut e = Expectations::default();
        e.set("k", 1, 0, t(0));
        assert!(!e.satisfied("k", t(300)));
        assert!(e.satisfied("k", t(301)));
        e.forget("k");
        assert!(e.satisfied("k", t(0)));
    }
}
