//! The table-driven decoder: protobuf message bytes to the JSON object `encoding/json` would
//! have produced for the same Go value.

use base64::Engine as _;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value};

use super::DecodeError;
use super::descriptors::{Field, Kind, Message, Presence};
use super::wire::{Reader, WireError, WireType};

/// The seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range protobuf's
/// Timestamp allows and RFC 3339 can spell.
const TIME_RANGE: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

/// Decodes `bytes` as `message` and merges its fields into `into`, as protobuf merges a message
/// that appears twice: scalars are replaced, repeated fields and maps extended, nested messages
/// merged. Unknown fields are skipped.
pub(super) fn merge_message(
    message: &'static Message,
    bytes: &[u8],
    into: &mut Map<String, Value>,
) -> Result<(), DecodeError> {
    let mut reader = Reader::new(bytes);
    while let Some((number, wire_type)) = reader.tag().map_err(|e| wire(message.name, e))? {
        match message.field(number) {
            Some(field) => merge_field(message, field, wire_type, &mut reader, into)?,
            None => reader.skip(wire_type).map_err(|e| wire(message.name, e))?,
        }
    }
    Ok(())
}

fn merge_field(
    message: &'static Message,
    field: &'static Field,
    wire_type: WireType,
    reader: &mut Reader<'_>,
    into: &mut Map<String, Value>,
) -> Result<(), DecodeError> {
    let at = Location { message: message.name, field: field.json };
    // A JSON key is written only by its own field (names are unique per table), so a slot that
    // exists holds the object or array that field put there.
    match &field.kind {
        Kind::Message(inner) => {
            let bytes = len_delimited(reader, wire_type, at)?;
            if let Value::Object(object) = into.entry(field.json).or_insert_with(|| Value::Object(Map::new()))
            {
                merge_message(inner, bytes, object)?;
            }
        }
        Kind::Map(value_kind) => {
            let (key, value) = map_entry(value_kind, len_delimited(reader, wire_type, at)?, at)?;
            if let Value::Object(entries) =
                into.entry(field.json).or_insert_with(|| Value::Object(Map::new()))
            {
                entries.insert(key, value);
            }
        }
        Kind::Repeated(element) => {
            let value = single(element, wire_type, reader, at)?;
            if let Value::Array(items) = into.entry(field.json).or_insert_with(|| Value::Array(Vec::new())) {
                items.push(value);
            }
        }
        scalar => {
            let value = single(scalar, wire_type, reader, at)?;
            if field.presence == Presence::OmitEmpty && is_zero(&value) {
                into.remove(field.json);
            } else {
                into.insert(field.json.to_owned(), value);
            }
        }
    }
    Ok(())
}

/// One value of `kind`: a scalar, a Time or a whole message.
fn single(
    kind: &Kind,
    wire_type: WireType,
    reader: &mut Reader<'_>,
    at: Location,
) -> Result<Value, DecodeError> {
    Ok(match kind {
        Kind::String => Value::String(utf8(len_delimited(reader, wire_type, at)?, at)?),
        Kind::Bytes => Value::String(
            base64::engine::general_purpose::STANDARD.encode(len_delimited(reader, wire_type, at)?),
        ),
        // Two's complement reinterpretation, as Go's `int64(v)` does.
        Kind::Int64 => Value::from(varint(reader, wire_type, at)? as i64),
        // Truncation to the low 32 bits, as upstream's generated unmarshaller does.
        Kind::Int32 => Value::from(varint(reader, wire_type, at)? as i32),
        Kind::Bool => Value::Bool(varint(reader, wire_type, at)? != 0),
        Kind::Time => time(len_delimited(reader, wire_type, at)?, at)?,
        Kind::Message(inner) => {
            let mut object = Map::new();
            merge_message(inner, len_delimited(reader, wire_type, at)?, &mut object)?;
            Value::Object(object)
        }
        Kind::Map(_) | Kind::Repeated(_) => return Err(DecodeError::Table { at: at.to_string() }),
    })
}

