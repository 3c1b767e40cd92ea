//! Taint-based eviction (`pkg/controller/tainteviction`): pods on a node with NoExecute taints
//! they do not tolerate are deleted at once; pods tolerating them for `tolerationSeconds` are
//! deleted when that runs out; pods tolerating them forever stay.
//!
//! As upstream, a pod's countdown starts when the controller first sees it tainted (not at the
//! taint's `timeAdded`) and is kept while the taints stay tolerated, so a restarted controller
//! restarts the countdowns. Pods already terminating are left to finish.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};

use everynode_api::taints::{NO_EXECUTE, tolerates};

use super::health::after;

/// How long a pod may stay on a node with these NoExecute taints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// Some taint is not tolerated: evict now.
    None,
    /// Every taint is tolerated for at least this long (the minimum `tolerationSeconds`).
    For(Duration),
    /// Every taint is tolerated without a time limit.
    Forever,
}

/// `GetMatchingTolerations` + `getMinTolerationTime`: the first toleration matching each taint
/// decides; the shortest `tolerationSeconds` among them bounds the stay (zero or negative
/// values mean none at all).
pub fn tolerance(taints: &[Taint], tolerations: &[Toleration]) -> Tolerance {
    let mut shortest: Option<i64> = None;
    for taint in taints {
        let Some(used) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Tolerance::None;
        };
        if let Some(seconds) = used.toleration_seconds {
            shortest = Some(shortest.map_or(seconds, |s| s.min(seconds)));
        }
    }
    match shortest {
        None => Tolerance::Forever,
        Some(s) => Tolerance::For(Duration::from_secs(u64::try_from(s).unwrap_or(0))),
    }
}

/// A node's NoExecute taints.
pub fn no_execute_taints(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .map(|ts| ts.iter().filter(|t| t.effect == NO_EXECUTE).cloned().collect())
        .unwrap_or_default()
}

/// A pending eviction (`TimedWorker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    /// When the countdown started.
    pub created_at: Timestamp,
    /// When the pod is to be deleted.
    pub fire_at: Timestamp,
}

/// Pending evictions by pod UID.
pub type EvictionSchedule = HashMap<String, Scheduled>;

/// What one pass decided.
#[derive(Debug, Clone, Default)]
pub struct EvictionPlan {
    /// Pods to delete now.
    pub evict: Vec<Arc<Pod>>,
    /// Pods whose pending eviction was called off (taints removed or now tolerated forever).
    pub cancelled: Vec<Arc<Pod>>,
    /// The pending evictions after this pass.
    pub schedule: EvictionSchedule,
    /// When the next pending eviction fires.
    pub next_wake: Option<Timestamp>,
}

fn pod_uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_else(|| {
        format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        )
    })
}

