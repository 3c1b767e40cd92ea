//! Decoder tests with hand-encoded messages: every kind of field, presence rules, merging,
//! unknown fields, and malformed input (errors, never panics).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::descriptors::{Field, Kind, Message, Presence};
use super::{DecodeError, decode, decode_object};

// --- a minimal encoder, for building inputs ---

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn varint_field(number: u32, value: u64) -> Vec<u8> {
    let mut out = varint(u64::from(number) << 3);
    out.extend(varint(value));
    out
}

fn len_field(number: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = varint((u64::from(number) << 3) | 2);
    out.extend(varint(bytes.len() as u64));
    out.extend_from_slice(bytes);
    out
}

fn entry(key: &str, value: &[u8]) -> Vec<u8> {
    [len_field(1, key.as_bytes()), len_field(2, value)].concat()
}

fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let type_meta = [len_field(1, api_version.as_bytes()), len_field(2, kind.as_bytes())].concat();
    [b"k8s\x00".to_vec(), len_field(1, &type_meta), len_field(2, raw), len_field(3, b""), len_field(4, b"")]
        .concat()
}

/// 2023-11-14T22:13:20Z.
const SECONDS: u64 = 1_700_000_000;

fn time(seconds: u64, nanos: u64) -> Vec<u8> {
    [varint_field(1, seconds), varint_field(2, nanos)].concat()
}

/// ObjectMeta as kubectl writes it: every value field, empty or not.
fn kubectl_meta(name: &str, namespace: &str) -> Vec<u8> {
    [
        len_field(1, name.as_bytes()),
        len_field(2, b""),
        len_field(3, namespace.as_bytes()),
        len_field(4, b""),
        len_field(5, b""),
        len_field(6, b""),
        varint_field(7, 0),
        len_field(8, b""),
    ]
    .concat()
}

fn decode_raw(message: &'static Message, raw: &[u8]) -> Result<Value, DecodeError> {
    let mut object = serde_json::Map::new();
    decode::merge_message(message, raw, &mut object)?;
    Ok(Value::Object(object))
}

/// A message with one field of every kind, to test the decoder apart from Kubernetes' tables.
static EVERY_KIND: Message = Message {
    name: "EveryKind",
    fields: &[
        Field { number: 1, json: "string", kind: Kind::String, presence: Presence::OmitEmpty },
        Field { number: 2, json: "bytes", kind: Kind::Bytes, presence: Presence::OmitEmpty },
        Field { number: 3, json: "int64", kind: Kind::Int64, presence: Presence::OmitEmpty },
        Field { number: 4, json: "int32", kind: Kind::Int32, presence: Presence::OmitEmpty },
        Field { number: 5, json: "bool", kind: Kind::Bool, presence: Presence::Kept },
        Field { number: 6, json: "time", kind: Kind::Time, presence: Presence::Kept },
        Field { number: 7, json: "nested", kind: Kind::Message(&EVERY_KIND), presence: Presence::Kept },
        Field {
            number: 8,
            json: "strings",
            kind: Kind::Repeated(&Kind::String),
            presence: Presence::OmitEmpty,
        },
        Field { number: 9, json: "blobs", kind: Kind::Map(&Kind::Bytes), presence: Presence::OmitEmpty },
        Field {
            number: 10,
            json: "bad",
            kind: Kind::Repeated(&Kind::Map(&Kind::String)),
            presence: Presence::Kept,
        },
    ],
};

#[test]
fn every_kind_of_field_renders_as_encoding_json_would() {
    let raw = [
        len_field(1, "héllo".as_bytes()),
        len_field(2, &[0, 0xff, 0xfe]),
        varint_field(3, (-5i64) as u64),
        // -1 as int32 is sign-extended to ten bytes on the wire.
        varint_field(4, u64::MAX),
        varint_field(5, 0),
        len_field(6, &time(SECONDS, 999)),
        len_field(7, &len_field(1, b"inner")),
        len_field(8, b"a"),
        len_field(8, b""),
        len_field(9, &entry("k", b"\x01\x02")),
    ]
    .concat();
    assert_eq!(
        decode_raw(&EVERY_KIND, &raw).unwrap(),
        json!({
            "string": "héllo",
            "bytes": "AP/+",
            "int64": -5,
            "int32": -1,
            "bool": false,
            "time": "2023-11-14T22:13:20Z",
            "nested": {"string": "inner"},
            "strings": ["a", ""],
            "blobs": {"k": "AQI="},
        })
    );
}

