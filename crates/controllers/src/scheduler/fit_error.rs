//! Why a pod fits no node, worded as kube-scheduler words it (`framework.FitError.Error()` plus
//! the DefaultPreemption post-filter message), so `kubectl describe pod` reads the same.

use std::collections::BTreeMap;
use std::fmt;

/// How final a node's rejection is (`fwk.Code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Could change if other pods went away (resources, ports): preemption might help.
    Unschedulable,
    /// Nothing about other pods would help (taints, affinity, cordon).
    UnschedulableAndUnresolvable,
}

/// A node's rejection: a code and one or more reasons (`Insufficient cpu`, `Insufficient memory`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// How final the rejection is.
    pub code: Code,
    /// Human reasons, each counted separately in the summary.
    pub reasons: Vec<String>,
}

impl Status {
    /// A rejection preemption cannot fix.
    pub fn unresolvable(reason: impl Into<String>) -> Status {
        Status { code: Code::UnschedulableAndUnresolvable, reasons: vec![reason.into()] }
    }

    /// A rejection that depends on other pods.
    pub fn unschedulable(reasons: Vec<String>) -> Status {
        Status { code: Code::Unschedulable, reasons }
    }
}

/// What the (not implemented) preemption would have said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preemption {
    /// The pod may preempt: report per node why that would not help.
    Evaluated,
    /// `preemptionPolicy: Never`.
    NotEligible,
}

/// `NoNodeAvailableMsg`'s counterpart when the cluster has no nodes at all (`ErrNoNodesAvailable`).
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";

/// Upstream's wording for nodes where removing pods would not help.
const PREEMPTION_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// Upstream's wording for nodes where preemption might help but no lower-priority pod runs. We
/// never preempt, so every such node reports this.
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
const NOT_ELIGIBLE: &str = "not eligible due to preemptionPolicy=Never.";

/// Why a pod fits no node (`framework.FitError` with its `Diagnosis`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    /// Nodes in the snapshot.
    pub num_all_nodes: usize,
    /// A pre-filter rejection applying to every node (`pod affinity terms conflict`).
    pub pre_filter: Option<String>,
    /// Nodes that were filtered, with their rejection.
    pub node_statuses: Vec<(String, Status)>,
    /// The rejection of every node not in `node_statuses` (those a pre-filter ruled out).
    pub absent: Option<Status>,
    /// Whether the pod could preempt.
    pub preemption: Preemption,
}

/// `"<count> <reason>"` strings sorted as Go's `sort.Strings` sorts them (bytewise, so `10 x`
/// precedes `2 y`), joined by `, `.
fn histogram(counts: BTreeMap<&str, usize>) -> String {
    let mut lines: Vec<String> = counts.into_iter().map(|(reason, n)| format!("{n} {reason}")).collect();
    lines.sort();
    lines.join(", ")
}

impl FitError {
    fn absent_count(&self) -> usize {
        self.num_all_nodes.saturating_sub(self.node_statuses.len())
    }

