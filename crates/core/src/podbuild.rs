//! Building the pod a DaemonSet creates for a node.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use everynode_api::nodeaffinity::OBJECT_NAME_FIELD;

use crate::constants::{CONTROLLER_REVISION_HASH_LABEL, POD_TEMPLATE_GENERATION_LABEL};
use crate::tolerations::daemon_tolerations;

/// The controller ownerReference every daemon pod and revision carries.
pub fn controller_ref(ds: &DaemonSet) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".to_string(),
        kind: "DaemonSet".to_string(),
        name: ds.metadata.name.clone().unwrap_or_default(),
        uid: ds.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `ReplaceDaemonSetPodNodeNameNodeAffinity`: pins the pod to `node` through required node
/// affinity, replacing any required terms (the node was chosen because it satisfied them) and
/// keeping preferred terms. The scheduler then binds it, so pods never bypass scheduling.
pub fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let term = NodeSelectorTerm {
        match_expressions: None,
        match_fields: Some(vec![NodeSelectorRequirement {
            key: OBJECT_NAME_FIELD.to_string(),
            operator: "In".to_string(),
            values: Some(vec![node.to_string()]),
        }]),
    };
    let mut affinity = affinity.unwrap_or_default();
    let node_affinity = affinity.node_affinity.get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution =
        Some(NodeSelector { node_selector_terms: vec![term] });
    affinity
}

/// The pod to create on `node` (`CreatePodTemplate` + `GetPodFromTemplate`): the template with
/// the daemon tolerations, labels `controller-revision-hash` (and `pod-template-generation` when
/// the DaemonSet has one), `generateName: <ds>-`, a controller ownerReference, and node affinity
/// pinning it to `node`. `spec.nodeName` stays empty for the scheduler to bind.
pub fn new_daemon_pod(ds: &DaemonSet, node: &str, hash: &str, template_generation: Option<i64>) -> Pod {
    let template = &ds.spec.template;
    let template_meta = template.metadata.as_ref();
    let mut labels = template_meta.and_then(|m| m.labels.clone()).unwrap_or_default();
    if let Some(generation) = template_generation {
        labels.insert(POD_TEMPLATE_GENERATION_LABEL.to_string(), generation.to_string());
    }
    if !hash.is_empty() {
        labels.insert(CONTROLLER_REVISION_HASH_LABEL.to_string(), hash.to_string());
    }
    let mut spec: PodSpec = template.spec.clone().unwrap_or_default();
    spec.tolerations = Some(daemon_tolerations(&spec));
    spec.affinity = Some(pin_to_node(spec.affinity.take(), node));
    let name = ds.metadata.name.as_deref().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: ds.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: template_meta.and_then(|m| m.annotations.clone()),
            finalizers: template_meta.and_then(|m| m.finalizers.clone()),
            owner_references: Some(vec![controller_ref(ds)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}