#[test]
fn empty_values_of_omit_empty_fields_are_left_out_and_kept_ones_stay() {
    let raw = [
        len_field(1, b""),
        len_field(2, b""),
        varint_field(3, 0),
        varint_field(4, 0),
        varint_field(5, 0),
        len_field(6, b""),
        len_field(7, b""),
    ]
    .concat();
    assert_eq!(decode_raw(&EVERY_KIND, &raw).unwrap(), json!({"bool": false, "time": null, "nested": {}}));
}

#[test]
fn a_later_empty_value_removes_an_earlier_one_and_messages_merge() {
    let raw = [
        len_field(1, b"first"),
        len_field(1, b""),
        len_field(7, &len_field(1, b"x")),
        len_field(7, &varint_field(3, 7)),
        len_field(9, &entry("a", b"1")),
        len_field(9, &entry("b", b"2")),
        len_field(9, &entry("a", b"3")),
    ]
    .concat();
    assert_eq!(
        decode_raw(&EVERY_KIND, &raw).unwrap(),
        json!({"nested": {"string": "x", "int64": 7}, "blobs": {"a": "Mw==", "b": "Mg=="}})
    );
}

#[test]
fn map_entries_missing_a_key_or_value_use_zero_values() {
    let raw = [len_field(9, &len_field(2, b"v")), len_field(9, &len_field(1, b"k"))].concat();
    assert_eq!(decode_raw(&EVERY_KIND, &raw).unwrap(), json!({"blobs": {"": "dg==", "k": ""}}));
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped() {
    let raw = [
        varint_field(20, 300),
        len_field(21, b"ignored"),
        // Field 22 fixed64, field 23 fixed32.
        vec![0xb1, 0x01, 1, 2, 3, 4, 5, 6, 7, 8],
        vec![0xbd, 0x01, 1, 2, 3, 4],
        len_field(1, b"kept"),
    ]
    .concat();
    assert_eq!(decode_raw(&EVERY_KIND, &raw).unwrap(), json!({"string": "kept"}));
}

#[test]
fn malformed_fields_are_errors_that_name_the_field() {
    let wrong_wire_type = decode_raw(&EVERY_KIND, &varint_field(1, 5)).unwrap_err();
    assert_eq!(
        wrong_wire_type.to_string(),
        "EveryKind.string: expected a length-delimited value, found varint"
    );
    let not_utf8 = decode_raw(&EVERY_KIND, &len_field(1, &[0xff])).unwrap_err();
    assert_eq!(not_utf8.to_string(), "EveryKind.string: string is not valid UTF-8");
    let truncated = decode_raw(&EVERY_KIND, &len_field(1, b"abc")[..3]).unwrap_err();
    assert_eq!(truncated.to_string(), "EveryKind.string: unexpected end of input");
    let too_late = decode_raw(&EVERY_KIND, &len_field(6, &time(u64::MAX / 2, 0))).unwrap_err();
    assert!(matches!(too_late, DecodeError::TimeOutOfRange { .. }), "{too_late}");
    let before_year_one = decode_raw(&EVERY_KIND, &len_field(6, &time((-62_135_596_801i64) as u64, 0)));
    assert!(matches!(before_year_one, Err(DecodeError::TimeOutOfRange { .. })), "{before_year_one:?}");
    let nested_map = decode_raw(&EVERY_KIND, &len_field(10, &entry("k", b"v"))).unwrap_err();
    assert!(matches!(nested_map, DecodeError::Table { .. }), "{nested_map}");
}

#[test]
fn object_meta_decodes_every_field_the_server_uses() {
    let owner = [
        len_field(1, b"DaemonSet"),
        len_field(3, b"fluentd"),
        len_field(4, b"uid-1"),
        len_field(5, b"apps/v1"),
        varint_field(6, 1),
        varint_field(7, 0),
    ]
    .concat();
    let meta = [
        kubectl_meta("settings", "scratch"),
        len_field(5, b"0a9e"),
        len_field(6, b"42"),
        varint_field(7, 3),
        len_field(8, &time(SECONDS, 0)),
        len_field(9, &time(SECONDS + 60, 0)),
        varint_field(10, 0),
        len_field(11, &entry("app", b"web")),
        len_field(11, &entry("tier", b"front")),
        len_field(12, &entry("note", b"hi")),
        len_field(13, &owner),
        len_field(14, b"a/b"),
        len_field(14, b"c"),
        // managedFields: skipped.
        len_field(17, &len_field(1, b"kubectl")),
    ]
    .concat();
    let body = envelope("v1", "ConfigMap", &len_field(1, &meta));
    assert_eq!(
        decode_object(&body).unwrap(),
        json!({
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {
                "name": "settings",
                "namespace": "scratch",
                "uid": "0a9e",
                "resourceVersion": "42",
                "generation": 3,
                "creationTimestamp": "2023-11-14T22:13:20Z",
                "deletionTimestamp": "2023-11-14T22:14:20Z",
                "deletionGracePeriodSeconds": 0,
                "labels": {"app": "web", "tier": "front"},
                "annotations": {"note": "hi"},
                "ownerReferences": [{
                    "kind": "DaemonSet",
                    "name": "fluentd",
                    "uid": "uid-1",
                    "apiVersion": "apps/v1",
                    "controller": true,
                    "blockOwnerDeletion": false,
                }],
                "finalizers": ["a/b", "c"],
            },
        })
    );
}

#[test]
fn config_maps_carry_binary_data_as_base64_and_immutability() {
    let raw = [
        len_field(1, &kubectl_meta("c", "default")),
        len_field(2, &entry("text", b"plain")),
        len_field(3, &entry("blob", b"\x00\xff")),
        varint_field(4, 0),
    ]
    .concat();
    assert_eq!(
        decode_object(&envelope("v1", "ConfigMap", &raw)).unwrap(),
        json!({
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": "c", "namespace": "default"},
            "data": {"text": "plain"},
            "binaryData": {"blob": "AP8="},
            "immutable": false,
        })
    );
}

#[test]
fn secrets_carry_data_as_base64_string_data_type_and_immutability() {
    let raw = [
        len_field(1, &kubectl_meta("s", "default")),
        len_field(2, &entry("password", b"s3cret")),
        len_field(3, b"kubernetes.io/basic-auth"),
        len_field(4, &entry("username", b"admin")),
        varint_field(5, 1),
    ]
    .concat();
    assert_eq!(
        decode_object(&envelope("v1", "Secret", &raw)).unwrap(),
        json!({
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {"name": "s", "namespace": "default"},
            "data": {"password": "czNjcmV0"},
            "type": "kubernetes.io/basic-auth",
            "stringData": {"username": "admin"},
            "immutable": true,
        })
    );
}

#[test]
fn service_accounts_carry_secret_references_and_automount() {
    let secret = [len_field(1, b"Secret"), len_field(3, b"token"), len_field(2, b"")].concat();
    let raw = [
        len_field(1, &kubectl_meta("robot", "default")),
        len_field(2, &secret),
        len_field(3, &len_field(1, b"regcred")),
        len_field(3, &len_field(1, b"mirror")),
        varint_field(4, 0),
    ]
    .concat();
    assert_eq!(
        decode_object(&envelope("v1", "ServiceAccount", &raw)).unwrap(),
        json!({
            "kind": "ServiceAccount",
            "apiVersion": "v1",
            "metadata": {"name": "robot", "namespace": "default"},
            "secrets": [{"kind": "Secret", "name": "token"}],
            "imagePullSecrets": [{"name": "regcred"}, {"name": "mirror"}],
            "automountServiceAccountToken": false,
        })
    );
}

#[test]
fn namespaces_carry_finalizers_phase_and_conditions() {
    let condition = [
        len_field(1, b"NamespaceDeletionContentFailure"),
        len_field(2, b"False"),
        len_field(4, b""),
        len_field(5, b"ContentDeleted"),
        len_field(6, b""),
    ]
    .concat();
    let raw = [
        len_field(1, &kubectl_meta("scratch", "")),
        len_field(2, &len_field(1, b"kubernetes")),
        len_field(3, &[len_field(1, b"Active"), len_field(2, &condition)].concat()),
    ]
    .concat();
    assert_eq!(
        decode_object(&envelope("v1", "Namespace", &raw)).unwrap(),
        json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {"name": "scratch"},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {
                "phase": "Active",
                "conditions": [{
                    "type": "NamespaceDeletionContentFailure",
                    "status": "False",
                    "reason": "ContentDeleted",
                }],
            },
        })
    );
}

