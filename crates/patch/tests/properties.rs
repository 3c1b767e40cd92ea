//! Fuzz-style properties over arbitrary patches and targets: nothing panics, directives never
//! leak into results, and without a schema or directives a strategic merge patch is a JSON merge
//! patch. Case counts are fixed so the suite stays fast.

use everynode_patch::{
    KindSchema, PatchType, Schema, Untyped, apply_patch, apply_strategic_merge_patch, is_directive_key,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Field names that mean something to the DaemonSet schema, plus plain ones.
const FIELDS: &[&str] = &[
    "name",
    "value",
    "image",
    "spec",
    "template",
    "metadata",
    "containers",
    "initContainers",
    "ports",
    "containerPort",
    "env",
    "volumes",
    "volumeMounts",
    "mountPath",
    "finalizers",
    "tolerations",
    "args",
    "nodeSelector",
    "labels",
    "status",
    "conditions",
    "type",
    "x",
];

/// Directive keys that are malformed or not directives, paired with arbitrary values.
const ODD_KEYS: &[&str] = &["$setElementOrder", "$deleteFromPrimitiveListx", "$setElementOrder/x", "$ref"];

const STRINGS: &[&str] = &["a", "b", "c", "replace", "delete", "merge", "name", "containers", ""];

const NAMES: &[&str] = &["a", "b", "c"];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-2i64..4).prop_map(Value::from),
        Just(json!(1.0)),
        prop::sample::select(STRINGS).prop_map(Value::from),
    ]
}

/// A directive with a value of the right shape most of the time, so that patches often apply.
fn directive(inner: BoxedStrategy<Value>) -> BoxedStrategy<(String, Value)> {
    let name = || prop::sample::select(NAMES).prop_map(Value::from);
    let entry =
        |key: &'static str, value: BoxedStrategy<Value>| value.prop_map(move |value| (key.to_owned(), value));
    prop_oneof![
        entry(
            "$patch",
            prop::sample::select(&["replace", "delete", "merge", "bogus"][..]).prop_map(Value::from).boxed()
        ),
        entry(
            "$retainKeys",
            prop::collection::vec(prop::sample::select(FIELDS).prop_map(Value::from), 0..6)
                .prop_map(Value::Array)
                .boxed()
        ),
        entry(
            "$setElementOrder/containers",
            prop::collection::vec(name().prop_map(|n| json!({"name": n})), 0..4)
                .prop_map(Value::Array)
                .boxed()
        ),
        entry(
            "$setElementOrder/env",
            prop::collection::vec(name().prop_map(|n| json!({"name": n})), 0..4)
                .prop_map(Value::Array)
                .boxed()
        ),
        entry(
            "$setElementOrder/finalizers",
            prop::collection::vec(name(), 0..4).prop_map(Value::Array).boxed()
        ),
        entry(
            "$deleteFromPrimitiveList/finalizers",
            prop::collection::vec(name(), 0..3).prop_map(Value::Array).boxed()
        ),
        entry(
            "$deleteFromPrimitiveList/args",
            prop::collection::vec(name(), 0..3).prop_map(Value::Array).boxed()
        ),
        (prop::sample::select(ODD_KEYS), inner).prop_map(|(key, value)| (key.to_owned(), value)),
    ]
    .boxed()
}

/// Arbitrary JSON shaped enough like Kubernetes objects to reach merge keys and directives:
/// objects with common field names, and lists of objects that usually carry a `name`.
fn value(with_directives: bool) -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 48, 5, move |inner| {
        let field = (prop::sample::select(FIELDS).prop_map(str::to_owned), inner.clone());
        let entry = if with_directives {
            prop_oneof![3 => field.boxed(), 1 => directive(inner.clone().boxed())].boxed()
        } else {
            field.boxed()
        };
        let object = prop::collection::vec(entry, 0..5)
            .prop_map(|entries| Value::Object(entries.into_iter().collect()));
        let named = (prop::sample::select(NAMES), object.clone()).prop_map(|(name, mut object)| {
            if let Value::Object(map) = &mut object {
                map.insert("name".into(), json!(name));
            }
            object
        });
        prop_oneof![
            2 => object,
            1 => prop::collection::vec(inner, 0..4).prop_map(Value::Array),
            1 => prop::collection::vec(named, 0..4).prop_map(Value::Array),
        ]
    })
}

