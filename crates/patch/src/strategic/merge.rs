//! Merging maps field by field (upstream's `mergeMap`), and what patch values become where the
//! target has nothing to merge with.

use serde_json::{Map, Value};

use super::Merger;
use super::directives::{self, DELETE_FROM_PRIMITIVE_LIST, PATCH, PatchDirective};
use super::list::{ElementKind, element_kind};
use super::order::scalar_eq;
use crate::error::{Result, StrategicError};
use crate::schema::{FieldMeta, PatchStrategy};

type JsonMap = Map<String, Value>;

impl Merger<'_> {
    /// Merges `patch` into `original`, both maps at the current path.
    ///
    /// Order of work, as upstream: a `$patch` directive decides everything; then `$retainKeys`
    /// clears unlisted fields; then `$setElementOrder` lists are merged and ordered together with
    /// their patch lists; then the remaining fields merge one by one, `null` deleting.
    pub(super) fn merge_map(&mut self, mut original: JsonMap, mut patch: JsonMap) -> Result<JsonMap> {
        if let Some(directive) = patch.remove(PATCH) {
            match PatchDirective::parse(&directive).map_err(|e| self.error(e))? {
                PatchDirective::Replace => return self.merge_map(JsonMap::new(), patch),
                PatchDirective::Delete => return Ok(JsonMap::new()),
                PatchDirective::Merge => {}
            }
        }
        directives::apply_retain_keys(&mut original, &mut patch).map_err(|e| self.error(e))?;
        self.apply_element_orders(&mut original, &mut patch)?;

        // Deletion lists go last so that they see the list after its additions; upstream's
        // order is Go's random map order.
        let (deletions, fields): (Vec<_>, Vec<_>) =
            patch.into_iter().partition(|(key, _)| key.starts_with(DELETE_FROM_PRIMITIVE_LIST));
        for (key, value) in fields {
            self.merge_field(&mut original, key, value)?;
        }
        for (key, values) in deletions {
            let field =
                directives::directive_field(&key, DELETE_FROM_PRIMITIVE_LIST).map_err(|e| self.error(e))?;
            let Value::Array(values) = values else {
                return Err(self.error(StrategicError::DirectiveNotAList { directive: key.clone() }));
            };
            self.delete_from_primitive_list(&mut original, field, &values)?;
        }
        Ok(original)
    }

    /// Merges one field of the patch into `original`.
    fn merge_field(&mut self, original: &mut JsonMap, key: String, patch_value: Value) -> Result<()> {
        if patch_value.is_null() {
            original.remove(&key);
            return Ok(());
        }
        let merged = match original.remove(&key) {
            None | Some(Value::Null) => {
                let meta = self.meta(&key);
                self.descend(&key, |merger| merger.normalize(patch_value, &meta))?
            }
            Some(current) => self.merge_values(&key, current, patch_value)?,
        };
        original.insert(key, merged);
        Ok(())
    }

    /// Merges a patch value into the current value of field `key`, both present and not null.
    fn merge_values(&mut self, key: &str, current: Value, patch: Value) -> Result<Value> {
        let meta = self.meta(key);
        self.descend(key, |merger| match (current, patch) {
            (Value::Object(current), Value::Object(patch)) => match meta.strategy {
                PatchStrategy::Replace => merger.merge_map(JsonMap::new(), patch).map(Value::Object),
                PatchStrategy::Default | PatchStrategy::Merge => {
                    merger.merge_map(current, patch).map(Value::Object)
                }
            },
            (Value::Array(current), Value::Array(patch)) if meta.strategy == PatchStrategy::Merge => {
                merger.merge_list(current, patch, meta.merge_key.as_deref()).map(Value::Array)
            }
            // Atomic lists, scalars and changes of type: the patch value wins.
            (_, patch) => merger.normalize(patch, &meta),
        })
    }

    /// What a patch value becomes where there is nothing to merge it with: the result of merging
    /// it into an empty value of its own kind. Directives inside it are applied and so never
    /// copied into the result; upstream copies the value verbatim.
    pub(super) fn normalize(&mut self, patch: Value, meta: &FieldMeta) -> Result<Value> {
        match patch {
            Value::Object(patch) => self.merge_map(JsonMap::new(), patch).map(Value::Object),
            Value::Array(items) if meta.strategy == PatchStrategy::Merge => {
                self.merge_list(Vec::new(), items, meta.merge_key.as_deref()).map(Value::Array)
            }
            Value::Array(items) => self.normalize_atomic_list(items).map(Value::Array),
            scalar => Ok(scalar),
        }
    }

    /// [`Merger::normalize`] for the elements of a list that does not merge.
    pub(super) fn normalize_atomic_list(&mut self, items: Vec<Value>) -> Result<Vec<Value>> {
        items.into_iter().map(|item| self.normalize(item, &FieldMeta::DEFAULT)).collect()
    }

    /// Applies `$deleteFromPrimitiveList/<field>`: removes every element equal to one of `values`.
    fn delete_from_primitive_list(
        &mut self,
        original: &mut JsonMap,
        field: &str,
        values: &[Value],
    ) -> Result<()> {
        let meta = self.meta(field);
        self.descend(field, |merger| {
            let items = match original.get_mut(field) {
                // Nothing to delete from.
                None | Some(Value::Null) => return Ok(()),
                Some(Value::Array(items)) => items,
                Some(other) => {
                    return Err(merger.error(StrategicError::NotAList { found: json_type(other) }));
                }
            };
            let kind = element_kind(items, values).map_err(|e| merger.error(e))?;
            if meta.strategy != PatchStrategy::Merge || kind == Some(ElementKind::Object) {
                return Err(merger.error(StrategicError::NotAPrimitiveMergeList));
            }
            items.retain(|item| !values.iter().any(|value| scalar_eq(item, value)));
            Ok(())
        })
    }
}

/// The JSON type of `value`, for error messages.
pub(super) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
