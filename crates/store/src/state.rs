//! The in-memory state: current objects, recent history and the live broadcast.
//!
//! Invariants (checked on recovery, kept by [`State::apply`] and [`State::compact`]):
//! - `history` holds exactly the revisions `compacted + 1 ..= revision`, in order, so the event for
//!   revision `r` sits at index `r - compacted - 1`;
//! - every object in `objects` carries a `resourceVersion` no greater than `revision`;
//! - only committed writes are applied, so readers never see a write before it is durable;
//! - events are broadcast while the state is write-locked, and watchers subscribe while it is
//!   read-locked, so a new watcher's replay ends exactly where its live events begin.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::backend::{Record, Recovered};
use crate::error::{Result, StoreError};
use crate::event::{EventKind, WatchEvent};
use crate::key::ObjectKey;
use crate::object;
use crate::revision::Revision;

/// The state shared by the store handle, the writer thread and watchers.
pub(crate) type Shared = RwLock<State>;

/// Locks `shared` for reading.
pub(crate) fn read(shared: &Shared) -> RwLockReadGuard<'_, State> {
    // Poisoning would mean a panic inside `apply` or `compact`, which only insert into and remove
    // from collections; the state stays consistent, so carry on rather than fail every reader.
    shared.read().unwrap_or_else(PoisonError::into_inner)
}

/// Locks `shared` for writing (only the writer thread does).
pub(crate) fn write(shared: &Shared) -> RwLockWriteGuard<'_, State> {
    shared.write().unwrap_or_else(PoisonError::into_inner)
}

/// The store's current objects and recent history.
#[derive(Debug)]
pub(crate) struct State {
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    history: VecDeque<Arc<WatchEvent>>,
    revision: Revision,
    compacted: Revision,
    /// `None` once the writer has stopped, which ends every watch.
    sender: Option<broadcast::Sender<Arc<WatchEvent>>>,
}

impl State {
    /// An empty state, as for a new store.
    #[cfg(test)]
    pub(crate) fn empty(watch_buffer: usize) -> Self {
        State::recover(Recovered::default(), watch_buffer).unwrap_or_else(|_| unreachable!())
    }

