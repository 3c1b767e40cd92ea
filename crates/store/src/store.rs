//! `Store`: the handle callers use: reads from memory, writes through the writer thread.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock, mpsc};
use std::thread;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::backend::{Backend, MemoryBackend, RedbBackend};
use crate::error::{ConflictReason, Result, StoreError};
use crate::key::ObjectKey;
use crate::object;
use crate::options::StoreOptions;
use crate::preconditions::Preconditions;
use crate::revision::Revision;
use crate::state::{self, Shared, State};
use crate::watch::Watch;
use crate::write::ObjectWrite;
use crate::writer::{self, Request, WriterConfig};

/// How many times [`Store::guaranteed_update`] re-reads and retries after losing a race. Only writes
/// to the same object between the read and the commit (a few milliseconds) cause a retry, so
/// running out means sustained contention on one object; the caller gets the `Conflict` then.
const GUARANTEED_UPDATE_ATTEMPTS: usize = 32;

/// A consistent snapshot of one resource's objects.
#[derive(Debug, Clone, PartialEq)]
pub struct List {
    /// The objects, ordered by namespace then name.
    pub items: Vec<Arc<Value>>,
    /// The store revision the snapshot was taken at (the list's `resourceVersion`); watching from
    /// it misses nothing and repeats nothing.
    pub revision: Revision,
}

/// The object store. Cheap to clone; all clones share one store.
///
/// Reads (`get`, `list`, `watch`) are served from memory and never wait for writes. Writes are
/// `async` and resolve once durable: they queue for the writer thread, which commits whatever is
/// queued in one transaction. A write whose future is dropped after it was first polled may still be
/// committed. Dropping the last clone waits for queued writes, closes the backend and ends every
/// watch.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    /// `None` only while dropping.
    requests: Option<mpsc::Sender<Request>>,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue stops the writer after the queued writes; wait for it so that the
        // backend (the database file lock) is released when the last handle is gone.
        self.requests = None;
        let writer = self.writer.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(writer) = writer {
            // A panicked writer has already closed the state; nothing more to do.
            let _ = writer.join();
        }
    }
}

