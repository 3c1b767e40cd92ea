//! Pod volumes (core validation's `ValidateVolumes` and `validateVolumeSource`).
//!
//! Every volume needs a unique DNS-label name and exactly one source. The sources a node agent
//! typically mounts (emptyDir, hostPath, configMap, secret, downwardAPI, projected, PVC, NFS) get
//! their upstream field checks; the rarer cloud and network sources are only counted.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    DownwardAPIVolumeFile, HostPathVolumeSource, KeyToPath, ObjectFieldSelector, ProjectedVolumeSource,
    Volume,
};

use crate::field::{BadValue, ErrorList, FieldError, FieldPath};
use crate::validation::meta::{validate_dns1123_label, validate_qualified_name};
use crate::validation::quantity::Quantity;
use crate::validation::render;

const FILE_MODE_ERROR_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";
/// `supportedHostPathTypes`, sorted as `sets.List` returns them.
const HOST_PATH_TYPES: [&str; 8] =
    ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];
/// Field paths a downward API volume file may reference.
const VOLUME_DOWNWARD_API_FIELDS: [&str; 5] =
    ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"];

/// The names of the volumes that validated cleanly; mounts may only refer to these (upstream
/// leaves invalid volumes out of the map, so a mount of a broken volume is also "Not found").
pub type ValidVolumes = BTreeSet<String>;

/// `ValidateVolumes`.
pub fn validate_volumes(volumes: &[Volume], path: &FieldPath) -> (ValidVolumes, ErrorList) {
    let mut names = ValidVolumes::new();
    let mut errs = Vec::new();
    for (i, vol) in volumes.iter().enumerate() {
        let p = path.index(i);
        let name_path = p.child("name");
        let mut el = validate_volume_source(vol, &p);
        if vol.name.is_empty() {
            el.push(FieldError::required(&name_path, ""));
        } else {
            el.extend(validate_dns1123_label(&vol.name, &name_path));
        }
        if names.contains(&vol.name) {
            el.push(FieldError::duplicate(&name_path, BadValue::Str(vol.name.clone())));
        }
        if el.is_empty() {
            names.insert(vol.name.clone());
        } else {
            errs.extend(el);
        }
    }
    (names, errs)
}

