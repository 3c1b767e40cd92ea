//! Strategies of the simpler built-in kinds: namespaces, nodes, config maps, secrets, service
//! accounts, events and controller revisions.

use std::marker::PhantomData;

use everynode_api::validation::meta::{
    FIELD_IMMUTABLE_ERROR_MSG, NameFn, name_is_dns_label, name_is_dns_subdomain, validate_object_meta,
    validate_object_meta_update,
};
use everynode_api::{BadValue, ErrorList, FieldError, FieldPath};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Decoded, Strategy, decode_typed, pointer_str};
use crate::error::ApiResult;

/// Metadata validation for create; cluster-scoped kinds must not demand a namespace.
pub(crate) fn validate_meta(object: &Value, namespaced: bool, name_fn: NameFn) -> ErrorList {
    let meta: ObjectMeta =
        object.get("metadata").cloned().and_then(|m| serde_json::from_value(m).ok()).unwrap_or_default();
    let errs = validate_object_meta(&meta, name_fn, &FieldPath::new("metadata"));
    if namespaced { errs } else { errs.into_iter().filter(|e| e.field != "metadata.namespace").collect() }
}

/// Metadata validation for update.
pub(crate) fn validate_meta_update(new: &Value, old: &Value, namespaced: bool, name_fn: NameFn) -> ErrorList {
    let parse = |o: &Value| -> ObjectMeta {
        o.get("metadata").cloned().and_then(|m| serde_json::from_value(m).ok()).unwrap_or_default()
    };
    let mut errs = validate_meta(new, namespaced, name_fn);
    errs.extend(validate_object_meta_update(&parse(new), &parse(old), &FieldPath::new("metadata")));
    errs
}

/// A typed kind with no rules beyond metadata: config maps, service accounts.
pub struct PlainStrategy<K> {
    kind: &'static str,
    namespaced: bool,
    name_fn: NameFn,
    _kind: PhantomData<fn() -> K>,
}

impl<K> std::fmt::Debug for PlainStrategy<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainStrategy").field("kind", &self.kind).finish()
    }
}

impl<K> PlainStrategy<K> {
    /// The strategy of `kind`, whose names are DNS subdomains.
    pub fn new(kind: &'static str, namespaced: bool) -> Self {
        PlainStrategy { kind, namespaced, name_fn: name_is_dns_subdomain, _kind: PhantomData }
    }
}

impl<K: DeserializeOwned + Serialize + 'static> Strategy for PlainStrategy<K> {
    fn decode(&self, object: Value) -> ApiResult<Decoded> {
        decode_typed::<K>(object, self.kind, "v1")
    }
    fn create(&self, object: &mut Value) -> ErrorList {
        validate_meta(object, self.namespaced, self.name_fn)
    }
    fn update(&self, new: &mut Value, old: &Value) -> ErrorList {
        validate_meta_update(new, old, self.namespaced, self.name_fn)
    }
}

/// Config maps: metadata rules plus immutability (`immutable: true` freezes data).
pub type ConfigMapStrategy = DataStrategy<k8s_openapi::api::core::v1::ConfigMap>;
/// Secrets: like config maps, plus `type` (default Opaque, immutable) and `stringData`.
pub type SecretStrategy = DataStrategy<k8s_openapi::api::core::v1::Secret>;

/// Config maps and secrets.
pub struct DataStrategy<K> {
    kind: &'static str,
    _kind: PhantomData<fn() -> K>,
}

impl<K> std::fmt::Debug for DataStrategy<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataStrategy").field("kind", &self.kind).finish()
    }
}

impl<K> DataStrategy<K> {
    /// The strategy of `kind` (`ConfigMap` or `Secret`).
    pub fn new(kind: &'static str) -> Self {
        DataStrategy { kind, _kind: PhantomData }
    }

    fn is_secret(&self) -> bool {
        self.kind == "Secret"
    }

    fn prepare(&self, object: &mut Value) {
        if !self.is_secret() {
            return;
        }
        // `stringData` is write-only: merged into `data` (base64) as the Secret is stored.
        if let Some(Value::Object(string_data)) = object.as_object_mut().and_then(|o| o.remove("stringData"))
        {
            let data = object.as_object_mut().map(|o| o.entry("data").or_insert_with(|| json!({})));
            if let Some(Value::Object(data)) = data {
                for (key, value) in string_data {
                    if let Some(text) = value.as_str() {
                        data.insert(key, Value::String(base64_encode(text.as_bytes())));
                    }
                }
            }
        }
        if object.get("type").is_none_or(Value::is_null) {
            object["type"] = json!("Opaque");
        }
    }
}

