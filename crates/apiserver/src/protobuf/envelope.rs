//! The envelope upstream's protobuf serializer wraps every object in: the magic prefix
//! `k8s\x00`, then a `runtime.Unknown` carrying the type and the object's own bytes
//! (apimachinery `pkg/runtime/serializer/protobuf/protobuf.go`).

use super::DecodeError;
use super::decode::{len_delimited, utf8, wire};
use super::wire::Reader;

/// The prefix upstream writes before every protobuf-encoded object.
pub const PREFIX: &[u8; 4] = b"k8s\x00";

/// An opened envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// `typeMeta.apiVersion`, e.g. `v1` or `apps/v1`.
    pub api_version: String,
    /// `typeMeta.kind`, e.g. `Namespace`.
    pub kind: String,
    /// The object's message bytes (without type fields, which live in the envelope).
    pub raw: &'a [u8],
}

/// Opens `body`: checks the prefix and reads the `runtime.Unknown` after it
/// (`typeMeta = 1 {apiVersion = 1, kind = 2}`, `raw = 2`, `contentEncoding = 3`,
/// `contentType = 4`). Like upstream, the content encoding and type are not consulted: the raw
/// bytes are always the protobuf of the object.
pub fn open(body: &[u8]) -> Result<Envelope<'_>, DecodeError> {
    let unknown = body.strip_prefix(PREFIX.as_slice()).ok_or(DecodeError::MissingPrefix)?;
    let mut reader = Reader::new(unknown);
    let mut envelope = Envelope { api_version: String::new(), kind: String::new(), raw: &[] };
    while let Some((number, wire_type)) = reader.tag().map_err(|e| wire("Unknown", e))? {
        match number {
            1 => {
                let type_meta = len_delimited(&mut reader, wire_type, ("Unknown", "typeMeta"))?;
                read_type_meta(type_meta, &mut envelope)?;
            }
            2 => envelope.raw = len_delimited(&mut reader, wire_type, ("Unknown", "raw"))?,
            _ => reader.skip(wire_type).map_err(|e| wire("Unknown", e))?,
        }
    }
    if envelope.kind.is_empty() {
        return Err(DecodeError::MissingKind);
    }
    Ok(envelope)
}

fn read_type_meta(bytes: &[u8], envelope: &mut Envelope<'_>) -> Result<(), DecodeError> {
    let mut reader = Reader::new(bytes);
    while let Some((number, wire_type)) = reader.tag().map_err(|e| wire("TypeMeta", e))? {
        match number {
            1 => {
                let at = ("TypeMeta", "apiVersion");
                envelope.api_version = utf8(len_delimited(&mut reader, wire_type, at)?, at)?;
            }
            2 => {
                let at = ("TypeMeta", "kind");
                envelope.kind = utf8(len_delimited(&mut reader, wire_type, at)?, at)?;
            }
            _ => reader.skip(wire_type).map_err(|e| wire("TypeMeta", e))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_yields_its_type_and_raw_bytes() {
        // kubectl's `create namespace x`, with an unknown trailing field 9 added.
        let body = b"k8s\x00\n\x0f\n\x02v1\x12\tNamespace\x12\x03\n\x01x\x1a\x00\"\x00\x48\x01";
        let envelope = open(body).unwrap();
        assert_eq!(envelope.api_version, "v1");
        assert_eq!(envelope.kind, "Namespace");
        assert_eq!(envelope.raw, b"\n\x01x");
    }

    #[test]
    fn a_body_without_the_prefix_is_refused() {
        assert!(matches!(open(b"{\"kind\":\"Namespace\"}"), Err(DecodeError::MissingPrefix)));
        assert!(matches!(open(b"k8s"), Err(DecodeError::MissingPrefix)));
    }

    #[test]
    fn an_envelope_without_a_kind_is_refused() {
        assert!(matches!(open(b"k8s\x00"), Err(DecodeError::MissingKind)));
        assert!(matches!(open(b"k8s\x00\n\x04\n\x02v1"), Err(DecodeError::MissingKind)));
    }
}
