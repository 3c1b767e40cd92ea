//! Containers and init containers (core validation's `validateContainers`,
//! `validateInitContainers`, `validateContainerCommon`): names, images, policies, ports, mounts,
//! and the host port conflicts between them.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, ContainerPort, VolumeMount};

use crate::field::{BadValue, ErrorList, FieldError, FieldPath};
use crate::validation::env::{validate_env, validate_env_from};
use crate::validation::meta::validate_dns1123_label;
use crate::validation::probe::{
    ProbeKind, is_valid_port_name, is_valid_port_num, validate_lifecycle, validate_probe,
};
use crate::validation::render;
use crate::validation::resources::validate_container_resources;
use crate::validation::volume::{ValidVolumes, validate_local_descending_path};

const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
const TERMINATION_MESSAGE_POLICIES: [&str; 2] = ["File", "FallbackToLogsOnError"];
const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
const MOUNT_PROPAGATIONS: [&str; 3] = ["Bidirectional", "HostToContainer", "None"];
const RECURSIVE_READ_ONLY: [&str; 3] = ["Disabled", "Enabled", "IfPossible"];

/// What every container check needs to know about the pod around it.
#[derive(Debug, Clone, Copy)]
pub struct PodContext<'a> {
    /// Volumes that validated cleanly; mounts must name one of them.
    pub volumes: &'a ValidVolumes,
    /// The pod's `terminationGracePeriodSeconds`, which bounds `sleep` hooks.
    pub grace_period: Option<i64>,
}

/// `validateContainers`: at least one container, unique names, hooks and probes allowed, no
/// per-container restart policy, no host port used twice.
pub fn validate_containers(containers: &[Container], ctx: PodContext<'_>, path: &FieldPath) -> ErrorList {
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, ctx, &p));
        if !names.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), BadValue::Str(c.name.clone())));
        }
        if let Some(lifecycle) = &c.lifecycle {
            errs.extend(validate_lifecycle(lifecycle, ctx.grace_period, &p.child("lifecycle")));
        }
        errs.extend(probes(c, ctx, &p));
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(host_port_conflicts(containers, path));
    errs
}

