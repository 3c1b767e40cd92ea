//! Merging lists (upstream's `mergeSlice`) and ordering them by `$setElementOrder`
//! (`mergePatchIntoOriginal`).

use serde_json::{Map, Value};

use super::Merger;
use super::directives::{self, PATCH, PatchDirective, SET_ELEMENT_ORDER, short_json};
use super::merge::json_type;
use super::order::{Keyed, normalize_element_order, partition, position, scalar_eq};
use crate::error::{Result, StrategicError};
use crate::schema::PatchStrategy;

/// What a merging list holds. Upstream requires every element of the live and patch lists to
/// have one Go type; we only need to tell objects (merged by key) from primitives (a set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ElementKind {
    Object,
    Primitive,
}

/// The kind of all elements of `lists`, `None` when they are all empty. Lists of lists, `null`
/// elements and mixed types are errors, as upstream.
pub(super) fn element_kind(live: &[Value], patch: &[Value]) -> Result<Option<ElementKind>, StrategicError> {
    let mut first: Option<&Value> = None;
    for item in live.iter().chain(patch) {
        match item {
            Value::Array(_) => return Err(StrategicError::ListOfLists),
            Value::Null => return Err(StrategicError::MixedElementTypes),
            _ => {}
        }
        match first {
            None => first = Some(item),
            Some(first) if std::mem::discriminant(first) != std::mem::discriminant(item) => {
                return Err(StrategicError::MixedElementTypes);
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|item| if item.is_object() { ElementKind::Object } else { ElementKind::Primitive }))
}

/// A merged list, and the live order `$setElementOrder` must interleave it with.
struct MergedList {
    items: Vec<Value>,
    /// Upstream orders live-only elements by the live list *as Go's in-place slice edits left it*:
    /// the survivors of `$patch: delete`, then appended elements filling the freed slots, cut to
    /// the original length. Test cases such as "add map and delete map from merging list" depend
    /// on it, so we reproduce that view explicitly.
    live_order: Vec<Value>,
}

impl Merger<'_> {
    /// Merges a patch list into a live list of a field with `patchStrategy:"merge"`.
    pub(super) fn merge_list(
        &mut self,
        live: Vec<Value>,
        patch: Vec<Value>,
        merge_key: Option<&str>,
    ) -> Result<Vec<Value>> {
        self.merge_list_tracked(live, patch, merge_key).map(|merged| merged.items)
    }

    fn merge_list_tracked(
        &mut self,
        live: Vec<Value>,
        patch: Vec<Value>,
        merge_key: Option<&str>,
    ) -> Result<MergedList> {
        match (element_kind(&live, &patch).map_err(|e| self.error(e))?, merge_key) {
            (None, _) => Ok(MergedList { items: Vec::new(), live_order: Vec::new() }),
            (Some(ElementKind::Primitive), None) => Ok(merge_primitives(live, patch)),
            (Some(ElementKind::Object), Some(key)) => self.merge_objects(live, patch, key),
            (Some(ElementKind::Object), None) => Err(self.error(StrategicError::NoMergeKey)),
            (Some(ElementKind::Primitive), Some(_)) => {
                let element = live.iter().chain(&patch).next().map(short_json).unwrap_or_default();
                Err(self.error(StrategicError::WrongElementKind { element }))
            }
        }
    }

    /// Merges lists of objects by `key`: `$patch: delete` elements remove every live element with
    /// their key, a `$patch: replace` element makes the other patch elements the whole list,
    /// other elements merge into the live element with their key or are appended.
    fn merge_objects(&mut self, live: Vec<Value>, patch: Vec<Value>, key: &str) -> Result<MergedList> {
        let live_len = live.len();
        // Only needed when a `$patch: replace` discards the live list, where upstream tolerates
        // live elements without the key.
        let live_keys: Vec<Value> = live.iter().filter_map(|element| element.get(key).cloned()).collect();
        let mut survivors: Vec<Map<String, Value>> = live.into_iter().filter_map(into_object).collect();
        let mut regular = Vec::with_capacity(patch.len());
        let mut replace = false;
        for mut element in patch.into_iter().filter_map(into_object) {
            let Some(directive) = element.remove(PATCH) else {
                regular.push(element);
                continue;
            };
            match PatchDirective::parse(&directive).map_err(|e| self.error(e))? {
                PatchDirective::Delete => {
                    let Some(doomed) = element.get(key) else {
                        return Err(self.missing_key(key, element));
                    };
                    survivors.retain(|live| !live.get(key).is_some_and(|value| scalar_eq(value, doomed)));
                }
                PatchDirective::Replace => replace = true,
                PatchDirective::Merge => regular.push(element),
            }
        }

        if replace {
            let items = regular
                .into_iter()
                .map(|element| self.merge_map(Map::new(), element).map(Value::Object))
                .collect::<Result<Vec<_>>>()?;
            self.keys_of(&items, key)?;
            return Ok(MergedList { items, live_order: live_keys });
        }

        let survivor_keys: Vec<Value> =
            survivors.iter().filter_map(|element| element.get(key).cloned()).collect();
        let mut patch_keys = Vec::with_capacity(regular.len());
        for element in regular {
            let Some(value) = element.get(key).cloned() else {
                return Err(self.missing_key(key, element));
            };
            match survivors.iter().position(|live| live.get(key).is_some_and(|v| scalar_eq(v, &value))) {
                Some(index) => {
                    let current = std::mem::take(&mut survivors[index]);
                    survivors[index] = self.merge_map(current, element)?;
                }
                None => survivors.push(self.merge_map(Map::new(), element)?),
            }
            patch_keys.push(value);
        }

        let merged: Vec<Value> = survivors.into_iter().map(Value::Object).collect();
        let keyed = self.keyed(merged, Some(key))?;
        let appended = keyed.iter().skip(survivor_keys.len()).map(|element| element.key.clone());
        let live_order = survivor_keys.iter().cloned().chain(appended).take(live_len).collect();
        let (patch_items, live_only) = partition(keyed, &patch_keys);
        let items = normalize_element_order(patch_items, live_only, &patch_keys, &survivor_keys);
        Ok(MergedList { items, live_order })
    }

    /// Applies every `$setElementOrder/<field>` of `patch`: merges the field's patch list (if any)
    /// into the live list, then orders the result by the directive, keeping live-only elements
    /// near their live neighbours. Both the directive and the patch list leave `patch`.
    pub(super) fn apply_element_orders(
        &mut self,
        original: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
    ) -> Result<()> {
        let directive_keys: Vec<String> =
            patch.keys().filter(|key| key.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
        for directive_key in directive_keys {
            let Some(order) = patch.remove(&directive_key) else { continue };
            let field = directives::directive_field(&directive_key, SET_ELEMENT_ORDER)
                .map_err(|e| self.error(e))?
                .to_owned();
            let Value::Array(order) = order else {
                return Err(self.error(StrategicError::DirectiveNotAList { directive: directive_key }));
            };
            let meta = self.meta(&field);
            let live = original.remove(&field);
            let patch_list = patch.remove(&field);
            let ordered = self.descend(&field, |merger| {
                let live = merger.list_or_absent(live)?;
                let patch_list = merger.list_or_absent(patch_list)?;
                let key = meta.merge_key.as_deref();
                merger.validate_order(patch_list.as_deref().unwrap_or_default(), &order, key, &field)?;
                let merges = meta.strategy == PatchStrategy::Merge;
                let merged = match (live, patch_list) {
                    (None, None) => return Ok(None),
                    (Some(live), None) => {
                        let live_order = merger.keys_of(&live, key.unwrap_or_default())?;
                        MergedList { items: live, live_order }
                    }
                    (None, Some(patch)) if merges => merger.merge_list_tracked(Vec::new(), patch, key)?,
                    (Some(live), Some(patch)) if merges => merger.merge_list_tracked(live, patch, key)?,
                    (live, Some(patch)) => {
                        let live = live.unwrap_or_default();
                        let live_order = merger.keys_of(&live, key.unwrap_or_default())?;
                        MergedList { items: merger.normalize_atomic_list(patch)?, live_order }
                    }
                };
                let order_keys = merger.keys_of(&order, key.unwrap_or_default())?;
                let keyed = merger.keyed(merged.items, key)?;
                let (patch_items, live_only) = partition(keyed, &order_keys);
                Ok(Some(normalize_element_order(patch_items, live_only, &order_keys, &merged.live_order)))
            })?;
            if let Some(ordered) = ordered {
                original.insert(field, Value::Array(ordered));
            }
        }
        Ok(())
    }

    /// Upstream's `validatePatchWithSetOrderList`: the patch list's elements (bar deletions and
    /// other directive elements) must appear in `order`, in the same relative order.
    fn validate_order(&self, patch: &[Value], order: &[Value], key: Option<&str>, field: &str) -> Result<()> {
        if order.is_empty() {
            return Ok(());
        }
        let mut order_index = 0;
        for element in patch {
            if element.as_object().is_some_and(|element| element.contains_key(PATCH)) {
                continue;
            }
            let wanted = self.order_key(element, key)?;
            loop {
                let Some(candidate) = order.get(order_index) else {
                    return Err(self.error(StrategicError::OrderMismatch { field: field.to_owned() }));
                };
                order_index += 1;
                if scalar_eq(&self.order_key(candidate, key)?, &wanted) {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The value an element is ordered by: its merge key value, or itself without a merge key.
    fn order_key(&self, element: &Value, key: Option<&str>) -> Result<Value> {
        match key {
            None => Ok(element.clone()),
            Some(key) => match element {
                Value::Object(map) => map.get(key).cloned().ok_or_else(|| self.missing_key(key, map.clone())),
                other => Err(self.error(StrategicError::WrongElementKind { element: short_json(other) })),
            },
        }
    }

    /// Pairs each element with its order key; every object must have `key` (upstream's
    /// `partitionMapsByPresentInList`), and objects need a key at all.
    fn keyed(&self, items: Vec<Value>, key: Option<&str>) -> Result<Vec<Keyed>> {
        items
            .into_iter()
            .map(|item| {
                if key.is_none() && item.is_object() {
                    return Err(self.error(StrategicError::NoMergeKey));
                }
                Ok(Keyed { key: self.order_key(&item, key)?, item })
            })
            .collect()
    }

    /// The order keys of `items` (objects by `key`, or primitives when `key` is empty and the
    /// items are not objects).
    fn keys_of(&self, items: &[Value], key: &str) -> Result<Vec<Value>> {
        let key = (!key.is_empty()).then_some(key);
        items.iter().map(|item| self.order_key(item, key)).collect()
    }

    /// A list field's value, `None` for absent or `null`, an error for anything else.
    fn list_or_absent(&self, value: Option<Value>) -> Result<Option<Vec<Value>>> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.error(StrategicError::NotAList { found: json_type(&other) })),
        }
    }

    fn missing_key(&self, key: &str, element: Map<String, Value>) -> crate::error::PatchError {
        self.error(StrategicError::MissingMergeKey {
            key: key.to_owned(),
            element: short_json(&Value::Object(element)),
        })
    }
}

/// Merges lists of primitives as a set: the union, each value once, ordered as the patch says
/// for the values it names and as the live list for the others.
fn merge_primitives(live: Vec<Value>, patch: Vec<Value>) -> MergedList {
    let mut union: Vec<Value> = Vec::with_capacity(live.len() + patch.len());
    for item in live.iter().chain(&patch) {
        if position(&union, item).is_none() {
            union.push(item.clone());
        }
    }
    let keyed = union.into_iter().map(|item| Keyed { key: item.clone(), item }).collect();
    let (patch_items, live_only) = partition(keyed, &patch);
    let items = normalize_element_order(patch_items, live_only, &patch, &live);
    MergedList { items, live_order: live }
}

fn into_object(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}
