//! Fixture builders and an in-memory world for scenario tests ported from upstream's
//! daemon_controller_test.go and update_test.go.
//!
//! `World::sync` plans one sync and applies the plan the way upstream's fake pod control does:
//! creates and deletes take effect at once (so expectations are always met), created pods stay
//! unscheduled and not ready until a test marks them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
};
use k8s_openapi::api::core::v1::{
    Container, Node, NodeSpec, Pod, PodCondition, PodSpec, PodStatus, PodTemplateSpec, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use everynode_core::backoff::FailedPodBackoff;
use everynode_core::constants::{CONTROLLER_REVISION_HASH_LABEL, TEMPLATE_GENERATION_ANNOTATION};
use everynode_core::plan::{OwnershipChange, Plan, PlannedEvent};
use everynode_core::pod::target_node_name;
use everynode_core::podbuild::{controller_ref, pin_to_node};
use everynode_core::revision_data::template_hash;
use everynode_core::{Snapshot, sync};

pub type Labels = BTreeMap<String, String>;

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub fn simple_daemon_set_label() -> Labels {
    labels(&[("name", "simple-daemon"), ("type", "production")])
}
pub fn simple_daemon_set_label2() -> Labels {
    labels(&[("name", "simple-daemon"), ("type", "test")])
}
pub fn simple_node_label() -> Labels {
    labels(&[("color", "blue"), ("speed", "fast")])
}
pub fn simple_node_label2() -> Labels {
    labels(&[("color", "red"), ("speed", "fast")])
}

pub fn t0() -> Timestamp {
    Timestamp::from_second(1_700_000_000).unwrap()
}

/// upstream `newDaemonSet`: OnDelete, revisionHistoryLimit 2, selector = template labels.
pub fn new_daemon_set(name: &str) -> DaemonSet {
    DaemonSet {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some("default".to_string()),
            uid: Some(format!("uid-{name}")),
            generation: Some(1),
            ..Default::default()
        },
        spec: DaemonSetSpec {
            revision_history_limit: Some(2),
            update_strategy: Some(on_delete()),
            selector: LabelSelector {
                match_labels: Some(simple_daemon_set_label()),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(simple_daemon_set_label()), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "c".to_string(),
                        image: Some("foo/bar".to_string()),
                        ..Default::default()
                    }],
                    dns_policy: Some("Default".to_string()),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        status: None,
    }
}

pub fn on_delete() -> DaemonSetUpdateStrategy {
    DaemonSetUpdateStrategy { type_: Some("OnDelete".to_string()), rolling_update: None }
}

/// upstream `newRollingUpdateStrategy`: maxUnavailable 1.
pub fn rolling_update() -> DaemonSetUpdateStrategy {
    update_unavailable(IntOrString::Int(1))
}

/// upstream `newUpdateUnavailable`.
pub fn update_unavailable(v: IntOrString) -> DaemonSetUpdateStrategy {
    DaemonSetUpdateStrategy {
        type_: Some("RollingUpdate".to_string()),
        rolling_update: Some(RollingUpdateDaemonSet { max_unavailable: Some(v), max_surge: None }),
    }
}

/// upstream `newUpdateSurge`: maxUnavailable 0, maxSurge v.
pub fn update_surge(v: IntOrString) -> DaemonSetUpdateStrategy {
    DaemonSetUpdateStrategy {
        type_: Some("RollingUpdate".to_string()),
        rolling_update: Some(RollingUpdateDaemonSet {
            max_unavailable: Some(IntOrString::Int(0)),
            max_surge: Some(v),
        }),
    }
}

/// upstream `updateStrategies()`: each scenario runs once per strategy.
pub fn update_strategies() -> Vec<DaemonSetUpdateStrategy> {
    vec![on_delete(), rolling_update()]
}

pub fn new_node(name: &str, node_labels: Option<&Labels>) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: node_labels.cloned(),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: None,
    }
}

/// Sets the Ready condition with the given transition time.
pub fn set_ready(pod: &mut Pod, ready: bool, since: Timestamp) {
    let status = pod.status.get_or_insert_with(Default::default);
    status.conditions = Some(vec![PodCondition {
        type_: "Ready".to_string(),
        status: if ready { "True" } else { "False" }.to_string(),
        last_transition_time: Some(Time(since)),
        ..Default::default()
    }]);
}

pub fn taint(key: &str, value: &str, effect: &str) -> Taint {
    Taint {
        key: key.to_string(),
        value: (!value.is_empty()).then(|| value.to_string()),
        effect: effect.to_string(),
        time_added: None,
    }
}

