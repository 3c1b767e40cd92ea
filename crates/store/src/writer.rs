//! The writer thread: group commit of queued writes, then apply and acknowledge.
//!
//! One thread owns the backend. It blocks for the first queued request, drains whatever else is
//! queued (up to `max_batch`), decides every write against the state including the batch's earlier
//! writes, commits all of them in one backend transaction, and only then applies the events to the
//! shared state and answers the callers. So a caller is never answered, and no reader or watcher sees
//! a write, before that write is durable; and concurrent writers share one fsync.

use std::collections::HashMap;
use std::sync::{Arc, mpsc};
use std::thread;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::backend::{Backend, Commit, Record};
use crate::error::{Result, StoreError};
use crate::event::EventKind;
use crate::key::ObjectKey;
use crate::revision::Revision;
use crate::state::{self, Shared};
use crate::write::{ObjectWrite, decide};

/// A request to the writer thread.
pub(crate) enum Request {
    /// Write one object.
    Write { key: ObjectKey, write: ObjectWrite, reply: oneshot::Sender<Result<Arc<Value>>> },
    /// Move the compaction floor up to (at most) `to`.
    Compact { to: Revision, reply: oneshot::Sender<Result<Revision>> },
}

/// The writer's settings.
pub(crate) struct WriterConfig {
    pub(crate) max_batch: usize,
    pub(crate) history_window: u64,
}

/// Starts the writer thread. It runs until every sender of `requests` is dropped, then closes the
/// shared state (ending all watches) and drops the backend.
pub(crate) fn spawn(
    backend: Box<dyn Backend>,
    shared: Arc<Shared>,
    requests: mpsc::Receiver<Request>,
    config: WriterConfig,
) -> Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name("everynode-store-writer".to_owned())
        .spawn(move || {
            let _close = CloseOnExit(Arc::clone(&shared));
            let mut writer = Writer { backend, shared, config };
            while let Ok(first) = requests.recv() {
                let mut batch = vec![first];
                while batch.len() < writer.config.max_batch.max(1) {
                    match requests.try_recv() {
                        Ok(request) => batch.push(request),
                        Err(_) => break,
                    }
                }
                writer.process(batch);
            }
        })
        .map_err(|e| StoreError::storage("starting the writer thread", e))
}

/// Closes the shared state when the writer thread ends, even by panic, so watchers stop waiting.
struct CloseOnExit(Arc<Shared>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        state::write(&self.0).close();
    }
}

struct Writer {
    backend: Box<dyn Backend>,
    shared: Arc<Shared>,
    config: WriterConfig,
}

/// The answer owed to one request of a batch.
enum Answer {
    Write(oneshot::Sender<Result<Arc<Value>>>, Result<Arc<Value>>),
    /// Answered with the compaction floor after the batch.
    Compact(oneshot::Sender<Result<Revision>>),
}

impl Answer {
    fn send(self, compacted: Revision) {
        // A dropped receiver means the caller stopped waiting; the write stands regardless.
        match self {
            Answer::Write(reply, result) => drop(reply.send(result)),
            Answer::Compact(reply) => drop(reply.send(Ok(compacted))),
        }
    }

    fn fail(self, error: &StoreError) {
        match self {
            Answer::Write(reply, _) => drop(reply.send(Err(error.clone()))),
            Answer::Compact(reply) => drop(reply.send(Err(error.clone()))),
        }
    }
}

