//! Upstream's strategic merge patch application cases for merging maps and lists
//! (strategicpatch/patch_test.go), against a schema shaped like its `MergeItem` test type. Names
//! keep the upstream descriptions; cases taken from a three-way test apply the three-way patch to
//! the "current" object.

mod common;

use common::{case, error_case, run};
use serde_json::json;

#[test]
fn map_fields_merge_and_null_deletes() {
    run(vec![
        case("nil original", json!({}), json!({"name": 1, "value": 1}), json!({"name": 1, "value": 1})),
        case(
            "add field to map (three-way)",
            json!({"name": 1, "other": "a"}),
            json!({"value": 1}),
            json!({"name": 1, "value": 1, "other": "a"}),
        ),
        case(
            "add field and delete field from map (three-way)",
            json!({"name": 1, "other": "a"}),
            json!({"name": null, "value": 1}),
            json!({"value": 1, "other": "a"}),
        ),
        case(
            "delete field from nested map (three-way)",
            json!({"simpleMap": {"key1": 1, "key2": 1, "other": "a"}}),
            json!({"simpleMap": {"key2": null}}),
            json!({"simpleMap": {"key1": 1, "other": "a"}}),
        ),
        case(
            "delete all fields from map (three-way)",
            json!({"name": 1, "value": 1, "other": "a"}),
            json!({"name": null, "value": null}),
            json!({"other": "a"}),
        ),
        case(
            "defined null values should propagate overwrite current fields (with conflict)",
            json!({"name": "a", "other": "a"}),
            json!({"name": 1, "value": 1, "other": null}),
            json!({"name": 1, "value": 1}),
        ),
        case("nil patch", json!({"name": 1}), json!({}), json!({"name": 1})),
        case(
            "replace list of scalars with conflict (three-way)",
            json!({"nonMergingIntList": [1, 4]}),
            json!({"nonMergingIntList": [2, 3]}),
            json!({"nonMergingIntList": [2, 3]}),
        ),
        case(
            "replace RawExtension field and merge list (three-way)",
            json!({
                "name": "my-object", "value": "some-value", "other": "current-other",
                "mergingList": [{"name": 1}, {"name": 3}],
                "replacingItem": {"Some": "Generic", "Yaml": "Inside", "The": "RawExtension", "Field": "Period"},
            }),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
                "mergingList": [{"name": 2}],
                "replacingItem": {"Newly": "Modified", "Yaml": "Inside", "The": "RawExtension"},
            }),
            json!({
                "name": "my-object", "value": "some-value", "other": "current-other",
                "mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
                "replacingItem": {"Newly": "Modified", "Yaml": "Inside", "The": "RawExtension"},
            }),
        ),
    ]);
}

#[test]
fn patch_directive_replaces_and_deletes() {
    run(vec![
        case(
            "delete map from nested map",
            json!({"simpleMap": {"key1": 1, "key2": 1}}),
            json!({"simpleMap": {"$patch": "delete"}}),
            json!({"simpleMap": {}}),
        ),
        case(
            "delete all items from merging list",
            json!({"mergingList": [{"name": 1}, {"name": 2}]}),
            json!({"mergingList": [{"$patch": "replace"}]}),
            json!({"mergingList": []}),
        ),
        case(
            "delete all keys from map",
            json!({"name": 1, "value": 1}),
            json!({"$patch": "replace"}),
            json!({}),
        ),
        case(
            "add key and delete all keys from map",
            json!({"name": 1, "value": 1}),
            json!({"other": "a", "$patch": "replace"}),
            json!({"other": "a"}),
        ),
        case(
            "delete all maps from merging list with conflict (three-way)",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "other": "b"}]}),
            json!({"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 2, "$patch": "delete"}]}),
            json!({"mergingList": []}),
        ),
        case(
            "delete all maps from empty merging list (three-way)",
            json!({"mergingList": []}),
            json!({"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 2, "$patch": "delete"}]}),
            json!({"mergingList": []}),
        ),
        case(
            "delete all duplicate entries in a merging list",
            json!({"mergingList": [{"name": 1}, {"name": 1}, {"name": 2, "value": "a"}, {"name": 3}, {"name": 3}]}),
            json!({"mergingList": [
                {"name": 1, "$patch": "delete"}, {"name": 1, "$patch": "delete"},
                {"name": 3, "$patch": "delete"}, {"name": 3, "$patch": "delete"},
            ]}),
            json!({"mergingList": [{"name": 2, "value": "a"}]}),
        ),
        case(
            // Current upstream deletes every entry with the key (`deleteMatchingEntries`).
            "one delete directive removes every duplicate entry",
            json!({"mergingList": [{"name": 1}, {"name": 1}, {"name": 2, "value": "a"}, {"name": 3}, {"name": 3}]}),
            json!({"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 3, "$patch": "delete"}]}),
            json!({"mergingList": [{"name": 2, "value": "a"}]}),
        ),
        case(
            "merge patch directive is the explicit default",
            json!({"simpleMap": {"key1": 1}}),
            json!({"simpleMap": {"$patch": "merge", "key2": 2}}),
            json!({"simpleMap": {"key1": 1, "key2": 2}}),
        ),
        error_case(
            "bad patch directive value",
            json!({}),
            json!({"$patch": "remove"}),
            "invalid value \"remove\"",
        ),
        error_case(
            "delete directive without merge key",
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"$patch": "delete", "value": 1}]}),
            "does not contain declared merge key",
        ),
    ]);
}