pub fn toleration(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
    Toleration {
        key: (!key.is_empty()).then(|| key.to_string()),
        operator: Some(op.to_string()),
        value: (!value.is_empty()).then(|| value.to_string()),
        effect: (!effect.is_empty()).then(|| effect.to_string()),
        toleration_seconds: None,
    }
}

/// Counts of one sync, compared with upstream's `expectSyncDaemonSets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub creates: usize,
    pub deletes: usize,
    pub events: usize,
}

/// The world one DaemonSet lives in.
pub struct World {
    pub ds: DaemonSet,
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    pub revisions: Vec<ControllerRevision>,
    pub now: Timestamp,
    pub backoff: FailedPodBackoff,
    pub expectations_satisfied: bool,
    /// Bind created pods to their node (as a scheduler would) instead of leaving them pending.
    pub bind_created_pods: bool,
    /// Every event recorded so far.
    pub events: Vec<PlannedEvent>,
    serial: usize,
}

impl World {
    pub fn new(ds: DaemonSet) -> Self {
        World {
            ds,
            nodes: Vec::new(),
            pods: Vec::new(),
            revisions: Vec::new(),
            now: t0(),
            backoff: FailedPodBackoff::default(),
            expectations_satisfied: true,
            bind_created_pods: false,
            events: Vec::new(),
            serial: 0,
        }
    }

    /// upstream `addNodes(store, start, count, labels)`: nodes `node-<i>`.
    pub fn add_nodes(&mut self, start: usize, count: usize, node_labels: Option<&Labels>) {
        for i in start..start + count {
            self.nodes.push(new_node(&format!("node-{i}"), node_labels));
        }
    }

