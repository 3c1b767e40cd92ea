//! Store throughput and read costs on the real redb backend.
//!
//! - `create/sequential`: one writer, each create awaited before the next (one fsync per create).
//! - `create/concurrent_64`: 64 writer tasks sharing group commits.
//! - `list/N`: a consistent list of all N objects of a resource.
//! - `watch_replay/N`: starting a watch at revision 0 and draining N history events.
//! - `watch_fanout/watchers/{0,100}`: one create (memory backend) delivered to 0 or 100 watchers.
//! - `open/N`: reopening a file of N objects (recovery rebuilds the in-memory state).
//!
//! Objects are ~1.1 KiB pod-like JSON. The run takes about 1.5 minutes on 2 idle cores (plus the build).

// Benchmark code: a failure aborts the run, which is what we want.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use everynode_store::{ObjectKey, Revision, Store, StoreOptions};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

const SIZES: [usize; 2] = [10_000, 100_000];
const WRITERS: usize = 64;
const WATCHERS: usize = 100;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::namespaced("pods", "default", name)
}

/// A pod of about 1 KiB of JSON.
fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": format!("3f1c2a9e-0000-4000-8000-{name:0>12}"),
            "labels": {"app": "node-agent", "controller-revision-hash": "7d4b9c8f6d", "pod-template-generation": "3"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "node-agent",
                "uid": "5b0a6c1e-1111-4111-8111-111111111111", "controller": true, "blockOwnerDeletion": true}],
            "creationTimestamp": "2026-01-01T00:00:00Z"
        },
        "spec": {
            "nodeName": format!("node-{name}"),
            "containers": [{"name": "agent", "image": "registry.example/agent:1.4.2",
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
                "volumeMounts": [{"name": "host-proc", "mountPath": "/host/proc", "readOnly": true}]}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}],
            "volumes": [{"name": "host-proc", "hostPath": {"path": "/proc"}}]
        },
        "status": {"phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.244.0.1",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:05Z"}]}
    })
}

/// A store at `path` holding `n` pods, written by concurrent tasks (group commits).
fn populate(rt: &Runtime, path: &Path, n: usize, options: StoreOptions) -> Store {
    let store = Store::open(path, options).unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..WRITERS)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in (t..n).step_by(WRITERS) {
                        let name = format!("p{i}");
                        store.create(&key(&name), pod(&name)).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    store
}

fn creates(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("creates.redb"), StoreOptions::default()).unwrap();
    let next = AtomicU64::new(0);
    let mut group = c.benchmark_group("create");
    group.throughput(Throughput::Elements(1));

    group.bench_function("sequential", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let name = format!("s{}", next.fetch_add(1, Ordering::Relaxed));
                    black_box(store.create(&key(&name), pod(&name)).await.unwrap());
                }
                start.elapsed()
            })
        })
    });

    group.bench_function(BenchmarkId::new("concurrent", WRITERS), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                let tasks: Vec<_> = (0..WRITERS as u64)
                    .map(|t| {
                        let store = store.clone();
                        let base = next.fetch_add(iters, Ordering::Relaxed);
                        tokio::spawn(async move {
                            for i in (t..iters).step_by(WRITERS) {
                                let name = format!("c{}", base + i);
                                store.create(&key(&name), pod(&name)).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn reads(c: &mut Criterion) {
    let rt = runtime();
    for n in SIZES {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reads.redb");
        // Keep the whole population in the history so a watch can replay all of it.
        let options = StoreOptions { history_window: n as u64, ..StoreOptions::default() };
        let store = populate(&rt, &path, n, options.clone());

        let mut group = c.benchmark_group("list");
        group
            .throughput(Throughput::Elements(n as u64))
            .sample_size(10)
            .measurement_time(Duration::from_secs(3));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| black_box(store.list("pods", None)).items.len())
        });
        group.finish();

        let mut group = c.benchmark_group("watch_replay");
        group
            .throughput(Throughput::Elements(n as u64))
            .sample_size(10)
            .measurement_time(Duration::from_secs(3));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut watch = store.watch("pods", None, Revision::ZERO).unwrap();
                    for _ in 0..n {
                        black_box(watch.next().await.unwrap().unwrap());
                    }
                })
            })
        });
        group.finish();

        drop(store);
        // Flat sampling: ten single opens, as one open of 100,000 objects takes over a second.
        let mut group = c.benchmark_group("open");
        group
            .throughput(Throughput::Elements(n as u64))
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .measurement_time(Duration::from_secs(1));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            // Time the open only: freeing 100,000 JSON trees afterwards costs about as much again.
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let store = black_box(Store::open(&path, options.clone()).unwrap());
                    total += start.elapsed();
                    drop(store);
                }
                total
            })
        });
        group.finish();
    }
}

/// Fan-out on the memory backend, so that fsync latency does not drown the cost of delivery:
/// compare `watchers/100` with `watchers/0`.
fn fanout(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("watch_fanout");
    group.throughput(Throughput::Elements(1));
    for watchers in [0, WATCHERS] {
        let store = Store::open_in_memory(StoreOptions::default()).unwrap();
        let mut watches: Vec<_> = (0..watchers).map(|_| store.list_and_watch("pods", None).1).collect();
        let next = AtomicU64::new(0);
        group.bench_function(BenchmarkId::new("watchers", watchers), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let name = format!("f{}", next.fetch_add(1, Ordering::Relaxed));
                        store.create(&key(&name), pod(&name)).await.unwrap();
                        for watch in &mut watches {
                            black_box(watch.next().await.unwrap().unwrap());
                        }
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = creates, reads, fanout
}
criterion_main!(benches);
