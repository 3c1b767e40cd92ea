//! Upstream's strategic merge patch application cases for `$setElementOrder` and `$retainKeys`
//! (strategicpatch/patch_test.go), against a schema shaped like its `MergeItem` test type. Names
//! keep the upstream descriptions; cases taken from a three-way test apply the three-way patch to
//! the "current" object.

mod common;

use common::{case, error_case, run};
use serde_json::json;

#[test]
fn set_element_order_orders_merged_lists() {
    let live = || json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": 3}]});
    run(vec![
        case(
            "add an item in a list of primitives and preserve order (three-way)",
            json!({"mergingIntList": [1, 4, 2]}),
            json!({"$setElementOrder/mergingIntList": [3, 1, 2], "mergingIntList": [3]}),
            json!({"mergingIntList": [3, 1, 4, 2]}),
        ),
        case(
            "delete an item in a list of primitives and preserve order (three-way)",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"$setElementOrder/mergingIntList": [2, 1], "$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": [2, 1]}),
        ),
        case(
            "add an item in a list and preserve order (three-way)",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 3}, {"name": 1}, {"name": 2}],
                "mergingList": [{"name": 3, "value": 3}],
            }),
            json!({"mergingList": [
                {"name": 3, "value": 3}, {"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"},
            ]}),
        ),
        case(
            "add multiple items in a list and preserve order (three-way)",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 4}, {"name": 2}, {"name": 3}],
                "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}],
            }),
            json!({"mergingList": [
                {"name": 1, "other": "a"}, {"name": 4, "value": 4},
                {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": 3},
            ]}),
        ),
        case(
            "delete an item in a list and preserve order (three-way)",
            live(),
            json!({
                "$setElementOrder/mergingList": [{"name": 2}, {"name": 1}],
                "mergingList": [{"name": 3, "$patch": "delete"}],
            }),
            json!({"mergingList": [{"name": 2, "value": 2, "other": "b"}, {"name": 1, "other": "a"}]}),
        ),
        case(
            "change an item in a list and preserve order (three-way)",
            live(),
            json!({
                "$setElementOrder/mergingList": [{"name": 2}, {"name": 3}, {"name": 1}],
                "mergingList": [{"name": 3, "value": "x"}],
            }),
            json!({"mergingList": [
                {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": "x"}, {"name": 1, "other": "a"},
            ]}),
        ),
        case(
            "add and delete an item in a list and preserve order (three-way)",
            live(),
            json!({
                "$setElementOrder/mergingList": [{"name": 4}, {"name": 2}, {"name": 1}],
                "mergingList": [{"name": 4, "value": 4}, {"name": 3, "$patch": "delete"}],
            }),
            json!({"mergingList": [
                {"name": 4, "value": 4}, {"name": 2, "value": 2, "other": "b"}, {"name": 1, "other": "a"},
            ]}),
        ),
        case(
            "set elements order in a list with server-only items (three-way)",
            json!({"mergingList": [
                {"name": 1, "other": "a"}, {"name": 3, "value": 3}, {"name": 4, "value": 4},
                {"name": 2, "value": 2}, {"name": 9},
            ]}),
            json!({"$setElementOrder/mergingList": [{"name": 4}, {"name": 2}, {"name": 3}, {"name": 1}]}),
            json!({"mergingList": [
                {"name": 4, "value": 4}, {"name": 2, "value": 2}, {"name": 3, "value": 3},
                {"name": 1, "other": "a"}, {"name": 9},
            ]}),
        ),
        case(
            "set elements order in a list with server-only items 2 (three-way)",
            json!({"mergingList": [
                {"name": 1, "other": "a"}, {"name": 2, "value": 2}, {"name": 9},
                {"name": 3, "value": 3}, {"name": 4, "value": 4},
            ]}),
            json!({"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}]}),
            json!({"mergingList": [
                {"name": 2, "value": 2}, {"name": 1, "other": "a"}, {"name": 9},
                {"name": 4, "value": 4}, {"name": 3, "value": 3},
            ]}),
        ),
        case(
            "set elements order in a int list with server-only items 3 (three-way)",
            json!({"mergingIntList": [1, 2, 7, 9, 8, 3, 4]}),
            json!({"$setElementOrder/mergingIntList": [2, 1, 4, 3]}),
            json!({"mergingIntList": [2, 1, 7, 9, 8, 4, 3]}),
        ),
        case(
            "add multiple items in a int list and preserve order",
            json!({"mergingIntList": [1, 2]}),
            json!({"$setElementOrder/mergingIntList": [1, 4, 2, 3], "mergingIntList": [4, 3]}),
            json!({"mergingIntList": [1, 4, 2, 3]}),
        ),
        case(
            "add and delete an item in a int list and preserve order (three-way)",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({
                "$setElementOrder/mergingIntList": [4, 2, 1],
                "mergingIntList": [4],
                "$deleteFromPrimitiveList/mergingIntList": [3],
            }),
            json!({"mergingIntList": [4, 2, 1]}),
        ),
        case(
            "behavior of set element order for a merging list with duplicate",
            json!({"mergingList": [
                {"name": 1}, {"name": 2, "value": "dup1"}, {"name": 3}, {"name": 2, "value": "dup2"}, {"name": 4},
            ]}),
            json!({"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}, {"name": 2}]}),
            json!({"mergingList": [
                {"name": 2, "value": "dup1"}, {"name": 2, "value": "dup2"}, {"name": 1}, {"name": 4}, {"name": 3},
            ]}),
        ),
        case(
            "behavior of set element order for a merging int list with duplicate",
            json!({"mergingIntList": [1, 2, 3, 2, 4]}),
            json!({"$setElementOrder/mergingIntList": [2, 1, 4, 3, 2]}),
            json!({"mergingIntList": [2, 2, 1, 4, 3]}),
        ),
        case(
            "$setElementOrder contains item that is not present in the list to be merged",
            json!({"mergingList": [{"name": 1}, {"name": 3}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 3}, {"name": 2}, {"name": 1}],
                "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}],
            }),
            json!({"mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
        ),
        case(
            "$setElementOrder contains item that is not present in the int list to be merged",
            json!({"mergingIntList": [1, 3]}),
            json!({"$setElementOrder/mergingIntList": [3, 2, 1]}),
            json!({"mergingIntList": [3, 1]}),
        ),
        case(
            "delete and reorder in one list, reorder in another",
            json!({
                "mergingList": [{"name": "a", "value": "a"}, {"name": "b", "value": "b"}],
                "mergeItemPtr": [{"name": "c", "value": "c"}, {"name": "d", "value": "d"}],
            }),
            json!({
                "$setElementOrder/mergingList": [{"name": "b"}],
                "$setElementOrder/mergeItemPtr": [{"name": "d"}, {"name": "c"}],
                "mergingList": [{"$patch": "delete", "name": "a"}],
            }),
            json!({
                "mergingList": [{"name": "b", "value": "b"}],
                "mergeItemPtr": [{"name": "d", "value": "d"}, {"name": "c", "value": "c"}],
            }),
        ),
        error_case(
            "should check if order in $setElementOrder and patch list match",
            json!({"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
                "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}],
            }),
            "does not match",
        ),
        error_case(
            "should check if order in $setElementOrder and int patch list match",
            json!({"mergingIntList": [1, 3, 2]}),
            json!({"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]}),
            "does not match",
        ),
        error_case(
            "setElementOrder must be a list",
            json!({"mergingIntList": [1]}),
            json!({"$setElementOrder/mergingIntList": {"a": 1}}),
            "must be a list",
        ),
        error_case(
            "setElementOrder needs a field",
            json!({"mergingIntList": [1]}),
            json!({"$setElementOrder": [1]}),
            "unknown directive",
        ),
    ]);
}

#[test]
fn retain_keys_clears_unlisted_fields() {
    run(vec![
        case(
            "retainKeys map should clear defaulted field (three-way)",
            json!({"retainKeysMap": {"value": "foo"}}),
            json!({"retainKeysMap": {"$retainKeys": ["other"], "other": "bar"}}),
            json!({"retainKeysMap": {"other": "bar"}}),
        ),
        case(
            "retainKeys map should clear defaulted field with conflict (discriminated union)",
            json!({"retainKeysMap": {"name": "type1", "value": "foo"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name", "other"], "name": "type2", "other": "bar"}}),
            json!({"retainKeysMap": {"name": "type2", "other": "bar"}}),
        ),
        case(
            "retainKeys map deletes a field and clears a field (three-way)",
            json!({"retainKeysMap": {"name": "foo", "value": "bar", "other": "a"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name"], "value": null}}),
            json!({"retainKeysMap": {"name": "foo"}}),
        ),
        case(
            "retainKeys map clears a field (three-way)",
            json!({"retainKeysMap": {"name": "foo", "value": "bar", "other": "a"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name", "value"]}}),
            json!({"retainKeysMap": {"name": "foo", "value": "bar"}}),
        ),
        case(
            "retainKeys map adds a field in a nested map (three-way)",
            json!({"retainKeysMap": {"name": "foo", "value": "bar", "simpleMap": {"key1": "a", "key3": "c"}}}),
            json!({"retainKeysMap": {"$retainKeys": ["name", "simpleMap", "value"], "simpleMap": {"key2": "b"}}}),
            json!({"retainKeysMap": {"name": "foo", "value": "bar", "simpleMap": {"key1": "a", "key2": "b", "key3": "c"}}}),
        ),
        case(
            "retainKeys map delete nested non-merging list with conflict (three-way)",
            json!({"retainKeysMap": {"name": "foo", "nonMergingList": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}),
            json!({"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "bar", "nonMergingList": null}}),
            json!({"retainKeysMap": {"name": "foo", "value": "bar"}}),
        ),
        case(
            "retainKeys map nested merging int list with no change (three-way)",
            json!({"retainKeysMap": {"name": "foo", "mergingIntList": [1, 2, 3]}}),
            json!({"retainKeysMap": {
                "$retainKeys": ["mergingIntList", "name", "value"],
                "$setElementOrder/mergingIntList": [1, 2],
                "value": "bar",
            }}),
            json!({"retainKeysMap": {"name": "foo", "value": "bar", "mergingIntList": [1, 2, 3]}}),
        ),
        case(
            "retainKeys map adds an item in nested merging int list (three-way)",
            json!({"retainKeysMap": {"name": "foo", "mergingIntList": [1, 2, 3]}}),
            json!({"retainKeysMap": {
                "$setElementOrder/mergingIntList": [1, 2, 4],
                "$retainKeys": ["mergingIntList", "name"],
                "mergingIntList": [4],
            }}),
            json!({"retainKeysMap": {"name": "foo", "mergingIntList": [1, 2, 4, 3]}}),
        ),
        case(
            "retainKeys map adds an item and deletes an item in nested merging int list (three-way)",
            json!({"retainKeysMap": {"name": "foo", "mergingIntList": [1, 2, 3, 4]}}),
            json!({"retainKeysMap": {
                "$retainKeys": ["mergingIntList", "name"],
                "mergingIntList": [5],
                "$deleteFromPrimitiveList/mergingIntList": [2],
                "$setElementOrder/mergingIntList": [1, 3, 5],
            }}),
            json!({"retainKeysMap": {"name": "foo", "mergingIntList": [1, 3, 5, 4]}}),
        ),
        case(
            "retainKeys map adds an item in nested merging list (three-way)",
            json!({"retainKeysMap": {"name": "foo", "mergingList": [{"name": "a"}, {"name": "b"}, {"name": "x"}]}}),
            json!({"retainKeysMap": {
                "$retainKeys": ["mergingList", "name"],
                "$setElementOrder/mergingList": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                "mergingList": [{"name": "c"}],
            }}),
            json!({"retainKeysMap": {
                "name": "foo",
                "mergingList": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "x"}],
            }}),
        ),
        case(
            "retainKeys map deletes an item in nested merging list (three-way)",
            json!({"retainKeysMap": {"name": "foo", "mergingList": [{"name": "a"}, {"name": "b"}, {"name": "x"}]}}),
            json!({"retainKeysMap": {
                "$retainKeys": ["mergingList", "name"],
                "$setElementOrder/mergingList": [{"name": "a"}],
                "mergingList": [{"name": "b", "$patch": "delete"}],
            }}),
            json!({"retainKeysMap": {"name": "foo", "mergingList": [{"name": "a"}, {"name": "x"}]}}),
        ),
        case(
            "retainKeys list of maps clears a field (three-way)",
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a", "other": "x"}]}),
            json!({
                "$setElementOrder/retainKeysMergingList": [{"name": "bar"}, {"name": "foo"}],
                "retainKeysMergingList": [{"$retainKeys": ["name", "value"], "name": "foo"}],
            }),
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a"}]}),
        ),
        case(
            "retainKeys list of maps deletes a field and clear a field (three-way)",
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a", "other": "x"}]}),
            json!({
                "$setElementOrder/retainKeysMergingList": [{"name": "bar"}, {"name": "foo"}],
                "retainKeysMergingList": [{"$retainKeys": ["name"], "name": "foo", "value": null}],
            }),
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo"}]}),
        ),
        case(
            "retainKeys map can add a field when no retainKeys directive present",
            json!({"retainKeysMap": {"name": "foo"}}),
            json!({"retainKeysMap": {"value": "bar"}}),
            json!({"retainKeysMap": {"name": "foo", "value": "bar"}}),
        ),
        case(
            "retainKeys list can change a field when no retainKeys directive present",
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a"}]}),
            json!({"retainKeysMergingList": [{"name": "foo", "value": "b"}]}),
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "b"}]}),
        ),
        error_case(
            "retainKeys must list every field the patch sets",
            json!({"retainKeysMap": {"name": "foo"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name"], "value": "bar"}}),
            "missing from $retainKeys",
        ),
        error_case(
            "retainKeys must be a list",
            json!({"retainKeysMap": {"name": "foo"}}),
            json!({"retainKeysMap": {"$retainKeys": "name"}}),
            "must be a list",
        ),
    ]);
}