    /// Rebuilds the state from what a backend read back, checking its invariants.
    pub(crate) fn recover(recovered: Recovered, watch_buffer: usize) -> Result<Self> {
        let Recovered { revision, compacted, objects, history } = recovered;
        if compacted > revision {
            return Err(StoreError::Corrupt(format!(
                "compacted revision {compacted} is past revision {revision}"
            )));
        }
        let mut state = State {
            objects: BTreeMap::new(),
            history: VecDeque::with_capacity(history.len()),
            revision,
            compacted,
            sender: Some(broadcast::channel(watch_buffer.max(1)).0),
        };
        // Parsed objects with their bytes: a history record identical to the current object shares
        // its parsed value, as it did before the restart (half the parsing and memory).
        let mut current: HashMap<ObjectKey, (Vec<u8>, Arc<Value>)> = HashMap::with_capacity(objects.len());
        for (key, bytes) in objects {
            let object = decode(&key, &bytes)?;
            match object::resource_version(&object) {
                Some(rv) if rv <= revision => {}
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "{key} has resourceVersion {other:?}, store revision is {revision}"
                    )));
                }
            }
            current.insert(key, (bytes, Arc::new(object)));
        }
        let mut expected = compacted.next();
        // The latest version of each object seen so far in the history, for `previous`.
        let mut latest: HashMap<ObjectKey, Arc<Value>> = HashMap::new();
        for Record { revision: rev, kind, key, object: bytes } in history {
            if rev != expected {
                return Err(StoreError::Corrupt(format!(
                    "history has revision {rev} where {expected} belongs"
                )));
            }
            let object = match current.get(&key) {
                Some((current_bytes, parsed)) if kind != EventKind::Deleted && *current_bytes == bytes => {
                    Arc::clone(parsed)
                }
                _ => Arc::new(decode(&key, &bytes)?),
            };
            let previous = match kind {
                EventKind::Modified => latest.get(&key).cloned(),
                EventKind::Added | EventKind::Deleted => None,
            };
            if kind == EventKind::Deleted {
                latest.remove(&key);
            } else {
                latest.insert(key.clone(), Arc::clone(&object));
            }
            let encoded = Some(Arc::from(bytes.as_slice()));
            state.history.push_back(Arc::new(WatchEvent {
                kind,
                key,
                revision: rev,
                object,
                previous,
                encoded,
            }));
            expected = rev.next();
        }
        state.objects = current.into_iter().map(|(key, (_, object))| (key, object)).collect();
        if expected != revision.next() {
            return Err(StoreError::Corrupt(format!(
                "history ends at revision {} but the store is at {revision}",
                expected.get() - 1
            )));
        }
        Ok(state)
    }

    /// The last committed revision.
    pub(crate) fn revision(&self) -> Revision {
        self.revision
    }

    /// The compaction floor: watches may start at this revision or later.
    pub(crate) fn compacted(&self) -> Revision {
        self.compacted
    }

    /// The stored object under `key`.
    pub(crate) fn get(&self, key: &ObjectKey) -> Option<&Arc<Value>> {
        self.objects.get(key)
    }

    /// The objects of `resource` (in `namespace`, if given), in key order.
    pub(crate) fn list(&self, resource: &str, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let start = ObjectKey::namespaced(resource, namespace.unwrap_or(""), "");
        self.objects
            .range(start..)
            .take_while(|(key, _)| key.is_in(resource, namespace))
            .map(|(_, object)| Arc::clone(object))
            .collect()
    }

    /// The events after `from` touching `resource` (in `namespace`, if given).
    pub(crate) fn history_after(
        &self,
        from: Revision,
        resource: &str,
        namespace: Option<&str>,
    ) -> Result<VecDeque<Arc<WatchEvent>>> {
        if from < self.compacted {
            return Err(StoreError::TooOldRevision { requested: from, oldest: self.compacted });
        }
        if from > self.revision {
            return Err(StoreError::RevisionTooLarge { requested: from, current: self.revision });
        }
        // In range by the checks above and the history invariant.
        let skip = usize::try_from(from.get() - self.compacted.get()).unwrap_or(usize::MAX);
        Ok(self.history.iter().skip(skip).filter(|e| e.key.is_in(resource, namespace)).cloned().collect())
    }

    /// A receiver of every event applied from now on, or `None` once the store is closed.
    pub(crate) fn subscribe(&self) -> Option<broadcast::Receiver<Arc<WatchEvent>>> {
        self.sender.as_ref().map(broadcast::Sender::subscribe)
    }

    /// Applies one committed event and broadcasts it. Events must come in revision order.
    pub(crate) fn apply(&mut self, event: Arc<WatchEvent>) {
        debug_assert_eq!(event.revision, self.revision.next(), "events must be applied in revision order");
        match event.kind {
            EventKind::Added | EventKind::Modified => {
                self.objects.insert(event.key.clone(), Arc::clone(&event.object));
            }
            EventKind::Deleted => {
                self.objects.remove(&event.key);
            }
        }
        self.revision = event.revision;
        if let Some(sender) = &self.sender {
            // An error only means nobody is watching right now.
            let _ = sender.send(Arc::clone(&event));
        }
        self.history.push_back(event);
    }

    /// Drops the history at or below `to` (never beyond the current revision).
    pub(crate) fn compact(&mut self, to: Revision) {
        let to = to.min(self.revision);
        while self.history.front().is_some_and(|e| e.revision <= to) {
            self.history.pop_front();
        }
        self.compacted = self.compacted.max(to);
    }

    /// Ends all watches: no more events will come.
    pub(crate) fn close(&mut self) {
        self.sender = None;
    }
}