/// `validateInitContainers`: names unique across both lists; only restartable (sidecar) init
/// containers may have hooks and probes; each init container's host ports are checked alone
/// because init containers run one at a time.
pub fn validate_init_containers(
    init: &[Container],
    regular: &[Container],
    ctx: PodContext<'_>,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = Vec::new();
    let mut names: BTreeSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in init.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, ctx, &p));
        let mut restart_always = false;
        if let Some(policy) = &c.restart_policy {
            restart_always = policy == "Always";
            if !restart_always {
                errs.push(FieldError::not_supported(
                    &p.child("restartPolicy"),
                    render::named_string(policy),
                    &["Always"],
                ));
            }
        }
        if names.contains(c.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), BadValue::Str(c.name.clone())));
        } else if !c.name.is_empty() {
            names.insert(c.name.as_str());
        }
        // Upstream checks a one-element slice, so the reported index is always 0.
        errs.extend(host_port_conflicts(std::slice::from_ref(c), path));
        if restart_always {
            if let Some(lifecycle) = &c.lifecycle {
                errs.extend(validate_lifecycle(lifecycle, ctx.grace_period, &p.child("lifecycle")));
            }
            errs.extend(probes(c, ctx, &p));
        } else {
            for (field, set) in [
                ("lifecycle", c.lifecycle.is_some()),
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ] {
                if set {
                    errs.push(FieldError::forbidden(
                        &p.child(field),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
    errs
}

fn probes(c: &Container, ctx: PodContext<'_>, p: &FieldPath) -> ErrorList {
    let mut errs = validate_probe(
        c.liveness_probe.as_ref(),
        ProbeKind::Liveness,
        ctx.grace_period,
        &p.child("livenessProbe"),
    );
    errs.extend(validate_probe(
        c.readiness_probe.as_ref(),
        ProbeKind::Readiness,
        ctx.grace_period,
        &p.child("readinessProbe"),
    ));
    errs.extend(validate_probe(
        c.startup_probe.as_ref(),
        ProbeKind::Startup,
        ctx.grace_period,
        &p.child("startupProbe"),
    ));
    errs
}

/// `validateContainerCommon`.
fn validate_container_common(c: &Container, ctx: PodContext<'_>, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    let name_path = path.child("name");
    if c.name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        errs.extend(validate_dns1123_label(&c.name, &name_path));
    }
    if c.image.as_deref().unwrap_or_default().is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    }
    errs.extend(enum_field(
        c.termination_message_policy.as_deref(),
        &TERMINATION_MESSAGE_POLICIES,
        &path.child("terminationMessagePolicy"),
    ));
    errs.extend(validate_ports(c.ports.as_deref().unwrap_or_default(), &path.child("ports")));
    errs.extend(validate_env(c.env.as_deref().unwrap_or_default(), &path.child("env")));
    errs.extend(validate_env_from(c.env_from.as_deref().unwrap_or_default(), &path.child("envFrom")));
    errs.extend(validate_volume_mounts(c, ctx.volumes, &path.child("volumeMounts")));
    errs.extend(enum_field(c.image_pull_policy.as_deref(), &PULL_POLICIES, &path.child("imagePullPolicy")));
    errs.extend(validate_container_resources(c.resources.as_ref(), &path.child("resources")));
    errs
}

/// A required enum: Required when empty, NotSupported when unknown.
fn enum_field(value: Option<&str>, allowed: &[&str], path: &FieldPath) -> ErrorList {
    match value.unwrap_or_default() {
        "" => vec![FieldError::required(path, "")],
        v if allowed.contains(&v) => Vec::new(),
        v => vec![FieldError::not_supported(path, render::named_string(v), allowed)],
    }
}

/// `validateContainerPorts`.
fn validate_ports(ports: &[ContainerPort], path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(FieldError::invalid(&p.child("name"), BadValue::Str(name.into()), m));
                }
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(&p.child("name"), BadValue::Str(name.into())));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            for m in is_valid_port_num(i64::from(port.container_port)) {
                errs.push(FieldError::invalid(
                    &p.child("containerPort"),
                    BadValue::Int(port.container_port.into()),
                    m,
                ));
            }
        }
        if let Some(host_port) = port.host_port.filter(|hp| *hp != 0) {
            for m in is_valid_port_num(i64::from(host_port)) {
                errs.push(FieldError::invalid(&p.child("hostPort"), BadValue::Int(host_port.into()), m));
            }
        }
        errs.extend(enum_field(port.protocol.as_deref(), &PROTOCOLS, &p.child("protocol")));
    }
    errs
}

/// `AccumulateUniqueHostPorts`: a `protocol/hostIP/port` triple may be used only once.
fn host_port_conflicts(containers: &[Container], path: &FieldPath) -> ErrorList {
    let mut seen = BTreeSet::new();
    let mut errs = Vec::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in c.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{}",
                port.protocol.as_deref().unwrap_or_default(),
                port.host_ip.as_deref().unwrap_or_default(),
                host_port
            );
            if !seen.insert(key.clone()) {
                let p = path.index(ci).child("ports").index(pi).child("hostPort");
                errs.push(FieldError::duplicate(&p, BadValue::Str(key)));
            }
        }
    }
    errs
}

