//! kill -9 at an arbitrary moment loses no acknowledged write and leaves no half-written object.
//!
//! The test re-runs this test binary as a child process (selected by an environment variable) that
//! writes continuously from several tasks and prints a line for each acknowledged write. The parent
//! kills it with SIGKILL mid-stream, reopens the file and checks every acknowledged write. Several
//! rounds reuse the same file, so later children also open a file left by a crash.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use everynode_store::object::resource_version;
use everynode_store::{ObjectKey, Preconditions, Store, StoreOptions};
use serde_json::{Value, json};

/// Set in the child: the database file to write to.
const CHILD_DB: &str = "EVERYNODE_STORE_CRASH_DB";
/// Set in the child: a prefix that makes this round's keys unique.
const CHILD_ROUND: &str = "EVERYNODE_STORE_CRASH_ROUND";
/// Writer tasks in the child, so kills land in the middle of group commits of several writes.
const CHILD_TASKS: usize = 8;

/// The steps each key goes through, in order; deletion only for every fifth key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Created = 0,
    Updated = 1,
    Deleted = 2,
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::namespaced("pods", "crash", name)
}

/// The object a key holds after `step`, with a payload large enough to span pages.
fn object(name: &str, step: Step) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "crash"},
        "step": step as u8,
        "payload": name.repeat(200 / name.len() + 1).repeat(8),
    })
}

fn deletes(i: usize) -> bool {
    i.is_multiple_of(5)
}

/// The child: writes until killed. Not a real test when the variable is unset.
#[test]
fn crash_child() {
    let (Some(db), Some(round)) = (std::env::var_os(CHILD_DB), std::env::var_os(CHILD_ROUND)) else {
        return;
    };
    let round = round.to_string_lossy().into_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async move {
        let store = Store::open(Path::new(&db), StoreOptions::default()).unwrap();
        let tasks: Vec<_> = (0..CHILD_TASKS)
            .map(|t| {
                let store = store.clone();
                let round = round.clone();
                tokio::spawn(async move {
                    for i in (t..).step_by(CHILD_TASKS) {
                        let name = format!("r{round}-{i}");
                        let created = store.create(&key(&name), object(&name, Step::Created)).await.unwrap();
                        ack(&name, Step::Created, &created);
                        let updated =
                            store.update(&key(&name), object(&name, Step::Updated), None).await.unwrap();
                        ack(&name, Step::Updated, &updated);
                        if deletes(i) {
                            let deleted = store.delete(&key(&name), Preconditions::none()).await.unwrap();
                            ack(&name, Step::Deleted, &deleted);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// Prints one acknowledged write: `ACK <name> <step> <resourceVersion>`.
fn ack(name: &str, step: Step, object: &Value) {
    let line = format!("ACK {name} {} {}\n", step as u8, resource_version(object).unwrap());
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(line.as_bytes()).unwrap();
    stdout.flush().unwrap();
}

struct Acked {
    step: Step,
    revision: u64,
}

/// Runs one child until it has acknowledged `kill_after` writes, SIGKILLs it, and returns every
/// write it acknowledged (the last step per key).
fn run_child_and_kill(db: &Path, round: usize, kill_after: usize) -> BTreeMap<String, Acked> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, db)
        .env(CHILD_ROUND, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit()) // a panicking child explains itself
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = BTreeMap::new();
    let record = |line: String, acked: &mut BTreeMap<String, Acked>| {
        let Some(rest) = line.strip_prefix("ACK ") else { return false };
        let fields: Vec<&str> = rest.split(' ').collect();
        let step = match fields[1] {
            "0" => Step::Created,
            "1" => Step::Updated,
            _ => Step::Deleted,
        };
        acked.insert(fields[0].to_owned(), Acked { step, revision: fields[2].parse().unwrap() });
        true
    };
    let mut count = 0;
    for line in lines.by_ref() {
        if record(line.unwrap(), &mut acked) {
            count += 1;
            if count == kill_after {
                break;
            }
        }
    }
    assert_eq!(count, kill_after, "round {round}: the child stopped early");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Lines already printed were acknowledged too.
    for line in lines {
        let Ok(line) = line else { break };
        record(line, &mut acked);
    }
    acked
}

#[test]
fn kill_dash_nine_loses_no_acknowledged_write_and_leaves_no_half_written_object() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.redb");
    let mut previous_max = 0;
    for (round, kill_after) in [(0, 60), (1, 233), (2, 500)] {
        let acked = run_child_and_kill(&db, round, kill_after);
        let store = Store::open(&db, StoreOptions::default()).unwrap();
        let current = store.current_revision().get();

        let min_acked = acked.values().map(|a| a.revision).min().unwrap();
        let max_acked = acked.values().map(|a| a.revision).max().unwrap();
        assert!(
            min_acked > previous_max,
            "round {round}: revisions restarted ({min_acked} <= {previous_max})"
        );
        assert!(current >= max_acked, "round {round}: store at {current}, acknowledged {max_acked}");
        previous_max = current;

        for (name, acked) in &acked {
            // A later step may have committed without its acknowledgement being printed.
            let stored_step = match store.get(&key(name)) {
                Ok(stored) => {
                    let step = if stored["step"] == 0 { Step::Created } else { Step::Updated };
                    let mut expected = object(name, step);
                    expected["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"].clone();
                    assert_eq!(*stored, expected, "round {round}: {name} is not intact");
                    assert!(
                        resource_version(&stored).unwrap().get() >= acked.revision,
                        "round {round}: {name}"
                    );
                    step
                }
                Err(_) => Step::Deleted,
            };
            assert!(
                stored_step >= acked.step,
                "round {round}: {name} acknowledged at {:?} but stored at {stored_step:?}",
                acked.step
            );
        }
        // Every stored object of this round is whole, acknowledged or not.
        for stored in store.list("pods", Some("crash")).items {
            let name = stored["metadata"]["name"].as_str().unwrap();
            let step = if stored["step"] == 0 { Step::Created } else { Step::Updated };
            let mut expected = object(name, step);
            expected["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"].clone();
            assert_eq!(*stored, expected, "round {round}: unacknowledged {name} is not intact");
        }
    }
}
