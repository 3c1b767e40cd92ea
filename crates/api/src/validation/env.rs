//! Container environment: `env` and `envFrom` (core validation's `ValidateEnv`, `ValidateEnvFrom`).
//!
//! Variable names follow the relaxed rule (any printable ASCII but `=`), which is GA and locked on
//! since Kubernetes 1.34 (`RelaxedEnvironmentVariableValidation`).

use k8s_openapi::api::core::v1::{EnvFromSource, EnvVar, EnvVarSource, ResourceFieldSelector};

use crate::field::{BadValue, ErrorList, FieldError, FieldPath};
use crate::validation::meta::{invalid_each, name_is_dns_subdomain};
use crate::validation::names::{DNS1123_SUBDOMAIN_MAX_LENGTH, max_len_error, regex_error};
use crate::validation::volume::validate_object_field_selector;

/// Field paths an environment variable may take from the pod, sorted as upstream lists them.
const ENV_DOWNWARD_API_FIELDS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
/// Container resources an environment variable may expose, sorted.
const CONTAINER_RESOURCE_FIELDS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// `ValidateEnv`.
pub fn validate_env(vars: &[EnvVar], path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        if ev.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            errs.extend(invalid_each(is_relaxed_env_var_name(&ev.name), &p.child("name"), &ev.name));
        }
        if let Some(from) = &ev.value_from {
            errs.extend(validate_value_from(
                from,
                ev.value.as_deref().unwrap_or_default(),
                &p.child("valueFrom"),
            ));
        }
    }
    errs
}

