//! Defaulting of API objects, as the API server applies it before validation.
//!
//! Follows `pkg/apis/apps/v1/defaults.go`, `pkg/apis/core/v1/defaults.go` and the generated
//! `SetObjectDefaults_DaemonSet`, so that `kubectl get -o yaml` shows the same fields a real
//! cluster would. Metadata is never defaulted here (creation timestamps, generation and the like
//! belong to the registry). Every function is idempotent: defaulting twice changes nothing more.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
use k8s_openapi::api::core::v1::{
    Container, DownwardAPIVolumeFile, HTTPGetAction, Lifecycle, PodSecurityContext, PodSpec, Probe,
    ResourceRequirements, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as QuantityString;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::validation::quantity::Quantity;

/// `DefaultTerminationGracePeriodSeconds`.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// `DefaultSchedulerName`.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// `TerminationMessagePathDefault`.
pub const TERMINATION_MESSAGE_PATH_DEFAULT: &str = "/dev/termination-log";
/// Mode 0644 for secret, configMap, downwardAPI and projected volumes.
pub const DEFAULT_VOLUME_MODE: i32 = 0o644;
/// DaemonSets keep ten old ControllerRevisions unless told otherwise.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
/// A projected service account token lives an hour by default.
pub const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;

/// `SetObjectDefaults_DaemonSet`: update strategy, history limit, and the pod template.
pub fn default_daemonset(ds: &mut DaemonSet) {
    let spec = &mut ds.spec;
    let strategy = spec.update_strategy.get_or_insert_with(DaemonSetUpdateStrategy::default);
    if strategy.type_.as_deref().unwrap_or_default().is_empty() {
        strategy.type_ = Some("RollingUpdate".to_string());
    }
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let rolling = strategy.rolling_update.get_or_insert_with(RollingUpdateDaemonSet::default);
        // One node at a time, and no surge: a DaemonSet pod usually holds a host port.
        rolling.max_unavailable.get_or_insert(IntOrString::Int(1));
        rolling.max_surge.get_or_insert(IntOrString::Int(0));
    }
    spec.revision_history_limit.get_or_insert(DEFAULT_REVISION_HISTORY_LIMIT);
    default_pod_spec(spec.template.spec.get_or_insert_with(PodSpec::default));
}

