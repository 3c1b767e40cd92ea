//! Field tables of the Kubernetes types whose protobuf bodies the server decodes, transcribed
//! from upstream's `generated.proto` files (field numbers) and Go structs (JSON names, and
//! which fields `encoding/json` leaves out when empty).
//!
//! Adding a kind means adding its message tables here and one line to [`KINDS`].

/// A message type: its fields by number.
#[derive(Debug)]
pub struct Message {
    /// The proto message name, for error messages.
    pub name: &'static str,
    /// The fields the server knows; others are skipped as protobuf requires.
    pub fields: &'static [Field],
}

impl Message {
    /// The field with `number`, if known.
    pub fn field(&self, number: u32) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.number == number)
    }
}

/// One field of a [`Message`].
#[derive(Debug)]
pub struct Field {
    /// The protobuf field number.
    pub number: u32,
    /// The JSON name (camelCase, as the Go struct tag says).
    pub json: &'static str,
    /// What the value is.
    pub kind: Kind,
    /// Whether a zero value is left out of the JSON.
    pub presence: Presence,
}

impl Field {
    /// A field whose zero value the JSON leaves out: a Go value field tagged `omitempty` (or a
    /// Time tagged `omitzero`). Upstream's generated marshallers write such fields even when
    /// empty (kubectl sends `generateName: ""`), so the decoder drops them as `encoding/json`
    /// would.
    const fn omit_empty(number: u32, json: &'static str, kind: Kind) -> Field {
        Field { number, json, kind, presence: Presence::OmitEmpty }
    }

    /// A field rendered whenever it is on the wire: a Go pointer (on the wire only when set,
    /// so `false` and `0` are meaningful) or a value field without `omitempty`.
    const fn kept(number: u32, json: &'static str, kind: Kind) -> Field {
        Field { number, json, kind, presence: Presence::Kept }
    }
}

/// Whether a field's zero value appears in the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Empty strings, zero numbers, `false` and zero Times are left out.
    OmitEmpty,
    /// Whatever is on the wire is rendered.
    Kept,
}