/// The sources that are set, in upstream's checking order, with the path segment upstream uses
/// when it forbids a second one (including its `downwarAPI` typo).
fn sources_set(v: &Volume) -> Vec<&'static str> {
    let present = [
        ("emptyDir", v.empty_dir.is_some()),
        ("hostPath", v.host_path.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("secret", v.secret.is_some()),
        ("nfs", v.nfs.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("flocker", v.flocker.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("rbd", v.rbd.is_some()),
        ("cinder", v.cinder.is_some()),
        ("cephFS", v.cephfs.is_some()),
        ("quobyte", v.quobyte.is_some()),
        ("downwarAPI", v.downward_api.is_some()),
        ("fc", v.fc.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("configMap", v.config_map.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
        ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("storageos", v.storageos.is_some()),
        ("projected", v.projected.is_some()),
        ("scaleIO", v.scale_io.is_some()),
        ("csi", v.csi.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("image", v.image.is_some()),
    ];
    present.into_iter().filter_map(|(name, set)| set.then_some(name)).collect()
}

/// `validateVolumeSource`: the first source is validated, every further one is forbidden.
fn validate_volume_source(v: &Volume, path: &FieldPath) -> ErrorList {
    let sources = sources_set(v);
    let Some(first) = sources.first() else {
        return vec![FieldError::required(path, "must specify a volume type")];
    };
    let mut errs = Vec::new();
    for extra in &sources[1..] {
        errs.push(FieldError::forbidden(&path.child(extra), "may not specify more than 1 volume type"));
    }
    match *first {
        "emptyDir" => {
            let size = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref());
            if size.and_then(|q| Quantity::parse(&q.0).ok()).is_some_and(|q| q.is_negative()) {
                errs.push(FieldError::forbidden(
                    &path.child("emptyDir").child("sizeLimit"),
                    "SizeLimit field must be a valid resource quantity",
                ));
            }
        }
        "hostPath" => {
            if let Some(hp) = &v.host_path {
                errs.extend(validate_host_path(hp, &path.child("hostPath")));
            }
        }
        "secret" => {
            if let Some(s) = &v.secret {
                let p = path.child("secret");
                if s.secret_name.as_deref().unwrap_or_default().is_empty() {
                    errs.push(FieldError::required(&p.child("secretName"), ""));
                }
                errs.extend(validate_mode(s.default_mode, &p.child("defaultMode")));
                errs.extend(validate_items(s.items.as_deref().unwrap_or_default(), &p.child("items")));
            }
        }
        "configMap" => {
            if let Some(c) = &v.config_map {
                let p = path.child("configMap");
                if c.name.is_empty() {
                    errs.push(FieldError::required(&p.child("name"), ""));
                }
                errs.extend(validate_mode(c.default_mode, &p.child("defaultMode")));
                errs.extend(validate_items(c.items.as_deref().unwrap_or_default(), &p.child("items")));
            }
        }
        "downwarAPI" => {
            if let Some(d) = &v.downward_api {
                let p = path.child("downwardAPI");
                errs.extend(validate_mode(d.default_mode, &p.child("defaultMode")));
                for file in d.items.iter().flatten() {
                    // Upstream passes the source path, not an indexed one, for every item.
                    errs.extend(validate_downward_api_file(file, &p));
                }
            }
        }
        "projected" => {
            if let Some(pr) = &v.projected {
                errs.extend(validate_projected(pr, &path.child("projected")));
            }
        }
        "persistentVolumeClaim"
            if v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name.is_empty()) =>
        {
            errs.push(FieldError::required(&path.child("persistentVolumeClaim").child("claimName"), ""));
        }
        "nfs" => {
            if let Some(nfs) = &v.nfs {
                let p = path.child("nfs");
                if nfs.server.is_empty() {
                    errs.push(FieldError::required(&p.child("server"), ""));
                }
                if nfs.path.is_empty() {
                    errs.push(FieldError::required(&p.child("path"), ""));
                }
                if !nfs.path.starts_with('/') {
                    errs.push(FieldError::invalid(
                        &p.child("path"),
                        BadValue::Str(nfs.path.clone()),
                        "must be an absolute path",
                    ));
                }
            }
        }
        _ => {}
    }
    errs
}

fn validate_host_path(hp: &HostPathVolumeSource, path: &FieldPath) -> ErrorList {
    if hp.path.is_empty() {
        return vec![FieldError::required(&path.child("path"), "")];
    }
    let mut errs = validate_path_no_backsteps(&hp.path, &path.child("path"));
    if let Some(t) = &hp.type_
        && !HOST_PATH_TYPES.contains(&t.as_str())
    {
        errs.push(FieldError::not_supported(&path.child("type"), render::named_string(t), &HOST_PATH_TYPES));
    }
    errs
}

fn validate_mode(mode: Option<i32>, path: &FieldPath) -> ErrorList {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => {
            vec![FieldError::invalid(path, BadValue::Int(i64::from(m)), FILE_MODE_ERROR_MSG)]
        }
        _ => Vec::new(),
    }
}

fn validate_items(items: &[KeyToPath], path: &FieldPath) -> ErrorList {
    items.iter().enumerate().flat_map(|(i, kp)| validate_key_to_path(kp, &path.index(i))).collect()
}

fn validate_key_to_path(kp: &KeyToPath, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    if kp.key.is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    }
    if kp.path.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(&kp.path, &path.child("path")));
    errs.extend(validate_mode(kp.mode, &path.child("mode")));
    errs
}

