//! The engine's only IO besides its watches: each [`Work`] item becomes one future that makes
//! its API calls and reports an [`Outcome`] back to the engine.

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, PodStatus};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Client, Error};
use serde_json::{Value, json};

use super::pods::PodKey;
use crate::kubelet::events::PodEvent;
use crate::node::lease::{self, LEASE_NAMESPACE};

/// A write the engine decided to make.
#[derive(Debug)]
pub(super) enum Work {
    /// Report a pod's status (with its resourceVersion as a precondition).
    PodStatus { key: PodKey, status: Box<PodStatus>, resource_version: Option<String>, meta: PodMeta },
    /// Report the final status if any, then delete the pod with grace period 0.
    RemovePod {
        key: PodKey,
        final_status: Option<Box<PodStatus>>,
        resource_version: Option<String>,
        meta: PodMeta,
    },
    /// Renew (or create) a node's lease.
    RenewLease { node: String, uid: Option<String>, at: Timestamp, duration_seconds: i32 },
    /// Write a node's status and, for nodes that lack one, its pod CIDR.
    NodeStatus { node: String, spec_patch: Option<Value>, status_patch: Option<Value>, becomes_ready: bool },
}

/// What the writes of a pod need besides the decision.
#[derive(Debug)]
pub(super) struct PodMeta {
    pub uid: String,
    /// The fingerprint of the status being written, remembered once it is written.
    pub status_print: Option<u64>,
    pub events: Vec<PodEvent>,
    pub reference: ObjectReference,
}

/// How a pod write went.
#[derive(Debug)]
pub(super) enum PodResult {
    /// Written; the pod as stored now.
    Written(Box<Pod>),
    /// Someone else changed the pod first; the pod as re-read (None: it is gone).
    Conflict(Option<Box<Pod>>),
    /// Deleted.
    Removed,
    /// The pod no longer exists.
    Gone,
    /// Anything else (retried with back-off).
    Failed(Error),
}

/// A finished write.
// At most `max_concurrent_writes` outcomes exist at once; boxing them would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Outcome {
    Pod { key: PodKey, result: PodResult, meta: PodMeta },
    Lease { node: String, at: Timestamp, result: Result<(), Error> },
    NodeStatus { node: String, result: Result<Option<Box<Node>>, Error>, becomes_ready: bool },
}

fn is_status(error: &Error, code: u16) -> bool {
    matches!(error, Error::Api(status) if status.code == code)
}

impl Work {
    /// The future that carries the work out.
    pub(super) fn execute(self, client: Client) -> BoxFuture<'static, Outcome> {
        match self {
            Work::PodStatus { key, status, resource_version, meta } => async move {
                let api: Api<Pod> = Api::namespaced(client, &key.namespace);
                let result = write_pod_status(&api, &key.name, &status, resource_version.as_deref()).await;
                Outcome::Pod { key, result, meta }
            }
            .boxed(),
            Work::RemovePod { key, final_status, resource_version, meta } => async move {
                let api: Api<Pod> = Api::namespaced(client, &key.namespace);
                let result = remove_pod(&api, &key.name, &meta.uid, final_status, resource_version).await;
                Outcome::Pod { key, result, meta }
            }
            .boxed(),
            Work::RenewLease { node, uid, at, duration_seconds } => async move {
                let result = renew_lease(client, &node, uid.as_deref(), at, duration_seconds).await;
                Outcome::Lease { node, at, result }
            }
            .boxed(),
            Work::NodeStatus { node, spec_patch, status_patch, becomes_ready } => async move {
                let result = write_node(client, &node, spec_patch, status_patch).await;
                Outcome::NodeStatus { node, result, becomes_ready }
            }
            .boxed(),
        }
    }
}

/// A JSON merge patch of `pods/status`. Arrays (conditions, container statuses) are replaced
/// whole, which is what a full status report means; the resourceVersion makes it a
/// compare-and-swap.
async fn write_pod_status(api: &Api<Pod>, name: &str, status: &PodStatus, rv: Option<&str>) -> PodResult {
    let patch = json!({"metadata": {"resourceVersion": rv}, "status": status});
    match api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(pod) => PodResult::Written(Box::new(pod)),
        Err(e) if is_status(&e, 404) => PodResult::Gone,
        Err(e) if is_status(&e, 409) => reread(api, name).await,
        Err(e) => PodResult::Failed(e),
    }
}

async fn reread(api: &Api<Pod>, name: &str) -> PodResult {
    match api.get_opt(name).await {
        Ok(pod) => PodResult::Conflict(pod.map(Box::new)),
        Err(e) => PodResult::Failed(e),
    }
}

async fn remove_pod(
    api: &Api<Pod>,
    name: &str,
    uid: &str,
    final_status: Option<Box<PodStatus>>,
    rv: Option<String>,
) -> PodResult {
    if let Some(status) = final_status {
        match write_pod_status(api, name, &status, rv.as_deref()).await {
            PodResult::Written(_) => {}
            other => return other,
        }
    }
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions { uid: Some(uid.to_owned()), resource_version: None }),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => PodResult::Removed,
        // 409: the uid precondition failed, so this pod is gone and another took its name.
        Err(e) if is_status(&e, 404) || is_status(&e, 409) => PodResult::Gone,
        Err(e) => PodResult::Failed(e),
    }
}

/// Patches the lease's renewTime; creates the lease when it does not exist yet.
async fn renew_lease(
    client: Client,
    node: &str,
    uid: Option<&str>,
    at: Timestamp,
    duration: i32,
) -> Result<(), Error> {
    let api: Api<Lease> = Api::namespaced(client, LEASE_NAMESPACE);
    let patch = lease::renewal(node, duration, at);
    match api.patch(node, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 404) => {
            match api.create(&PostParams::default(), &lease::lease(node, uid, duration, at)).await {
                Ok(_) => Ok(()),
                // Created meanwhile by an earlier attempt: the next renewal patches it.
                Err(e) if is_status(&e, 409) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Patches the node's spec (pod CIDR) then status. A node deleted meanwhile is not an error.
async fn write_node(
    client: Client,
    node: &str,
    spec_patch: Option<Value>,
    status_patch: Option<Value>,
) -> Result<Option<Box<Node>>, Error> {
    let api: Api<Node> = Api::all(client);
    let mut written = None;
    let params = PatchParams::default();
    if let Some(patch) = spec_patch {
        match api.patch(node, &params, &Patch::Merge(&patch)).await {
            Ok(n) => written = Some(Box::new(n)),
            Err(e) if is_status(&e, 404) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    if let Some(patch) = status_patch {
        match api.patch_status(node, &params, &Patch::Merge(&patch)).await {
            Ok(n) => written = Some(Box::new(n)),
            Err(e) if is_status(&e, 404) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}
