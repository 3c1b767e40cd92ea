//! Shared by the upstream strategic merge patch case tables: a schema shaped like upstream's
//! `MergeItem` test type, and a runner that reports every failing case by name.

use everynode_patch::{FieldMeta, Schema, apply_strategic_merge_patch};
use serde_json::Value;

/// Upstream's `MergeItem` tags, by the last field name of the path.
pub struct MergeItemSchema;

impl Schema for MergeItemSchema {
    fn field(&self, path: &[&str]) -> FieldMeta {
        match path.last().copied() {
            Some("mergingList" | "mergeItemPtr") => FieldMeta::merge_by("name"),
            Some("retainKeysMergingList") => FieldMeta::merge_by_retaining_keys("name"),
            Some("mergingIntList") => FieldMeta::SET,
            Some("replacingItem") => FieldMeta::REPLACE,
            Some("retainKeysMap") => FieldMeta { retain_keys: true, ..FieldMeta::DEFAULT },
            _ => FieldMeta::DEFAULT,
        }
    }
}

pub enum Want {
    Object(Value),
    ErrorContaining(&'static str),
}

pub struct Case {
    pub name: &'static str,
    pub original: Value,
    pub patch: Value,
    pub want: Want,
}

pub fn case(name: &'static str, original: Value, patch: Value, want: Value) -> Case {
    Case { name, original, patch, want: Want::Object(want) }
}

pub fn error_case(name: &'static str, original: Value, patch: Value, message: &'static str) -> Case {
    Case { name, original, patch, want: Want::ErrorContaining(message) }
}

pub fn run(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for Case { name, original, patch, want } in cases {
        let got = apply_strategic_merge_patch(&original, patch, &MergeItemSchema);
        match (want, got) {
            (Want::Object(want), Ok(got)) if got == want => {}
            (Want::ErrorContaining(message), Err(err)) if err.to_string().contains(message) => {}
            (Want::Object(want), got) => failures.push(format!("{name}:\n  want {want}\n  got  {got:?}")),
            (Want::ErrorContaining(message), got) => {
                failures.push(format!("{name}:\n  want error containing {message:?}\n  got {got:?}"))
            }
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}
