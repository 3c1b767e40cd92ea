//! Node Leases (`coordination.k8s.io/v1`, namespace `kube-node-lease`): the kubelet's cheap
//! heartbeat, renewed every 10 s and read by the node lifecycle controller.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use serde_json::{Value, json};

/// Where node leases live.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// The kubelet's lease duration (`nodeLeaseDurationSeconds`).
pub const LEASE_DURATION_SECONDS: i32 = 40;
/// The kubelet's renewal interval: a quarter of the duration.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(10);

/// The lease of node `name` (uid `uid`), owned by the node so it goes when the node goes.
pub fn lease(name: &str, uid: Option<&str>, duration_seconds: i32, now: Timestamp) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(LEASE_NAMESPACE.to_owned()),
            owner_references: uid.map(|uid| {
                vec![OwnerReference {
                    api_version: "v1".to_owned(),
                    kind: "Node".to_owned(),
                    name: name.to_owned(),
                    uid: uid.to_owned(),
                    ..OwnerReference::default()
                }]
            }),
            ..ObjectMeta::default()
        },
        spec: Some(spec(name, duration_seconds, now)),
    }
}

fn spec(name: &str, duration_seconds: i32, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(name.to_owned()),
        lease_duration_seconds: Some(duration_seconds),
        renew_time: Some(MicroTime(now)),
        ..LeaseSpec::default()
    }
}

/// The JSON merge patch that renews node `name`'s lease at `now`.
pub fn renewal(name: &str, duration_seconds: i32, now: Timestamp) -> Value {
    json!({ "spec": spec(name, duration_seconds, now) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_held_by_their_node_and_owned_by_it() {
        let now = Timestamp::from_millisecond(1_700_000_000_123).unwrap();
        let lease = lease("worker-1", Some("u-1"), LEASE_DURATION_SECONDS, now);
        let spec = lease.spec.as_ref().unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("worker-1"));
        assert_eq!(spec.lease_duration_seconds, Some(40));
        assert_eq!(lease.metadata.owner_references.as_ref().unwrap()[0].kind, "Node");
        let patch = renewal("worker-1", 40, now);
        assert_eq!(patch["spec"]["renewTime"], "2023-11-14T22:13:20.123000Z");
    }
}
