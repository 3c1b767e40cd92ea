//! Property tests: invariants that must hold for any fleet and any rollout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use proptest::prelude::*;

use everynode_core::pod::target_node_name;
use support::*;

/// Nodes (by name) that have no available pod of the DaemonSet.
fn unavailable_nodes(w: &World) -> usize {
    let mut available: BTreeMap<String, bool> =
        w.nodes.iter().map(|n| (n.metadata.name.clone().unwrap(), false)).collect();
    for p in &w.pods {
        let ready = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if ready && let Some(node) = target_node_name(p) {
            available.insert(node.to_string(), true);
        }
    }
    available.values().filter(|a| !**a).count()
}

fn per_node_counts(w: &World) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for p in &w.pods {
        *counts.entry(target_node_name(p).unwrap().to_string()).or_insert(0) += 1;
    }
    counts
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Without surge, a rollout never makes more than maxUnavailable nodes unavailable, and it
    /// converges to every node running exactly one up-to-date pod.
    #[test]
    fn rolling_update_respects_max_unavailable_and_converges(
        nodes in 1usize..40,
        max_unavailable in prop_oneof![
            (1i32..6).prop_map(IntOrString::Int),
            (1i32..=100).prop_map(|p| IntOrString::String(format!("{p}%"))),
        ],
        ready_each_round in 1usize..4,
    ) {
        let mut w = World::new(new_daemon_set("foo"));
        w.ds.spec.update_strategy = Some(update_unavailable(max_unavailable.clone()));
        w.add_nodes(0, nodes, None);
        w.sync();
        w.mark_pods_ready();
        w.sync();
        let limit = everynode_core::rollout::limits(&w.ds, nodes).unwrap().max_unavailable;
        w.set_image("foo/bar:2");
        for round in 0..(nodes * 4 + 10) {
            w.sync();
            prop_assert!(unavailable_nodes(&w) <= limit, "round {round}: {} unavailable > {limit}", unavailable_nodes(&w));
            // Pods become ready a few at a time.
            let pending: Vec<String> = w.pods.iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_none())
                .take(ready_each_round)
                .map(|p| p.metadata.name.clone().unwrap())
                .collect();
            for name in pending { w.mark_pod_ready(&name); }
        }
        let status = w.ds.status.clone().unwrap();
        prop_assert_eq!(status.updated_number_scheduled, Some(nodes as i32));
        prop_assert_eq!(status.number_available, Some(nodes as i32));
        prop_assert!(per_node_counts(&w).values().all(|c| *c == 1));
    }

    /// For any fleet of labelled and tainted nodes, the controller converges to one pod on every
    /// eligible node and none elsewhere, and then stops acting.
    #[test]
    fn any_fleet_converges_to_one_pod_per_eligible_node(
        fleet in proptest::collection::vec((any::<bool>(), 0u8..4), 0..30),
        selector in any::<bool>(),
    ) {
        let mut w = World::new(new_daemon_set("foo"));
        w.ds.spec.update_strategy = Some(rolling_update());
        if selector {
            w.ds.spec.template.spec.as_mut().unwrap().node_selector = Some(labels(&[("ssd", "true")]));
        }
        for (i, (ssd, tainted)) in fleet.iter().enumerate() {
            let name = format!("node-{i}");
            let l = if *ssd { labels(&[("ssd", "true")]) } else { labels(&[]) };
            w.nodes.push(new_node(&name, Some(&l)));
            match tainted {
                1 => w.taint_node(&name, taint("dedicated", "x", "NoSchedule")),
                2 => w.taint_node(&name, taint("dedicated", "x", "PreferNoSchedule")),
                3 => w.taint_node(&name, taint("node.kubernetes.io/not-ready", "", "NoExecute")),
                _ => {}
            }
        }
        for _ in 0..4 { w.sync(); w.mark_pods_ready(); }
        let (counts, _) = w.sync();
        prop_assert_eq!((counts.creates, counts.deletes), (0, 0));
        let mut eligible: Vec<String> = fleet.iter().enumerate()
            .filter(|(_, (ssd, tainted))| (!selector || *ssd) && *tainted != 1)
            .map(|(i, _)| format!("node-{i}"))
            .collect();
        eligible.sort();
        let per_node = per_node_counts(&w);
        prop_assert_eq!(per_node.keys().cloned().collect::<Vec<_>>(), eligible.clone());
        prop_assert!(per_node.values().all(|c| *c == 1));
        let status = w.ds.status.clone().unwrap_or_default();
        prop_assert_eq!(status.desired_number_scheduled, eligible.len() as i32);
        prop_assert_eq!(status.updated_number_scheduled.unwrap_or(0), eligible.len() as i32);
    }

    /// With surge, the number of nodes without an available pod never grows during a rollout
    /// (100% availability), and at most two pods sit on a node.
    #[test]
    fn surge_rollout_keeps_availability(nodes in 1usize..25, surge in 1i32..5) {
        let mut w = World::new(new_daemon_set("foo"));
        w.ds.spec.update_strategy = Some(update_surge(IntOrString::Int(surge)));
        w.add_nodes(0, nodes, None);
        w.sync();
        w.mark_pods_ready();
        w.set_image("foo/bar:2");
        for _ in 0..(nodes * 3 + 10) {
            w.sync();
            prop_assert_eq!(unavailable_nodes(&w), 0);
            prop_assert!(per_node_counts(&w).values().all(|c| *c <= 2));
            w.mark_pods_ready();
        }
        let status = w.ds.status.clone().unwrap();
        prop_assert_eq!(status.updated_number_scheduled, Some(nodes as i32));
        prop_assert!(per_node_counts(&w).values().all(|c| *c == 1));
    }
}
