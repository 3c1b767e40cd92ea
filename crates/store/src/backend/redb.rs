//! `RedbBackend`: the durable backend, one redb file (layout in `DESIGN.md`).

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Backend, Commit, Record, Recovered};
use crate::error::{Result, StoreError};
use crate::event::EventKind;
use crate::key::ObjectKey;
use crate::revision::Revision;

/// Current objects: (resource, namespace, name) to JSON.
const OBJECTS: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("objects");
/// History: revision to (event tag, resource, namespace, name, JSON).
const HISTORY: TableDefinition<u64, (u8, &str, &str, &str, &[u8])> = TableDefinition::new("history");
/// Counters, under the `META_*` keys.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The last committed revision.
const META_REVISION: &str = "revision";
/// The compaction floor.
const META_COMPACTED: &str = "compacted";
/// The layout version of the file, bumped on any incompatible change to the tables above.
const META_FORMAT: &str = "format";
const FORMAT_VERSION: u64 = 1;

/// A redb database file. Commits use redb's default `Durability::Immediate`: `commit` returns only
/// after the data and the new commit slot are fsynced, and a torn commit is detected by checksum
/// and ignored on the next open, so the file always holds exactly the last successful commit.
#[derive(Debug)]
pub struct RedbBackend {
    db: Database,
    /// The compaction floor on disk, so that a commit only deletes history when it moves.
    compacted: Revision,
}

impl RedbBackend {
    /// Opens the database at `path`, creating it (and its tables) if it does not exist.
    ///
    /// After a crash redb repairs the file on open (a walk over the whole file), so opening takes
    /// longer than usual then.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let db = Database::create(path).map_err(|e| StoreError::storage("opening the database", e))?;
        let txn = db.begin_write().map_err(|e| StoreError::storage("initializing the database", e))?;
        {
            let init = |e| StoreError::storage("initializing the database", e);
            txn.open_table(OBJECTS).map_err(init)?;
            txn.open_table(HISTORY).map_err(init)?;
            let mut meta = txn.open_table(META).map_err(init)?;
            let format = meta.get(META_FORMAT).map_err(read_err)?.map(|v| v.value());
            match format {
                None => {
                    meta.insert(META_FORMAT, FORMAT_VERSION).map_err(write_err)?;
                }
                Some(FORMAT_VERSION) => {}
                Some(other) => {
                    return Err(StoreError::Corrupt(format!(
                        "unsupported store format {other} (this build reads format {FORMAT_VERSION})"
                    )));
                }
            }
        }
        txn.commit().map_err(|e| StoreError::storage("initializing the database", e))?;
        Ok(RedbBackend { db, compacted: Revision::ZERO })
    }
}

fn read_err(e: redb::StorageError) -> StoreError {
    StoreError::storage("reading the database", e)
}

fn write_err(e: redb::StorageError) -> StoreError {
    StoreError::storage("writing the database", e)
}

impl Backend for RedbBackend {
    fn load(&mut self) -> Result<Recovered> {
        let open = |e| StoreError::storage("reading the database", e);
        let txn = self.db.begin_read().map_err(open)?;
        let meta = txn.open_table(META).map_err(|e| StoreError::storage("reading the database", e))?;
        let counter = |name| -> Result<Revision> {
            Ok(Revision::new(meta.get(name).map_err(read_err)?.map_or(0, |v| v.value())))
        };
        let revision = counter(META_REVISION)?;
        let compacted = counter(META_COMPACTED)?;

        let objects_table =
            txn.open_table(OBJECTS).map_err(|e| StoreError::storage("reading the database", e))?;
        let mut objects = Vec::new();
        for entry in objects_table.iter().map_err(read_err)? {
            let (key, value) = entry.map_err(read_err)?;
            let (resource, namespace, name) = key.value();
            objects.push((ObjectKey::namespaced(resource, namespace, name), value.value().to_vec()));
        }

        let history_table =
            txn.open_table(HISTORY).map_err(|e| StoreError::storage("reading the database", e))?;
        let mut history = Vec::new();
        for entry in history_table.iter().map_err(read_err)? {
            let (revision, value) = entry.map_err(read_err)?;
            let (tag, resource, namespace, name, object) = value.value();
            let revision = Revision::new(revision.value());
            let kind = EventKind::from_tag(tag).ok_or_else(|| {
                StoreError::Corrupt(format!("history record {revision} has unknown kind {tag}"))
            })?;
            let key = ObjectKey::namespaced(resource, namespace, name);
            history.push(Record { revision, kind, key, object: object.to_vec() });
        }
        self.compacted = compacted;
        Ok(Recovered { revision, compacted, objects, history })
    }

    fn commit(&mut self, commit: &Commit<'_>) -> Result<()> {
        let txn = self.db.begin_write().map_err(|e| StoreError::storage("starting a commit", e))?;
        {
            let open = |e| StoreError::storage("starting a commit", e);
            let mut objects = txn.open_table(OBJECTS).map_err(open)?;
            let mut history = txn.open_table(HISTORY).map_err(open)?;
            let mut meta = txn.open_table(META).map_err(open)?;
            for record in commit.records {
                let key =
                    (record.key.resource.as_str(), record.key.namespace.as_str(), record.key.name.as_str());
                match record.kind {
                    EventKind::Deleted => objects.remove(key).map(drop),
                    EventKind::Added | EventKind::Modified => {
                        objects.insert(key, record.object.as_slice()).map(drop)
                    }
                }
                .map_err(write_err)?;
                let value = (record.kind.tag(), key.0, key.1, key.2, record.object.as_slice());
                history.insert(record.revision.get(), value).map_err(write_err)?;
            }
            if commit.compacted > self.compacted {
                // Only the records that just fell out of the window are left below the floor.
                history.retain_in(..=commit.compacted.get(), |_, _| false).map_err(write_err)?;
            }
            meta.insert(META_REVISION, commit.revision.get()).map_err(write_err)?;
            meta.insert(META_COMPACTED, commit.compacted.get()).map_err(write_err)?;
        }
        txn.commit().map_err(|e| StoreError::storage("committing", e))?;
        self.compacted = commit.compacted;
        Ok(())
    }
}