#[test]
fn merging_lists_of_maps_merge_by_key() {
    let one_a_two_b =
        || json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]});
    run(vec![
        case(
            "merge empty merging lists",
            json!({"mergingList": []}),
            json!({"mergingList": []}),
            json!({"mergingList": []}),
        ),
        case(
            "merge lists of maps (three-way)",
            one_a_two_b(),
            json!({
                "$setElementOrder/mergingList": [{"name": 4}, {"name": 1}, {"name": 2}, {"name": 3}],
                "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}],
            }),
            json!({"mergingList": [
                {"name": 4, "value": 4}, {"name": 1, "other": "a"},
                {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": 3},
            ]}),
        ),
        case(
            "merge lists of maps with conflict (three-way)",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 3, "other": "b"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
                "mergingList": [{"name": 2, "value": 2}, {"name": 3, "value": 3}],
            }),
            json!({"mergingList": [
                {"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": 3},
            ]}),
        ),
        case(
            "add field to map in merging list with conflict (three-way)",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 3, "value": 2, "other": "b"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
                "mergingList": [{"name": 1, "value": 1}, {"name": 2, "value": 2}],
            }),
            json!({"mergingList": [
                {"name": 1, "value": 1, "other": "a"}, {"name": 2, "value": 2}, {"name": 3, "value": 2, "other": "b"},
            ]}),
        ),
        case(
            "delete missing map from merging list with conflict (three-way)",
            json!({"mergingList": [{"name": 3, "other": "a"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 2}],
                "mergingList": [{"name": 2}, {"name": 1, "$patch": "delete"}],
            }),
            json!({"mergingList": [{"name": 2}, {"name": 3, "other": "a"}]}),
        ),
        case(
            "add map and delete map from merging list (three-way)",
            json!({"mergingList": [{"name": 1}, {"name": 2, "other": "b"}, {"name": 4, "other": "c"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
                "mergingList": [{"name": 3}, {"name": 1, "$patch": "delete"}],
            }),
            json!({"mergingList": [{"name": 2, "other": "b"}, {"name": 4, "other": "c"}, {"name": 3}]}),
        ),
        case(
            "add map and delete map from merging list with conflict (three-way)",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 4, "other": "c"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
                "mergingList": [{"name": 2}, {"name": 3}, {"name": 1, "$patch": "delete"}],
            }),
            json!({"mergingList": [{"name": 4, "other": "c"}, {"name": 2}, {"name": 3}]}),
        ),
        case(
            "delete field from map in merging list with conflict (three-way)",
            json!({"mergingList": [{"name": 1, "value": "a", "other": "a"}, {"name": 2, "value": 2}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
                "mergingList": [{"name": 1, "value": null}],
            }),
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2}]}),
        ),
        case(
            "delete missing field from map in merging list with conflict (three-way)",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "other": "b"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
                "mergingList": [{"name": 1, "value": null}, {"name": 2, "value": 2}],
            }),
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
        ),
        case(
            "replace non merging list nested in merging list with deletion conflict (three-way)",
            json!({"mergingList": [
                {"name": 1, "other": "a", "nonMergingList": [{"name": 2, "value": 2}]},
                {"name": 2, "other": "b"},
            ]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
                "mergingList": [{"name": 1, "nonMergingList": [{"name": 1, "value": 1}]}],
            }),
            json!({"mergingList": [
                {"name": 1, "other": "a", "nonMergingList": [{"name": 1, "value": 1}]},
                {"name": 2, "other": "b"},
            ]}),
        ),
        case(
            "add field to map in merging list nested in merging list with value conflict (three-way)",
            json!({"mergingList": [
                {"name": 1, "other": "a", "mergingList": [
                    {"name": 1, "value": "a", "other": "c"}, {"name": 2, "value": "b", "other": "d"},
                ]},
                {"name": 2, "other": "b"},
            ]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
                "mergingList": [{
                    "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
                    "name": 1,
                    "mergingList": [{"name": 1, "value": 1}, {"name": 2, "value": 2}],
                }],
            }),
            json!({"mergingList": [
                {"name": 1, "other": "a", "mergingList": [
                    {"name": 1, "value": 1, "other": "c"}, {"name": 2, "value": 2, "other": "d"},
                ]},
                {"name": 2, "other": "b"},
            ]}),
        ),
        case(
            "add field to map in merging list nested in merging list with deletion conflict (three-way)",
            json!({"mergingList": [
                {"name": 1, "other": "a", "mergingList": [{"name": 2, "value": 2, "other": "d"}]},
                {"name": 2, "other": "b"},
            ]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
                "mergingList": [{
                    "$setElementOrder/mergingList": [{"name": 2}, {"name": 1}],
                    "name": 1,
                    "mergingList": [{"name": 1, "value": 1}],
                }],
            }),
            json!({"mergingList": [
                {"name": 1, "other": "a", "mergingList": [
                    {"name": 2, "value": 2, "other": "d"}, {"name": 1, "value": 1},
                ]},
                {"name": 2, "other": "b"},
            ]}),
        ),
        case(
            "add map to merging list by pointer (three-way)",
            json!({"mergeItemPtr": [{"name": 1, "other": "a"}, {"name": 3}]}),
            json!({"$setElementOrder/mergeItemPtr": [{"name": 1}, {"name": 2}], "mergeItemPtr": [{"name": 2}]}),
            json!({"mergeItemPtr": [{"name": 1, "other": "a"}, {"name": 2}, {"name": 3}]}),
        ),
        case(
            "add map to merging list by pointer with conflict (three-way)",
            json!({"mergeItemPtr": [{"name": 3}]}),
            json!({
                "$setElementOrder/mergeItemPtr": [{"name": 1}, {"name": 2}],
                "mergeItemPtr": [{"name": 1}, {"name": 2}],
            }),
            json!({"mergeItemPtr": [{"name": 1}, {"name": 2}, {"name": 3}]}),
        ),
        case(
            "add field to map in merging list by pointer with conflict (three-way)",
            json!({"mergeItemPtr": [
                {"name": 1, "other": "a", "mergeItemPtr": [{"name": 1, "value": "a"}, {"name": 2, "value": 2, "other": "b"}]},
                {"name": 2, "other": "b"},
            ]}),
            json!({
                "$setElementOrder/mergeItemPtr": [{"name": 1}, {"name": 2}],
                "mergeItemPtr": [{
                    "$setElementOrder/mergeItemPtr": [{"name": 1}, {"name": 2}],
                    "name": 1,
                    "mergeItemPtr": [{"name": 1, "value": 1}],
                }],
            }),
            json!({"mergeItemPtr": [
                {"name": 1, "other": "a", "mergeItemPtr": [{"name": 1, "value": 1}, {"name": 2, "value": 2, "other": "b"}]},
                {"name": 2, "other": "b"},
            ]}),
        ),
        case(
            "preserve the order from the patch in a merging list",
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "other": "x"}]}),
            json!({"mergingList": [
                {"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "value": "b", "other": "x"},
            ]}),
        ),
        case(
            "preserve the order from the patch in a merging list 2",
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
            json!({"mergingList": [{"name": 2, "value": "b"}, {"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
        ),
        error_case(
            "missing merge key should error out",
            json!({"mergingList": [{"name": 1, "value": "a"}]}),
            json!({"mergingList": [{"value": "b"}]}),
            "does not contain declared merge key",
        ),
        error_case(
            "lists of lists cannot merge",
            json!({"mergingList": [[1]]}),
            json!({"mergingList": [[2]]}),
            "lists of lists",
        ),
    ]);
}

#[test]
fn merging_lists_of_primitives_are_sets() {
    run(vec![
        case(
            "unique scalars when merging lists",
            json!({"mergingIntList": [1, 2]}),
            json!({"mergingIntList": [2, 3]}),
            json!({"mergingIntList": [1, 2, 3]}),
        ),
        case(
            "preserve the order from the patch in a merging int list",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1, 2]}),
            json!({"mergingIntList": [3, 1, 2]}),
        ),
        case(
            "preserve the order from the patch in a merging int list 2",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1]}),
            json!({"mergingIntList": [2, 3, 1]}),
        ),
        case(
            "delete items in lists of scalars (three-way)",
            json!({"mergingIntList": [1, 2, 3, 4]}),
            json!({"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": [1, 2, 4]}),
        ),
        case(
            "delete all duplicate items in lists of scalars (three-way)",
            json!({"mergingIntList": [1, 2, 3, 3, 4]}),
            json!({"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": [1, 2, 4]}),
        ),
        case(
            "add and delete items in lists of scalars",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({
                "$setElementOrder/mergingIntList": [1, 2, 4],
                "$deleteFromPrimitiveList/mergingIntList": [3],
                "mergingIntList": [4],
            }),
            json!({"mergingIntList": [1, 2, 4]}),
        ),
        case(
            "merge lists of scalars (three-way)",
            json!({"mergingIntList": [1, 2, 4]}),
            json!({"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3]}),
            json!({"mergingIntList": [1, 2, 3, 4]}),
        ),
        error_case(
            "deleting from a list that does not merge",
            json!({"nonMergingIntList": [1, 2]}),
            json!({"$deleteFromPrimitiveList/nonMergingIntList": [1]}),
            "merging lists of primitives",
        ),
        error_case(
            "merging list elements must share a type",
            json!({"mergingIntList": [1, 2]}),
            json!({"mergingIntList": ["3"]}),
            "same type",
        ),
    ]);
}
