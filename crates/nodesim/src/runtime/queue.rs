//! A timer queue with one entry per key: the next moment each pod, lease or node status needs a
//! look. One queue and one timer serve the whole fleet, so 10,000 nodes cost 10,000 map entries,
//! not 10,000 sleeping tasks.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use jiff::Timestamp;

/// Keys due at a time, earliest first; scheduling a key again moves it.
#[derive(Debug)]
pub struct TimerQueue<K> {
    by_time: BTreeMap<(Timestamp, u64), K>,
    by_key: HashMap<K, (Timestamp, u64)>,
    sequence: u64,
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue { by_time: BTreeMap::new(), by_key: HashMap::new(), sequence: 0 }
    }
}

impl<K: Clone + Eq + Hash> TimerQueue<K> {
    /// Makes `key` due at `at`, replacing any earlier schedule.
    pub fn schedule(&mut self, key: K, at: Timestamp) {
        self.cancel(&key);
        self.sequence += 1;
        self.by_time.insert((at, self.sequence), key.clone());
        self.by_key.insert(key, (at, self.sequence));
    }

    /// Makes `key` due at `at` unless it is already due earlier.
    pub fn schedule_no_later_than(&mut self, key: K, at: Timestamp) {
        match self.by_key.get(&key) {
            Some((current, _)) if *current <= at => {}
            _ => self.schedule(key, at),
        }
    }

    /// Forgets `key`.
    pub fn cancel(&mut self, key: &K) {
        if let Some(slot) = self.by_key.remove(key) {
            self.by_time.remove(&slot);
        }
    }

    /// When the earliest key is due.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.by_time.keys().next().map(|(at, _)| *at)
    }

    /// Removes and returns a key due at or before `now`, earliest first.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<K> {
        let (&(at, sequence), _) = self.by_time.iter().next()?;
        if at > now {
            return None;
        }
        let key = self.by_time.remove(&(at, sequence))?;
        self.by_key.remove(&key);
        Some(key)
    }

    /// When `key` is due, if scheduled.
    pub fn due(&self, key: &K) -> Option<Timestamp> {
        self.by_key.get(key).map(|(at, _)| *at)
    }

    /// How many keys are scheduled.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn keys_come_out_earliest_first_and_only_when_due() {
        let mut q = TimerQueue::default();
        q.schedule("b", t(20));
        q.schedule("a", t(10));
        q.schedule("c", t(10));
        assert_eq!(q.next_deadline(), Some(t(10)));
        assert_eq!(q.pop_due(t(9)), None);
        assert_eq!(q.pop_due(t(15)), Some("a"), "ties keep scheduling order");
        assert_eq!(q.pop_due(t(15)), Some("c"));
        assert_eq!(q.pop_due(t(15)), None);
        assert_eq!(q.pop_due(t(20)), Some("b"));
        assert!(q.is_empty());
    }

    #[test]
    fn scheduling_a_key_again_moves_it() {
        let mut q = TimerQueue::default();
        q.schedule("a", t(10));
        q.schedule("a", t(30));
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_due(t(20)), None);
        q.schedule_no_later_than("a", t(40));
        assert_eq!(q.due(&"a"), Some(t(30)), "a later time does not postpone");
        q.schedule_no_later_than("a", t(5));
        assert_eq!(q.due(&"a"), Some(t(5)));
        q.cancel(&"a");
        assert_eq!(q.next_deadline(), None);
    }
}