/// `SetDefaults_PodSpec` plus the nested container, probe and volume defaults a pod template gets.
/// (`enableServiceLinks` is a Pod-only default and is not set on templates.)
pub fn default_pod_spec(spec: &mut PodSpec) {
    default_string(&mut spec.dns_policy, "ClusterFirst");
    default_string(&mut spec.restart_policy, "Always");
    spec.security_context.get_or_insert_with(PodSecurityContext::default);
    spec.termination_grace_period_seconds.get_or_insert(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
    default_string(&mut spec.scheduler_name, DEFAULT_SCHEDULER_NAME);
    for volume in spec.volumes.iter_mut().flatten() {
        default_volume(volume);
    }
    for container in spec.init_containers.iter_mut().flatten().chain(spec.containers.iter_mut()) {
        default_container(container);
    }
    if let Some(overhead) = spec.overhead.as_mut() {
        default_resource_list(overhead);
    }
}

fn default_string(field: &mut Option<String>, value: &str) {
    if field.as_deref().unwrap_or_default().is_empty() {
        *field = Some(value.to_string());
    }
}

/// `SetDefaults_Container` and the generated defaults below it.
fn default_container(c: &mut Container) {
    if c.image_pull_policy.as_deref().unwrap_or_default().is_empty() {
        let policy = if image_tag(c.image.as_deref().unwrap_or_default()) == Some("latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.image_pull_policy = Some(policy.to_string());
    }
    default_string(&mut c.termination_message_path, TERMINATION_MESSAGE_PATH_DEFAULT);
    default_string(&mut c.termination_message_policy, "File");
    for port in c.ports.iter_mut().flatten() {
        default_string(&mut port.protocol, "TCP");
    }
    for env in c.env.iter_mut().flatten() {
        if let Some(field_ref) = env.value_from.as_mut().and_then(|f| f.field_ref.as_mut()) {
            default_string(&mut field_ref.api_version, "v1");
        }
    }
    let resources = c.resources.get_or_insert_with(ResourceRequirements::default);
    for list in [resources.limits.as_mut(), resources.requests.as_mut()].into_iter().flatten() {
        default_resource_list(list);
    }
    for probe in [c.liveness_probe.as_mut(), c.readiness_probe.as_mut(), c.startup_probe.as_mut()]
        .into_iter()
        .flatten()
    {
        default_probe(probe);
    }
    if let Some(lifecycle) = c.lifecycle.as_mut() {
        default_lifecycle(lifecycle);
    }
}

/// `SetDefaults_Probe` and its handler defaults.
fn default_probe(p: &mut Probe) {
    for (field, default) in [
        (&mut p.timeout_seconds, 1),
        (&mut p.period_seconds, 10),
        (&mut p.success_threshold, 1),
        (&mut p.failure_threshold, 3),
    ] {
        if field.unwrap_or(0) == 0 {
            *field = Some(default);
        }
    }
    if let Some(http) = p.http_get.as_mut() {
        default_http_get(http);
    }
    if let Some(grpc) = p.grpc.as_mut() {
        grpc.service.get_or_insert_with(String::new);
    }
}

fn default_lifecycle(l: &mut Lifecycle) {
    for handler in [l.post_start.as_mut(), l.pre_stop.as_mut()].into_iter().flatten() {
        if let Some(http) = handler.http_get.as_mut() {
            default_http_get(http);
        }
    }
}

/// `SetDefaults_HTTPGetAction`.
fn default_http_get(h: &mut HTTPGetAction) {
    default_string(&mut h.path, "/");
    default_string(&mut h.scheme, "HTTP");
}

/// `SetDefaults_ResourceList`: round every quantity up to milli precision. Stored quantities are
/// also re-serialized in canonical form (`0.5` becomes `500m`), which the API server does when
/// it encodes them; strings that do not parse are left for validation to report.
fn default_resource_list(list: &mut BTreeMap<String, QuantityString>) {
    for value in list.values_mut() {
        if let Ok(q) = Quantity::parse(&value.0) {
            value.0 = q.round_up(-3).canonical();
        }
    }
}

/// `SetDefaults_Volume` and the per-source defaults. The ISCSI, RBD, AzureDisk and ScaleIO
/// defaults are not applied.
fn default_volume(v: &mut Volume) {
    let has_source = v.empty_dir.is_some()
        || v.host_path.is_some()
        || v.git_repo.is_some()
        || v.gce_persistent_disk.is_some()
        || v.aws_elastic_block_store.is_some()
        || v.secret.is_some()
        || v.nfs.is_some()
        || v.iscsi.is_some()
        || v.glusterfs.is_some()
        || v.flocker.is_some()
        || v.persistent_volume_claim.is_some()
        || v.rbd.is_some()
        || v.cinder.is_some()
        || v.cephfs.is_some()
        || v.quobyte.is_some()
        || v.downward_api.is_some()
        || v.fc.is_some()
        || v.flex_volume.is_some()
        || v.config_map.is_some()
        || v.azure_file.is_some()
        || v.vsphere_volume.is_some()
        || v.photon_persistent_disk.is_some()
        || v.portworx_volume.is_some()
        || v.azure_disk.is_some()
        || v.storageos.is_some()
        || v.projected.is_some()
        || v.scale_io.is_some()
        || v.csi.is_some()
        || v.ephemeral.is_some()
        || v.image.is_some();
    if !has_source {
        v.empty_dir = Some(Default::default());
    }
    if let Some(hp) = v.host_path.as_mut() {
        hp.type_.get_or_insert_with(String::new);
    }
    if let Some(s) = v.secret.as_mut() {
        s.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
    }
    if let Some(c) = v.config_map.as_mut() {
        c.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
    }
    if let Some(d) = v.downward_api.as_mut() {
        d.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
        default_downward_api_files(d.items.iter_mut().flatten());
    }
    if let Some(p) = v.projected.as_mut() {
        p.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
        for source in p.sources.iter_mut().flatten() {
            if let Some(d) = source.downward_api.as_mut() {
                default_downward_api_files(d.items.iter_mut().flatten());
            }
            if let Some(t) = source.service_account_token.as_mut() {
                t.expiration_seconds.get_or_insert(DEFAULT_TOKEN_EXPIRATION_SECONDS);
            }
        }
    }
    if let Some(spec) =
        v.ephemeral.as_mut().and_then(|e| e.volume_claim_template.as_mut()).map(|t| &mut t.spec)
    {
        default_string(&mut spec.volume_mode, "Filesystem");
        if let Some(r) = spec.resources.as_mut() {
            for list in [r.limits.as_mut(), r.requests.as_mut()].into_iter().flatten() {
                default_resource_list(list);
            }
        }
    }
}

fn default_downward_api_files<'a>(files: impl Iterator<Item = &'a mut DownwardAPIVolumeFile>) {
    for file in files {
        if let Some(field_ref) = file.field_ref.as_mut() {
            default_string(&mut field_ref.api_version, "v1");
        }
    }
}

/// The tag kubelet would pull, as `parsers.ParseImageName` reports it: the explicit tag, `latest`
/// when there is neither tag nor digest, and none for a digest-only or unparseable reference.
pub fn image_tag(image: &str) -> Option<&str> {
    let (name_and_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if digest.is_some_and(|d| !is_valid_digest(d)) {
        return None;
    }
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
        Some(i) => (&name_and_tag[..last_slash + i], Some(&name_and_tag[last_slash + i + 1..])),
        None => (name_and_tag, None),
    };
    if !is_valid_repository(name) || tag.is_some_and(|t| !is_valid_tag(t)) {
        return None;
    }
    match (tag, digest) {
        (Some(t), _) => Some(t),
        (None, None) => Some("latest"),
        (None, Some(_)) => None,
    }
}

/// `[\w][\w.-]{0,127}`.
fn is_valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = tag.as_bytes();
    !b.is_empty() && b.len() <= 128 && word(b[0]) && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// `algorithm:encoded`, as OCI digests are written.
fn is_valid_digest(digest: &str) -> bool {
    digest.split_once(':').is_some_and(|(alg, enc)| {
        !alg.is_empty()
            && alg.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
            && enc.len() >= 32
            && enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
    })
}

/// A docker repository: optional registry host, then lowercase path components.
fn is_valid_repository(name: &str) -> bool {
    let path = match name.split_once('/') {
        // distribution/reference treats the first component as a registry when it looks like a
        // host (has '.' or ':', is localhost, or has capitals).
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first =>
        {
            if !first.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)) {
                return false;
            }
            rest
        }
        _ => name,
    };
    let is_component = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty()
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
            && b.iter().all(|&x| x.is_ascii_lowercase() || x.is_ascii_digit() || b"._-".contains(&x))
    };
    let is_hex_id =
        name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    !is_hex_id && path.split('/').all(is_component)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMapVolumeSource, ContainerPort, EnvVar, EnvVarSource, HostPathVolumeSource,
        ObjectFieldSelector, PodTemplateSpec, SecretVolumeSource,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn ds(containers: Vec<Container>) -> DaemonSet {
        DaemonSet {
            metadata: ObjectMeta { name: Some("agent".into()), ..Default::default() },
            spec: k8s_openapi::api::apps::v1::DaemonSetSpec {
                template: PodTemplateSpec {
                    metadata: None,
                    spec: Some(PodSpec { containers, ..Default::default() }),
                },
                ..Default::default()
            },
            status: None,
        }
    }

    fn container(image: &str) -> Container {
        Container { name: "c".into(), image: Some(image.into()), ..Default::default() }
    }

    fn pull_policy(image: &str) -> String {
        let mut c = container(image);
        default_container(&mut c);
        c.image_pull_policy.unwrap_or_default()
    }

    #[test]
    fn daemonset_defaults_to_rolling_update_one_unavailable_no_surge() {
        let mut d = ds(vec![container("agent:1")]);
        default_daemonset(&mut d);
        let strategy = d.spec.update_strategy.unwrap_or_default();
        assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        let rolling = strategy.rolling_update.unwrap_or_default();
        assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(rolling.max_surge, Some(IntOrString::Int(0)));
        assert_eq!(d.spec.revision_history_limit, Some(10));
    }

    #[test]
    fn on_delete_gets_no_rolling_update_and_explicit_values_are_kept() {
        let mut d = ds(vec![container("agent:1")]);
        d.spec.update_strategy =
            Some(DaemonSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None });
        d.spec.revision_history_limit = Some(0);
        default_daemonset(&mut d);
        assert_eq!(d.spec.update_strategy.as_ref().and_then(|s| s.rolling_update.as_ref()), None);
        assert_eq!(d.spec.revision_history_limit, Some(0));

        let mut d = ds(vec![container("agent:1")]);
        d.spec.update_strategy = Some(DaemonSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDaemonSet {
                max_unavailable: Some(IntOrString::String("10%".into())),
                max_surge: None,
            }),
        });
        default_daemonset(&mut d);
        let rolling = d.spec.update_strategy.and_then(|s| s.rolling_update).unwrap_or_default();
        assert_eq!(rolling.max_unavailable, Some(IntOrString::String("10%".into())));
        assert_eq!(rolling.max_surge, Some(IntOrString::Int(0)));
    }

    #[test]
    fn pod_spec_defaults_match_a_real_cluster() {
        let mut d = ds(vec![container("agent:1")]);
        default_daemonset(&mut d);
        let spec = d.spec.template.spec.unwrap_or_default();
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
        assert_eq!(spec.scheduler_name.as_deref(), Some("default-scheduler"));
        assert_eq!(spec.termination_grace_period_seconds, Some(30));
        assert_eq!(spec.security_context, Some(PodSecurityContext::default()));
        assert_eq!(spec.enable_service_links, None, "enableServiceLinks is a Pod-only default");
        let c = &spec.containers[0];
        assert_eq!(c.termination_message_path.as_deref(), Some("/dev/termination-log"));
        assert_eq!(c.termination_message_policy.as_deref(), Some("File"));
        assert_eq!(c.resources, Some(ResourceRequirements::default()));
    }

    #[test]
    fn missing_template_spec_is_created_and_defaulted() {
        let mut d = ds(vec![]);
        d.spec.template.spec = None;
        default_daemonset(&mut d);
        assert_eq!(d.spec.template.spec.and_then(|s| s.restart_policy).as_deref(), Some("Always"));
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        assert_eq!(pull_policy("nginx"), "Always");
        assert_eq!(pull_policy("nginx:latest"), "Always");
        assert_eq!(pull_policy("prom/node-exporter:v1.7.0"), "IfNotPresent");
        assert_eq!(pull_policy("localhost:5000/agent"), "Always");
        assert_eq!(pull_policy("localhost:5000/agent:v1"), "IfNotPresent");
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(pull_policy(&format!("nginx@{digest}")), "IfNotPresent");
        assert_eq!(pull_policy(&format!("nginx:latest@{digest}")), "Always");
        assert_eq!(pull_policy("Nginx"), "IfNotPresent", "an unparseable reference has no tag");
        let mut c = container("nginx");
        c.image_pull_policy = Some("Never".into());
        default_container(&mut c);
        assert_eq!(c.image_pull_policy.as_deref(), Some("Never"));
    }

    #[test]
    fn ports_env_probes_and_resources_get_their_defaults() {
        let mut c = container("agent:1");
        c.ports = Some(vec![ContainerPort { container_port: 53, ..Default::default() }]);
        c.env = Some(vec![EnvVar {
            name: "NODE".into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: None,
                    field_path: "spec.nodeName".into(),
                }),
                ..Default::default()
            }),
        }]);
        c.liveness_probe = Some(Probe {
            http_get: Some(HTTPGetAction { port: IntOrString::Int(8080), ..Default::default() }),
            ..Default::default()
        });
        c.resources = Some(ResourceRequirements {
            limits: Some([("cpu".to_string(), QuantityString("0.5".into()))].into()),
            requests: Some([("memory".to_string(), QuantityString("1024Mi".into()))].into()),
            claims: None,
        });
        default_container(&mut c);
        assert_eq!(c.ports.unwrap_or_default()[0].protocol.as_deref(), Some("TCP"));
        let env = c.env.unwrap_or_default();
        let field_ref = env[0].value_from.as_ref().and_then(|v| v.field_ref.as_ref());
        assert_eq!(field_ref.and_then(|f| f.api_version.as_deref()), Some("v1"));
        let probe = c.liveness_probe.unwrap_or_default();
        assert_eq!(
            (probe.timeout_seconds, probe.period_seconds, probe.success_threshold, probe.failure_threshold),
            (Some(1), Some(10), Some(1), Some(3))
        );
        let http = probe.http_get.unwrap_or_default();
        assert_eq!((http.path.as_deref(), http.scheme.as_deref()), (Some("/"), Some("HTTP")));
        let resources = c.resources.unwrap_or_default();
        assert_eq!(resources.limits.unwrap_or_default()["cpu"], QuantityString("500m".into()));
        assert_eq!(resources.requests.unwrap_or_default()["memory"], QuantityString("1Gi".into()));
    }

    #[test]
    fn volumes_get_modes_types_and_an_empty_dir_when_sourceless() {
        let mut spec = PodSpec {
            volumes: Some(vec![
                Volume { name: "scratch".into(), ..Default::default() },
                Volume {
                    name: "logs".into(),
                    host_path: Some(HostPathVolumeSource { path: "/var/log".into(), type_: None }),
                    ..Default::default()
                },
                Volume {
                    name: "cfg".into(),
                    config_map: Some(ConfigMapVolumeSource::default()),
                    ..Default::default()
                },
                Volume {
                    name: "creds".into(),
                    secret: Some(SecretVolumeSource::default()),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        default_pod_spec(&mut spec);
        let vols = spec.volumes.unwrap_or_default();
        assert!(vols[0].empty_dir.is_some());
        assert_eq!(vols[1].host_path.as_ref().and_then(|h| h.type_.as_deref()), Some(""));
        assert_eq!(vols[2].config_map.as_ref().and_then(|c| c.default_mode), Some(420));
        assert_eq!(vols[3].secret.as_ref().and_then(|s| s.default_mode), Some(420));
    }

    #[test]
    fn defaulting_is_idempotent_and_leaves_metadata_alone() {
        let mut c = container("agent");
        c.liveness_probe = Some(Probe {
            http_get: Some(HTTPGetAction { port: IntOrString::Int(8080), ..Default::default() }),
            ..Default::default()
        });
        c.resources = Some(ResourceRequirements {
            limits: Some([("cpu".to_string(), QuantityString("1.25".into()))].into()),
            ..Default::default()
        });
        let mut d = ds(vec![c]);
        d.spec.template.spec.get_or_insert_with(Default::default).volumes =
            Some(vec![Volume { name: "v".into(), ..Default::default() }]);
        let metadata = d.metadata.clone();
        default_daemonset(&mut d);
        let once = d.clone();
        default_daemonset(&mut d);
        assert_eq!(d, once);
        assert_eq!(d.metadata, metadata);
    }
}