fn decode(key: &ObjectKey, bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{key} is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kind: EventKind, ns: &str, name: &str, revision: u64) -> Arc<WatchEvent> {
        let object = json!({"metadata": {"name": name, "resourceVersion": revision.to_string()}});
        Arc::new(WatchEvent {
            kind,
            key: ObjectKey::namespaced("pods", ns, name),
            revision: Revision::new(revision),
            object: Arc::new(object),
            previous: None,
            encoded: None,
        })
    }

    fn names(objects: &[Arc<Value>]) -> Vec<&str> {
        objects.iter().map(|o| o["metadata"]["name"].as_str().unwrap_or("?")).collect()
    }

    #[test]
    fn list_returns_one_namespace_or_all_in_key_order() {
        let mut state = State::empty(8);
        state.apply(event(EventKind::Added, "b", "x", 1));
        state.apply(event(EventKind::Added, "a", "y", 2));
        state.apply(event(EventKind::Added, "a", "x", 3));
        state.apply(event(EventKind::Deleted, "a", "y", 4));
        assert_eq!(names(&state.list("pods", None)), ["x", "x"]);
        assert_eq!(names(&state.list("pods", Some("a"))), ["x"]);
        assert!(state.list("pods", Some("c")).is_empty());
        assert!(state.list("nodes", None).is_empty());
    }

    #[test]
    fn history_after_replays_only_later_matching_events() {
        let mut state = State::empty(8);
        for (rev, ns) in [(1, "a"), (2, "b"), (3, "a"), (4, "a")] {
            state.apply(event(EventKind::Added, ns, &format!("p{rev}"), rev));
        }
        let replay = state.history_after(Revision::new(1), "pods", Some("a")).unwrap();
        let revisions: Vec<u64> = replay.iter().map(|e| e.revision.get()).collect();
        assert_eq!(revisions, [3, 4]);
        assert!(state.history_after(Revision::new(4), "pods", None).unwrap().is_empty());
    }

    #[test]
    fn compaction_makes_older_revisions_too_old() {
        let mut state = State::empty(8);
        for rev in 1..=5 {
            state.apply(event(EventKind::Added, "a", &format!("p{rev}"), rev));
        }
        state.compact(Revision::new(3));
        let err = state.history_after(Revision::new(2), "pods", None).unwrap_err();
        assert!(matches!(err, StoreError::TooOldRevision { requested, oldest }
            if requested == Revision::new(2) && oldest == Revision::new(3)));
        assert_eq!(state.history_after(Revision::new(3), "pods", None).unwrap().len(), 2);
    }

    #[test]
    fn watching_from_the_future_is_too_large() {
        let state = State::empty(8);
        let err = state.history_after(Revision::new(1), "pods", None).unwrap_err();
        assert!(matches!(err, StoreError::RevisionTooLarge { .. }));
    }

    #[test]
    fn recovery_rejects_a_history_with_a_gap() {
        let record = |rev: u64| Record {
            revision: Revision::new(rev),
            kind: EventKind::Added,
            key: ObjectKey::cluster("nodes", format!("n{rev}")),
            object: format!(r#"{{"metadata":{{"resourceVersion":"{rev}"}}}}"#).into_bytes(),
        };
        let recovered = Recovered {
            revision: Revision::new(3),
            compacted: Revision::ZERO,
            objects: vec![],
            history: vec![record(1), record(3)],
        };
        assert!(matches!(State::recover(recovered, 8), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn recovery_shares_an_object_with_its_latest_history_event() {
        let bytes = br#"{"metadata":{"resourceVersion":"2"}}"#.to_vec();
        let old = br#"{"metadata":{"resourceVersion":"1"}}"#.to_vec();
        let key = ObjectKey::cluster("nodes", "n");
        let record = |rev: u64, kind, object: &Vec<u8>| Record {
            revision: Revision::new(rev),
            kind,
            key: key.clone(),
            object: object.clone(),
        };
        let recovered = Recovered {
            revision: Revision::new(2),
            compacted: Revision::ZERO,
            objects: vec![(key.clone(), bytes.clone())],
            history: vec![record(1, EventKind::Added, &old), record(2, EventKind::Modified, &bytes)],
        };
        let state = State::recover(recovered, 8).unwrap();
        let current = state.get(&key).unwrap();
        assert!(Arc::ptr_eq(current, &state.history[1].object), "latest event shares the object");
        assert_eq!(state.history[0].object["metadata"]["resourceVersion"], "1");
    }

    #[test]
    fn recovery_rejects_objects_that_are_not_json() {
        let recovered = Recovered {
            objects: vec![(ObjectKey::cluster("nodes", "n"), b"{not json".to_vec())],
            ..Recovered::default()
        };
        assert!(matches!(State::recover(recovered, 8), Err(StoreError::Corrupt(_))));
    }
}
