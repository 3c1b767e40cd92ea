//! The scheduler cache (upstream `internal/cache`): a [`Snapshot`] of every node with what the
//! pods bound or assumed to it use, kept current pod event by pod event.
//!
//! Building the snapshot per scheduling cycle meant a pass over every node and every bound pod
//! for each handful of pending pods: on 10,000 nodes that was 13% of the CPU of
//! `everynode bench rollout --nodes 10000`. The cache instead remembers what each pod adds to
//! its node, so an event changes one node; it is only rebuilt when the node set or a node's
//! capacity changes, or the pods are re-listed.
//!
//! Invariant: the snapshot holds exactly the bare nodes plus, for every uid in `counted`, its
//! usage on its node (pods on nodes the snapshot lacks count nowhere, in both).

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use super::snapshot::{PodUsage, Snapshot};

/// What one pod adds to its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// The node it is bound or assumed to.
    pub node: String,
    /// What it uses there.
    pub usage: PodUsage,
    /// Assumed by the scheduler, not yet seen bound.
    pub assumed: bool,
}

/// The snapshot and what every counted pod contributes to it.
#[derive(Debug, Clone, Default)]
pub struct Cache {
    snapshot: Snapshot,
    counted: HashMap<String, Counted>,
}

impl Cache {
    /// The cache of `nodes` holding these pods (by uid).
    pub fn build(
        nodes: impl IntoIterator<Item = Arc<Node>>,
        pods: impl IntoIterator<Item = (String, Counted)>,
    ) -> Cache {
        let mut cache = Cache { snapshot: Snapshot::new(nodes), counted: HashMap::new() };
        for (uid, counted) in pods {
            cache.set(&uid, Some(counted));
        }
        cache
    }

    /// The nodes and their load.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Makes `uid` count as `counted` (nothing, with `None`) from now on.
    pub fn set(&mut self, uid: &str, counted: Option<Counted>) {
        if self.counted.get(uid) == counted.as_ref() {
            return;
        }
        if let Some(old) = self.counted.remove(uid) {
            self.snapshot.remove_pod(&old.node, &old.usage);
        }
        if let Some(new) = counted {
            self.snapshot.add_pod(&new.node, &new.usage);
            self.counted.insert(uid.to_owned(), new);
        }
    }

    /// Counts `uid` on `node` until its binding is seen or has failed (`AssumePod`).
    pub fn assume(&mut self, uid: &str, node: &str, usage: &PodUsage) {
        self.set(uid, Some(Counted { node: node.to_owned(), usage: usage.clone(), assumed: true }));
    }

    /// Stops counting `uid` if it is only assumed (`ForgetPod`): its binding failed. A pod seen
    /// bound meanwhile stays where the API server put it.
    pub fn forget_assumed(&mut self, uid: &str) {
        if self.counted.get(uid).is_some_and(|c| c.assumed) {
            self.set(uid, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::resources::{HostPort, Resources};
    use serde_json::json;

    fn node(name: &str) -> Arc<Node> {
        let value =
            json!({"metadata": {"name": name}, "status": {"allocatable": {"cpu": "4", "pods": "110"}}});
        Arc::new(serde_json::from_value(value).unwrap_or_else(|e| panic!("fixture: {e}")))
    }

    fn usage(milli_cpu: i64, port: Option<i32>) -> PodUsage {
        PodUsage {
            requests: Resources { milli_cpu, ..Resources::default() },
            host_ports: port
                .map(|port| HostPort { protocol: "TCP".into(), ip: "0.0.0.0".into(), port })
                .into_iter()
                .collect(),
        }
    }

    fn on(node: &str, usage: PodUsage, assumed: bool) -> Option<Counted> {
        Some(Counted { node: node.into(), usage, assumed })
    }

    /// Each node's pod count, requested CPU and ports, for comparing caches.
    fn load(cache: &Cache) -> Vec<(String, i64, i64, Vec<HostPort>)> {
        cache
            .snapshot()
            .nodes()
            .iter()
            .map(|n| {
                let mut ports = n.used_ports().to_vec();
                ports.sort();
                (n.name().to_owned(), n.pod_count(), n.requested().milli_cpu, ports)
            })
            .collect()
    }

    #[test]
    fn pods_moving_and_leaving_leave_the_cache_as_a_fresh_build_would() {
        let nodes = || vec![node("a"), node("b")];
        let mut cache = Cache::build(nodes(), []);
        cache.set("p1", on("a", usage(100, Some(80)), false));
        cache.set("p2", on("a", usage(200, None), false));
        cache.assume("p3", "b", &usage(300, Some(80)));
        cache.set("p1", on("b", usage(100, Some(80)), false));
        cache.set("p2", None);
        cache.set("p4", on("nowhere", usage(50, None), false));
        let fresh = Cache::build(
            nodes(),
            [
                ("p1".to_owned(), Counted { node: "b".into(), usage: usage(100, Some(80)), assumed: false }),
                ("p3".to_owned(), Counted { node: "b".into(), usage: usage(300, Some(80)), assumed: true }),
            ],
        );
        assert_eq!(load(&cache), load(&fresh));
        assert_eq!(
            load(&cache)[1],
            ("b".to_owned(), 2, 400, vec![usage(0, Some(80)).host_ports[0].clone(); 2])
        );
    }

    #[test]
    fn a_failed_binding_forgets_only_an_assumed_pod() {
        let mut cache = Cache::build(vec![node("a")], []);
        cache.assume("p", "a", &usage(100, None));
        cache.forget_assumed("p");
        assert_eq!(load(&cache)[0].1, 0, "assumed, then forgotten");
        cache.assume("p", "a", &usage(100, None));
        cache.set("p", on("a", usage(100, None), false));
        cache.forget_assumed("p");
        assert_eq!(load(&cache)[0].1, 1, "seen bound before the failure arrived: it stays");
    }
}
