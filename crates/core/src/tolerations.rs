//! The tolerations every daemon pod gets, so node problems never evict node agents.

use k8s_openapi::api::core::v1::{PodSpec, Toleration};

/// `(taint key, effect)` pairs tolerated by every daemon pod, in upstream's order. Daemons must
/// survive not-ready/unreachable nodes (they are often what makes a node ready: CNI, storage) and
/// must land on cordoned or pressured nodes, which is why `kubectl drain` needs
/// `--ignore-daemonsets`.
const ALWAYS: [(&str, &str); 6] = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];

/// Tolerated only by host-network daemons: a node without pod networking can still run them,
/// and the CNI plugin that fixes the network is usually one of them.
const HOST_NETWORK: (&str, &str) = ("node.kubernetes.io/network-unavailable", "NoSchedule");

fn exists(key: &str, effect: &str) -> Toleration {
    Toleration {
        key: Some(key.to_string()),
        operator: Some("Exists".to_string()),
        effect: Some(effect.to_string()),
        value: None,
        toleration_seconds: None,
    }
}

/// `MatchToleration`: tolerations are unique by key, operator, value and effect.
fn same_identity(a: &Toleration, b: &Toleration) -> bool {
    a.key.as_deref().unwrap_or("") == b.key.as_deref().unwrap_or("")
        && a.operator.as_deref().unwrap_or("") == b.operator.as_deref().unwrap_or("")
        && a.value.as_deref().unwrap_or("") == b.value.as_deref().unwrap_or("")
        && a.effect.as_deref().unwrap_or("") == b.effect.as_deref().unwrap_or("")
}

/// `AddOrUpdateTolerationInPodSpec`: replaces a toleration with the same identity (dropping, for
/// example, a tolerationSeconds the user set on it), or appends it.
fn add_or_update(tolerations: &mut Vec<Toleration>, toleration: Toleration) {
    let mut replaced = false;
    for existing in tolerations.iter_mut() {
        if same_identity(existing, &toleration) {
            *existing = toleration.clone();
            replaced = true;
        }
    }
    if !replaced {
        tolerations.push(toleration);
    }
}

/// The template's tolerations plus the daemon defaults (`AddOrUpdateDaemonPodTolerations`).
pub fn daemon_tolerations(spec: &PodSpec) -> Vec<Toleration> {
    let mut out = spec.tolerations.clone().unwrap_or_default();
    for (key, effect) in ALWAYS {
        add_or_update(&mut out, exists(key, effect));
    }
    if spec.host_network == Some(true) {
        add_or_update(&mut out, exists(HOST_NETWORK.0, HOST_NETWORK.1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_daemon_pod_tolerates_node_problems() {
        let tols = daemon_tolerations(&PodSpec::default());
        let keys: Vec<&str> = tols.iter().filter_map(|t| t.key.as_deref()).collect();
        assert_eq!(
            keys,
            [
                "node.kubernetes.io/not-ready",
                "node.kubernetes.io/unreachable",
                "node.kubernetes.io/disk-pressure",
                "node.kubernetes.io/memory-pressure",
                "node.kubernetes.io/pid-pressure",
                "node.kubernetes.io/unschedulable"
            ]
        );
        assert!(
            tols.iter().all(|t| t.operator.as_deref() == Some("Exists") && t.toleration_seconds.is_none())
        );
    }

    #[test]
    fn host_network_daemons_also_tolerate_network_unavailable() {
        let spec = PodSpec { host_network: Some(true), ..Default::default() };
        let tols = daemon_tolerations(&spec);
        assert_eq!(tols.len(), 7);
        assert_eq!(tols[6].key.as_deref(), Some("node.kubernetes.io/network-unavailable"));
    }

    #[test]
    fn an_identical_user_toleration_is_replaced_not_duplicated() {
        let mut mine = exists("node.kubernetes.io/not-ready", "NoExecute");
        mine.toleration_seconds = Some(300);
        let spec = PodSpec { tolerations: Some(vec![mine]), ..Default::default() };
        let tols = daemon_tolerations(&spec);
        assert_eq!(tols.len(), 6);
        assert_eq!(tols[0].toleration_seconds, None);
    }
}