    fn filter_summary(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, status) in &self.node_statuses {
            for reason in &status.reasons {
                *counts.entry(reason).or_default() += 1;
            }
        }
        if let Some(absent) = &self.absent
            && self.absent_count() > 0
        {
            for reason in &absent.reasons {
                *counts.entry(reason).or_default() += self.absent_count();
            }
        }
        histogram(counts)
    }

    /// The DefaultPreemption post-filter message (`preemption: ...`).
    fn preemption_summary(&self) -> String {
        if self.preemption == Preemption::NotEligible {
            return format!("preemption: {NOT_ELIGIBLE}");
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        // A pre-filter rejection marks every node unresolvable.
        if self.pre_filter.is_some() {
            counts.insert(PREEMPTION_NOT_HELPFUL, self.num_all_nodes);
        } else {
            for (_, status) in &self.node_statuses {
                let reason = match status.code {
                    Code::UnschedulableAndUnresolvable => PREEMPTION_NOT_HELPFUL,
                    Code::Unschedulable => NO_VICTIMS,
                };
                *counts.entry(reason).or_default() += 1;
            }
            if self.absent_count() > 0 {
                *counts.entry(PREEMPTION_NOT_HELPFUL).or_default() += self.absent_count();
            }
        }
        format!("preemption: 0/{} nodes are available: {}.", self.num_all_nodes, histogram(counts))
    }
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num_all_nodes == 0 {
            return f.write_str(NO_NODES_AVAILABLE);
        }
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        match &self.pre_filter {
            Some(message) => write!(f, " {message}.")?,
            None => {
                let summary = self.filter_summary();
                if !summary.is_empty() {
                    write!(f, " {summary}.")?;
                }
            }
        }
        write!(f, " {}", self.preemption_summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str) -> Status {
        Status::unresolvable(format!("node(s) had untolerated taint {{{key}: }}"))
    }

    const AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";

    #[test]
    fn summarises_rejections_like_kube_scheduler() {
        let err = FitError {
            num_all_nodes: 3,
            pre_filter: None,
            node_statuses: vec![
                ("cp".into(), taint("node-role.kubernetes.io/control-plane")),
                ("a".into(), Status::unresolvable(AFFINITY)),
                ("b".into(), Status::unresolvable(AFFINITY)),
            ],
            absent: None,
            preemption: Preemption::Evaluated,
        };
        assert_eq!(
            err.to_string(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
             2 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn resource_shortages_say_no_victims_were_found() {
        let err = FitError {
            num_all_nodes: 2,
            pre_filter: None,
            node_statuses: vec![
                (
                    "a".into(),
                    Status::unschedulable(vec!["Insufficient cpu".into(), "Insufficient memory".into()]),
                ),
                ("b".into(), Status::unschedulable(vec!["Insufficient cpu".into()])),
            ],
            absent: None,
            preemption: Preemption::Evaluated,
        };
        assert_eq!(
            err.to_string(),
            "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu. \
             preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn nodes_ruled_out_by_a_pre_filter_count_as_absent() {
        let err = FitError {
            num_all_nodes: 3,
            pre_filter: None,
            node_statuses: vec![("a".into(), taint("t"))],
            absent: Some(Status::unresolvable("node(s) didn't satisfy plugin(s) [NodeAffinity]")),
            preemption: Preemption::Evaluated,
        };
        assert_eq!(
            err.to_string(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {t: }, \
             2 node(s) didn't satisfy plugin(s) [NodeAffinity]. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn a_pre_filter_rejection_replaces_the_node_summary() {
        let err = FitError {
            num_all_nodes: 2,
            pre_filter: Some("pod affinity terms conflict".into()),
            node_statuses: vec![],
            absent: Some(Status::unresolvable("pod affinity terms conflict")),
            preemption: Preemption::Evaluated,
        };
        assert_eq!(
            err.to_string(),
            "0/2 nodes are available: pod affinity terms conflict. \
             preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn counts_sort_bytewise_as_go_does() {
        let mut statuses: Vec<(String, Status)> =
            (0..10).map(|i| (format!("a{i}"), Status::unresolvable("x"))).collect();
        statuses.extend((0..2).map(|i| (format!("b{i}"), Status::unresolvable("y"))));
        let err = FitError {
            num_all_nodes: 12,
            pre_filter: None,
            node_statuses: statuses,
            absent: None,
            preemption: Preemption::NotEligible,
        };
        assert_eq!(
            err.to_string(),
            "0/12 nodes are available: 10 x, 2 y. preemption: not eligible due to preemptionPolicy=Never."
        );
    }

    #[test]
    fn an_empty_cluster_has_its_own_message() {
        let err = FitError {
            num_all_nodes: 0,
            pre_filter: None,
            node_statuses: vec![],
            absent: None,
            preemption: Preemption::Evaluated,
        };
        assert_eq!(err.to_string(), "no nodes available to schedule pods");
    }
}
