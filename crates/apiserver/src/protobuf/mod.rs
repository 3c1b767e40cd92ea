//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded to the JSON the
//! handlers take.
//!
//! kubectl's typed-client commands (`kubectl create namespace|configmap|secret|serviceaccount`)
//! send protobuf and cannot be told otherwise. Rather than generate code for every Kubernetes
//! type, the server reads the wire format itself ([`wire`]) guided by small field tables
//! transcribed from upstream's `generated.proto` ([`descriptors`]), and produces the object
//! `encoding/json` would have produced for the same Go value (`decode`). Responses stay JSON:
//! clients that send protobuf also accept JSON.

pub mod descriptors;
pub mod envelope;
pub mod wire;

mod decode;

use serde_json::{Map, Value};

use self::wire::{WireError, WireType};

/// The media type of protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Why a protobuf body could not be decoded. None is retryable: the same bytes fail again.
/// All but [`DecodeError::UnsupportedKind`] mean the body is malformed (a 400);
/// `UnsupportedKind` means a valid body of a kind the server has no table for (a 415).
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecodeError {
    /// The body does not start with `k8s\x00`.
    #[error("provided data does not appear to be a protobuf message, expected prefix \"k8s\\x00\"")]
    MissingPrefix,
    /// The envelope names no kind.
    #[error("the protobuf envelope names no kind")]
    MissingKind,
    /// A kind without a field table.
    #[error(
        "protobuf request bodies are decoded only for {supported}, not {api_version} {kind}; send it as JSON or YAML instead (for example `kubectl create ... --dry-run=client -o yaml | kubectl apply -f -`)",
        supported = supported_kinds()
    )]
    UnsupportedKind {
        /// The envelope's apiVersion.
        api_version: String,
        /// The envelope's kind.
        kind: String,
    },
    /// The bytes break the wire format.
    #[error("{at}: {source}")]
    Wire {
        /// The message or field being read.
        at: String,
        /// What was wrong.
        #[source]
        source: WireError,
    },
    /// A field arrived with a wire type its type cannot have.
    #[error("{at}: expected a {expected} value, found {found}")]
    WrongWireType {
        /// The field.
        at: String,
        /// The wire type of the field's type.
        expected: WireType,
        /// The wire type on the wire.
        found: WireType,
    },
    /// A string field holds bytes that are not UTF-8.
    #[error("{at}: string is not valid UTF-8")]
    InvalidUtf8 {
        /// The field.
        at: String,
    },
    /// A Time outside the years 0001 to 9999.
    #[error("{at}: {seconds} seconds since the epoch is outside the years 0001 to 9999")]
    TimeOutOfRange {
        /// The field.
        at: String,
        /// The seconds on the wire.
        seconds: i64,
    },
    /// A field table nests a map or repeated field inside another (a bug in [`descriptors`]).
    #[error("{at}: the field table nests maps or repeated fields")]
    Table {
        /// The field.
        at: String,
    },
}

/// Decodes a protobuf request body (envelope and object) to the JSON object the JSON path
/// would have received, `apiVersion` and `kind` included.
pub fn decode_object(body: &[u8]) -> Result<Value, DecodeError> {
    let envelope = envelope::open(body)?;
    let Some(message) = descriptors::for_kind(&envelope.api_version, &envelope.kind) else {
        return Err(DecodeError::UnsupportedKind { api_version: envelope.api_version, kind: envelope.kind });
    };
    let mut object = Map::new();
    object.insert("kind".to_owned(), Value::String(envelope.kind));
    object.insert("apiVersion".to_owned(), Value::String(envelope.api_version));
    decode::merge_message(message, envelope.raw, &mut object)?;
    Ok(Value::Object(object))
}

/// "v1 Namespace, v1 ConfigMap, ..." for error messages.
fn supported_kinds() -> String {
    descriptors::KINDS.iter().map(|(v, k, _)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