/// `ValidateEnvFrom`. Upstream reports a missing or doubled source at the list's path.
pub fn validate_env_from(sources: &[EnvFromSource], path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    for (i, ev) in sources.iter().enumerate() {
        let p = path.index(i);
        let prefix = ev.prefix.as_deref().unwrap_or_default();
        if !prefix.is_empty() {
            errs.extend(invalid_each(is_relaxed_env_var_name(prefix), &p.child("prefix"), prefix));
        }
        let mut count = 0;
        for (field, name) in [
            ("configMapRef", ev.config_map_ref.as_ref().map(|r| r.name.as_str())),
            ("secretRef", ev.secret_ref.as_ref().map(|r| r.name.as_str())),
        ] {
            let Some(name) = name else {
                continue;
            };
            count += 1;
            let name_path = p.child(field).child("name");
            if name.is_empty() {
                errs.push(FieldError::required(&name_path, ""));
            } else {
                errs.extend(invalid_each(name_is_dns_subdomain(name, true), &name_path, name));
            }
        }
        if count == 0 {
            errs.push(FieldError::invalid(
                path,
                BadValue::Str(String::new()),
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errs.push(FieldError::invalid(
                path,
                BadValue::Str(String::new()),
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

/// `validateEnvVarValueFrom`: exactly one source, and no literal `value` beside it.
fn validate_value_from(from: &EnvVarSource, value: &str, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    let mut count = 0;
    if let Some(f) = &from.field_ref {
        count += 1;
        errs.extend(validate_object_field_selector(f, &ENV_DOWNWARD_API_FIELDS, &path.child("fieldRef")));
    }
    if let Some(r) = &from.resource_field_ref {
        count += 1;
        errs.extend(validate_resource_field_ref(r, &path.child("resourceFieldRef")));
    }
    for (field, key_ref) in [
        ("configMapKeyRef", from.config_map_key_ref.as_ref().map(|r| (&r.name, &r.key))),
        ("secretKeyRef", from.secret_key_ref.as_ref().map(|r| (&r.name, &r.key))),
    ] {
        if let Some((name, key)) = key_ref {
            count += 1;
            errs.extend(validate_key_selector(name, key, &path.child(field)));
        }
    }
    count += usize::from(from.file_key_ref.is_some());
    let detail = if count == 0 {
        Some("must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`")
    } else if !value.is_empty() {
        Some("may not be specified when `value` is not empty")
    } else if count > 1 {
        Some("may not have more than one field specified at a time")
    } else {
        None
    };
    if let Some(detail) = detail {
        errs.push(FieldError::invalid(path, BadValue::Str(String::new()), detail));
    }
    errs
}

fn validate_resource_field_ref(r: &ResourceFieldSelector, path: &FieldPath) -> ErrorList {
    if r.resource.is_empty() {
        return vec![FieldError::required(&path.child("resource"), "")];
    }
    let hugepages =
        r.resource.starts_with("limits.hugepages-") || r.resource.starts_with("requests.hugepages-");
    if !CONTAINER_RESOURCE_FIELDS.contains(&r.resource.as_str()) && !hugepages {
        return vec![FieldError::not_supported(
            &path.child("resource"),
            BadValue::Str(r.resource.clone()),
            &CONTAINER_RESOURCE_FIELDS,
        )];
    }
    Vec::new()
}

/// `validateConfigMapKeySelector` / `validateSecretKeySelector`: an empty name is reported by the
/// subdomain rule, not as Required, exactly as upstream.
fn validate_key_selector(name: &str, key: &str, path: &FieldPath) -> ErrorList {
    let mut errs = invalid_each(name_is_dns_subdomain(name, false), &path.child("name"), name);
    if key.is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    } else {
        errs.extend(invalid_each(is_config_map_key(key), &path.child("key"), key));
    }
    errs
}

/// `IsRelaxedEnvVarName`.
pub fn is_relaxed_env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.is_empty() {
        errs.push("environment variable name must be non-empty".to_string());
    }
    if value.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push("a valid environment variable name must consist only of printable ASCII characters other than '='".into());
    }
    errs
}

/// `IsConfigMapKey`.
fn is_config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    match value {
        "." => errs.push("must not be '.'".into()),
        ".." => errs.push("must not be '..'".into()),
        v if v.starts_with("..") => errs.push("must not start with '..'".into()),
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMapEnvSource, ObjectFieldSelector, SecretKeySelector};

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    fn env(name: &str) -> EnvVar {
        EnvVar { name: name.into(), value: Some("x".into()), value_from: None }
    }

    #[test]
    fn relaxed_names_allow_dots_and_digits_but_not_equals() {
        let p = FieldPath::new("env");
        assert!(validate_env(&[env("1ST.VAR-x")], &p).is_empty());
        assert_eq!(
            messages(validate_env(&[env("A=B")], &p)),
            [
                r#"env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='"#
            ]
        );
        assert_eq!(messages(validate_env(&[env("")], &p)), ["env[0].name: Required value"]);
    }

    #[test]
    fn value_from_needs_exactly_one_source_and_no_value() {
        let p = FieldPath::new("env");
        let mut ev = env("NODE");
        ev.value_from = Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: Some("v1".into()),
                field_path: "spec.nodeName".into(),
            }),
            ..Default::default()
        });
        assert_eq!(
            messages(validate_env(std::slice::from_ref(&ev), &p)),
            [r#"env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty"#]
        );
        ev.value = None;
        assert!(validate_env(std::slice::from_ref(&ev), &p).is_empty());
        ev.value_from = Some(EnvVarSource::default());
        assert_eq!(
            messages(validate_env(&[ev], &p)),
            [
                r#"env[0].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"#
            ]
        );
    }

    #[test]
    fn secret_key_refs_need_a_valid_name_and_key() {
        let ev = EnvVar {
            name: "KEY".into(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: "creds".into(),
                    key: "a/b".into(),
                    optional: None,
                }),
                ..Default::default()
            }),
        };
        let errs = messages(validate_env(&[ev], &FieldPath::new("env")));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with(
                r#"env[0].valueFrom.secretKeyRef.key: Invalid value: "a/b": a valid config key"#
            )
        );
    }

    #[test]
    fn env_from_requires_a_source() {
        let p = FieldPath::new("envFrom");
        assert_eq!(
            messages(validate_env_from(&[EnvFromSource::default()], &p)),
            [r#"envFrom: Invalid value: "": must specify one of: `configMapRef` or `secretRef`"#]
        );
        let ok = EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource { name: "settings".into(), optional: None }),
            ..Default::default()
        };
        assert!(validate_env_from(&[ok], &p).is_empty());
    }
}