#[test]
fn kinds_without_a_table_are_unsupported_and_named() {
    let error = decode_object(&envelope("apps/v1", "DaemonSet", b"")).unwrap_err();
    assert!(matches!(&error, DecodeError::UnsupportedKind { kind, .. } if kind == "DaemonSet"));
    let message = error.to_string();
    assert!(message.contains("not apps/v1 DaemonSet"), "{message}");
    assert!(message.contains("v1 Namespace, v1 ConfigMap, v1 Secret, v1 ServiceAccount"), "{message}");
    assert!(message.contains("kubectl apply"), "{message}");
}

/// kubectl's own bodies, for mutation.
const FIXTURES: &[&[u8]] = &[
    include_bytes!("../../tests/fixtures/protobuf/namespace.bin"),
    include_bytes!("../../tests/fixtures/protobuf/configmap-binary.bin"),
    include_bytes!("../../tests/fixtures/protobuf/configmap-save-config.bin"),
    include_bytes!("../../tests/fixtures/protobuf/secret-docker-registry.bin"),
    include_bytes!("../../tests/fixtures/protobuf/serviceaccount.bin"),
];

#[test]
fn every_truncation_of_a_kubectl_body_is_an_error_or_a_whole_object_never_a_panic() {
    for fixture in FIXTURES {
        let whole = decode_object(fixture).unwrap();
        for len in 0..fixture.len() {
            // Cutting into the envelope's typeMeta or raw fails. Protobuf cannot tell a cut at
            // a field boundary from a shorter message: right before raw, that is an object with
            // no fields; after raw, before the (empty) contentEncoding/contentType, the whole.
            if let Ok(value) = decode_object(&fixture[..len]) {
                let only_type = value.as_object().is_some_and(|o| o.len() == 2);
                assert!(value == whole || only_type, "prefix of {len} bytes decoded to {value}");
            }
        }
    }
}

/// Fixed budget and seed: the same inputs every run, quick enough for `cargo test`.
const FUZZ_ROUNDS: usize = 20_000;

#[test]
fn mutated_and_random_bodies_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x6b38_7300);
    for round in 0..FUZZ_ROUNDS {
        let mut body = FIXTURES[round % FIXTURES.len()].to_vec();
        for _ in 0..rng.random_range(1..=4) {
            let at = rng.random_range(0..body.len().max(1));
            match rng.random_range(0..5) {
                0 if !body.is_empty() => body[at] ^= 1 << rng.random_range(0..8),
                1 if !body.is_empty() => body[at] = rng.random(),
                2 => body.insert(at.min(body.len()), rng.random()),
                3 if !body.is_empty() => drop(body.remove(at)),
                _ => body.truncate(at),
            }
        }
        let _ = decode_object(&body);
        // Random bytes behind a valid prefix exercise the wire reader directly.
        let mut random = b"k8s\x00".to_vec();
        random.extend((0..rng.random_range(0..64)).map(|_| rng.random::<u8>()));
        let _ = decode_object(&random);
        let _ = decode_raw(&super::descriptors::OBJECT_META, &random[4..]);
    }
}