/// Decides which pods go. `tainted` maps node names to their NoExecute taints (nodes without
/// any may be left out).
pub fn decide(
    tainted: &HashMap<String, Vec<Taint>>,
    pods: &[Arc<Pod>],
    schedule: &EvictionSchedule,
    now: Timestamp,
) -> EvictionPlan {
    let mut plan = EvictionPlan::default();
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
        else {
            continue;
        };
        let uid = pod_uid(pod);
        let existing = schedule.get(&uid).copied();
        let taints = tainted.get(node).map(Vec::as_slice).unwrap_or_default();
        if taints.is_empty() {
            if existing.is_some() {
                plan.cancelled.push(pod.clone());
            }
            continue;
        }
        let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or_default();
        match tolerance(taints, tolerations) {
            Tolerance::None => plan.evict.push(pod.clone()),
            Tolerance::Forever => {
                if existing.is_some() {
                    plan.cancelled.push(pod.clone());
                }
            }
            Tolerance::For(duration) => {
                let entry = existing.unwrap_or(Scheduled { created_at: now, fire_at: after(now, duration) });
                if entry.fire_at <= now {
                    plan.evict.push(pod.clone());
                } else {
                    plan.schedule.insert(uid, entry);
                }
            }
        }
    }
    plan.next_wake = plan.schedule.values().map(|s| s.fire_at).min();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn pod(name: &str, node: &str, tolerations: Value) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
                "spec": {"nodeName": node, "containers": [{"name": "c"}], "tolerations": tolerations},
            }))
            .unwrap_or_else(|e| panic!("fixture: {e}")),
        )
    }

    fn taint(key: &str) -> Taint {
        Taint { key: key.into(), effect: NO_EXECUTE.into(), value: None, time_added: None }
    }

    fn tainted(node: &str, keys: &[&str]) -> HashMap<String, Vec<Taint>> {
        [(node.to_owned(), keys.iter().map(|k| taint(k)).collect())].into()
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<&str> {
        pods.iter().map(|p| p.metadata.name.as_deref().unwrap_or_default()).collect()
    }

    // Ported from taint_eviction_test.go TestCreatePod: "not scheduled - ignore", "scheduled on
    // untainted Node", "schedule on tainted Node", "schedule on tainted Node with finite
    // toleration", "schedule on tainted Node with infinite toleration", "schedule on tainted
    // Node with infinite ivalid toleration".
    #[test]
    fn create_pod() {
        let none = json!([]);
        let finite =
            json!([{"key": "testTaint1", "value": "test1", "effect": "NoExecute", "tolerationSeconds": 100}]);
        let infinite = json!([{"key": "testTaint1", "value": "test1", "effect": "NoExecute"}]);
        let invalid = json!([{"key": "testTaint2", "value": "test2", "effect": "NoExecute"}]);
        let mut with_value = taint("testTaint1");
        with_value.value = Some("test1".into());
        let nodes: HashMap<String, Vec<Taint>> = [("node1".to_owned(), vec![with_value])].into();
        let cases = [
            ("scheduled on untainted Node", pod("p", "node2", none.clone()), false),
            ("schedule on tainted Node", pod("p", "node1", none), true),
            ("schedule on tainted Node with finite toleration", pod("p", "node1", finite), false),
            ("schedule on tainted Node with infinite toleration", pod("p", "node1", infinite), false),
            ("schedule on tainted Node with infinite invalid toleration", pod("p", "node1", invalid), true),
        ];
        for (name, p, evicted) in cases {
            let plan = decide(&nodes, &[p], &EvictionSchedule::new(), t(0));
            assert_eq!(!plan.evict.is_empty(), evicted, "{name}");
        }
    }

    #[test]
    fn daemon_pods_tolerate_unreachable_forever() {
        let daemon = pod(
            "agent",
            "n",
            json!([
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
            ]),
        );
        let web = pod("web", "n", json!([]));
        let plan = decide(
            &tainted("n", &["node.kubernetes.io/unreachable"]),
            &[daemon, web],
            &EvictionSchedule::new(),
            t(0),
        );
        assert_eq!(names(&plan.evict), ["web"]);
        assert!(plan.schedule.is_empty());
    }

    // Ported from TestUpdateNodeWithMultipleTaints / TestGetMinTolerationTime: the shortest
    // toleration wins, and the countdown survives later passes.
    #[test]
    fn toleration_seconds_delay_eviction_from_first_sight() {
        let p = pod(
            "slow",
            "n",
            json!([
                {"key": "a", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
                {"key": "b", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10},
            ]),
        );
        let nodes = tainted("n", &["a", "b"]);
        let first = decide(&nodes, std::slice::from_ref(&p), &EvictionSchedule::new(), t(0));
        assert!(first.evict.is_empty());
        assert_eq!(first.next_wake, Some(t(10)));
        let later = decide(&nodes, std::slice::from_ref(&p), &first.schedule, t(9));
        assert!(later.evict.is_empty(), "the countdown is kept, not restarted");
        let due = decide(&nodes, &[p], &later.schedule, t(10));
        assert_eq!(names(&due.evict), ["slow"]);
    }

    #[test]
    fn removing_the_taint_cancels_a_pending_eviction() {
        let p =
            pod("slow", "n", json!([{"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}]));
        let first = decide(&tainted("n", &["a"]), std::slice::from_ref(&p), &EvictionSchedule::new(), t(0));
        let cleared = decide(&HashMap::new(), &[p], &first.schedule, t(1));
        assert_eq!(names(&cleared.cancelled), ["slow"]);
        assert!(cleared.schedule.is_empty());
    }

    #[test]
    fn zero_toleration_seconds_evict_at_once_and_terminating_pods_are_left_alone() {
        let p = pod("zero", "n", json!([{"operator": "Exists", "tolerationSeconds": 0}]));
        assert_eq!(
            names(&decide(&tainted("n", &["a"]), &[p], &EvictionSchedule::new(), t(0)).evict),
            ["zero"]
        );
        let mut terminating = (*pod("going", "n", json!([]))).clone();
        terminating.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t(0)));
        let plan = decide(&tainted("n", &["a"]), &[Arc::new(terminating)], &EvictionSchedule::new(), t(0));
        assert!(plan.evict.is_empty());
    }
}