impl<K: DeserializeOwned + Serialize + 'static> Strategy for DataStrategy<K> {
    fn decode(&self, object: Value) -> ApiResult<Decoded> {
        decode_typed::<K>(object, self.kind, "v1")
    }
    fn create(&self, object: &mut Value) -> ErrorList {
        self.prepare(object);
        validate_meta(object, true, name_is_dns_subdomain)
    }
    fn update(&self, new: &mut Value, old: &Value) -> ErrorList {
        self.prepare(new);
        let mut errs = validate_meta_update(new, old, true, name_is_dns_subdomain);
        if old.get("immutable").and_then(Value::as_bool) == Some(true) {
            for field in ["data", "binaryData"] {
                if new.get(field) != old.get(field) {
                    errs.push(FieldError::forbidden(
                        &FieldPath::new(field),
                        "field is immutable when `immutable` is set",
                    ));
                }
            }
            if new.get("immutable") != old.get("immutable") {
                errs.push(FieldError::forbidden(
                    &FieldPath::new("immutable"),
                    "field is immutable when `immutable` is set",
                ));
            }
        }
        if self.is_secret() && new.get("type") != old.get("type") {
            errs.push(FieldError::invalid(
                &FieldPath::new("type"),
                BadValue::Str(new.get("type").and_then(Value::as_str).unwrap_or_default().to_owned()),
                FIELD_IMMUTABLE_ERROR_MSG,
            ));
        }
        errs
    }
    fn field_labels(&self) -> &'static [&'static str] {
        if self.is_secret() { &["type"] } else { &[] }
    }
    fn field_value(&self, object: &Value, label: &str) -> Option<String> {
        (label == "type").then(|| pointer_str(object, "/type")).flatten()
    }
}

/// Standard base64 with padding, as Secret data is encoded.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Namespaces: DNS-label names, the `kubernetes` finalizer, phase Active, and the
/// `kubernetes.io/metadata.name` label upstream adds to every namespace.
#[derive(Debug, Default)]
pub struct NamespaceStrategy;

impl NamespaceStrategy {
    fn prepare(object: &mut Value) {
        let name = crate::meta::name(object).to_owned();
        let meta = crate::meta::metadata_mut(object);
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Value::Object(labels) = labels {
            labels.insert("kubernetes.io/metadata.name".into(), Value::String(name));
        }
    }
}

impl Strategy for NamespaceStrategy {
    fn decode(&self, object: Value) -> ApiResult<Decoded> {
        decode_typed::<k8s_openapi::api::core::v1::Namespace>(object, "Namespace", "v1")
    }
    fn create(&self, object: &mut Value) -> ErrorList {
        Self::prepare(object);
        if object.pointer("/spec/finalizers").is_none() {
            object["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        object["status"] = json!({"phase": "Active"});
        validate_meta(object, false, name_is_dns_label)
    }
    fn update(&self, new: &mut Value, old: &Value) -> ErrorList {
        Self::prepare(new);
        // spec.finalizers change only through /finalize.
        match old.get("spec") {
            Some(spec) => new["spec"] = spec.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("spec");
                }
            }
        }
        validate_meta_update(new, old, false, name_is_dns_label)
    }
    fn status_update(&self, new: &mut Value, old: &Value) -> ErrorList {
        Self::prepare(new);
        validate_meta_update(new, old, false, name_is_dns_label)
    }
    fn field_labels(&self) -> &'static [&'static str] {
        &["status.phase"]
    }
    fn field_value(&self, object: &Value, label: &str) -> Option<String> {
        (label == "status.phase").then(|| pointer_str(object, "/status/phase")).flatten()
    }
}

/// Nodes: cluster-scoped, DNS-subdomain names, `spec.unschedulable` field selector.
#[derive(Debug, Default)]
pub struct NodeStrategy;

impl Strategy for NodeStrategy {
    fn decode(&self, object: Value) -> ApiResult<Decoded> {
        decode_typed::<k8s_openapi::api::core::v1::Node>(object, "Node", "v1")
    }
    fn create(&self, object: &mut Value) -> ErrorList {
        let mut errs = validate_meta(object, false, name_is_dns_subdomain);
        errs.extend(validate_taints(object));
        errs
    }
    fn update(&self, new: &mut Value, old: &Value) -> ErrorList {
        let mut errs = validate_meta_update(new, old, false, name_is_dns_subdomain);
        errs.extend(validate_taints(new));
        errs
    }
    fn status_update(&self, new: &mut Value, old: &Value) -> ErrorList {
        validate_meta_update(new, old, false, name_is_dns_subdomain)
    }
    fn field_labels(&self) -> &'static [&'static str] {
        &["spec.unschedulable"]
    }
    fn field_value(&self, object: &Value, label: &str) -> Option<String> {
        (label == "spec.unschedulable")
            .then(|| {
                Some(
                    object
                        .pointer("/spec/unschedulable")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                        .to_string(),
                )
            })
            .flatten()
    }
}

