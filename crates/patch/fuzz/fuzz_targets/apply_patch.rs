//! Feeds arbitrary bytes to `apply_patch` as a patch of every type, against a DaemonSet or a
//! target read from the input, and checks the properties the API server relies on: no panic, and
//! no strategic merge patch directive in a result whose target had none.

#![no_main]

use everynode_patch::{KindSchema, PatchType, apply_patch, is_directive_key};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the patch type and schema; an optional NUL splits target from patch.
    let Some((&selector, rest)) = data.split_first() else { return };
    let (target, patch) = match rest.iter().position(|&b| b == 0) {
        Some(split) => {
            let Ok(target) = serde_json::from_slice::<Value>(&rest[..split]) else { return };
            (target, &rest[split + 1..])
        }
        None => (daemon_set(), rest),
    };
    let patch_type = PatchType::ALL[usize::from(selector) % PatchType::ALL.len()];
    let kind = ["DaemonSet", "Pod", "Node", "UpdateRequest"][usize::from(selector / 4) % 4];
    let Ok(result) = apply_patch(&target, patch, patch_type, &KindSchema::for_kind_or_generic(kind)) else {
        return;
    };
    if patch_type == PatchType::StrategicMerge && directive_keys(&target) == 0 {
        assert_eq!(directive_keys(&result), 0, "directive leaked into {result}");
    }
});

fn directive_keys(value: &Value) -> usize {
    let mut count = 0;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => {
                count += map.keys().filter(|key| is_directive_key(key)).count();
                pending.extend(map.values());
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    count
}

fn daemon_set() -> Value {
    json!({
        "metadata": {"name": "ds", "finalizers": ["a"], "labels": {"app": "x"}},
        "spec": {"template": {"spec": {
            "containers": [
                {"name": "c", "image": "i", "env": [{"name": "A", "value": "1"}], "ports": [{"containerPort": 80}]},
                {"name": "d", "image": "j", "args": ["x"]},
            ],
            "volumes": [{"name": "v", "emptyDir": {}}],
            "tolerations": [{"operator": "Exists"}],
        }}},
    })
}