/// The type of a field's value, and how it is rendered in JSON.
///
/// Messages are always rendered when on the wire (`encoding/json` never leaves out a struct),
/// repeated fields and maps only when they have entries (an empty one is never on the wire).
#[derive(Debug)]
pub enum Kind {
    /// UTF-8 text; a JSON string.
    String,
    /// Raw bytes; a base64 JSON string, as `encoding/json` renders `[]byte`.
    Bytes,
    /// A varint int64; a JSON number.
    Int64,
    /// A varint int32 (sign-extended on the wire); a JSON number.
    Int32,
    /// A varint bool; a JSON boolean.
    Bool,
    /// `meta/v1` Time (`{seconds = 1, nanos = 2}`); an RFC 3339 string in UTC, to the second
    /// as upstream's Time unmarshaller keeps it.
    Time,
    /// A nested message; a JSON object.
    Message(&'static Message),
    /// `map<string, V>`: entries with key 1 and value 2; a JSON object. V is String or Bytes.
    Map(&'static Kind),
    /// `repeated E` (one wire entry per element, never packed here); a JSON array. E is a
    /// scalar or a Message.
    Repeated(&'static Kind),
}

/// The kinds a protobuf body may carry, by `apiVersion` and `kind`.
pub static KINDS: &[(&str, &str, &Message)] = &[
    ("v1", "Namespace", &NAMESPACE),
    ("v1", "ConfigMap", &CONFIG_MAP),
    ("v1", "Secret", &SECRET),
    ("v1", "ServiceAccount", &SERVICE_ACCOUNT),
];

/// The table of `apiVersion`/`kind`, if the server decodes it.
pub fn for_kind(api_version: &str, kind: &str) -> Option<&'static Message> {
    KINDS.iter().find(|(v, k, _)| *v == api_version && *k == kind).map(|(_, _, message)| *message)
}

// --- k8s.io/apimachinery/pkg/apis/meta/v1 ---

/// `ObjectMeta`. Left out: `managedFields` (17; the server keeps no field ownership) and
/// `clusterName` (15; removed upstream).
pub static OBJECT_META: Message = Message {
    name: "ObjectMeta",
    fields: &[
        Field::omit_empty(1, "name", Kind::String),
        Field::omit_empty(2, "generateName", Kind::String),
        Field::omit_empty(3, "namespace", Kind::String),
        Field::omit_empty(4, "selfLink", Kind::String),
        Field::omit_empty(5, "uid", Kind::String),
        Field::omit_empty(6, "resourceVersion", Kind::String),
        Field::omit_empty(7, "generation", Kind::Int64),
        Field::omit_empty(8, "creationTimestamp", Kind::Time),
        Field::kept(9, "deletionTimestamp", Kind::Time),
        Field::kept(10, "deletionGracePeriodSeconds", Kind::Int64),
        Field::omit_empty(11, "labels", Kind::Map(&Kind::String)),
        Field::omit_empty(12, "annotations", Kind::Map(&Kind::String)),
        Field::omit_empty(13, "ownerReferences", Kind::Repeated(&Kind::Message(&OWNER_REFERENCE))),
        Field::omit_empty(14, "finalizers", Kind::Repeated(&Kind::String)),
    ],
};

/// `OwnerReference`: its four identifying strings have no `omitempty`.
pub static OWNER_REFERENCE: Message = Message {
    name: "OwnerReference",
    fields: &[
        Field::kept(1, "kind", Kind::String),
        Field::kept(3, "name", Kind::String),
        Field::kept(4, "uid", Kind::String),
        Field::kept(5, "apiVersion", Kind::String),
        Field::kept(6, "controller", Kind::Bool),
        Field::kept(7, "blockOwnerDeletion", Kind::Bool),
    ],
};

// --- k8s.io/api/core/v1 ---

/// `Namespace`.
pub static NAMESPACE: Message = Message {
    name: "Namespace",
    fields: &[
        Field::kept(1, "metadata", Kind::Message(&OBJECT_META)),
        Field::kept(2, "spec", Kind::Message(&NAMESPACE_SPEC)),
        Field::kept(3, "status", Kind::Message(&NAMESPACE_STATUS)),
    ],
};

/// `NamespaceSpec`.
pub static NAMESPACE_SPEC: Message = Message {
    name: "NamespaceSpec",
    fields: &[Field::omit_empty(1, "finalizers", Kind::Repeated(&Kind::String))],
};

/// `NamespaceStatus`.
pub static NAMESPACE_STATUS: Message = Message {
    name: "NamespaceStatus",
    fields: &[
        Field::omit_empty(1, "phase", Kind::String),
        Field::omit_empty(2, "conditions", Kind::Repeated(&Kind::Message(&NAMESPACE_CONDITION))),
    ],
};

/// `NamespaceCondition`: `type` and `status` have no `omitempty`.
pub static NAMESPACE_CONDITION: Message = Message {
    name: "NamespaceCondition",
    fields: &[
        Field::kept(1, "type", Kind::String),
        Field::kept(2, "status", Kind::String),
        Field::omit_empty(4, "lastTransitionTime", Kind::Time),
        Field::omit_empty(5, "reason", Kind::String),
        Field::omit_empty(6, "message", Kind::String),
    ],
};

/// `ConfigMap`.
pub static CONFIG_MAP: Message = Message {
    name: "ConfigMap",
    fields: &[
        Field::kept(1, "metadata", Kind::Message(&OBJECT_META)),
        Field::omit_empty(2, "data", Kind::Map(&Kind::String)),
        Field::omit_empty(3, "binaryData", Kind::Map(&Kind::Bytes)),
        Field::kept(4, "immutable", Kind::Bool),
    ],
};

/// `Secret`.
pub static SECRET: Message = Message {
    name: "Secret",
    fields: &[
        Field::kept(1, "metadata", Kind::Message(&OBJECT_META)),
        Field::omit_empty(2, "data", Kind::Map(&Kind::Bytes)),
        Field::omit_empty(3, "type", Kind::String),
        Field::omit_empty(4, "stringData", Kind::Map(&Kind::String)),
        Field::kept(5, "immutable", Kind::Bool),
    ],
};

/// `ServiceAccount`.
pub static SERVICE_ACCOUNT: Message = Message {
    name: "ServiceAccount",
    fields: &[
        Field::kept(1, "metadata", Kind::Message(&OBJECT_META)),
        Field::omit_empty(2, "secrets", Kind::Repeated(&Kind::Message(&OBJECT_REFERENCE))),
        Field::omit_empty(3, "imagePullSecrets", Kind::Repeated(&Kind::Message(&LOCAL_OBJECT_REFERENCE))),
        Field::kept(4, "automountServiceAccountToken", Kind::Bool),
    ],
};

/// `ObjectReference`.
pub static OBJECT_REFERENCE: Message = Message {
    name: "ObjectReference",
    fields: &[
        Field::omit_empty(1, "kind", Kind::String),
        Field::omit_empty(2, "namespace", Kind::String),
        Field::omit_empty(3, "name", Kind::String),
        Field::omit_empty(4, "uid", Kind::String),
        Field::omit_empty(5, "apiVersion", Kind::String),
        Field::omit_empty(6, "resourceVersion", Kind::String),
        Field::omit_empty(7, "fieldPath", Kind::String),
    ],
};

/// `LocalObjectReference`.
pub static LOCAL_OBJECT_REFERENCE: Message =
    Message { name: "LocalObjectReference", fields: &[Field::omit_empty(1, "name", Kind::String)] };

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every message reachable from [`KINDS`], each once.
    fn reachable() -> Vec<&'static Message> {
        fn visit(message: &'static Message, seen: &mut Vec<&'static Message>) {
            if seen.iter().any(|m| std::ptr::eq(*m, message)) {
                return;
            }
            seen.push(message);
            for field in message.fields {
                let mut kind = &field.kind;
                while let Kind::Repeated(inner) | Kind::Map(inner) = kind {
                    kind = inner;
                }
                if let Kind::Message(inner) = kind {
                    visit(inner, seen);
                }
            }
        }
        let mut seen = Vec::new();
        for (_, _, message) in KINDS {
            visit(message, &mut seen);
        }
        seen
    }