/// `ValidateVolumeMounts`. Upstream reports subPath and propagation problems at the list's path
/// (`volumeMounts.subPath`), not the item's; that quirk is kept.
fn validate_volume_mounts(c: &Container, volumes: &ValidVolumes, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    let mut mount_points = BTreeSet::new();
    let privileged = c.security_context.as_ref().and_then(|s| s.privileged).unwrap_or(false);
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let p = path.index(i);
        if m.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if !volumes.contains(&m.name) {
            errs.push(FieldError::not_found(&p.child("name"), BadValue::Str(m.name.clone())));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        }
        if !mount_points.insert(m.mount_path.as_str()) {
            errs.push(FieldError::invalid(
                &p.child("mountPath"),
                BadValue::Str(m.mount_path.clone()),
                "must be unique",
            ));
        }
        let sub_path = m.sub_path.as_deref().unwrap_or_default();
        if !sub_path.is_empty() {
            errs.extend(validate_local_descending_path(sub_path, &path.child("subPath")));
        }
        let sub_path_expr = m.sub_path_expr.as_deref().unwrap_or_default();
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    &p.child("subPathExpr"),
                    BadValue::Str(sub_path_expr.into()),
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(validate_local_descending_path(sub_path_expr, &path.child("subPathExpr")));
        }
        errs.extend(validate_mount_propagation(m, privileged, &path.child("mountPropagation")));
        errs.extend(validate_recursive_read_only(m, &path.child("recursiveReadOnly")));
    }
    errs
}

fn validate_mount_propagation(m: &VolumeMount, privileged: bool, path: &FieldPath) -> ErrorList {
    let Some(mode) = m.mount_propagation.as_deref() else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    if !MOUNT_PROPAGATIONS.contains(&mode) {
        errs.push(FieldError::not_supported(path, render::named_string(mode), &MOUNT_PROPAGATIONS));
    }
    if mode == "Bidirectional" && !privileged {
        errs.push(FieldError::forbidden(
            path,
            "Bidirectional mount propagation is available only to privileged containers",
        ));
    }
    errs
}

