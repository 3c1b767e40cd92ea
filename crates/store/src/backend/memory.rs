//! `MemoryBackend`: a non-durable backend for tests, shareable to simulate a restart.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Backend, Commit, Record, Recovered};
use crate::error::{Result, StoreError};
use crate::key::ObjectKey;
use crate::revision::Revision;

/// Keeps the "durable" state in memory.
///
/// Clones share the same data, so a test can drop a [`Store`](crate::Store) and open another one on
/// a clone to exercise recovery; only one store may use the data at a time. A commit either
/// applies whole or not at all, like a real one, and [`fail_commits`](Self::fail_commits) makes
/// commits fail to test the store's error path.
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    data: Arc<Mutex<Data>>,
}

#[derive(Debug, Default)]
struct Data {
    revision: Revision,
    compacted: Revision,
    objects: BTreeMap<ObjectKey, Vec<u8>>,
    history: BTreeMap<Revision, Record>,
    fail_commits: bool,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        MemoryBackend::default()
    }

    /// Makes every following commit fail (with an IO error) until called with `false`.
    pub fn fail_commits(&self, fail: bool) {
        self.lock().fail_commits = fail;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Data> {
        // A panic while holding this lock can only come from a test's own assertion; the data is
        // replaced wholesale under it, so it is never half-updated.
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Backend for MemoryBackend {
    fn load(&mut self) -> Result<Recovered> {
        let data = self.lock();
        Ok(Recovered {
            revision: data.revision,
            compacted: data.compacted,
            objects: data.objects.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            history: data.history.values().cloned().collect(),
        })
    }

    fn commit(&mut self, commit: &Commit<'_>) -> Result<()> {
        let mut data = self.lock();
        if data.fail_commits {
            return Err(StoreError::storage("committing", io::Error::other("injected commit failure")));
        }
        for record in commit.records {
            match record.kind {
                crate::EventKind::Deleted => data.objects.remove(&record.key),
                _ => data.objects.insert(record.key.clone(), record.object.clone()),
            };
            data.history.insert(record.revision, record.clone());
        }
        data.history = data.history.split_off(&commit.compacted.next());
        data.revision = commit.revision;
        data.compacted = commit.compacted;
        Ok(())
    }
}
