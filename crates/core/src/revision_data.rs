//! The bytes a ControllerRevision stores, and the hash that names it.
//!
//! `kubectl rollout undo` sends a revision's `data` verbatim as a strategic merge patch and first
//! compares it byte for byte with the same patch computed from the live DaemonSet by Go's JSON
//! encoder, to print "skipped rollback (current template already matches revision N)". So the
//! data is `{"spec":{"template":{...,"$patch":"replace"}}}` with sorted keys, normalised to what
//! Go's encoder emits for the same template.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{Map, Value};

/// The alphabet upstream uses for hashes: no vowels (no accidental words), no look-alikes.
const HASH_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The template as Go's encoder would emit it: no `creationTimestamp` in metadata (since
/// Kubernetes 1.34 a zero timestamp is `omitzero`; older encoders wrote `null`, which kubectl
/// 1.37 no longer matches), `resources: {}` in every container, and no empty
/// label/annotation/selector maps (Go's `omitempty` drops them while serde keeps `Some(empty)`).
pub fn canonical_template(template: &PodTemplateSpec) -> Value {
    let mut value = serde_json::to_value(template).unwrap_or(Value::Null);
    let Value::Object(root) = &mut value else {
        return value;
    };
    let metadata = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = metadata {
        drop_empty(m, &["labels", "annotations"]);
        if m.get("creationTimestamp").is_some_and(Value::is_null) {
            m.remove("creationTimestamp");
        }
    }
    if let Some(Value::Object(spec)) = root.get_mut("spec") {
        drop_empty(spec, &["nodeSelector"]);
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            if let Some(Value::Array(containers)) = spec.get_mut(list) {
                for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                    let resources = c.entry("resources").or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(r) = resources {
                        drop_empty(r, &["limits", "requests"]);
                    }
                }
            }
        }
    }
    value
}

fn drop_empty(map: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if map.get(*key).is_some_and(|v| v.as_object().is_some_and(Map::is_empty)) {
            map.remove(*key);
        }
    }
}

/// The revision data for a template (upstream `getPatch`).
pub fn revision_data(template: &PodTemplateSpec) -> Value {
    let mut template = canonical_template(template);
    if let Value::Object(t) = &mut template {
        t.insert("$patch".to_string(), Value::String("replace".to_string()));
    }
    let mut spec = Map::new();
    spec.insert("template".to_string(), template);
    let mut root = Map::new();
    root.insert("spec".to_string(), Value::Object(spec));
    Value::Object(root)
}

/// 32-bit FNV-1a, the hash upstream's `ComputeHash` uses.
fn fnv1a32(chunks: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for chunk in chunks {
        for &b in *chunk {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// `rand.SafeEncodeString`: maps each byte into the vowel-free alphabet.
fn safe_encode(s: &str) -> String {
    s.bytes().map(|b| HASH_ALPHABET[usize::from(b) % HASH_ALPHABET.len()] as char).collect()
}

/// The revision hash of a template and collision count: FNV-1a over the canonical template JSON
/// (sorted keys, so semantically equal templates hash equally) and, when set, the collision count
/// as eight little-endian bytes, written in decimal and then in the safe alphabet. Like upstream
/// (which hashes a Go dump instead), the value is stable but not byte-equal to upstream's.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let json = serde_json::to_vec(&canonical_template(template)).unwrap_or_default();
    let hash = match collision_count {
        Some(c) => {
            let mut bytes = [0u8; 8];
            bytes[..4].copy_from_slice(&(c as u32).to_le_bytes());
            fnv1a32(&[&json, &bytes])
        }
        None => fnv1a32(&[&json]),
    };
    safe_encode(&hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "x".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn revision_data_is_the_go_encoded_replace_patch_with_sorted_keys() {
        let data = serde_json::to_string(&revision_data(&template("nginx:1"))).unwrap();
        assert_eq!(
            data,
            r#"{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"image":"nginx:1","name":"c","resources":{}}]}}}}"#
        );
    }

    #[test]
    fn hashes_use_the_safe_alphabet_and_track_content_and_collisions() {
        let a = template_hash(&template("nginx:1"), None);
        assert!(!a.is_empty() && a.bytes().all(|b| HASH_ALPHABET.contains(&b)), "{a}");
        assert_eq!(a, template_hash(&template("nginx:1"), None));
        assert_ne!(a, template_hash(&template("nginx:2"), None));
        assert_ne!(a, template_hash(&template("nginx:1"), Some(1)));
        assert_ne!(
            template_hash(&template("nginx:1"), Some(1)),
            template_hash(&template("nginx:1"), Some(2))
        );
    }

    #[test]
    fn empty_maps_do_not_change_the_hash() {
        let mut t = template("nginx:1");
        let plain = template_hash(&t, None);
        if let Some(spec) = t.spec.as_mut() {
            spec.node_selector = Some(Default::default());
        }
        assert_eq!(plain, template_hash(&t, None));
    }
}
