//! The order of a merged list, after upstream's `normalizeElementOrder`.
//!
//! Elements are split into those the patch mentions and those only the live object has. Patch
//! elements take the patch's (or `$setElementOrder`'s) order; live-only elements keep their
//! relative live order; then the two are interleaved by their live positions, a patch element
//! going first whenever either side has no live position to compare. That last rule is why a
//! patch element new to the list lands before the live-only elements that follow it.

use serde_json::Value;

/// A list element with the value that identifies it when ordering: its merge key value for
/// objects, the element itself for primitives.
#[derive(Debug)]
pub(super) struct Keyed {
    pub(super) key: Value,
    pub(super) item: Value,
}

/// Equality as upstream's Go `==` on decoded JSON: numbers compare as floats (Go decodes every
/// number to `float64`), objects and lists are never equal (Go cannot compare them).
pub(super) fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        _ => false,
    }
}

/// Position of the first element of `order` equal to `key`.
pub(super) fn position(order: &[Value], key: &Value) -> Option<usize> {
    order.iter().position(|candidate| scalar_eq(candidate, key))
}

/// Splits `items` into those whose key appears in `keys` and the rest, keeping relative order.
pub(super) fn partition(items: Vec<Keyed>, keys: &[Value]) -> (Vec<Keyed>, Vec<Keyed>) {
    items.into_iter().partition(|item| position(keys, &item.key).is_some())
}

/// Orders `patch_items` by `patch_order`, `live_only` by `live_order`, and interleaves them.
pub(super) fn normalize_element_order(
    patch_items: Vec<Keyed>,
    live_only: Vec<Keyed>,
    patch_order: &[Value],
    live_order: &[Value],
) -> Vec<Value> {
    let patch_items = sort_by_order(patch_items, patch_order);
    let live_only = sort_by_order(live_only, live_order);
    interleave(live_only, patch_items, live_order)
}

/// A stable sort by position in `order`. Elements absent from `order` go last in their own
/// order; upstream's comparator is inconsistent for them, but no valid patch produces any.
fn sort_by_order(items: Vec<Keyed>, order: &[Value]) -> Vec<Keyed> {
    let mut ranked: Vec<(usize, Keyed)> =
        items.into_iter().map(|item| (position(order, &item.key).unwrap_or(usize::MAX), item)).collect();
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.into_iter().map(|(_, item)| item).collect()
}

/// Upstream's `mergeSortedSlice`: merges two sorted lists, taking the live-only element first
/// only when both elements have live positions and the live-only one comes earlier.
fn interleave(live_only: Vec<Keyed>, patch_items: Vec<Keyed>, live_order: &[Value]) -> Vec<Value> {
    let mut merged = Vec::with_capacity(live_only.len() + patch_items.len());
    let mut left = live_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(live), Some(patched)) => {
                matches!((position(live_order, &live.key), position(live_order, &patched.key)), (Some(l), Some(r)) if l < r)
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        merged.extend(next.map(|keyed| keyed.item));
    }
    merged
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keyed(values: &[i64]) -> Vec<Keyed> {
        values.iter().map(|v| Keyed { key: json!(v), item: json!(v) }).collect()
    }

    fn values(values: &[i64]) -> Vec<Value> {
        values.iter().map(|v| json!(v)).collect()
    }

    #[test]
    fn new_patch_items_go_before_later_live_items() {
        // Live [1, 2, 3], patch [3, 1]: 2 is live-only and sits between them in the live order.
        let merged =
            normalize_element_order(keyed(&[1, 3]), keyed(&[2]), &values(&[3, 1]), &values(&[1, 2, 3]));
        assert_eq!(merged, values(&[2, 3, 1]));
    }

    #[test]
    fn items_unknown_to_the_live_order_come_first() {
        let merged = normalize_element_order(keyed(&[9]), keyed(&[1, 2]), &values(&[9]), &values(&[1, 2]));
        assert_eq!(merged, values(&[9, 1, 2]));
    }

    #[test]
    fn numbers_compare_as_floats() {
        assert!(scalar_eq(&json!(1), &json!(1.0)));
        assert!(!scalar_eq(&json!({"a": 1}), &json!({"a": 1})));
    }
}
