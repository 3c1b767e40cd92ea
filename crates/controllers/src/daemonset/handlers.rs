//! Which DaemonSets a watch event concerns (upstream's informer event handlers), as pure
//! functions over the event's object and the cached DaemonSets.

use std::collections::BTreeMap;

use everynode_api::labels::Selector;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// `namespace/name`, the work queue key of a DaemonSet.
pub fn key_of(meta: &ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or_default(), meta.name.as_deref().unwrap_or_default())
}

/// The key of the DaemonSet a controller reference points to, if it is one.
pub fn controller_key(meta: &ObjectMeta) -> Option<String> {
    let owner = meta.owner_references.as_ref()?.iter().find(|r| r.controller == Some(true))?;
    if owner.kind != "DaemonSet" || !owner.api_version.starts_with("apps/") {
        return None;
    }
    Some(format!("{}/{}", meta.namespace.as_deref().unwrap_or_default(), owner.name))
}

/// The uid a controller reference names (to check it is the cached DaemonSet, not a namesake).
pub fn controller_uid(meta: &ObjectMeta) -> Option<&str> {
    meta.owner_references.as_ref()?.iter().find(|r| r.controller == Some(true)).map(|r| r.uid.as_str())
}

/// DaemonSets a pod event concerns: its controller, or for an orphan every DaemonSet in its
/// namespace whose selector matches it (a candidate for adoption).
pub fn pod_keys(pod: &Pod, daemon_sets: &[std::sync::Arc<DaemonSet>]) -> Vec<String> {
    if controller_uid(&pod.metadata).is_some() {
        return controller_key(&pod.metadata).into_iter().collect();
    }
    orphan_keys(&pod.metadata, daemon_sets)
}

/// DaemonSets a revision event concerns, as for pods.
pub fn revision_keys(
    revision: &ControllerRevision,
    daemon_sets: &[std::sync::Arc<DaemonSet>],
) -> Vec<String> {
    if controller_uid(&revision.metadata).is_some() {
        return controller_key(&revision.metadata).into_iter().collect();
    }
    orphan_keys(&revision.metadata, daemon_sets)
}

fn orphan_keys(meta: &ObjectMeta, daemon_sets: &[std::sync::Arc<DaemonSet>]) -> Vec<String> {
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let empty = BTreeMap::new();
    let labels = meta.labels.as_ref().unwrap_or(&empty);
    daemon_sets
        .iter()
        .filter(|ds| ds.metadata.namespace.as_deref() == Some(namespace))
        .filter(|ds| {
            Selector::from_label_selector(Some(&ds.spec.selector))
                .is_ok_and(|s| !s.is_everything() && s.matches(labels))
        })
        .map(|ds| key_of(&ds.metadata))
        .collect()
}

/// What of a node decides where daemons run: its labels, taints and name. Updates that change
/// none of these (heartbeats, conditions, images) need no DaemonSet sync.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFingerprint {
    labels: BTreeMap<String, String>,
    taints: Vec<(String, String, String)>,
}

impl NodeFingerprint {
    /// The fingerprint of `node`.
    pub fn of(node: &Node) -> Self {
        let taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .map(|ts| {
                ts.iter()
                    .map(|t: &Taint| (t.key.clone(), t.value.clone().unwrap_or_default(), t.effect.clone()))
                    .collect()
            })
            .unwrap_or_default();
        NodeFingerprint { labels: node.metadata.labels.clone().unwrap_or_default(), taints }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::apps::v1::DaemonSetSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};

    use super::*;

    fn ds(name: &str, app: &str) -> Arc<DaemonSet> {
        Arc::new(DaemonSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                ..Default::default()
            },
            spec: DaemonSetSpec {
                selector: LabelSelector {
                    match_labels: Some([("app".to_owned(), app.to_owned())].into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            status: None,
        })
    }

    fn pod(labels: &[(&str, &str)], owner: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                namespace: Some("default".into()),
                labels: Some(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
                owner_references: owner.map(|o| {
                    vec![OwnerReference {
                        api_version: "apps/v1".into(),
                        kind: "DaemonSet".into(),
                        name: o.into(),
                        uid: format!("uid-{o}"),
                        controller: Some(true),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn owned_pods_concern_only_their_controller() {
        let all = [ds("a", "x"), ds("b", "x")];
        assert_eq!(pod_keys(&pod(&[("app", "x")], Some("b")), &all), ["default/b"]);
    }

    #[test]
    fn orphan_pods_concern_every_matching_daemonset() {
        let all = [ds("a", "x"), ds("b", "y"), ds("c", "x")];
        assert_eq!(pod_keys(&pod(&[("app", "x")], None), &all), ["default/a", "default/c"]);
        assert!(pod_keys(&pod(&[("app", "z")], None), &all).is_empty());
    }

    #[test]
    fn node_fingerprints_ignore_status_changes() {
        let mut node = Node {
            metadata: ObjectMeta { name: Some("n".into()), ..Default::default() },
            ..Default::default()
        };
        let before = NodeFingerprint::of(&node);
        node.status = Some(Default::default());
        assert_eq!(NodeFingerprint::of(&node), before);
        node.metadata.labels = Some([("ssd".to_owned(), "true".to_owned())].into());
        assert_ne!(NodeFingerprint::of(&node), before);
    }
}