fn validate_downward_api_file(file: &DownwardAPIVolumeFile, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    if file.path.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(&file.path, &path.child("path")));
    match (&file.field_ref, &file.resource_field_ref) {
        (Some(f), other) => {
            errs.extend(validate_object_field_selector(
                f,
                &VOLUME_DOWNWARD_API_FIELDS,
                &path.child("fieldRef"),
            ));
            if other.is_some() {
                errs.push(FieldError::invalid(
                    path,
                    BadValue::Str("resource".into()),
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(r)) => {
            if r.container_name.as_deref().unwrap_or_default().is_empty() {
                errs.push(FieldError::required(&path.child("resourceFieldRef").child("containerName"), ""));
            }
        }
        (None, None) => {
            errs.push(FieldError::required(path, "one of fieldRef and resourceFieldRef is required"))
        }
    }
    errs.extend(validate_mode(file.mode, &path.child("mode")));
    errs
}

fn validate_projected(pr: &ProjectedVolumeSource, path: &FieldPath) -> ErrorList {
    let mut errs = validate_mode(pr.default_mode, &path.child("defaultMode"));
    let mut all_paths = BTreeSet::new();
    for (i, source) in pr.sources.iter().flatten().enumerate() {
        let src_path = path.child("sources").index(i);
        let mut count = 0;
        if let Some(s) = &source.secret {
            count += 1;
            let p = src_path.child("secret");
            if s.name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), ""));
            }
            for (j, kp) in s.items.iter().flatten().enumerate() {
                errs.extend(validate_key_to_path(kp, &p.child("items").index(j)));
                if !kp.path.is_empty() && !all_paths.insert(kp.path.clone()) {
                    errs.push(FieldError::invalid(
                        path,
                        BadValue::Str(s.name.clone()),
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(c) = &source.config_map {
            count += 1;
            let p = src_path.child("configMap");
            if c.name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), ""));
            }
            for (j, kp) in c.items.iter().flatten().enumerate() {
                errs.extend(validate_key_to_path(kp, &p.child("items").index(j)));
                if !kp.path.is_empty() && !all_paths.insert(kp.path.clone()) {
                    errs.push(FieldError::invalid(
                        path,
                        BadValue::Str(c.name.clone()),
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(d) = &source.downward_api {
            count += 1;
            let p = src_path.child("downwardAPI");
            for file in d.items.iter().flatten() {
                errs.extend(validate_downward_api_file(file, &p));
                if !file.path.is_empty() && !all_paths.insert(file.path.clone()) {
                    errs.push(FieldError::invalid(
                        path,
                        BadValue::Str(file.path.clone()),
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(t) = &source.service_account_token {
            count += 1;
            let p = src_path.child("serviceAccountToken");
            let seconds = t.expiration_seconds.unwrap_or(0);
            if seconds < 10 * 60 {
                errs.push(FieldError::invalid(
                    &p.child("expirationSeconds"),
                    BadValue::Int(seconds),
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if seconds > 1 << 32 {
                errs.push(FieldError::invalid(
                    &p.child("expirationSeconds"),
                    BadValue::Int(seconds),
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            if t.path.is_empty() {
                errs.push(FieldError::required(&path.child("path"), ""));
            } else {
                errs.extend(validate_local_non_reserved_path(&t.path, &path.child("path")));
            }
        }
        count += usize::from(source.cluster_trust_bundle.is_some())
            + usize::from(source.pod_certificate.is_some());
        if count > 1 {
            errs.push(FieldError::forbidden(&src_path, "may not specify more than 1 volume type per source"));
        }
    }
    errs
}

/// `validateObjectFieldSelector`: a `v1` field path from `allowed`, or a subscripted
/// `metadata.labels['k']` / `metadata.annotations['k']`.
pub fn validate_object_field_selector(
    fs: &ObjectFieldSelector,
    allowed: &[&str],
    path: &FieldPath,
) -> ErrorList {
    let api_version = fs.api_version.as_deref().unwrap_or_default();
    if api_version.is_empty() {
        return vec![FieldError::required(&path.child("apiVersion"), "")];
    }
    if fs.field_path.is_empty() {
        return vec![FieldError::required(&path.child("fieldPath"), "")];
    }
    if let Err(msg) = convert_downward_api_field_label(api_version, &fs.field_path) {
        return vec![FieldError::invalid(
            &path.child("fieldPath"),
            BadValue::Str(fs.field_path.clone()),
            format!("error converting fieldPath: {msg}"),
        )];
    }
    if let Some((field, subscript)) = split_subscript(&fs.field_path) {
        return match field {
            "metadata.annotations" => validate_qualified_name(&subscript.to_lowercase(), path),
            "metadata.labels" => validate_qualified_name(subscript, path),
            other => {
                vec![FieldError::invalid(path, BadValue::Str(other.into()), "does not support subscript")]
            }
        };
    }
    if !allowed.contains(&fs.field_path.as_str()) {
        return vec![FieldError::not_supported(
            &path.child("fieldPath"),
            BadValue::Str(fs.field_path.clone()),
            allowed,
        )];
    }
    Vec::new()
}

/// `fieldpath.SplitMaybeSubscriptedPath`: `metadata.labels['app']` -> (`metadata.labels`, `app`).
fn split_subscript(field_path: &str) -> Option<(&str, &str)> {
    let inner = field_path.strip_suffix("']")?;
    let (field, key) = inner.split_once("['")?;
    Some((field, key))
}

/// `pods.ConvertDownwardAPIFieldLabel`: only `v1` and the fields a pod can expose.
fn convert_downward_api_field_label(version: &str, label: &str) -> Result<(), String> {
    if version != "v1" {
        return Err(format!("unsupported pod version: {version}"));
    }
    if let Some((field, _)) = split_subscript(label) {
        return match field {
            "metadata.annotations" | "metadata.labels" => Ok(()),
            _ => Err(format!("field label does not support subscript: {label}")),
        };
    }
    match label {
        "metadata.annotations"
        | "metadata.labels"
        | "metadata.name"
        | "metadata.namespace"
        | "metadata.uid"
        | "spec.nodeName"
        | "spec.restartPolicy"
        | "spec.serviceAccountName"
        | "spec.schedulerName"
        | "status.phase"
        | "status.hostIP"
        | "status.hostIPs"
        | "status.podIP"
        | "status.podIPs" => Ok(()),
        _ => Err(format!("field label not supported: {label}")),
    }
}

/// `validatePathNoBacksteps`: no `..` element anywhere.
pub fn validate_path_no_backsteps(target: &str, path: &FieldPath) -> ErrorList {
    if target.replace('\\', "/").split('/').any(|part| part == "..") {
        vec![FieldError::invalid(path, BadValue::Str(target.into()), "must not contain '..'")]
    } else {
        Vec::new()
    }
}

/// `validateLocalDescendingPath`: relative and without backsteps.
pub fn validate_local_descending_path(target: &str, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    if target.starts_with('/') {
        errs.push(FieldError::invalid(path, BadValue::Str(target.into()), "must be a relative path"));
    }
    errs.extend(validate_path_no_backsteps(target, path));
    errs
}

/// `ValidateLocalNonReservedPath`: a local descending path that does not start with `..`.
fn validate_local_non_reserved_path(target: &str, path: &FieldPath) -> ErrorList {
    let mut errs = validate_local_descending_path(target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(FieldError::invalid(path, BadValue::Str(target.into()), "must not start with '..'"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, EmptyDirVolumeSource, SecretVolumeSource};

    fn host_path(name: &str, path: &str) -> Volume {
        Volume {
            name: name.into(),
            host_path: Some(HostPathVolumeSource { path: path.into(), type_: None }),
            ..Default::default()
        }
    }

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    fn volumes_path() -> FieldPath {
        FieldPath::new("spec").child("volumes")
    }

    #[test]
    fn a_volume_without_source_must_specify_a_volume_type() {
        let vol = Volume { name: "v".into(), ..Default::default() };
        let (names, errs) = validate_volumes(&[vol], &volumes_path());
        assert!(names.is_empty());
        assert_eq!(messages(errs), ["spec.volumes[0]: Required value: must specify a volume type"]);
    }

    #[test]
    fn two_sources_are_forbidden_on_the_second() {
        let mut vol = host_path("v", "/var/log");
        vol.empty_dir = Some(EmptyDirVolumeSource::default());
        let (_, errs) = validate_volumes(&[vol], &volumes_path());
        assert_eq!(
            messages(errs),
            ["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"]
        );
    }

    #[test]
    fn names_must_be_unique_dns_labels() {
        let vols = [host_path("logs", "/a"), host_path("logs", "/b"), host_path("Logs", "/c")];
        let (names, errs) = validate_volumes(&vols, &volumes_path());
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["logs"]);
        let msgs = messages(errs);
        assert_eq!(msgs[0], r#"spec.volumes[1].name: Duplicate value: "logs""#);
        assert!(
            msgs[1].starts_with(r#"spec.volumes[2].name: Invalid value: "Logs": a lowercase RFC 1123 label"#)
        );
    }

    #[test]
    fn host_path_needs_a_path_without_backsteps_and_a_known_type() {
        let (_, errs) = validate_volumes(&[host_path("v", "")], &volumes_path());
        assert_eq!(messages(errs), ["spec.volumes[0].hostPath.path: Required value"]);
        let (_, errs) = validate_volumes(&[host_path("v", "/var/../etc")], &volumes_path());
        assert_eq!(
            messages(errs),
            [r#"spec.volumes[0].hostPath.path: Invalid value: "/var/../etc": must not contain '..'"#]
        );
        let mut vol = host_path("v", "/run/x.sock");
        if let Some(hp) = vol.host_path.as_mut() {
            hp.type_ = Some("Pipe".into());
        }
        let (_, errs) = validate_volumes(&[vol], &volumes_path());
        assert_eq!(
            messages(errs),
            [
                r#"spec.volumes[0].hostPath.type: Unsupported value: "Pipe": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket""#
            ]
        );
    }

    #[test]
    fn config_map_and_secret_sources_need_names_and_valid_modes() {
        let cm = Volume {
            name: "c".into(),
            config_map: Some(ConfigMapVolumeSource { default_mode: Some(0o1000), ..Default::default() }),
            ..Default::default()
        };
        let secret =
            Volume { name: "s".into(), secret: Some(SecretVolumeSource::default()), ..Default::default() };
        let (_, errs) = validate_volumes(&[cm, secret], &volumes_path());
        assert_eq!(
            messages(errs),
            [
                "spec.volumes[0].configMap.name: Required value",
                "spec.volumes[0].configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
                "spec.volumes[1].secret.secretName: Required value",
            ]
        );
    }

    #[test]
    fn item_paths_must_stay_inside_the_volume() {
        let cm = Volume {
            name: "c".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: "cfg".into(),
                items: Some(vec![KeyToPath { key: "k".into(), path: "/etc/x".into(), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let (_, errs) = validate_volumes(&[cm], &volumes_path());
        assert_eq!(
            messages(errs),
            [r#"spec.volumes[0].configMap.items[0].path: Invalid value: "/etc/x": must be a relative path"#]
        );
    }

    #[test]
    fn field_selectors_accept_v1_paths_and_subscripts_only() {
        let p = FieldPath::new("fieldRef");
        let sel =
            |v: &str, f: &str| ObjectFieldSelector { api_version: Some(v.into()), field_path: f.into() };
        assert!(validate_object_field_selector(&sel("v1", "metadata.labels['app']"), &[], &p).is_empty());
        assert_eq!(
            messages(validate_object_field_selector(&sel("v1", "spec.nodeName"), &["metadata.name"], &p)),
            [r#"fieldRef.fieldPath: Unsupported value: "spec.nodeName": supported values: "metadata.name""#]
        );
        assert_eq!(
            messages(validate_object_field_selector(&sel("v2", "metadata.name"), &["metadata.name"], &p)),
            [
                r#"fieldRef.fieldPath: Invalid value: "metadata.name": error converting fieldPath: unsupported pod version: v2"#
            ]
        );
    }
}