/// An object, sometimes nested where a DaemonSet keeps its pod spec.
fn object(with_directives: bool) -> impl Strategy<Value = Value> {
    (value(with_directives), any::<bool>()).prop_map(|(value, nest)| {
        let object = if value.is_object() { value } else { json!({ "x": value }) };
        if nest { json!({"spec": {"template": {"spec": object}}}) } else { object }
    })
}

fn directive_keys(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => {
                found.extend(map.keys().filter(|key| is_directive_key(key)).cloned());
                pending.extend(map.values());
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    found
}

/// Whether a `null` sits anywhere inside a list: JSON merge patch copies lists verbatim, nulls
/// included, where strategic merge patch drops them (upstream's typed decoding does the same).
fn has_null_in_list(value: &Value) -> bool {
    fn contains_null(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Array(items) => items.iter().any(contains_null),
            Value::Object(map) => map.values().any(contains_null),
            _ => false,
        }
    }
    match value {
        Value::Array(items) => items.iter().any(contains_null),
        Value::Object(map) => map.values().any(has_null_in_list),
        _ => false,
    }
}

fn check_strategic(target: &Value, patch: &Value, schema: &dyn Schema) -> Result<(), TestCaseError> {
    if let Ok(result) = apply_strategic_merge_patch(target, patch.clone(), schema) {
        let leaked = directive_keys(&result);
        prop_assert!(leaked.is_empty(), "directives {leaked:?} leaked from {patch} into {result}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn strategic_merge_never_panics_or_leaks_directives(target in object(false), patch in object(true)) {
        check_strategic(&target, &patch, &KindSchema::for_kind_or_generic("DaemonSet"))?;
        check_strategic(&target, &patch, &Untyped)?;
    }

    #[test]
    fn untyped_strategic_merge_without_directives_is_a_json_merge_patch(
        target in object(false),
        patch in object(false),
    ) {
        prop_assume!(!has_null_in_list(&patch));
        let strategic = apply_strategic_merge_patch(&target, patch.clone(), &Untyped).ok();
        let merge = apply_patch(&target, patch.to_string().as_bytes(), PatchType::Merge, &Untyped).ok();
        prop_assert_eq!(strategic, merge);
    }

    #[test]
    fn json_and_merge_patches_never_panic(target in value(false), patch in value(true)) {
        let body = patch.to_string();
        for patch_type in PatchType::ALL {
            let _ = apply_patch(&target, body.as_bytes(), patch_type, &Untyped);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let target = Value::Object(Map::new());
        for patch_type in PatchType::ALL {
            let _ = apply_patch(&target, &bytes, patch_type, &KindSchema::for_kind_or_generic("Pod"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// JSON patch operations built from paths that exist often enough to succeed sometimes.
    #[test]
    fn json_patch_operations_never_panic(
        target in object(false),
        ops in prop::collection::vec(
            (
                prop::sample::select(&["add", "remove", "replace", "move", "copy", "test"][..]),
                prop::sample::select(&["", "/x", "/spec", "/spec/template", "/x/0", "/x/-", "/spec/template/spec/containers/0"][..]),
                prop::sample::select(&["/x", "/spec", "/name", ""][..]),
                leaf(),
            ),
            0..6,
        ),
    ) {
        let ops: Vec<Value> = ops
            .into_iter()
            .map(|(op, path, from, value)| json!({"op": op, "path": path, "from": from, "value": value}))
            .collect();
        let _ = apply_patch(&target, Value::Array(ops).to_string().as_bytes(), PatchType::Json, &Untyped);
    }
}
