//! DaemonSet status: how many nodes should run, do run, are ready, available and up to date.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::jiff::Timestamp;

use crate::placement::Placement;
use crate::pod::{PodView, oldest_first};

/// The counters upstream's `updateDaemonSetStatus` computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusCounts {
    pub desired: i32,
    pub current: i32,
    pub misscheduled: i32,
    pub ready: i32,
    pub updated: i32,
    pub available: i32,
}

impl StatusCounts {
    /// `numberUnavailable`: desired nodes without an available pod.
    pub fn unavailable(&self) -> i32 {
        self.desired - self.available
    }
}

/// Counts, per node that should run the daemon, whether its oldest pod exists, is ready, is
/// available and is up to date; nodes with pods that should not run it are misscheduled.
pub fn count(
    nodes: &[(&str, Placement)],
    pods: &BTreeMap<&str, Vec<PodView<'_>>>,
    hash: &str,
    template_generation: Option<i64>,
    min_ready_seconds: i32,
    now: Timestamp,
) -> StatusCounts {
    let mut c = StatusCounts::default();
    for (node, placement) in nodes {
        let node_pods = pods.get(node).filter(|p| !p.is_empty());
        if !placement.should_run {
            if node_pods.is_some() {
                c.misscheduled += 1;
            }
            continue;
        }
        c.desired += 1;
        let Some(node_pods) = node_pods else { continue };
        c.current += 1;
        let Some(oldest) = node_pods.iter().min_by(|a, b| oldest_first(a, b)) else { continue };
        if oldest.ready {
            c.ready += 1;
            if oldest.is_available(min_ready_seconds, now) {
                c.available += 1;
            }
        }
        if oldest.is_updated(hash, template_generation) {
            c.updated += 1;
        }
    }
    c
}

/// Go's `omitempty` drops zero counters; serde keeps `Some(0)`, so zero becomes `None` to
/// serialise the way real clusters do.
fn nonzero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

/// The status to write, or None when the stored one already says the same
/// (upstream `storeDaemonSetStatus`). `observe` raises observedGeneration to the generation.
pub fn next_status(ds: &DaemonSet, c: StatusCounts, observe: bool) -> Option<DaemonSetStatus> {
    let current = ds.status.clone().unwrap_or_default();
    let generation = ds.metadata.generation.unwrap_or(0);
    let observed = current.observed_generation.unwrap_or(0);
    let unchanged = current.desired_number_scheduled == c.desired
        && current.current_number_scheduled == c.current
        && current.number_misscheduled == c.misscheduled
        && current.number_ready == c.ready
        && current.updated_number_scheduled.unwrap_or(0) == c.updated
        && current.number_available.unwrap_or(0) == c.available
        && current.number_unavailable.unwrap_or(0) == c.unavailable()
        && observed >= generation;
    if unchanged {
        return None;
    }
    let mut next = current;
    if observe {
        next.observed_generation = nonzero_i64(generation);
    }
    next.desired_number_scheduled = c.desired;
    next.current_number_scheduled = c.current;
    next.number_misscheduled = c.misscheduled;
    next.number_ready = c.ready;
    next.updated_number_scheduled = nonzero(c.updated);
    next.number_available = nonzero(c.available);
    next.number_unavailable = nonzero(c.unavailable());
    Some(next)
}

fn nonzero_i64(n: i64) -> Option<i64> {
    (n != 0).then_some(n)
}
