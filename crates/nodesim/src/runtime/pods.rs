//! The engine's table of bound pods: the latest object of each, what its kubelet remembers
//! about it, and which pods each node holds.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, PodStatus};

use crate::clock::until;
use crate::fingerprint;
use crate::kubelet::PodMemory;

/// A status write identical to the previous one is not repeated within this time even if the
/// pod still shows something else: if the API server normalizes a field we write, rewriting at
/// once would loop forever; once in a while re-asserts what someone else overwrote.
pub(super) const REASSERT_AFTER: Duration = Duration::from_secs(30);

/// Namespace and name of a pod.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct PodKey {
    pub namespace: String,
    pub name: String,
}

impl PodKey {
    pub fn of(pod: &Pod) -> PodKey {
        PodKey {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
        }
    }
}

/// One bound pod.
#[derive(Debug)]
pub(super) struct PodEntry {
    pub pod: Pod,
    pub uid: String,
    pub node: String,
    pub memory: PodMemory,
    /// The fingerprint of the last status written and when.
    last_write: Option<(u64, Timestamp)>,
}

impl PodEntry {
    /// Whether writing `status` now would repeat the last write too soon.
    pub fn repeats_last_write(&self, print: u64, now: Timestamp) -> bool {
        self.last_write.is_some_and(|(last, at)| last == print && until(at, now) < REASSERT_AFTER)
    }

    /// Remembers a status (by its [`status_print`]) that was written.
    pub fn wrote(&mut self, print: u64, now: Timestamp) {
        self.last_write = Some((print, now));
    }
}

/// A fingerprint of a status, to recognize the same write.
pub(super) fn status_print(status: &PodStatus) -> u64 {
    fingerprint::hash(&[&serde_json::to_string(status).unwrap_or_default()])
}

/// What applying a pod changed.
#[derive(Debug)]
pub(super) struct Applied {
    pub key: PodKey,
    /// Whether the object was newer than the one held (the same or older ones, such as a watch
    /// event arriving after our own write's response, are ignored).
    pub newer: bool,
    /// A previous pod of the same name but another uid, now replaced.
    pub replaced: Option<PodEntry>,
}

/// All bound pods, by key and by node.
#[derive(Debug, Default)]
pub(super) struct PodTable {
    pods: HashMap<PodKey, PodEntry>,
    by_node: HashMap<String, HashSet<PodKey>>,
}

/// Whether resourceVersion `new` is later than `old` (the same version is the same object, as
/// when the watch echoes our own write). Resource versions are opaque to clients in principle,
/// but every API server (etcd's and ours) issues increasing integers; when they do not parse,
/// the incoming object is taken.
fn is_newer(new: Option<&str>, old: Option<&str>) -> bool {
    match (new.and_then(|v| v.parse::<u64>().ok()), old.and_then(|v| v.parse::<u64>().ok())) {
        (Some(new), Some(old)) => new > old,
        _ => true,
    }
}

impl PodTable {
    pub fn get_mut(&mut self, key: &PodKey) -> Option<&mut PodEntry> {
        self.pods.get_mut(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &PodKey> {
        self.pods.keys()
    }

    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// The pods bound to `node`.
    pub fn on_node(&self, node: &str) -> Vec<PodKey> {
        self.by_node.get(node).map(|keys| keys.iter().cloned().collect()).unwrap_or_default()
    }

    /// Takes in the latest version of a bound pod (None for a pod bound to no node).
    pub fn apply(&mut self, pod: Pod) -> Option<Applied> {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty())?;
        let key = PodKey::of(&pod);
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if let Some(entry) = self.pods.get_mut(&key)
            && entry.uid == uid
        {
            let newer = is_newer(
                pod.metadata.resource_version.as_deref(),
                entry.pod.metadata.resource_version.as_deref(),
            );
            if newer {
                entry.pod = pod;
            }
            return Some(Applied { key, newer, replaced: None });
        }
        let replaced = self.remove(&key);
        self.by_node.entry(node.clone()).or_default().insert(key.clone());
        let entry = PodEntry { pod, uid, node, memory: PodMemory::default(), last_write: None };
        self.pods.insert(key.clone(), entry);
        Some(Applied { key, newer: true, replaced })
    }

    /// Forgets a pod.
    pub fn remove(&mut self, key: &PodKey) -> Option<PodEntry> {
        let entry = self.pods.remove(key)?;
        if let Some(keys) = self.by_node.get_mut(&entry.node) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_node.remove(&entry.node);
            }
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(uid: &str, rv: &str, node: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": uid, "resourceVersion": rv},
            "spec": {"nodeName": node, "containers": []},
        }))
        .unwrap()
    }

    #[test]
    fn older_versions_do_not_replace_newer_ones() {
        let mut t = PodTable::default();
        assert!(t.apply(pod("u", "10", "n1")).unwrap().newer);
        assert!(!t.apply(pod("u", "9", "n1")).unwrap().newer);
        assert!(!t.apply(pod("u", "10", "n1")).unwrap().newer, "the same version changes nothing");
        assert!(t.apply(pod("u", "11", "n1")).unwrap().newer);
        let key = PodKey { namespace: "ns".into(), name: "p".into() };
        assert_eq!(t.get_mut(&key).unwrap().pod.metadata.resource_version.as_deref(), Some("11"));
    }

    #[test]
    fn a_new_pod_with_the_same_name_replaces_the_old_one() {
        let mut t = PodTable::default();
        t.apply(pod("u1", "10", "n1"));
        let applied = t.apply(pod("u2", "3", "n2")).unwrap();
        assert_eq!(applied.replaced.unwrap().uid, "u1");
        assert!(t.on_node("n1").is_empty());
        assert_eq!(t.on_node("n2").len(), 1);
    }

    #[test]
    fn unbound_pods_are_not_tracked() {
        let mut t = PodTable::default();
        assert!(t.apply(pod("u", "1", "")).is_none());
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn identical_writes_are_not_repeated_within_the_reassert_time() {
        let mut t = PodTable::default();
        let key = t.apply(pod("u", "1", "n")).unwrap().key;
        let entry = t.get_mut(&key).unwrap();
        let status = PodStatus { phase: Some("Running".into()), ..PodStatus::default() };
        let now = Timestamp::from_second(100).unwrap();
        let print = status_print(&status);
        assert!(!entry.repeats_last_write(print, now));
        entry.wrote(print, now);
        assert!(entry.repeats_last_write(print, Timestamp::from_second(110).unwrap()));
        assert!(!entry.repeats_last_write(print, Timestamp::from_second(131).unwrap()));
        let other = PodStatus { phase: Some("Pending".into()), ..PodStatus::default() };
        assert!(!entry.repeats_last_write(status_print(&other), now));
    }
}