impl Store {
    /// Opens (or creates) the redb database file at `path` and rebuilds the in-memory state from
    /// it. Blocking: after a crash, redb repairs the file first.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        Store::with_backend(RedbBackend::open(path)?, options)
    }

    /// A store that keeps nothing across restarts, for tests.
    pub fn open_in_memory(options: StoreOptions) -> Result<Store> {
        Store::with_backend(MemoryBackend::new(), options)
    }

    /// Opens a store on any backend, rebuilding the in-memory state from what it holds.
    pub fn with_backend(mut backend: impl Backend, options: StoreOptions) -> Result<Store> {
        let state = State::recover(backend.load()?, options.watch_buffer)?;
        let shared = Arc::new(RwLock::new(state));
        let (requests, queue) = mpsc::channel();
        let config = WriterConfig { max_batch: options.max_batch, history_window: options.history_window };
        let writer = writer::spawn(Box::new(backend), Arc::clone(&shared), queue, config)?;
        Ok(Store {
            inner: Arc::new(Inner { shared, requests: Some(requests), writer: Mutex::new(Some(writer)) }),
        })
    }

    /// The last committed revision (the `resourceVersion` of the newest write).
    pub fn current_revision(&self) -> Revision {
        state::read(&self.inner.shared).revision()
    }

    /// The oldest revision a watch may start from; older ones have been compacted.
    pub fn oldest_revision(&self) -> Revision {
        state::read(&self.inner.shared).compacted()
    }

    /// The object stored under `key`.
    pub fn get(&self, key: &ObjectKey) -> Result<Arc<Value>> {
        state::read(&self.inner.shared)
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound { key: key.clone() })
    }

    /// The objects of `resource`, in `namespace` or (with `None`) in all namespaces, at one revision.
    pub fn list(&self, resource: &str, namespace: Option<&str>) -> List {
        let state = state::read(&self.inner.shared);
        List { items: state.list(resource, namespace), revision: state.revision() }
    }

    /// Watches `resource` (in `namespace`, if given) from after revision `from`: the matching
    /// history after `from`, then live events.
    ///
    /// Fails with [`StoreError::TooOldRevision`] when `from` is older than
    /// [`oldest_revision`](Self::oldest_revision), and [`StoreError::RevisionTooLarge`] when it is
    /// newer than [`current_revision`](Self::current_revision).
    pub fn watch(&self, resource: &str, namespace: Option<&str>, from: Revision) -> Result<Watch> {
        let state = state::read(&self.inner.shared);
        let replay = state.history_after(from, resource, namespace)?;
        Ok(Watch::start(Arc::clone(&self.inner.shared), &state, resource, namespace, replay))
    }

    /// A list and a watch of the events after it, taken atomically (for `sendInitialEvents` and
    /// `resourceVersion=0` watches, which start with the current state).
    pub fn list_and_watch(&self, resource: &str, namespace: Option<&str>) -> (List, Watch) {
        let state = state::read(&self.inner.shared);
        let list = List { items: state.list(resource, namespace), revision: state.revision() };
        let watch =
            Watch::start(Arc::clone(&self.inner.shared), &state, resource, namespace, VecDeque::new());
        (list, watch)
    }

    /// Stores a new object under `key`, setting its `metadata.resourceVersion`. Fails with
    /// [`StoreError::AlreadyExists`] if the key is taken, and [`StoreError::InvalidObject`] if the
    /// object is not a JSON object or already has a `resourceVersion`.
    pub async fn create(&self, key: &ObjectKey, object: Value) -> Result<Arc<Value>> {
        self.write(key, ObjectWrite::Create(object)).await
    }

    /// Replaces the object under `key`. With `expected` (the request body's `resourceVersion`),
    /// fails with [`StoreError::Conflict`] unless the stored object is at that revision; without it
    /// the update is unconditional. The body's own `resourceVersion` is ignored and overwritten.
    pub async fn update(
        &self,
        key: &ObjectKey,
        object: Value,
        expected: Option<Revision>,
    ) -> Result<Arc<Value>> {
        self.write(key, ObjectWrite::Update { object, expected }).await
    }

    /// Removes the object under `key` if it meets `preconditions`, returning its last state with
    /// the deletion's revision as `resourceVersion`.
    pub async fn delete(&self, key: &ObjectKey, preconditions: Preconditions) -> Result<Arc<Value>> {
        self.write(key, ObjectWrite::Delete(preconditions)).await
    }

    /// Read-modify-write: calls `update` with the stored object and stores what it returns,
    /// retrying with a fresh read when another write got in between (compare-and-swap on the
    /// `resourceVersion`). `preconditions` are checked against each read.
    ///
    /// If `update` returns the object unchanged (ignoring `resourceVersion`), nothing is written
    /// and the stored object is returned, as Kubernetes does for no-op patches. Errors from `update`
    /// are returned as they are.
    pub async fn guaranteed_update<F, E>(
        &self,
        key: &ObjectKey,
        preconditions: &Preconditions,
        mut update: F,
    ) -> Result<Arc<Value>, E>
    where
        F: FnMut(&Value) -> Result<Value, E>,
        E: From<StoreError>,
    {
        let mut attempt = 1;
        loop {
            let current = self.get(key)?;
            preconditions.check(key, &current)?;
            // Every stored object carries its revision (set by the writer, checked on recovery).
            let revision = object::resource_version(&current).unwrap_or(Revision::ZERO);
            let mut updated = update(&current)?;
            if object::set_resource_version(&mut updated, revision).is_ok() && updated == *current {
                return Ok(current);
            }
            match self.update(key, updated, Some(revision)).await {
                Err(StoreError::Conflict { reason: ConflictReason::ResourceVersion { .. }, .. })
                    if attempt < GUARANTEED_UPDATE_ATTEMPTS =>
                {
                    attempt += 1;
                }
                result => return result.map_err(E::from),
            }
        }
    }

    /// Discards the history at or below `to` (capped at the current revision), on top of the
    /// automatic window; for time-based retention driven by the caller's clock. Returns the new
    /// oldest watchable revision.
    pub async fn compact(&self, to: Revision) -> Result<Revision> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Compact { to, reply })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn write(&self, key: &ObjectKey, write: ObjectWrite) -> Result<Arc<Value>> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Write { key: key.clone(), write, reply })?;
        // The writer answers every request it takes; a dropped reply means it stopped (panicked).
        answer.await.map_err(|_| StoreError::Closed)?
    }

    fn send(&self, request: Request) -> Result<()> {
        let requests = self.inner.requests.as_ref().ok_or(StoreError::Closed)?;
        requests.send(request).map_err(|_| StoreError::Closed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn store() -> Store {
        Store::open_in_memory(StoreOptions::default()).unwrap()
    }

    fn key(name: &str) -> ObjectKey {
        ObjectKey::namespaced("apps/v1/daemonsets", "default", name)
    }

    fn ds(name: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")}, "spec": {"n": 0}})
    }

    fn rv(object: &Value) -> u64 {
        object::resource_version(object).unwrap().get()
    }

    #[tokio::test]
    async fn create_get_update_delete_round_trip() {
        let store = store();
        let created = store.create(&key("a"), ds("a")).await.unwrap();
        assert_eq!(rv(&created), 1);
        assert_eq!(store.get(&key("a")).unwrap(), created);

        let mut changed = (*created).clone();
        changed["spec"]["n"] = json!(1);
        let updated = store.update(&key("a"), changed, Some(Revision::new(1))).await.unwrap();
        assert_eq!(rv(&updated), 2);
        assert_eq!(updated["spec"]["n"], 1);
        assert_eq!(store.get(&key("a")).unwrap(), updated);

        let deleted = store.delete(&key("a"), Preconditions::none()).await.unwrap();
        assert_eq!(rv(&deleted), 3);
        assert_eq!(deleted["spec"]["n"], 1);
        assert!(matches!(store.get(&key("a")), Err(StoreError::NotFound { .. })));
        assert_eq!(store.current_revision(), Revision::new(3));
    }

    #[tokio::test]
    async fn creating_an_existing_object_is_already_exists_and_changes_nothing() {
        let store = store();
        store.create(&key("a"), ds("a")).await.unwrap();
        let err = store.create(&key("a"), ds("a")).await.unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
        assert_eq!(store.current_revision(), Revision::new(1));
    }

    #[tokio::test]
    async fn an_update_with_a_stale_resource_version_is_a_conflict() {
        let store = store();
        store.create(&key("a"), ds("a")).await.unwrap();
        store.update(&key("a"), ds("a"), Some(Revision::new(1))).await.unwrap();
        let err = store.update(&key("a"), ds("a"), Some(Revision::new(1))).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { current, .. } if current == Revision::new(2)),
            "{err:?}"
        );
        assert!(err.is_retryable());
        assert_eq!(rv(&store.get(&key("a")).unwrap()), 2);
    }

    #[tokio::test]
    async fn a_delete_checks_uid_and_resource_version_preconditions() {
        let store = store();
        store.create(&key("a"), ds("a")).await.unwrap();
        let wrong_uid = Preconditions { uid: Some("uid-other".into()), resource_version: None };
        assert!(matches!(store.delete(&key("a"), wrong_uid).await, Err(StoreError::Conflict { .. })));
        let stale = Preconditions::at_revision(Revision::new(7));
        assert!(matches!(store.delete(&key("a"), stale).await, Err(StoreError::Conflict { .. })));
        let right = Preconditions { uid: Some("uid-a".into()), resource_version: Some(Revision::new(1)) };
        store.delete(&key("a"), right).await.unwrap();
        assert!(matches!(
            store.delete(&key("a"), Preconditions::none()).await,
            Err(StoreError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn list_returns_the_namespace_or_everything_with_the_revision_it_was_taken_at() {
        let store = store();
        store.create(&ObjectKey::namespaced("pods", "b", "p1"), json!({})).await.unwrap();
        store.create(&ObjectKey::namespaced("pods", "a", "p2"), json!({})).await.unwrap();
        store.create(&ObjectKey::cluster("nodes", "n1"), json!({})).await.unwrap();

        let all = store.list("pods", None);
        assert_eq!(all.revision, Revision::new(3));
        let revisions: Vec<u64> = all.items.iter().map(|o| rv(o)).collect();
        assert_eq!(revisions, [2, 1], "ordered by namespace: a before b");
        assert_eq!(store.list("pods", Some("a")).items.len(), 1);
        assert_eq!(store.list("nodes", None).items.len(), 1);
        assert!(store.list("configmaps", None).items.is_empty());
        assert_eq!(store.list("configmaps", None).revision, Revision::new(3));
    }

    #[tokio::test]
    async fn guaranteed_update_applies_every_concurrent_increment_exactly_once() {
        let store = store();
        store.create(&key("counter"), ds("counter")).await.unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .guaranteed_update(&key("counter"), &Preconditions::none(), |current| {
                            let mut next = current.clone();
                            next["spec"]["n"] = json!(current["spec"]["n"].as_u64().unwrap_or(0) + 1);
                            Ok::<_, StoreError>(next)
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let counter = store.get(&key("counter")).unwrap();
        assert_eq!(counter["spec"]["n"], 20);
        assert_eq!(rv(&counter), 21);
    }

    #[tokio::test]
    async fn guaranteed_update_that_changes_nothing_writes_nothing() {
        let store = store();
        let created = store.create(&key("a"), ds("a")).await.unwrap();
        let same = store
            .guaranteed_update(&key("a"), &Preconditions::none(), |current| {
                Ok::<_, StoreError>(current.clone())
            })
            .await
            .unwrap();
        assert_eq!(same, created);
        assert_eq!(store.current_revision(), Revision::new(1));
    }

    #[tokio::test]
    async fn guaranteed_update_passes_the_callers_errors_through() {
        #[derive(Debug)]
        enum ApiError {
            Invalid,
            Store(StoreError),
        }
        impl From<StoreError> for ApiError {
            fn from(e: StoreError) -> Self {
                ApiError::Store(e)
            }
        }
        let store = store();
        store.create(&key("a"), ds("a")).await.unwrap();
        let invalid =
            store.guaranteed_update(&key("a"), &Preconditions::none(), |_| Err(ApiError::Invalid)).await;
        assert!(matches!(invalid, Err(ApiError::Invalid)));
        let missing = store.guaranteed_update(&key("b"), &Preconditions::none(), |v| Ok(v.clone())).await;
        assert!(matches!(missing, Err(ApiError::Store(StoreError::NotFound { .. }))));
    }

    #[tokio::test]
    async fn a_failed_commit_is_neither_acknowledged_nor_visible() {
        let backend = MemoryBackend::new();
        let store = Store::with_backend(backend.clone(), StoreOptions::default()).unwrap();
        backend.fail_commits(true);
        let err = store.create(&key("a"), ds("a")).await.unwrap_err();
        assert!(matches!(err, StoreError::Storage { .. }) && err.is_retryable(), "{err:?}");
        assert!(store.get(&key("a")).is_err());
        assert_eq!(store.current_revision(), Revision::ZERO);

        backend.fail_commits(false);
        let created = store.create(&key("a"), ds("a")).await.unwrap();
        assert_eq!(rv(&created), 1, "the failed write used up no revision");
    }

    #[tokio::test]
    async fn reopening_restores_objects_history_and_the_revision_counter() {
        let backend = MemoryBackend::new();
        let store = Store::with_backend(backend.clone(), StoreOptions::default()).unwrap();
        store.create(&key("a"), ds("a")).await.unwrap();
        store.create(&key("b"), ds("b")).await.unwrap();
        store.delete(&key("a"), Preconditions::none()).await.unwrap();
        drop(store);

        let store = Store::with_backend(backend, StoreOptions::default()).unwrap();
        assert_eq!(store.current_revision(), Revision::new(3));
        assert!(store.get(&key("a")).is_err());
        assert_eq!(rv(&store.get(&key("b")).unwrap()), 2);
        let mut watch = store.watch("apps/v1/daemonsets", None, Revision::ZERO).unwrap();
        let mut replayed = Vec::new();
        for _ in 0..3 {
            let event = watch.next().await.unwrap().unwrap();
            replayed.push((event.kind, event.revision.get()));
        }
        use crate::EventKind::*;
        assert_eq!(replayed, [(Added, 1), (Added, 2), (Deleted, 3)]);
        assert_eq!(rv(&store.create(&key("c"), ds("c")).await.unwrap()), 4);
    }

    #[tokio::test]
    async fn history_beyond_the_window_is_compacted_and_too_old_to_watch() {
        let options = StoreOptions { history_window: 5, ..StoreOptions::default() };
        let store = Store::open_in_memory(options).unwrap();
        for i in 0..20 {
            store.create(&key(&format!("d{i}")), ds("d")).await.unwrap();
        }
        assert_eq!(store.oldest_revision(), Revision::new(15));
        let err = store.watch("apps/v1/daemonsets", None, Revision::new(3)).unwrap_err();
        assert!(
            matches!(err, StoreError::TooOldRevision { requested, oldest }
                if requested == Revision::new(3) && oldest == Revision::new(15)),
            "{err:?}"
        );
        assert!(!err.is_retryable());
        let mut watch = store.watch("apps/v1/daemonsets", None, Revision::new(15)).unwrap();
        assert_eq!(watch.next().await.unwrap().unwrap().revision, Revision::new(16));
    }

    #[tokio::test]
    async fn explicit_compaction_moves_the_oldest_revision_but_never_past_the_current_one() {
        let store = store();
        for i in 0..4 {
            store.create(&key(&format!("d{i}")), ds("d")).await.unwrap();
        }
        assert_eq!(store.compact(Revision::new(2)).await.unwrap(), Revision::new(2));
        assert!(store.watch("apps/v1/daemonsets", None, Revision::new(1)).is_err());
        assert_eq!(store.compact(Revision::new(99)).await.unwrap(), Revision::new(4));
        assert_eq!(store.oldest_revision(), Revision::new(4));
    }

    #[tokio::test]
    async fn dropping_the_last_handle_fails_nothing_already_acknowledged_and_ends_watches() {
        let backend = MemoryBackend::new();
        let store = Store::with_backend(backend.clone(), StoreOptions::default()).unwrap();
        let (_, mut watch) = store.list_and_watch("apps/v1/daemonsets", None);
        store.create(&key("a"), ds("a")).await.unwrap();
        drop(store);
        assert_eq!(watch.next().await.unwrap().unwrap().revision, Revision::new(1));
        assert!(watch.next().await.is_none(), "the watch ends once the store is closed");
        let reopened = Store::with_backend(backend, StoreOptions::default()).unwrap();
        assert!(reopened.get(&key("a")).is_ok());
    }
}