/// A map entry: key 1 (a string), value 2. Missing parts are zero, as protobuf says.
fn map_entry(value_kind: &Kind, bytes: &[u8], at: Location) -> Result<(String, Value), DecodeError> {
    let mut reader = Reader::new(bytes);
    let mut key = String::new();
    let mut value = None;
    while let Some((number, wire_type)) = reader.tag().map_err(|e| wire(at, e))? {
        match number {
            1 => key = utf8(len_delimited(&mut reader, wire_type, at)?, at)?,
            2 => value = Some(single(value_kind, wire_type, &mut reader, at)?),
            _ => reader.skip(wire_type).map_err(|e| wire(at, e))?,
        }
    }
    let value = match value {
        Some(value) => value,
        None => zero(value_kind, at)?,
    };
    Ok((key, value))
}

/// The JSON of a value missing from the wire.
fn zero(kind: &Kind, at: Location) -> Result<Value, DecodeError> {
    Ok(match kind {
        Kind::String | Kind::Bytes => Value::String(String::new()),
        Kind::Int64 | Kind::Int32 => Value::from(0),
        Kind::Bool => Value::Bool(false),
        Kind::Time => Value::Null,
        Kind::Message(_) => Value::Object(Map::new()),
        Kind::Map(_) | Kind::Repeated(_) => return Err(DecodeError::Table { at: at.to_string() }),
    })
}

/// `meta/v1` Time: `seconds = 1`, `nanos = 2`. Upstream's unmarshaller reads empty bytes as the
/// zero Time (JSON `null`) and drops the nanoseconds, since JSON carries whole seconds.
fn time(bytes: &[u8], at: Location) -> Result<Value, DecodeError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let mut reader = Reader::new(bytes);
    let mut seconds = 0i64;
    while let Some((number, wire_type)) = reader.tag().map_err(|e| wire(at, e))? {
        match number {
            1 => seconds = varint(&mut reader, wire_type, at)? as i64,
            _ => reader.skip(wire_type).map_err(|e| wire(at, e))?,
        }
    }
    if !TIME_RANGE.contains(&seconds) {
        return Err(DecodeError::TimeOutOfRange { at: at.to_string(), seconds });
    }
    let timestamp = Timestamp::from_second(seconds)
        .map_err(|_| DecodeError::TimeOutOfRange { at: at.to_string(), seconds })?;
    Ok(Value::String(crate::meta::timestamp(timestamp)))
}

/// Whether `encoding/json`'s `omitempty` (or `omitzero`, for Time) would leave `value` out.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        Value::String(s) => s.is_empty(),
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// Reads a length-delimited value, checking the wire type first.
pub(super) fn len_delimited<'a>(
    reader: &mut Reader<'a>,
    wire_type: WireType,
    at: impl Into<Location>,
) -> Result<&'a [u8], DecodeError> {
    let at = at.into();
    expect(wire_type, WireType::Len, at)?;
    reader.len_delimited().map_err(|e| wire(at, e))
}

fn varint(reader: &mut Reader<'_>, wire_type: WireType, at: Location) -> Result<u64, DecodeError> {
    expect(wire_type, WireType::Varint, at)?;
    reader.varint().map_err(|e| wire(at, e))
}

fn expect(found: WireType, expected: WireType, at: Location) -> Result<(), DecodeError> {
    if found == expected {
        Ok(())
    } else {
        Err(DecodeError::WrongWireType { at: at.to_string(), expected, found })
    }
}

/// A protobuf string as UTF-8 (JSON cannot carry anything else).
pub(super) fn utf8(bytes: &[u8], at: impl Into<Location>) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidUtf8 { at: at.into().to_string() })
}

pub(super) fn wire(at: impl Into<Location>, source: WireError) -> DecodeError {
    DecodeError::Wire { at: at.into().to_string(), source }
}

/// Where a value sits, for error messages: `ObjectMeta.labels`, or a message alone.
#[derive(Debug, Clone, Copy)]
pub(super) struct Location {
    message: &'static str,
    field: &'static str,
}

impl From<&'static str> for Location {
    fn from(message: &'static str) -> Location {
        Location { message, field: "" }
    }
}

impl From<(&'static str, &'static str)> for Location {
    fn from((message, field): (&'static str, &'static str)) -> Location {
        Location { message, field }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(self.message)
        } else {
            write!(f, "{}.{}", self.message, self.field)
        }
    }
}