    pub fn node_mut(&mut self, name: &str) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.metadata.name.as_deref() == Some(name)).unwrap()
    }

    pub fn taint_node(&mut self, name: &str, t: Taint) {
        let spec = self.node_mut(name).spec.get_or_insert_with(Default::default);
        spec.taints.get_or_insert_with(Vec::new).push(t);
    }

    fn next_serial(&mut self) -> usize {
        self.serial += 1;
        self.serial
    }

    /// upstream `newPod(prefix, node, labels, ds)`: a pod bound to `node`, owned by the DaemonSet
    /// when `owned`, labelled with the current revision hash once the DaemonSet has one.
    pub fn add_pod(&mut self, node: &str, pod_labels: &Labels, owned: bool) -> String {
        self.now += SignedDuration::from_millis(1);
        let n = self.next_serial();
        let name = format!("{node}-{n}");
        let mut pod = Pod {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some("default".to_string()),
                uid: Some(format!("pod-uid-{n}")),
                labels: Some(pod_labels.clone()),
                creation_timestamp: Some(Time(self.now)),
                ..Default::default()
            },
            spec: Some(PodSpec { node_name: Some(node.to_string()), ..Default::default() }),
            status: Some(PodStatus { phase: Some("Running".to_string()), ..Default::default() }),
        };
        if owned {
            pod.metadata.owner_references = Some(vec![controller_ref(&self.ds)]);
            // upstream newPod labels pods with the DaemonSet's current hash.
            let hash = template_hash(
                &self.ds.spec.template,
                self.ds.status.as_ref().and_then(|s| s.collision_count),
            );
            pod.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(CONTROLLER_REVISION_HASH_LABEL.to_string(), hash);
        }
        self.pods.push(pod);
        name
    }

    /// upstream `addPods`: `count` owned pods on `node`.
    pub fn add_pods(&mut self, node: &str, pod_labels: &Labels, count: usize) -> Vec<String> {
        (0..count).map(|_| self.add_pod(node, pod_labels, true)).collect()
    }

    /// A pod from an older template: owned, but without the current hash label.
    pub fn add_old_pod(&mut self, node: &str, created: i64, ready: Option<bool>) -> String {
        let name = self.add_pod(node, &simple_daemon_set_label(), true);
        let pod = self.pod_mut(&name);
        pod.metadata.labels.as_mut().unwrap().remove(CONTROLLER_REVISION_HASH_LABEL);
        pod.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).unwrap()));
        if let Some(ready) = ready {
            set_ready(pod, ready, Timestamp::from_second(created).unwrap());
        }
        name
    }

    /// upstream `addFailedPods`.
    pub fn add_failed_pods(&mut self, node: &str, pod_labels: &Labels, count: usize) -> Vec<String> {
        let names = self.add_pods(node, pod_labels, count);
        for name in &names {
            self.pod_mut(name).status.as_mut().unwrap().phase = Some("Failed".to_string());
        }
        names
    }

    /// An unscheduled pod aimed at `node` through node affinity, as the controller creates them.
    pub fn add_unscheduled_pod(&mut self, node: &str, pod_labels: &Labels) -> String {
        let name = self.add_pod(node, pod_labels, true);
        let pod = self.pod_mut(&name);
        let spec = pod.spec.as_mut().unwrap();
        spec.node_name = None;
        spec.affinity = Some(pin_to_node(None, node));
        pod.status.as_mut().unwrap().phase = Some("Pending".to_string());
        name
    }

    pub fn pod_mut(&mut self, name: &str) -> &mut Pod {
        self.pods.iter_mut().find(|p| p.metadata.name.as_deref() == Some(name)).unwrap()
    }

    pub fn pod(&self, name: &str) -> &Pod {
        self.pods.iter().find(|p| p.metadata.name.as_deref() == Some(name)).unwrap()
    }

    /// Pods targeting `node`.
    pub fn pods_on(&self, node: &str) -> Vec<&Pod> {
        self.pods.iter().filter(|p| target_node_name(p) == Some(node)).collect()
    }

    /// upstream `markPodReady`: Running and Ready since now.
    pub fn mark_pod_ready(&mut self, name: &str) {
        let now = self.now;
        let pod = self.pod_mut(name);
        let status = pod.status.get_or_insert_with(Default::default);
        status.phase = Some("Running".to_string());
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        if let Some(c) = conditions.iter_mut().find(|c| c.type_ == "Ready") {
            if c.status != "True" {
                c.status = "True".to_string();
                c.last_transition_time = Some(Time(now));
            }
        } else {
            conditions.push(PodCondition {
                type_: "Ready".to_string(),
                status: "True".to_string(),
                last_transition_time: Some(Time(now)),
                ..Default::default()
            });
        }
    }

    /// upstream `markPodsReady`.
    pub fn mark_pods_ready(&mut self) {
        let names: Vec<String> = self.pods.iter().filter_map(|p| p.metadata.name.clone()).collect();
        for n in names {
            self.mark_pod_ready(&n);
        }
    }

    pub fn mark_pod_not_ready(&mut self, name: &str) {
        let now = self.now;
        let pod = self.pod_mut(name);
        for c in pod.status.as_mut().unwrap().conditions.iter_mut().flatten() {
            if c.type_ == "Ready" && c.status == "True" {
                c.status = "False".to_string();
                c.last_transition_time = Some(Time(now));
            }
        }
    }

    /// Changes the template as the API server would: generation and template generation bump.
    pub fn update_template(&mut self, change: impl FnOnce(&mut PodTemplateSpec)) {
        change(&mut self.ds.spec.template);
        self.ds.metadata.generation = Some(self.ds.metadata.generation.unwrap_or(0) + 1);
        let annotations = self.ds.metadata.annotations.get_or_insert_with(Default::default);
        if let Some(g) = annotations.get(TEMPLATE_GENERATION_ANNOTATION).and_then(|g| g.parse::<i64>().ok()) {
            annotations.insert(TEMPLATE_GENERATION_ANNOTATION.to_string(), (g + 1).to_string());
        }
    }

    pub fn set_image(&mut self, image: &str) {
        let image = image.to_string();
        self.update_template(|t| t.spec.as_mut().unwrap().containers[0].image = Some(image));
    }

    pub fn advance(&mut self, d: SignedDuration) {
        self.now += d;
    }

    /// Plans a sync without applying it.
    pub fn plan(&self) -> Plan {
        sync(&Snapshot {
            daemon_set: &self.ds,
            nodes: self.nodes.iter().collect(),
            pods: self.pods.iter().collect(),
            revisions: self.revisions.iter().collect(),
            now: self.now,
            expectations_satisfied: self.expectations_satisfied,
            backoff: &self.backoff,
        })
    }

    /// Plans a sync and applies it; returns its counts and the plan.
    pub fn sync(&mut self) -> (Counts, Plan) {
        let plan = self.plan();
        self.apply(&plan);
        let counts =
            Counts { creates: plan.creates.len(), deletes: plan.deletes.len(), events: plan.events.len() };
        (counts, plan)
    }

    /// upstream `expectSyncDaemonSets`.
    pub fn expect_sync(&mut self, creates: usize, deletes: usize, events: usize) -> Plan {
        let (counts, plan) = self.sync();
        assert_eq!(
            counts,
            Counts { creates, deletes, events },
            "unexpected sync result; plan creates on {:?}, deletes {:?}, events {:?}",
            plan.creates.iter().map(|c| &c.node).collect::<Vec<_>>(),
            plan.deletes.iter().map(|d| &d.name).collect::<Vec<_>>(),
            plan.events
        );
        plan
    }

    /// Carries out a plan.
    pub fn apply(&mut self, plan: &Plan) {
        for change in &plan.ownership {
            match change {
                OwnershipChange::AdoptPod { name, .. } => {
                    let owner = controller_ref(&self.ds);
                    self.pod_mut(name).metadata.owner_references = Some(vec![owner]);
                }
                OwnershipChange::ReleasePod { name, .. } => {
                    let uid = self.ds.metadata.uid.clone();
                    let refs = self.pod_mut(name).metadata.owner_references.get_or_insert_with(Vec::new);
                    refs.retain(|r| Some(&r.uid) != uid.as_ref());
                }
                OwnershipChange::AdoptRevision { name, .. } => {
                    let owner = controller_ref(&self.ds);
                    let rev =
                        self.revisions.iter_mut().find(|r| r.metadata.name.as_deref() == Some(name)).unwrap();
                    rev.metadata.owner_references = Some(vec![owner]);
                }
                OwnershipChange::ReleaseRevision { name, .. } => {
                    let uid = self.ds.metadata.uid.clone();
                    let rev =
                        self.revisions.iter_mut().find(|r| r.metadata.name.as_deref() == Some(name)).unwrap();
                    rev.metadata
                        .owner_references
                        .get_or_insert_with(Vec::new)
                        .retain(|r| Some(&r.uid) != uid.as_ref());
                }
            }
        }
        let h = &plan.history;
        for name in &h.add_hash_label {
            let rev = self.revisions.iter_mut().find(|r| r.metadata.name.as_deref() == Some(name)).unwrap();
            rev.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(CONTROLLER_REVISION_HASH_LABEL.to_string(), name.clone());
        }
        if let Some(rev) = &h.create {
            let mut rev = rev.clone();
            let n = self.next_serial();
            rev.metadata.uid = Some(format!("rev-uid-{n}"));
            rev.metadata.creation_timestamp = Some(Time(self.now));
            self.revisions.push(rev);
        }
        if let Some((name, number)) = &h.renumber {
            let rev = self.revisions.iter_mut().find(|r| r.metadata.name.as_deref() == Some(name)).unwrap();
            rev.revision = Some(*number);
        }
        for name in &h.relabel_pods {
            let hash = h.hash.clone();
            self.pod_mut(name)
                .metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(CONTROLLER_REVISION_HASH_LABEL.to_string(), hash);
        }
        self.revisions.retain(|r| !h.delete_duplicates.iter().any(|d| r.metadata.name.as_ref() == Some(d)));
        for d in &plan.deletes {
            self.pods.retain(|p| p.metadata.name.as_ref() != Some(&d.name));
        }
        for c in &plan.creates {
            self.now += SignedDuration::from_millis(1);
            let n = self.next_serial();
            let mut pod = c.pod.clone();
            pod.metadata.name =
                Some(format!("{}{n}", pod.metadata.generate_name.clone().unwrap_or_default()));
            pod.metadata.uid = Some(format!("pod-uid-{n}"));
            pod.metadata.creation_timestamp = Some(Time(self.now));
            if self.bind_created_pods {
                pod.spec.as_mut().unwrap().node_name = Some(c.node.clone());
            }
            pod.status = Some(PodStatus { phase: Some("Pending".to_string()), ..Default::default() });
            self.pods.push(pod);
        }
        self.revisions.retain(|r| !plan.prune_revisions.iter().any(|d| r.metadata.name.as_ref() == Some(d)));
        if let Some(status) = &plan.status {
            self.ds.status = Some(status.clone());
        }
        self.backoff.apply(&plan.backoff);
        self.events.extend(plan.events.iter().cloned());
    }

    /// Names of pods whose hash label is the current revision's.
    pub fn current_hash(&self) -> String {
        self.plan().history.hash
    }

    pub fn owner_refs(&self, name: &str) -> Vec<OwnerReference> {
        self.pod(name).metadata.owner_references.clone().unwrap_or_default()
    }
}
