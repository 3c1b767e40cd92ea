//! Durability on the real redb backend: restarts, concurrent writers, persisted history.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use everynode_store::object::resource_version;
use everynode_store::{ObjectKey, Preconditions, Revision, Store, StoreError, StoreOptions};
use serde_json::{Value, json};

fn open(path: &Path) -> Store {
    Store::open(path, StoreOptions::default()).unwrap()
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::namespaced("pods", "default", name)
}

fn rv(object: &Value) -> u64 {
    resource_version(object).unwrap().get()
}

#[tokio::test]
async fn revisions_keep_increasing_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let mut last = 0;
    for round in 0..3 {
        let store = open(&path);
        assert_eq!(
            store.current_revision(),
            Revision::new(last),
            "round {round} reopens at the last revision"
        );
        let name = format!("p{round}");
        let created = store.create(&key(&name), json!({"round": round})).await.unwrap();
        assert!(rv(&created) > last, "round {round}: {} after {last}", rv(&created));
        // Deleting everything must not let the counter fall back.
        let deleted = store.delete(&key(&name), Preconditions::none()).await.unwrap();
        last = rv(&deleted);
        assert!(store.list("pods", None).items.is_empty());
    }
    assert_eq!(last, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_all_acknowledged_and_durable_after_reopen() {
    const TASKS: usize = 32;
    const WRITES: usize = 25;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = open(&path);
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for w in 0..WRITES {
                    let name = format!("t{t}-w{w}");
                    let object = store.create(&key(&name), json!({"task": t, "write": w})).await.unwrap();
                    acked.push((name, rv(&object)));
                }
                acked
            })
        })
        .collect();
    let mut acked = BTreeMap::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    drop(store);

    let revisions: std::collections::BTreeSet<u64> = acked.values().copied().collect();
    assert_eq!(revisions.len(), TASKS * WRITES, "every write got its own revision");
    let store = open(&path);
    assert_eq!(store.current_revision(), Revision::new((TASKS * WRITES) as u64));
    for (name, revision) in &acked {
        let object = store.get(&key(name)).unwrap();
        assert_eq!(rv(&object), *revision, "{name}");
        let (t, w) = name.trim_start_matches('t').split_once("-w").unwrap();
        assert_eq!(object["task"], t.parse::<u64>().unwrap(), "{name}");
        assert_eq!(object["write"], w.parse::<u64>().unwrap(), "{name}");
    }
}

#[tokio::test]
async fn watch_history_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = open(&path);
    for i in 1..=5 {
        store.create(&key(&format!("p{i}")), json!({})).await.unwrap();
    }
    drop(store);

    let store = open(&path);
    let mut watch = store.watch("pods", None, Revision::new(2)).unwrap();
    store.update(&key("p1"), json!({"v": 2}), None).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let event = watch.next().await.unwrap().unwrap();
        seen.push((event.kind.as_str(), event.revision.get()));
    }
    assert_eq!(seen, [("ADDED", 3), ("ADDED", 4), ("ADDED", 5), ("MODIFIED", 6)]);
}

#[tokio::test]
async fn compaction_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let options = StoreOptions { history_window: 3, ..StoreOptions::default() };
    let store = Store::open(&path, options.clone()).unwrap();
    for i in 1..=10 {
        store.create(&key(&format!("p{i}")), json!({})).await.unwrap();
    }
    drop(store);

    let store = Store::open(&path, options).unwrap();
    assert_eq!(store.oldest_revision(), Revision::new(7));
    assert_eq!(store.list("pods", None).items.len(), 10);
    let err = store.watch("pods", None, Revision::new(5)).unwrap_err();
    assert!(
        matches!(err, StoreError::TooOldRevision { oldest, .. } if oldest == Revision::new(7)),
        "{err:?}"
    );
    let mut watch = store.watch("pods", None, Revision::new(7)).unwrap();
    assert_eq!(watch.next().await.unwrap().unwrap().revision, Revision::new(8));
}

#[test]
fn a_second_store_on_the_same_file_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let _first = open(&path);
    let err = Store::open(&path, StoreOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::Storage { .. }), "{err:?}");
}

#[tokio::test]
async fn modified_events_carry_the_previous_object_live_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        let store = open(&path);
        let mut watch = store.watch("pods", None, Revision::ZERO).unwrap();
        store.create(&key("a"), json!({"v": 1})).await.unwrap();
        store.update(&key("a"), json!({"v": 2}), None).await.unwrap();
        let added = watch.next().await.unwrap().unwrap();
        assert_eq!(added.previous, None);
        let modified = watch.next().await.unwrap().unwrap();
        assert_eq!(modified.previous.as_ref().map(|p| p["v"].clone()), Some(json!(1)));
    }
    let store = open(&path);
    let mut replay = store.watch("pods", None, Revision::ZERO).unwrap();
    let _added = replay.next().await.unwrap().unwrap();
    let modified = replay.next().await.unwrap().unwrap();
    assert_eq!(
        modified.previous.as_ref().map(|p| p["v"].clone()),
        Some(json!(1)),
        "rebuilt from the history"
    );
}
