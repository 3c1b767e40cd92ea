//! The `$`-keys of a strategic merge patch: how they are spelled, parsed and (for `$retainKeys`)
//! applied.

use serde_json::{Map, Value};

use crate::error::StrategicError;

/// `$patch: replace|delete|merge`, on a map or as a list element.
pub(super) const PATCH: &str = "$patch";
/// `$retainKeys: [fields]`: fields of the target map not listed are cleared.
pub(super) const RETAIN_KEYS: &str = "$retainKeys";
/// `$setElementOrder/<field>: [elements]`: the final order of a merged list.
pub(super) const SET_ELEMENT_ORDER: &str = "$setElementOrder";
/// `$deleteFromPrimitiveList/<field>: [values]`: values to remove from a merging list of
/// primitives.
pub(super) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// What a `$patch` directive asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PatchDirective {
    /// Use the patch value instead of merging it.
    Replace,
    /// Remove the map (leaving `{}`), or the list element with this merge key.
    Delete,
    /// Merge as usual. Upstream rejects it; accepting the explicit default is harmless.
    Merge,
}

impl PatchDirective {
    pub(super) fn parse(value: &Value) -> Result<Self, StrategicError> {
        match value.as_str() {
            Some("replace") => Ok(Self::Replace),
            Some("delete") => Ok(Self::Delete),
            Some("merge") => Ok(Self::Merge),
            _ => Err(StrategicError::BadPatchDirective { value: short_json(value) }),
        }
    }
}

/// Whether `key` is a directive and so must never reach a result. Used by callers to check
/// results; the merge itself consumes every directive it meets.
pub fn is_directive_key(key: &str) -> bool {
    key == PATCH
        || key == RETAIN_KEYS
        || key.starts_with(SET_ELEMENT_ORDER)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// The field a `<prefix>/<field>` directive key names. Everything after the first `/` is the
/// field, as upstream splits; a key that merely starts with the prefix is an error.
pub(super) fn directive_field<'k>(key: &'k str, prefix: &str) -> Result<&'k str, StrategicError> {
    key.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(|| StrategicError::UnknownDirective { key: key.to_owned() })
}

/// Applies a `$retainKeys` directive of `patch` to `original`, removing it from `patch`.
///
/// Every field the patch sets must be listed, since it would otherwise be cleared right after
/// being set; `null`s and the parallel-list directives are exempt. Fields of `original` that are
/// not listed are removed.
pub(super) fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), StrategicError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(StrategicError::DirectiveNotAList { directive: RETAIN_KEYS.to_owned() });
    };
    let retained = |key: &str| retain.iter().any(|listed| listed.as_str() == Some(key));
    let exempt = |key: &str, value: &Value| {
        value.is_null() || key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || key.starts_with(SET_ELEMENT_ORDER)
    };
    if let Some(key) =
        patch.iter().find(|(key, value)| !exempt(key, value) && !retained(key)).map(|(key, _)| key)
    {
        return Err(StrategicError::NotRetained { key: key.clone() });
    }
    original.retain(|key, _| retained(key));
    Ok(())
}

/// A JSON rendering of `value` short enough for an error message.
pub(super) fn short_json(value: &Value) -> String {
    const MAX: usize = 200;
    let mut text = value.to_string();
    if text.len() > MAX {
        let mut cut = MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn directive_field_takes_everything_after_the_first_slash() {
        assert_eq!(directive_field("$setElementOrder/containers", SET_ELEMENT_ORDER), Ok("containers"));
        assert_eq!(directive_field("$setElementOrder/a/b", SET_ELEMENT_ORDER), Ok("a/b"));
    }

    #[test]
    fn directive_prefix_without_slash_is_unknown() {
        for key in ["$setElementOrder", "$setElementOrders/x"] {
            let err = directive_field(key, SET_ELEMENT_ORDER);
            assert!(matches!(err, Err(StrategicError::UnknownDirective { .. })), "{key}: {err:?}");
        }
    }

    #[test]
    fn patch_directive_rejects_other_values() {
        assert_eq!(PatchDirective::parse(&json!("replace")), Ok(PatchDirective::Replace));
        assert!(PatchDirective::parse(&json!("remove")).is_err());
        assert!(PatchDirective::parse(&json!(true)).is_err());
    }

    #[test]
    fn retain_keys_requires_patched_fields_to_be_listed() {
        let mut original = Map::new();
        let mut patch = json!({"$retainKeys": ["a"], "b": 1}).as_object().cloned().unwrap_or_default();
        let err = apply_retain_keys(&mut original, &mut patch);
        assert_eq!(err, Err(StrategicError::NotRetained { key: "b".into() }));
    }

    #[test]
    fn short_json_cuts_on_a_char_boundary() {
        let long = Value::String("é".repeat(300));
        assert!(short_json(&long).chars().count() < 210);
    }
}
