//! Why a patch could not be applied, and which HTTP status says so.

use crate::PatchType;

/// A `Result` whose error is a [`PatchError`].
pub type Result<T, E = PatchError> = std::result::Result<T, E>;

/// Why a patch could not be applied.
///
/// No variant is retryable: the same patch fails the same way against the same object, so the API
/// server answers at once (see [`PatchError::http_status`]) instead of retrying.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The request's `Content-Type` names no patch format.
    #[error(
        "unsupported patch content type {0:?}: use application/json-patch+json, \
         application/merge-patch+json or application/strategic-merge-patch+json"
    )]
    UnsupportedMediaType(String),

    /// A patch format we recognise but do not implement yet (server-side apply).
    #[error("{0} is not supported by this server yet")]
    Unsupported(PatchType),

    /// The body is not JSON, or not JSON of the shape its format needs (a JSON patch must be an
    /// array of operations).
    #[error("the patch body is not a valid {format} document: {source}")]
    Malformed {
        /// The format that was expected, e.g. "JSON patch".
        format: &'static str,
        /// What the JSON parser objected to.
        #[source]
        source: serde_json::Error,
    },

    /// Merge patches must be JSON objects, and a strategic merge patch needs an object to patch.
    #[error("the {what} must be a JSON object")]
    NotAnObject {
        /// "patch" or "target object".
        what: &'static str,
    },

    /// A JSON patch with more operations than we accept; upstream has the same limit so that one
    /// request cannot keep the server busy.
    #[error("the JSON patch has {count} operations, more than the limit of {limit}")]
    TooManyOperations {
        /// Operations in the patch.
        count: usize,
        /// The most we accept.
        limit: usize,
    },

    /// JSON patch `copy` operations copied more data than we accept; without a limit a short
    /// patch can double the document with every operation.
    #[error("the JSON patch copies more than {limit} bytes of data")]
    CopyLimitExceeded {
        /// The most (approximate) bytes all `copy` operations together may copy.
        limit: usize,
    },

    /// An RFC 6902 operation failed: a `test` did not match or a path does not exist.
    #[error("JSON patch operation {operation} failed at {path:?}: {reason}")]
    JsonPatch {
        /// Index of the failing operation in the patch.
        operation: usize,
        /// The operation's `path`.
        path: String,
        /// What went wrong, in words.
        reason: String,
        /// The error reported by the `json-patch` crate.
        #[source]
        source: json_patch::PatchError,
    },

    /// A strategic merge patch is malformed at `path` (dotted field names from the object root).
    #[error("strategic merge patch at {path}: {source}")]
    Strategic {
        /// Where in the object the problem was found, e.g. `spec.template.spec.containers`.
        path: String,
        /// What is wrong there.
        #[source]
        source: StrategicError,
    },
}

impl PatchError {
    /// The HTTP status the API server should answer with, following upstream: 415 for formats we
    /// do not take, 400 for bodies that do not parse or misuse a directive, 413 for the JSON
    /// patch operation limit, and 422 for patches that parse but cannot apply to this object.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::UnsupportedMediaType(_) | Self::Unsupported(_) => 415,
            Self::Malformed { .. } | Self::NotAnObject { .. } => 400,
            Self::TooManyOperations { .. } | Self::CopyLimitExceeded { .. } => 413,
            Self::JsonPatch { .. } => 422,
            Self::Strategic { source, .. } if source.is_bad_request() => 400,
            Self::Strategic { .. } => 422,
        }
    }
}

/// What is wrong with a strategic merge patch at one place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategicError {
    /// `$patch` has a value other than `replace`, `delete` or `merge`.
    #[error("invalid value {value} for $patch: want \"replace\", \"delete\" or \"merge\"")]
    BadPatchDirective {
        /// The offending value, as JSON.
        value: String,
    },

    /// A key that starts like a directive but is not one, e.g. `$setElementOrder` without `/field`.
    #[error("unknown directive {key:?}: want $setElementOrder/<field> or $deleteFromPrimitiveList/<field>")]
    UnknownDirective {
        /// The key as sent.
        key: String,
    },

    /// A directive whose value must be a list is not one.
    #[error("{directive} must be a list")]
    DirectiveNotAList {
        /// The directive key, e.g. `$retainKeys`.
        directive: String,
    },

    /// A field is set in the patch but missing from the map's `$retainKeys` list, which would
    /// clear it again.
    #[error("field {key:?} is set in the patch but missing from $retainKeys")]
    NotRetained {
        /// The field.
        key: String,
    },

    /// The patch list's elements are not in the relative order `$setElementOrder` gives.
    #[error("the order of the patch list does not match $setElementOrder/{field}")]
    OrderMismatch {
        /// The list field.
        field: String,
    },

    /// An element of a list merged by key lacks the key.
    #[error("list element {element} does not contain declared merge key {key:?}")]
    MissingMergeKey {
        /// The merge key, e.g. `name`.
        key: String,
        /// The element, as (possibly shortened) JSON.
        element: String,
    },

    /// A list merged by key has an element that is not an object, or a merging list of
    /// primitives has an object.
    #[error(
        "list element {element} is not of the kind this list holds (objects merged by key, or primitives)"
    )]
    WrongElementKind {
        /// The element, as (possibly shortened) JSON.
        element: String,
    },

    /// A merging list contains lists; Kubernetes has no such fields.
    #[error("lists of lists cannot be merged")]
    ListOfLists,

    /// A merging list mixes element types (say strings and numbers) or contains `null`.
    #[error("the elements of a merging list must all have the same type and not be null")]
    MixedElementTypes,

    /// A merging list of objects has no merge key in the schema.
    #[error("a list of objects cannot be merged without a merge key")]
    NoMergeKey,

    /// A field the patch treats as a list (through a directive) holds something else.
    #[error("expected a list, found {found}")]
    NotAList {
        /// The JSON type found instead.
        found: &'static str,
    },

    /// `$deleteFromPrimitiveList` aimed at a list that is not a merging list of primitives.
    #[error("$deleteFromPrimitiveList applies only to merging lists of primitives")]
    NotAPrimitiveMergeList,
}

impl StrategicError {
    /// Whether the patch misuses a directive (400 upstream) rather than clashing with the object
    /// it is applied to (422).
    fn is_bad_request(&self) -> bool {
        matches!(
            self,
            Self::BadPatchDirective { .. }
                | Self::UnknownDirective { .. }
                | Self::DirectiveNotAList { .. }
                | Self::OrderMismatch { .. }
        )
    }
}
