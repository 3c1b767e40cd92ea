//! The taints the node lifecycle controller owns: NoSchedule taints mirroring node conditions
//! and cordons (`doNoScheduleTaintingPass`), and the NoExecute not-ready/unreachable pair that
//! evicts pods (`doNoExecuteTaintingPass`, `processTaintBaseEviction`, `markNodeAsReachable`).
//! Taints anyone else owns are never touched.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{NodeCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use everynode_api::taints::{NO_EXECUTE, NO_SCHEDULE};

/// `node.kubernetes.io/not-ready`: Ready is False.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// `node.kubernetes.io/unreachable`: Ready is Unknown (the kubelet went silent).
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// `node.kubernetes.io/unschedulable`: the node is cordoned.
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// `node.kubernetes.io/memory-pressure`.
pub const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// `node.kubernetes.io/disk-pressure`.
pub const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// `node.kubernetes.io/pid-pressure`.
pub const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
/// `node.kubernetes.io/network-unavailable`.
pub const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// `nodeConditionToTaintKeyStatusMap`: (condition type, status) → NoSchedule taint key.
const CONDITION_TAINTS: [(&str, &str, &str); 6] = [
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    ("MemoryPressure", "True", MEMORY_PRESSURE),
    ("DiskPressure", "True", DISK_PRESSURE),
    ("NetworkUnavailable", "True", NETWORK_UNAVAILABLE),
    ("PIDPressure", "True", PID_PRESSURE),
];

/// Whether a NoSchedule taint is one this controller manages.
fn is_managed_no_schedule(taint: &Taint) -> bool {
    taint.effect == NO_SCHEDULE
        && (taint.key == UNSCHEDULABLE || CONDITION_TAINTS.iter().any(|(_, _, key)| *key == taint.key))
}

/// The NoSchedule taint keys the conditions and cordon call for.
pub fn wanted_no_schedule(conditions: &[NodeCondition], unschedulable: bool) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = conditions
        .iter()
        .filter_map(|c| {
            CONDITION_TAINTS
                .iter()
                .find(|(type_, status, _)| *type_ == c.type_ && *status == c.status)
                .map(|t| t.2)
        })
        .collect();
    if unschedulable {
        keys.push(UNSCHEDULABLE);
    }
    keys
}

/// What to do with the NoExecute not-ready/unreachable pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoExecute {
    /// Leave them as they are (no Ready condition yet, or adding is held back).
    Keep,
    /// Remove both (Ready is True, or the whole cluster is disrupted).
    Clear,
    /// Have exactly this one of the pair (the other is swapped out).
    Want(&'static str),
}

/// The NoExecute decision for a node whose Ready status is `ready`; `may_add` is false when
/// the zone's eviction rate is zero, in which case only a swap between the pair happens (as
/// upstream swaps "straight away", outside the rate limiter).
pub fn no_execute_for(ready: Option<&str>, may_add: bool, taints: &[Taint]) -> NoExecute {
    let (want, opposite) = match ready {
        Some("True") => return NoExecute::Clear,
        Some("False") => (NOT_READY, UNREACHABLE),
        Some(_) => (UNREACHABLE, NOT_READY),
        None => return NoExecute::Keep,
    };
    let has = |key: &str| taints.iter().any(|t| t.key == key && t.effect == NO_EXECUTE);
    if has(want) && !has(opposite) {
        NoExecute::Keep
    } else if may_add || has(opposite) {
        NoExecute::Want(want)
    } else {
        NoExecute::Keep
    }
}

fn taint(key: &str, effect: &str, now: Timestamp) -> Taint {
    Taint { key: key.to_owned(), effect: effect.to_owned(), value: None, time_added: Some(Time(now)) }
}