    #[test]
    fn tables_have_unique_positive_field_numbers_and_json_names() {
        for message in reachable() {
            let numbers: BTreeSet<u32> = message.fields.iter().map(|f| f.number).collect();
            let names: BTreeSet<&str> = message.fields.iter().map(|f| f.json).collect();
            assert_eq!(numbers.len(), message.fields.len(), "{}: duplicate field number", message.name);
            assert_eq!(names.len(), message.fields.len(), "{}: duplicate JSON name", message.name);
            assert!(!numbers.contains(&0), "{}: field number 0", message.name);
        }
    }

    #[test]
    fn maps_hold_strings_or_bytes_and_repeated_fields_hold_scalars_or_messages() {
        for message in reachable() {
            for field in message.fields {
                match &field.kind {
                    Kind::Map(value) => assert!(
                        matches!(value, Kind::String | Kind::Bytes),
                        "{}.{}: map values must be strings or bytes",
                        message.name,
                        field.json
                    ),
                    Kind::Repeated(element) => assert!(
                        !matches!(element, Kind::Repeated(_) | Kind::Map(_)),
                        "{}.{}: repeated elements must be scalars or messages",
                        message.name,
                        field.json
                    ),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn each_top_level_kind_starts_with_object_meta_as_field_one() {
        for (api_version, kind, message) in KINDS {
            let metadata = message.field(1).expect("metadata");
            assert_eq!(metadata.json, "metadata", "{api_version} {kind}");
            assert!(matches!(metadata.kind, Kind::Message(m) if std::ptr::eq(m, &OBJECT_META)));
        }
    }
}