/// Node taints need a valid key and one of the three effects; the scheduler and the DaemonSet
/// controller rely on both.
fn validate_taints(node: &Value) -> ErrorList {
    let mut errs = Vec::new();
    let Some(taints) = node.pointer("/spec/taints").and_then(Value::as_array) else { return errs };
    let path = FieldPath::new("spec").child("taints");
    let mut seen = std::collections::HashSet::new();
    for (i, taint) in taints.iter().enumerate() {
        let p = path.index(i);
        let key = taint.get("key").and_then(Value::as_str).unwrap_or_default();
        errs.extend(everynode_api::validation::meta::validate_qualified_name(key, &p.child("key")));
        let effect = taint.get("effect").and_then(Value::as_str).unwrap_or_default();
        match effect {
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {
                if !seen.insert((key.to_owned(), effect.to_owned())) {
                    errs.push(FieldError::duplicate(&p, BadValue::Str(format!("{key}:{effect}"))));
                }
            }
            "" => errs.push(FieldError::required(&p.child("effect"), "")),
            other => errs.push(FieldError::not_supported(
                &p.child("effect"),
                BadValue::Str(other.to_owned()),
                &["NoExecute", "NoSchedule", "PreferNoSchedule"],
            )),
        }
    }
    errs
}

/// Controller revisions: `data` is required and immutable, `revision` non-negative.
#[derive(Debug, Default)]
pub struct RevisionStrategy;

impl RevisionStrategy {
    fn validate(object: &Value) -> ErrorList {
        let mut errs = validate_meta(object, true, name_is_dns_subdomain);
        if object.get("data").is_none_or(Value::is_null) {
            errs.push(FieldError::required(&FieldPath::new("data"), "data is mandatory"));
        }
        let revision = object.get("revision").and_then(Value::as_i64).unwrap_or(0);
        errs.extend(everynode_api::validation::meta::validate_nonnegative(
            revision,
            &FieldPath::new("revision"),
        ));
        errs
    }
}

impl Strategy for RevisionStrategy {
    fn decode(&self, object: Value) -> ApiResult<Decoded> {
        decode_typed::<k8s_openapi::api::apps::v1::ControllerRevision>(object, "ControllerRevision", "v1")
    }
    fn create(&self, object: &mut Value) -> ErrorList {
        Self::validate(object)
    }
    fn update(&self, new: &mut Value, old: &Value) -> ErrorList {
        let mut errs = Self::validate(new);
        errs.extend(validate_meta_update(new, old, true, name_is_dns_subdomain));
        if new.get("data") != old.get("data") {
            errs.push(FieldError::invalid(
                &FieldPath::new("data"),
                BadValue::Omit,
                FIELD_IMMUTABLE_ERROR_MSG,
            ));
        }
        errs
    }
}

/// core/v1 events: metadata rules and upstream's field selectors (kubectl describe lists events
/// by `involvedObject.*`).
#[derive(Debug, Default)]
pub struct EventStrategy;

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

impl Strategy for EventStrategy {
    fn decode(&self, object: Value) -> ApiResult<Decoded> {
        decode_typed::<k8s_openapi::api::core::v1::Event>(object, "Event", "v1")
    }
    fn create(&self, object: &mut Value) -> ErrorList {
        let mut errs = validate_meta(object, true, name_is_dns_subdomain);
        if object.get("involvedObject").is_none_or(Value::is_null) {
            errs.push(FieldError::required(&FieldPath::new("involvedObject"), ""));
        }
        errs
    }
    fn update(&self, new: &mut Value, old: &Value) -> ErrorList {
        validate_meta_update(new, old, true, name_is_dns_subdomain)
    }
    fn field_labels(&self) -> &'static [&'static str] {
        EVENT_FIELDS
    }
    fn field_value(&self, object: &Value, label: &str) -> Option<String> {
        match label {
            "source" => pointer_str(object, "/source/component"),
            "reportingComponent" => pointer_str(object, "/reportingComponent"),
            other => pointer_str(object, &format!("/{}", other.replace('.', "/"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn secret_string_data_is_merged_into_data_and_type_defaults_to_opaque() {
        let mut secret =
            json!({"metadata": {"name": "s", "namespace": "default"}, "stringData": {"pw": "hunter2"}});
        let errs = SecretStrategy::new("Secret").create(&mut secret);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(secret["data"]["pw"], "aHVudGVyMg==");
        assert_eq!(secret["type"], "Opaque");
        assert!(secret.get("stringData").is_none());
    }

    #[test]
    fn node_taints_need_a_known_effect() {
        let mut node =
            json!({"metadata": {"name": "n"}, "spec": {"taints": [{"key": "a", "effect": "Sometimes"}]}});
        let errs = NodeStrategy.create(&mut node);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec.taints[0].effect");
    }

    #[test]
    fn namespaces_get_their_name_label_finalizer_and_phase() {
        let mut ns = json!({"metadata": {"name": "team-a"}});
        assert!(NamespaceStrategy.create(&mut ns).is_empty());
        assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a");
        assert_eq!(ns["spec"]["finalizers"][0], "kubernetes");
        assert_eq!(ns["status"]["phase"], "Active");
    }
}
