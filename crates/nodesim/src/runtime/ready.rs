//! Looks waiting for their turn, in two lanes: pods, whose progress users watch, go first; node
//! work (lease renewals, status heartbeats) gets every fourth turn, so a burst of pod work cannot
//! starve leases (a lease must be renewed within 40 s) and the registration burst of 10,000
//! leases cannot hold back the first pods.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

/// One turn in this many goes to node work when both lanes wait.
const NODE_TURN_EVERY: u32 = 4;

/// Which lane a look waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lane {
    Pods,
    Nodes,
}

/// A de-duplicating two-lane FIFO.
#[derive(Debug)]
pub(super) struct ReadyQueue<K> {
    pods: VecDeque<K>,
    nodes: VecDeque<K>,
    queued: HashSet<K>,
    turn: u32,
}

impl<K> Default for ReadyQueue<K> {
    fn default() -> Self {
        ReadyQueue { pods: VecDeque::new(), nodes: VecDeque::new(), queued: HashSet::new(), turn: 0 }
    }
}

impl<K: Clone + Eq + Hash> ReadyQueue<K> {
    /// Queues `key` unless it is already waiting.
    pub fn push(&mut self, key: K, lane: Lane) {
        if self.queued.insert(key.clone()) {
            match lane {
                Lane::Pods => self.pods.push_back(key),
                Lane::Nodes => self.nodes.push_back(key),
            }
        }
    }

    /// The next key whose turn it is.
    pub fn pop(&mut self) -> Option<K> {
        self.turn = self.turn.wrapping_add(1);
        let node_turn = self.turn.is_multiple_of(NODE_TURN_EVERY);
        let key = if node_turn {
            self.nodes.pop_front().or_else(|| self.pods.pop_front())
        } else {
            self.pods.pop_front().or_else(|| self.nodes.pop_front())
        }?;
        self.queued.remove(&key);
        Some(key)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_go_first_but_nodes_get_every_fourth_turn() {
        let mut q = ReadyQueue::default();
        for i in 0..6 {
            q.push(format!("pod{i}"), Lane::Pods);
        }
        q.push("lease".to_owned(), Lane::Nodes);
        let order: Vec<String> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, ["pod0", "pod1", "pod2", "lease", "pod3", "pod4", "pod5"]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_waiting_key_is_queued_once() {
        let mut q = ReadyQueue::default();
        q.push("a", Lane::Pods);
        q.push("a", Lane::Pods);
        assert_eq!(q.pop(), Some("a"));
        assert_eq!(q.pop(), None);
        q.push("a", Lane::Pods);
        assert_eq!(q.pop(), Some("a"), "queued again once taken");
    }
}
