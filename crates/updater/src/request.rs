//! The UpdateRequest custom resource (`headwind.sh/v1alpha1`): a proposed image update waiting
//! for a person's decision, with the reference page's fields, so `kubectl get updaterequests`
//! and scripts written for Headwind keep working.
//!
//! The CRD itself is `deploy/crds/updaterequests.headwind.sh.yaml` ([`CRD_YAML`]): one source
//! for `everynode up`, which installs it, and for real clusters, where users apply it.

use std::fmt;

use jiff::Timestamp;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The CRD manifest, as shipped for real clusters.
pub const CRD_YAML: &str = include_str!("../../../deploy/crds/updaterequests.headwind.sh.yaml");

/// The CRD's name.
pub const CRD_NAME: &str = "updaterequests.headwind.sh";

/// Label on every UpdateRequest naming its target DaemonSet, so a target's requests are one
/// label-selected list away.
pub const TARGET_LABEL: &str = "headwind.sh/target";

/// Label naming the request's container.
pub const CONTAINER_LABEL: &str = "headwind.sh/container";

/// What a proposed update is: which container of which workload moves to which image.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(group = "headwind.sh", version = "v1alpha1", kind = "UpdateRequest", namespaced)]
#[kube(status = "UpdateRequestStatus", shortname = "ur")]
#[serde(rename_all = "camelCase")]
pub struct UpdateRequestSpec {
    /// The workload to update.
    pub target_ref: TargetRef,
    /// The container whose image changes.
    pub container_name: String,
    /// The image the container runs now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_image: Option<String>,
    /// The image it would run.
    pub new_image: String,
    /// The policy that chose the new image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Why the update was proposed (e.g. "minor update 1.5.0 -> 1.6.1 found by polling").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the update waits for approval (always true for requests everynode creates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_approval: Option<bool>,
    /// After this time (RFC 3339) a pending request is Expired and never applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// The workload an UpdateRequest targets.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    /// `apps/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `DaemonSet`.
    pub kind: String,
    /// The workload's name.
    pub name: String,
    /// The workload's namespace (the request's own when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Where a request stands.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRequestStatus {
    /// The phase; absent means Pending (a request just created has no status yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Who approved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<String>,
    /// Who rejected it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_by: Option<String>,
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_at: Option<String>,
    /// What happened last, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
}

/// The phases of the reference page.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum Phase {
    /// Waiting for a decision.
    Pending,
    /// Approved; everynode applies it next.
    Approved,
    /// Rejected; the same image is never proposed again for this container.
    Rejected,
    /// Applied to the workload.
    Completed,
    /// Could not be applied (the workload changed or vanished, or the patch failed).
    Failed,
    /// Not decided before `expiresAt`, or superseded by a newer candidate.
    Expired,
}

impl Phase {
    /// The phase's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Approved => "Approved",
            Phase::Rejected => "Rejected",
            Phase::Completed => "Completed",
            Phase::Failed => "Failed",
            Phase::Expired => "Expired",
        }
    }

    /// Whether nothing more happens to a request in this phase.
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Rejected | Phase::Completed | Phase::Failed | Phase::Expired)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl UpdateRequest {
    /// The request's phase (Pending until a status says otherwise).
    pub fn phase(&self) -> Phase {
        self.status.as_ref().and_then(|s| s.phase).unwrap_or(Phase::Pending)
    }

    /// When a pending request stops being valid, if it says; an unreadable time counts as
    /// already past, so a mangled request is expired rather than applied.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.spec.expires_at.as_ref().map(|text| text.parse().unwrap_or(Timestamp::MIN))
    }
}

/// The name of the request proposing `tag` for `container` of workload `target`: the seed's
/// `<target>-update-<tag>` when the container is named after the workload, with the container
/// otherwise; always a valid DNS subdomain (tags may hold `_`, `.` and capitals), at most 253
/// characters, with a hash of the unsanitised parts when more than dots was lost, so two
/// different tags do not share a name.
pub fn request_name(target: &str, container: &str, tag: &str) -> String {
    let raw = if container == target {
        format!("{target}-update-{tag}")
    } else {
        format!("{target}-{container}-update-{tag}")
    };
    let mut name: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    // Runs of separators collapse, and the name starts and ends alphanumerically.
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let name = name.trim_matches('-').to_owned();
    // Dots become dashes as in the seed's names; anything else lost (capitals, `_`, `+`,
    // repeated separators) could make two tags collide, so those names get a hash.
    let lossless = name == raw.replace('.', "-");
    const MAX: usize = 253;
    const HASHED: usize = MAX - 9;
    if lossless && name.len() <= MAX {
        return name;
    }
    let mut prefix: String = name.chars().take(HASHED).collect();
    while prefix.ends_with('-') {
        prefix.pop();
    }
    format!("{prefix}-{:08x}", fnv1a(raw.as_bytes()) as u32)
}

/// A small stable hash (FNV-1a): names must not change between versions or processes, which
/// rules out the standard library's randomised hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_named_like_the_seed_when_the_container_is_named_after_the_workload() {
        assert_eq!(request_name("node-exporter", "node-exporter", "v1.5.0"), "node-exporter-update-v1-5-0");
    }

    #[test]
    fn a_request_names_its_container_when_it_differs_from_the_workload() {
        assert_eq!(request_name("datadog-agent", "agent", "7.43.0"), "datadog-agent-agent-update-7-43-0");
    }

    #[test]
    fn sanitised_names_stay_distinct_and_valid() {
        let a = request_name("app", "app", "1.0_RC1");
        let b = request_name("app", "app", "1.0-rc1");
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.len() <= 253);
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{name}");
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
        }
    }

    #[test]
    fn very_long_names_are_cut_with_a_hash() {
        let long = "x".repeat(300);
        let name = request_name(&long, "c", "1.0.0");
        assert_eq!(name.len(), 253);
        assert_ne!(name, request_name(&long, "c", "1.0.1"));
    }

    #[test]
    fn the_shipped_crd_describes_this_type() {
        let crd: serde_yaml_ng::Value = serde_yaml_ng::from_str(CRD_YAML).unwrap();
        assert_eq!(crd["metadata"]["name"].as_str(), Some(CRD_NAME));
        assert_eq!(crd["spec"]["group"].as_str(), Some("headwind.sh"));
        assert_eq!(crd["spec"]["names"]["kind"].as_str(), Some("UpdateRequest"));
        assert_eq!(crd["spec"]["versions"][0]["name"].as_str(), Some("v1alpha1"));
        let phases: Vec<&str> = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
            ["properties"]["phase"]["enum"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let ours: Vec<&str> = [
            Phase::Pending,
            Phase::Approved,
            Phase::Rejected,
            Phase::Completed,
            Phase::Failed,
            Phase::Expired,
        ]
        .iter()
        .map(|p| p.as_str())
        .collect();
        assert_eq!(phases, ours);
    }

    #[test]
    fn an_unreadable_expiry_counts_as_past() {
        let mut request = UpdateRequest::new(
            "r",
            UpdateRequestSpec {
                target_ref: TargetRef {
                    api_version: None,
                    kind: "DaemonSet".into(),
                    name: "d".into(),
                    namespace: None,
                },
                container_name: "c".into(),
                current_image: None,
                new_image: "i:2".into(),
                policy: None,
                reason: None,
                require_approval: Some(true),
                expires_at: Some("tomorrow".into()),
            },
        );
        assert_eq!(request.expires_at(), Some(Timestamp::MIN));
        assert_eq!(request.phase(), Phase::Pending);
        request.spec.expires_at = None;
        assert_eq!(request.expires_at(), None);
    }
}
