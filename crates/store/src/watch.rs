//! `Watch`: one watcher's view of the change stream, replayed history first, then live events.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use crate::error::Result;
use crate::event::WatchEvent;
use crate::revision::Revision;
use crate::state::{self, Shared, State};

/// The events after some revision for one resource (and optionally one namespace), in revision
/// order with no gaps or duplicates.
///
/// It first yields the matching history after the starting revision, then live events from the
/// store's broadcast. A watcher that falls more than the broadcast buffer behind catches up from
/// the history by itself; if the history has been compacted past its position meanwhile, it gets
/// [`TooOldRevision`](crate::StoreError::TooOldRevision) once and then ends, and its client must re-list. Writers never
/// wait for watchers.
///
/// To use it as a `futures::Stream`:
/// `futures::stream::unfold(watch, |mut w| async move { w.next().await.map(|e| (e, w)) })`.
#[derive(Debug)]
pub struct Watch {
    shared: Arc<Shared>,
    resource: String,
    namespace: Option<String>,
    /// Matching events not yet returned, all at or below `position`.
    replay: VecDeque<Arc<WatchEvent>>,
    /// Every event up to here is in `replay`, was returned, or did not match.
    position: Revision,
    /// `None` once the watch has ended.
    live: Option<broadcast::Receiver<Arc<WatchEvent>>>,
}

impl Watch {
    /// Starts a watch that first yields `replay` (the matching history up to the current revision)
    /// and then live events. Must be called with the state read-locked: the lock orders the replay
    /// and the subscription, so nothing is missed or repeated between them.
    pub(crate) fn start(
        shared: Arc<Shared>,
        state: &State,
        resource: &str,
        namespace: Option<&str>,
        replay: VecDeque<Arc<WatchEvent>>,
    ) -> Self {
        Watch {
            shared,
            resource: resource.to_owned(),
            namespace: namespace.map(str::to_owned),
            replay,
            position: state.revision(),
            live: state.subscribe(),
        }
    }

    /// The next event, or `None` when the watch has ended (the store was closed, or an error was
    /// returned). Cancel-safe: dropping the future loses no event.
    pub async fn next(&mut self) -> Option<Result<Arc<WatchEvent>>> {
        loop {
            if let Some(event) = self.replay.pop_front() {
                return Some(Ok(event));
            }
            let live = self.live.as_mut()?;
            match live.recv().await {
                Ok(event) => {
                    // Events at or below the position were replayed from history already.
                    if event.revision <= self.position {
                        continue;
                    }
                    debug_assert_eq!(event.revision, self.position.next(), "live events have no gaps");
                    self.position = event.revision;
                    if event.key.is_in(&self.resource, self.namespace.as_deref()) {
                        return Some(Ok(event));
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    if let Err(error) = self.catch_up() {
                        self.live = None;
                        return Some(Err(error));
                    }
                }
                Err(RecvError::Closed) => {
                    self.live = None;
                    return None;
                }
            }
        }
    }

    /// The revision up to which every matching event has been returned by [`next`](Self::next);
    /// the `resourceVersion` for a bookmark.
    pub fn position(&self) -> Revision {
        match self.replay.front() {
            Some(event) => Revision::new(event.revision.get() - 1),
            None => self.position,
        }
    }

    /// Refills the replay from history after the broadcast dropped events for this watcher, and
    /// subscribes afresh, under one read lock as in [`start`](Self::start).
    fn catch_up(&mut self) -> Result<()> {
        let state = state::read(&self.shared);
        let missed = state.history_after(self.position, &self.resource, self.namespace.as_deref())?;
        self.replay.extend(missed);
        self.position = state.revision();
        // `None` if the store closed meanwhile: the watch ends after the replay.
        self.live = state.subscribe();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{EventKind, ObjectKey, Preconditions, Revision, Store, StoreError, StoreOptions};

    fn pod(ns: &str, name: &str) -> ObjectKey {
        ObjectKey::namespaced("pods", ns, name)
    }

    /// Reads `n` events and returns their revisions.
    async fn revisions(watch: &mut super::Watch, n: usize) -> Vec<u64> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(watch.next().await.unwrap().unwrap().revision.get());
        }
        out
    }