/// The node's new taint list, or `None` when nothing changes. Added taints carry `timeAdded`
/// (`SwapNodeControllerTaint`); kept ones keep theirs.
pub fn reconcile(
    current: &[Taint],
    no_schedule: &[&str],
    no_execute: NoExecute,
    now: Timestamp,
) -> Option<Vec<Taint>> {
    let mut out: Vec<Taint> = current
        .iter()
        .filter(|t| !is_managed_no_schedule(t) || no_schedule.contains(&t.key.as_str()))
        .filter(|t| {
            let lifecycle = t.effect == NO_EXECUTE && (t.key == NOT_READY || t.key == UNREACHABLE);
            match no_execute {
                NoExecute::Keep => true,
                NoExecute::Clear => !lifecycle,
                NoExecute::Want(key) => !lifecycle || t.key == key,
            }
        })
        .cloned()
        .collect();
    for key in no_schedule {
        if !out.iter().any(|t| t.key == *key && t.effect == NO_SCHEDULE) {
            out.push(taint(key, NO_SCHEDULE, now));
        }
    }
    if let NoExecute::Want(key) = no_execute
        && !out.iter().any(|t| t.key == key && t.effect == NO_EXECUTE)
    {
        out.push(taint(key, NO_EXECUTE, now));
    }
    if out.len() == current.len() && out.iter().zip(current).all(|(a, b)| a == b) { None } else { Some(out) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conditions(value: serde_json::Value) -> Vec<NodeCondition> {
        serde_json::from_value(value).unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    fn t(key: &str, effect: &str) -> Taint {
        Taint { key: key.into(), effect: effect.into(), value: None, time_added: None }
    }

    fn keys(taints: &[Taint]) -> Vec<String> {
        taints.iter().map(|t| format!("{}:{}", t.key, t.effect)).collect()
    }

    // Ported from node_lifecycle_controller_test.go TestTaintsNodeByCondition.
    #[test]
    fn taints_node_by_condition() {
        let cases: Vec<(&str, serde_json::Value, bool, Vec<&str>)> = vec![
            (
                "NetworkUnavailable is true",
                json!([{"type": "Ready", "status": "True"}, {"type": "NetworkUnavailable", "status": "True"}]),
                false,
                vec![NETWORK_UNAVAILABLE],
            ),
            (
                "NetworkUnavailable is true (all conditions)",
                json!([
                    {"type": "Ready", "status": "True"}, {"type": "NetworkUnavailable", "status": "True"},
                    {"type": "MemoryPressure", "status": "True"}, {"type": "DiskPressure", "status": "True"},
                    {"type": "PIDPressure", "status": "True"},
                ]),
                false,
                vec![NETWORK_UNAVAILABLE, MEMORY_PRESSURE, DISK_PRESSURE, PID_PRESSURE],
            ),
            ("Ready is false", json!([{"type": "Ready", "status": "False"}]), false, vec![NOT_READY]),
            ("Ready is unknown", json!([{"type": "Ready", "status": "Unknown"}]), false, vec![UNREACHABLE]),
            (
                "Unschedulable is true",
                json!([{"type": "Ready", "status": "True"}]),
                true,
                vec![UNSCHEDULABLE],
            ),
        ];
        for (name, conds, cordoned, want) in cases {
            let mut got = wanted_no_schedule(&conditions(conds), cordoned);
            let mut want = want;
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn reconcile_adds_missing_and_drops_stale_managed_taints_only() {
        let current =
            vec![t(MEMORY_PRESSURE, NO_SCHEDULE), t("dedicated", NO_SCHEDULE), t(UNSCHEDULABLE, NO_SCHEDULE)];
        let got = reconcile(&current, &[NOT_READY, UNSCHEDULABLE], NoExecute::Keep, Timestamp::UNIX_EPOCH)
            .unwrap_or_else(|| panic!("a change"));
        assert_eq!(
            keys(&got),
            [
                "dedicated:NoSchedule",
                "node.kubernetes.io/unschedulable:NoSchedule",
                "node.kubernetes.io/not-ready:NoSchedule"
            ]
        );
        assert!(got[2].time_added.is_some());
        assert_eq!(
            reconcile(&got, &[NOT_READY, UNSCHEDULABLE], NoExecute::Keep, Timestamp::UNIX_EPOCH),
            None
        );
    }

    // Ported from TestSwapUnreachableNotReadyTaints: the pair is mutually exclusive.
    #[test]
    fn swap_unreachable_not_ready_taints() {
        let current = vec![t(NOT_READY, NO_EXECUTE)];
        let decision = no_execute_for(Some("Unknown"), false, &current);
        assert_eq!(decision, NoExecute::Want(UNREACHABLE), "a swap ignores the zone's rate");
        let got = reconcile(&current, &[], decision, Timestamp::UNIX_EPOCH).unwrap_or_default();
        assert_eq!(keys(&got), ["node.kubernetes.io/unreachable:NoExecute"]);
    }

    #[test]
    fn ready_nodes_lose_both_no_execute_taints_and_held_back_zones_add_none() {
        let current = vec![t(UNREACHABLE, NO_EXECUTE), t("x", NO_EXECUTE)];
        let got =
            reconcile(&current, &[], no_execute_for(Some("True"), true, &current), Timestamp::UNIX_EPOCH);
        assert_eq!(got.map(|g| keys(&g)), Some(vec!["x:NoExecute".to_owned()]));
        assert_eq!(no_execute_for(Some("False"), false, &[]), NoExecute::Keep);
        assert_eq!(no_execute_for(Some("False"), true, &[]), NoExecute::Want(NOT_READY));
        assert_eq!(no_execute_for(None, true, &[]), NoExecute::Keep);
    }
}