fn validate_recursive_read_only(m: &VolumeMount, path: &FieldPath) -> ErrorList {
    match m.recursive_read_only.as_deref() {
        None | Some("Disabled") => Vec::new(),
        Some("Enabled" | "IfPossible") => {
            let mut errs = Vec::new();
            if !m.read_only.unwrap_or(false) {
                errs.push(FieldError::forbidden(path, "may only be specified when readOnly is true"));
            }
            if m.mount_propagation.as_deref().is_some_and(|p| p != "None") {
                errs.push(FieldError::forbidden(
                    path,
                    "may only be specified when mountPropagation is None or not specified",
                ));
            }
            errs
        }
        Some(other) => {
            vec![FieldError::not_supported(path, render::named_string(other), &RECURSIVE_READ_ONLY)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::SecurityContext;

    fn container(name: &str) -> Container {
        Container {
            name: name.into(),
            image: Some("busybox:1.36".into()),
            image_pull_policy: Some("IfNotPresent".into()),
            termination_message_policy: Some("File".into()),
            ..Default::default()
        }
    }

    fn port(container_port: i32, host_port: Option<i32>) -> ContainerPort {
        ContainerPort { container_port, host_port, protocol: Some("TCP".into()), ..Default::default() }
    }

    fn check(containers: &[Container], volumes: &[&str]) -> Vec<String> {
        let volumes: ValidVolumes = volumes.iter().map(|v| v.to_string()).collect();
        let ctx = PodContext { volumes: &volumes, grace_period: Some(30) };
        validate_containers(containers, ctx, &FieldPath::new("containers"))
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn at_least_one_container_is_required() {
        assert_eq!(check(&[], &[]), ["containers: Required value"]);
    }

    #[test]
    fn image_is_required() {
        let mut c = container("agent");
        c.image = None;
        assert_eq!(check(&[c], &[]), ["containers[0].image: Required value"]);
    }

    #[test]
    fn names_are_unique_dns_labels() {
        let msgs = check(&[container("agent"), container("agent"), container("Agent")], &[]);
        assert_eq!(msgs[0], r#"containers[1].name: Duplicate value: "agent""#);
        assert!(
            msgs[1].starts_with(r#"containers[2].name: Invalid value: "Agent": a lowercase RFC 1123 label"#)
        );
        assert_eq!(msgs.len(), 2);
    }

    #[test]
    fn enums_are_checked_with_upstream_value_lists() {
        let mut c = container("agent");
        c.image_pull_policy = Some("Sometimes".into());
        c.termination_message_policy = Some("Log".into());
        assert_eq!(
            check(&[c], &[]),
            [
                r#"containers[0].terminationMessagePolicy: Unsupported value: "Log": supported values: "File", "FallbackToLogsOnError""#,
                r#"containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never""#,
            ]
        );
    }

    #[test]
    fn ports_are_in_range_with_known_protocols_and_unique_names() {
        let mut c = container("agent");
        let mut named = port(9100, None);
        named.name = Some("metrics".into());
        let mut bad_proto = port(70000, Some(70000));
        bad_proto.protocol = Some("QUIC".into());
        bad_proto.name = Some("metrics".into());
        c.ports = Some(vec![named, bad_proto, port(0, None)]);
        assert_eq!(
            check(&[c], &[]),
            [
                r#"containers[0].ports[1].name: Duplicate value: "metrics""#,
                "containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "containers[0].ports[1].hostPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                r#"containers[0].ports[1].protocol: Unsupported value: "QUIC": supported values: "SCTP", "TCP", "UDP""#,
                "containers[0].ports[2].containerPort: Required value",
            ]
        );
    }

    #[test]
    fn a_host_port_may_be_used_once_across_containers() {
        let mut a = container("a");
        a.ports = Some(vec![port(80, Some(8080))]);
        let mut b = container("b");
        b.ports = Some(vec![port(81, Some(8080))]);
        assert_eq!(check(&[a, b], &[]), [r#"containers[1].ports[0].hostPort: Duplicate value: "TCP//8080""#]);
    }

    #[test]
    fn mounts_must_name_a_declared_volume_and_a_unique_path() {
        let mut c = container("agent");
        let mount = |name: &str, path: &str| VolumeMount {
            name: name.into(),
            mount_path: path.into(),
            ..Default::default()
        };
        c.volume_mounts =
            Some(vec![mount("logs", "/var/log"), mount("cache", "/var/log"), mount("logs", "")]);
        assert_eq!(
            check(&[c], &["logs"]),
            [
                r#"containers[0].volumeMounts[1].name: Not found: "cache""#,
                r#"containers[0].volumeMounts[1].mountPath: Invalid value: "/var/log": must be unique"#,
                "containers[0].volumeMounts[2].mountPath: Required value",
            ]
        );
    }

    #[test]
    fn bidirectional_propagation_needs_a_privileged_container() {
        let mut c = container("agent");
        c.volume_mounts = Some(vec![VolumeMount {
            name: "root".into(),
            mount_path: "/host".into(),
            mount_propagation: Some("Bidirectional".into()),
            ..Default::default()
        }]);
        assert_eq!(
            check(std::slice::from_ref(&c), &["root"]),
            [
                "containers[0].volumeMounts.mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers"
            ]
        );
        c.security_context = Some(SecurityContext { privileged: Some(true), ..Default::default() });
        assert!(check(&[c], &["root"]).is_empty());
    }

    #[test]
    fn regular_containers_may_not_set_a_restart_policy() {
        let mut c = container("agent");
        c.restart_policy = Some("Always".into());
        assert_eq!(
            check(&[c], &[]),
            ["containers[0].restartPolicy: Forbidden: may not be set for non-init containers"]
        );
    }

    #[test]
    fn init_container_names_collide_with_regular_ones_and_probes_need_sidecars() {
        let volumes = ValidVolumes::new();
        let ctx = PodContext { volumes: &volumes, grace_period: Some(30) };
        let mut init = container("agent");
        init.readiness_probe = Some(Default::default());
        let mut sidecar = container("proxy");
        sidecar.restart_policy = Some("OnFailure".into());
        let errs = validate_init_containers(
            &[init, sidecar],
            &[container("agent")],
            ctx,
            &FieldPath::new("initContainers"),
        );
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            msgs,
            [
                r#"initContainers[0].name: Duplicate value: "agent""#,
                "initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
                r#"initContainers[1].restartPolicy: Unsupported value: "OnFailure": supported values: "Always""#,
            ]
        );
    }
}
