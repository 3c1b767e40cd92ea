//! A compact, read-only view of a daemon pod: just what the planning algorithms look at.
//!
//! Planning touches every pod of a DaemonSet several times per sync; views keep that cheap (no
//! cloning of specs) and let the planner add "virtual" pods for creates it has just decided, so
//! the rolling update sees the world as it will be once the plan is carried out.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::constants::{CONTROLLER_REVISION_HASH_LABEL, POD_TEMPLATE_GENERATION_LABEL};

/// A pod's lifecycle phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

impl Phase {
    fn parse(s: Option<&str>) -> Self {
        match s {
            Some("Running") => Phase::Running,
            Some("Succeeded") => Phase::Succeeded,
            Some("Failed") => Phase::Failed,
            Some("Unknown") => Phase::Unknown,
            _ => Phase::Pending,
        }
    }

    /// Succeeded or Failed: the pod's containers will not run again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }
}

/// What the planner knows about one pod.
#[derive(Debug, Clone)]
pub struct PodView<'a> {
    /// The pod's name; for a virtual pod (a planned create), a placeholder.
    pub name: Cow<'a, str>,
    /// The node the pod runs on or targets.
    pub node: &'a str,
    /// Bound to its node (`spec.nodeName` set).
    pub scheduled: bool,
    /// `metadata.creationTimestamp`.
    pub created: Option<Timestamp>,
    pub phase: Phase,
    /// The Ready condition is True.
    pub ready: bool,
    /// When the Ready condition last changed (meaningful when `ready`).
    pub ready_since: Option<Timestamp>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// The `controller-revision-hash` label.
    pub hash: Option<&'a str>,
    /// The `pod-template-generation` label.
    pub template_generation: Option<&'a str>,
    /// A pod the plan is about to create, not one that exists.
    pub planned: bool,
}

impl<'a> PodView<'a> {
    /// Views an existing pod that targets `node`.
    pub fn of(pod: &'a Pod, node: &'a str) -> Self {
        let labels = pod.metadata.labels.as_ref();
        let status = pod.status.as_ref();
        let ready_condition =
            status.and_then(|s| s.conditions.as_ref()).and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
        PodView {
            name: Cow::Borrowed(pod.metadata.name.as_deref().unwrap_or_default()),
            node,
            scheduled: pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty()),
            created: pod.metadata.creation_timestamp.as_ref().map(|t| t.0),
            phase: Phase::parse(status.and_then(|s| s.phase.as_deref())),
            ready: ready_condition.is_some_and(|c| c.status == "True"),
            ready_since: ready_condition.and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0),
            deleting: pod.metadata.deletion_timestamp.is_some(),
            hash: labels.and_then(|l| l.get(CONTROLLER_REVISION_HASH_LABEL)).map(String::as_str),
            template_generation: labels
                .and_then(|l| l.get(POD_TEMPLATE_GENERATION_LABEL))
                .map(String::as_str),
            planned: false,
        }
    }

    /// A pod the plan creates on `node` now: unscheduled, pending, labelled with `hash`.
    pub fn planned(
        node: &'a str,
        hash: &'a str,
        template_generation: Option<&'a str>,
        now: Timestamp,
    ) -> Self {
        PodView {
            name: Cow::Owned(format!("(new pod on {node})")),
            node,
            scheduled: false,
            created: Some(now),
            phase: Phase::Pending,
            ready: false,
            ready_since: None,
            deleting: false,
            hash: Some(hash),
            template_generation,
            planned: true,
        }
    }

    /// Ready, and Ready for longer than `min_ready_seconds` (`podutil.IsPodAvailable`).
    ///
    /// With `min_ready_seconds == 0` readiness alone is enough; otherwise the Ready condition's
    /// transition time plus the delay must be strictly before `now`.
    pub fn is_available(&self, min_ready_seconds: i32, now: Timestamp) -> bool {
        if !self.ready {
            return false;
        }
        if min_ready_seconds <= 0 {
            return true;
        }
        match self.ready_since {
            Some(since) => since + SignedDuration::from_secs(i64::from(min_ready_seconds)) < now,
            None => false,
        }
    }

    /// When this ready pod will become available, if it is not yet (for requeueing).
    pub fn available_at(&self, min_ready_seconds: i32, now: Timestamp) -> Option<Timestamp> {
        if !self.ready || min_ready_seconds <= 0 || self.is_available(min_ready_seconds, now) {
            return None;
        }
        self.ready_since.map(|since| since + SignedDuration::from_secs(i64::from(min_ready_seconds)))
    }

    /// Whether the pod belongs to the current revision (`util.IsPodUpdated`): its hash label
    /// equals `hash`, or its legacy template-generation label equals the DaemonSet's.
    pub fn is_updated(&self, hash: &str, template_generation: Option<i64>) -> bool {
        let hash_matches = !hash.is_empty() && self.hash == Some(hash);
        let generation_matches = match (template_generation, self.template_generation) {
            (Some(g), Some(label)) => label == g.to_string(),
            _ => false,
        };
        hash_matches || generation_matches
    }
}

/// Orders pods as upstream's `podByCreationTimestampAndPhase`: scheduled pods first, then older
/// before newer, then by name. The first pod of a node is the one the controller keeps.
pub fn oldest_first(a: &PodView<'_>, b: &PodView<'_>) -> std::cmp::Ordering {
    b.scheduled.cmp(&a.scheduled).then_with(|| a.created.cmp(&b.created)).then_with(|| a.name.cmp(&b.name))
}

/// The node a pod runs on or is meant for (`util.GetTargetNodeName`): `spec.nodeName`, else the
/// single value of a `metadata.name In [node]` matchFields requirement. None when it has neither.
pub fn target_node_name(pod: &Pod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(n);
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    for term in terms {
        for req in term.match_fields.iter().flatten() {
            if req.key == everynode_api::nodeaffinity::OBJECT_NAME_FIELD && req.operator == "In" {
                let values = req.values.as_deref().unwrap_or_default();
                return if values.len() == 1 { Some(values[0].as_str()) } else { None };
            }
        }
    }
    None
}
