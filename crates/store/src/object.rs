//! The few `metadata` fields the store reads and writes on stored JSON objects.

use serde_json::{Map, Value};

use crate::revision::Revision;

/// The object's `metadata.resourceVersion`, if it is set and is one of this store's revisions.
pub fn resource_version(object: &Value) -> Option<Revision> {
    object.get("metadata")?.get("resourceVersion")?.as_str()?.parse().ok()
}

/// Whether `metadata.resourceVersion` is present and non-empty (in any spelling).
pub(crate) fn has_resource_version(object: &Value) -> bool {
    object
        .get("metadata")
        .and_then(|m| m.get("resourceVersion"))
        .is_some_and(|rv| !(rv.is_null() || rv.as_str() == Some("")))
}

/// The object's `metadata.uid`, if set.
pub fn uid(object: &Value) -> Option<&str> {
    object.get("metadata")?.get("uid")?.as_str()
}

/// Sets `metadata.resourceVersion`, creating `metadata` if absent.
///
/// Fails (with a reason) when the object is not a JSON object or its `metadata` is not one.
pub(crate) fn set_resource_version(object: &mut Value, revision: Revision) -> Result<(), String> {
    let Value::Object(fields) = object else {
        return Err("the object is not a JSON object".to_owned());
    };
    let metadata = fields.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(metadata) = metadata else {
        return Err("metadata is not a JSON object".to_owned());
    };
    metadata.insert("resourceVersion".to_owned(), Value::String(revision.to_string()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn set_resource_version_creates_metadata_when_missing() {
        let mut object = json!({"kind": "Pod"});
        set_resource_version(&mut object, Revision::new(7)).unwrap();
        assert_eq!(object, json!({"kind": "Pod", "metadata": {"resourceVersion": "7"}}));
        assert_eq!(resource_version(&object), Some(Revision::new(7)));
    }

    #[test]
    fn set_resource_version_rejects_non_objects() {
        assert!(set_resource_version(&mut json!([1]), Revision::new(1)).is_err());
        assert!(set_resource_version(&mut json!({"metadata": "x"}), Revision::new(1)).is_err());
    }

    #[test]
    fn empty_or_null_resource_versions_count_as_unset() {
        assert!(!has_resource_version(&json!({"metadata": {"resourceVersion": ""}})));
        assert!(!has_resource_version(&json!({"metadata": {"resourceVersion": null}})));
        assert!(!has_resource_version(&json!({"metadata": {}})));
        assert!(has_resource_version(&json!({"metadata": {"resourceVersion": "abc"}})));
    }

    #[test]
    fn uid_reads_metadata_uid() {
        assert_eq!(uid(&json!({"metadata": {"uid": "u-1"}})), Some("u-1"));
        assert_eq!(uid(&json!({"metadata": {}})), None);
    }
}
