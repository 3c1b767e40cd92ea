//! The cost of one full `sync` (claim, history, manage, rolling update, status) for a DaemonSet
//! mid-rollout on large fleets.
//!
//! The fleet: N Ready nodes (three of them control-plane nodes the daemon tolerates), one Running
//! and Ready daemon pod per node, half on the old revision and half on the new one, both
//! ControllerRevisions present; RollingUpdate with maxUnavailable 10%, so each sync deletes old
//! pods (up to the burst limit) and plans status. The fixture is built once, outside the timing.
//! Target: under 20 ms for 10,000 nodes on one core. The default run takes well under a minute.

// Benchmark code: a broken fixture aborts the run, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, HostPathVolumeSource, Node, NodeCondition, NodeSpec, NodeStatus, Pod, PodCondition,
    PodSpec, PodStatus, PodTemplateSpec, ResourceRequirements, Taint, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use everynode_core::backoff::FailedPodBackoff;
use everynode_core::constants::TEMPLATE_GENERATION_ANNOTATION;
use everynode_core::history::new_revision;
use everynode_core::podbuild::new_daemon_pod;
use everynode_core::revision_data::template_hash;
use everynode_core::{Snapshot, sync};

const FLEETS: [usize; 2] = [1_000, 10_000];
const CONTROL_PLANE_NODES: usize = 3;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn time(secs: i64) -> Time {
    Time(Timestamp::from_second(1_750_000_000 + secs).unwrap())
}

/// A log agent shaped like the seed pages' fluent-bit: resources, env, host paths, tolerations.
fn template(image: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels(&[("app", "agent")])), ..Default::default() }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "agent".into(),
                image: Some(image.into()),
                env: Some(vec![EnvVar {
                    name: "LOG_LEVEL".into(),
                    value: Some("info".into()),
                    ..Default::default()
                }]),
                resources: Some(ResourceRequirements {
                    requests: Some(BTreeMap::from([
                        ("cpu".into(), Quantity("50m".into())),
                        ("memory".into(), Quantity("64Mi".into())),
                    ])),
                    ..Default::default()
                }),
                volume_mounts: Some(vec![VolumeMount {
                    name: "varlog".into(),
                    mount_path: "/var/log".into(),
                    read_only: Some(true),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            tolerations: Some(vec![Toleration {
                key: Some("node-role.kubernetes.io/control-plane".into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            }]),
            volumes: Some(vec![Volume {
                name: "varlog".into(),
                host_path: Some(HostPathVolumeSource { path: "/var/log".into(), type_: None }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

fn daemon_set(image: &str, generation: i64) -> DaemonSet {
    DaemonSet {
        metadata: ObjectMeta {
            name: Some("agent".into()),
            namespace: Some("kube-system".into()),
            uid: Some("0b7c6a5e-6d43-4b8e-9a8e-3f1d2c4b5a69".into()),
            generation: Some(generation),
            annotations: Some(labels(&[(TEMPLATE_GENERATION_ANNOTATION, &generation.to_string())])),
            ..Default::default()
        },
        spec: DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels(&[("app", "agent")])),
                match_expressions: None,
            },
            template: template(image),
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_unavailable: Some(IntOrString::String("10%".into())),
                    max_surge: Some(IntOrString::Int(0)),
                }),
            }),
            revision_history_limit: Some(10),
            min_ready_seconds: None,
        },
        status: None,
    }
}

fn node(i: usize) -> Node {
    let name = format!("node-{i:05}");
    let control_plane = i < CONTROL_PLANE_NODES;
    let mut node_labels = labels(&[("kubernetes.io/hostname", &name), ("kubernetes.io/os", "linux")]);
    if control_plane {
        node_labels.insert("node-role.kubernetes.io/control-plane".into(), String::new());
    }
    Node {
        metadata: ObjectMeta { name: Some(name), labels: Some(node_labels), ..Default::default() },
        spec: Some(NodeSpec {
            taints: control_plane.then(|| {
                vec![Taint {
                    key: "node-role.kubernetes.io/control-plane".into(),
                    effect: "NoSchedule".into(),
                    value: None,
                    time_added: None,
                }]
            }),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

/// The pod `ds` made for `node` long ago, bound, Running and Ready.
fn running_pod(ds: &DaemonSet, node: &str, hash: &str, serial: usize) -> Pod {
    let generation = ds.metadata.generation;
    let mut pod = new_daemon_pod(ds, node, hash, generation);
    pod.metadata.name = Some(format!("agent-{serial:05}"));
    pod.metadata.uid = Some(format!("pod-uid-{serial}"));
    pod.metadata.creation_timestamp = Some(time(0));
    if let Some(spec) = pod.spec.as_mut() {
        spec.node_name = Some(node.to_string());
    }
    pod.status = Some(PodStatus {
        phase: Some("Running".into()),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(time(10)),
            ..Default::default()
        }]),
        ..Default::default()
    });
    pod
}

/// Everything one sync reads, built once per fleet size.
struct World {
    ds: DaemonSet,
    nodes: Vec<Node>,
    pods: Vec<Pod>,
    revisions: Vec<ControllerRevision>,
    backoff: FailedPodBackoff,
    now: Timestamp,
}

impl World {
    fn mid_rollout(n: usize) -> World {
        let old = daemon_set("agent:v1", 1);
        let ds = daemon_set("agent:v2", 2);
        let old_hash = template_hash(&old.spec.template, None);
        let new_hash = template_hash(&ds.spec.template, None);
        let revisions = vec![new_revision(&old, &old_hash, 1), new_revision(&ds, &new_hash, 2)];
        let nodes: Vec<Node> = (0..n).map(node).collect();
        let pods = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let name = node.metadata.name.as_deref().unwrap();
                if i % 2 == 0 {
                    running_pod(&old, name, &old_hash, i)
                } else {
                    running_pod(&ds, name, &new_hash, i)
                }
            })
            .collect();
        World { ds, nodes, pods, revisions, backoff: FailedPodBackoff::default(), now: time(3_600).0 }
    }

    fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            daemon_set: &self.ds,
            nodes: self.nodes.iter().collect(),
            pods: self.pods.iter().collect(),
            revisions: self.revisions.iter().collect(),
            now: self.now,
            expectations_satisfied: true,
            backoff: &self.backoff,
        }
    }
}

fn bench_sync(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_mid_rollout");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for n in FLEETS {
        let world = World::mid_rollout(n);
        // The scenario really is mid-rollout: the sync replaces old pods and sees half updated.
        let plan = sync(&world.snapshot());
        assert!(!plan.deletes.is_empty(), "the rollout deletes old pods");
        assert_eq!(plan.counts.updated as usize, n / 2);
        // Building the snapshot's reference vectors is part of what a sync costs a runtime.
        group.bench_with_input(BenchmarkId::from_parameter(n), &world, |b, world| {
            b.iter(|| black_box(sync(black_box(&world.snapshot()))));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_sync);
criterion_main!(benches);