    #[tokio::test]
    async fn watch_replays_history_after_the_revision_then_continues_live() {
        let store = Store::open_in_memory(StoreOptions::default()).unwrap();
        for i in 1..=5 {
            store.create(&pod("a", &format!("p{i}")), json!({})).await.unwrap();
        }
        let mut watch = store.watch("pods", None, Revision::new(2)).unwrap();
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 6..=50 {
                    store.create(&pod("a", &format!("p{i}")), json!({})).await.unwrap();
                }
            })
        };
        let seen = revisions(&mut watch, 48).await;
        writer.await.unwrap();
        assert_eq!(seen, (3..=50).collect::<Vec<_>>(), "every revision after 2, once, in order");
        assert_eq!(watch.position(), Revision::new(50));
    }

    #[tokio::test]
    async fn watch_filters_by_resource_and_namespace() {
        let store = Store::open_in_memory(StoreOptions::default()).unwrap();
        let mut watch = store.watch("pods", Some("a"), Revision::ZERO).unwrap();
        store.create(&pod("b", "x"), json!({})).await.unwrap();
        store.create(&ObjectKey::cluster("nodes", "n"), json!({})).await.unwrap();
        store.create(&pod("a", "x"), json!({})).await.unwrap();
        store.delete(&pod("a", "x"), Preconditions::none()).await.unwrap();
        let first = watch.next().await.unwrap().unwrap();
        assert_eq!(
            (first.kind, first.key.clone(), first.revision),
            (EventKind::Added, pod("a", "x"), Revision::new(3))
        );
        let second = watch.next().await.unwrap().unwrap();
        assert_eq!((second.kind, second.revision), (EventKind::Deleted, Revision::new(4)));
        assert_eq!(second.object["metadata"]["resourceVersion"], "4");
    }

    #[tokio::test]
    async fn list_and_watch_misses_nothing_written_after_the_list() {
        let store = Store::open_in_memory(StoreOptions::default()).unwrap();
        store.create(&pod("a", "before"), json!({})).await.unwrap();
        let (list, mut watch) = store.list_and_watch("pods", None);
        assert_eq!((list.items.len(), list.revision), (1, Revision::new(1)));
        store.create(&pod("a", "after"), json!({})).await.unwrap();
        let event = watch.next().await.unwrap().unwrap();
        assert_eq!((event.key.name.as_str(), event.revision), ("after", Revision::new(2)));
    }

    #[tokio::test]
    async fn a_lagging_watcher_catches_up_from_history_without_gaps() {
        let options = StoreOptions { watch_buffer: 2, ..StoreOptions::default() };
        let store = Store::open_in_memory(options).unwrap();
        let mut watch = store.watch("pods", None, Revision::ZERO).unwrap();
        for i in 1..=30 {
            store.create(&pod("a", &format!("p{i}")), json!({})).await.unwrap();
        }
        assert_eq!(revisions(&mut watch, 30).await, (1..=30).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_watcher_lagging_past_the_history_gets_too_old_and_ends() {
        let options = StoreOptions { watch_buffer: 2, history_window: 5, ..StoreOptions::default() };
        let store = Store::open_in_memory(options).unwrap();
        let mut watch = store.watch("pods", None, Revision::ZERO).unwrap();
        for i in 1..=30 {
            store.create(&pod("a", &format!("p{i}")), json!({})).await.unwrap();
        }
        let err = watch.next().await.unwrap().unwrap_err();
        assert!(
            matches!(err, StoreError::TooOldRevision { requested, .. } if requested == Revision::ZERO),
            "{err:?}"
        );
        assert!(watch.next().await.is_none());
    }

    #[tokio::test]
    async fn watching_a_future_revision_is_too_large() {
        let store = Store::open_in_memory(StoreOptions::default()).unwrap();
        let err = store.watch("pods", None, Revision::new(10)).unwrap_err();
        assert!(matches!(err, StoreError::RevisionTooLarge { .. }) && err.is_retryable());
    }
}