impl Writer {
    fn process(&mut self, batch: Vec<Request>) {
        let mut answers = Vec::with_capacity(batch.len());
        let mut records = Vec::new();
        let mut events = Vec::new();
        let (base_compacted, revision, mut compacted) = {
            let state = state::read(&self.shared);
            // Objects as they stand after the batch's earlier writes (`None`: deleted in the batch).
            let mut overlay: HashMap<ObjectKey, Option<Arc<Value>>> = HashMap::new();
            let mut revision = state.revision();
            let mut compacted = state.compacted();
            for request in batch {
                match request {
                    Request::Write { key, write, reply } => {
                        let current = match overlay.get(&key) {
                            Some(pending) => pending.as_ref(),
                            None => state.get(&key),
                        };
                        let result = decide(&key, write, current, revision.next()).and_then(|event| {
                            let bytes = serde_json::to_vec(&*event.object).map_err(|e| {
                                StoreError::InvalidObject { key: key.clone(), reason: e.to_string() }
                            })?;
                            Ok((event, bytes))
                        });
                        let result = result.map(|(mut event, bytes)| {
                            event.encoded = Some(Arc::from(bytes.as_slice()));
                            revision = event.revision;
                            let object = Arc::clone(&event.object);
                            let after = (event.kind != EventKind::Deleted).then(|| Arc::clone(&object));
                            overlay.insert(key.clone(), after);
                            records.push(Record { revision, kind: event.kind, key, object: bytes });
                            events.push(Arc::new(event));
                            object
                        });
                        answers.push(Answer::Write(reply, result));
                    }
                    Request::Compact { to, reply } => {
                        compacted = compacted.max(to.min(revision));
                        answers.push(Answer::Compact(reply));
                    }
                }
            }
            (state.compacted(), revision, compacted)
        };
        // Keep only the last `history_window` revisions.
        compacted = compacted.max(Revision::new(revision.get().saturating_sub(self.config.history_window)));

        if !records.is_empty() || compacted != base_compacted {
            let commit = Commit { records: &records, revision, compacted };
            if let Err(error) = self.backend.commit(&commit) {
                // Nothing of the batch is durable or visible. Refused writes get the storage error
                // too: their refusal may have depended on an earlier write of this batch.
                for answer in answers {
                    answer.fail(&error);
                }
                return;
            }
            let mut state = state::write(&self.shared);
            for event in events {
                state.apply(event);
            }
            state.compact(compacted);
        }
        for answer in answers {
            answer.send(compacted);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::RwLock;

    use serde_json::json;

    use super::*;
    use crate::backend::{MemoryBackend, Recovered};
    use crate::object::resource_version;
    use crate::preconditions::Preconditions;
    use crate::state::State;

    /// A memory backend that counts commits.
    struct Counting {
        inner: MemoryBackend,
        commits: Arc<Mutex<usize>>,
    }

    impl Backend for Counting {
        fn load(&mut self) -> Result<Recovered> {
            self.inner.load()
        }
        fn commit(&mut self, commit: &Commit<'_>) -> Result<()> {
            self.inner.commit(commit)?;
            *self.commits.lock().unwrap() += 1;
            Ok(())
        }
    }

    fn writer(backend: MemoryBackend, history_window: u64) -> (Writer, Arc<Mutex<usize>>) {
        let commits = Arc::new(Mutex::new(0));
        let shared = Arc::new(RwLock::new(State::empty(16)));
        let backend = Box::new(Counting { inner: backend, commits: Arc::clone(&commits) });
        (Writer { backend, shared, config: WriterConfig { max_batch: 64, history_window } }, commits)
    }

    fn write(key: &str, write: ObjectWrite) -> (Request, oneshot::Receiver<Result<Arc<Value>>>) {
        let (reply, answer) = oneshot::channel();
        (Request::Write { key: ObjectKey::cluster("nodes", key), write, reply }, answer)
    }

    fn outcome(answer: &mut oneshot::Receiver<Result<Arc<Value>>>) -> std::result::Result<u64, String> {
        match answer.try_recv().unwrap() {
            Ok(object) => Ok(resource_version(&object).unwrap().get()),
            Err(e) => Err(format!("{e:?}").split([' ', '{', '(']).next().unwrap_or("").to_owned()),
        }
    }

    #[test]
    fn a_batch_is_decided_in_order_against_its_own_earlier_writes_and_committed_once() {
        let (mut writer, commits) = writer(MemoryBackend::new(), 100);
        let (r1, mut a1) = write("a", ObjectWrite::Create(json!({})));
        let (r2, mut a2) = write("a", ObjectWrite::Create(json!({})));
        let update = ObjectWrite::Update { object: json!({"v": 2}), expected: Some(Revision::new(1)) };
        let (r3, mut a3) = write("a", update);
        let (r4, mut a4) = write("a", ObjectWrite::Delete(Preconditions::none()));
        let (r5, mut a5) = write("a", ObjectWrite::Delete(Preconditions::none()));
        writer.process(vec![r1, r2, r3, r4, r5]);

        assert_eq!(outcome(&mut a1), Ok(1));
        assert_eq!(outcome(&mut a2), Err("AlreadyExists".into()));
        assert_eq!(outcome(&mut a3), Ok(2));
        assert_eq!(outcome(&mut a4), Ok(3));
        assert_eq!(outcome(&mut a5), Err("NotFound".into()));
        assert_eq!(*commits.lock().unwrap(), 1, "one group commit for the whole batch");
        assert_eq!(state::read(&writer.shared).revision(), Revision::new(3));
    }

    #[test]
    fn a_failed_group_commit_fails_every_request_of_the_batch() {
        let mut backend = MemoryBackend::new();
        let (mut writer, _) = writer(backend.clone(), 100);
        backend.fail_commits(true);
        let (r1, mut a1) = write("a", ObjectWrite::Create(json!({})));
        let (r2, mut a2) = write("a", ObjectWrite::Create(json!({})));
        writer.process(vec![r1, r2]);
        assert_eq!(outcome(&mut a1), Err("Storage".into()));
        assert_eq!(outcome(&mut a2), Err("Storage".into()), "its refusal depended on the failed write");
        assert_eq!(state::read(&writer.shared).revision(), Revision::ZERO);
        assert_eq!(backend.load().unwrap(), Recovered::default(), "nothing reached the backend");
    }

    #[test]
    fn a_batch_of_only_refused_writes_commits_nothing() {
        let (mut writer, commits) = writer(MemoryBackend::new(), 100);
        let (r1, mut a1) = write("missing", ObjectWrite::Delete(Preconditions::none()));
        writer.process(vec![r1]);
        assert_eq!(outcome(&mut a1), Err("NotFound".into()));
        assert_eq!(*commits.lock().unwrap(), 0);
    }

    #[test]
    fn the_history_window_is_enforced_in_memory_and_in_the_backend() {
        let mut backend = MemoryBackend::new();
        let (mut writer, _) = writer(backend.clone(), 2);
        let batch: Vec<_> = (0..5).map(|i| write(&format!("n{i}"), ObjectWrite::Create(json!({})))).collect();
        writer.process(batch.into_iter().map(|(request, _)| request).collect());
        assert_eq!(state::read(&writer.shared).compacted(), Revision::new(3));
        let recovered = backend.load().unwrap();
        assert_eq!(recovered.compacted, Revision::new(3));
        let kept: Vec<u64> = recovered.history.iter().map(|r| r.revision.get()).collect();
        assert_eq!(kept, [4, 5]);
        assert_eq!(recovered.objects.len(), 5, "compaction drops history, never objects");
    }
}
