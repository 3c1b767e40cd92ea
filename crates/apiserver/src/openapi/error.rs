//! `OpenApiError`: why the built-in OpenAPI documents could not be generated at startup.

/// A `Result` whose error is an [`OpenApiError`].
pub type OpenApiResult<T> = Result<T, OpenApiError>;

/// The built-in schemas disagree with what this module expects of them.
///
/// These only arise at startup, from [`super::OpenApi::new`], and none is retryable: each means a
/// k8s-openapi upgrade renamed or reshaped a type that a table here names, and the table needs
/// updating. Failing loudly beats serving documents that silently lost their patch metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenApiError {
    /// A table names a component schema that k8s-openapi did not generate.
    #[error("the generated OpenAPI components have no schema {0:?}")]
    MissingSchema(String),
    /// A table names a property that the component schema does not have.
    #[error("the OpenAPI schema {schema:?} has no property {field:?}")]
    MissingField {
        /// The component schema, e.g. `io.k8s.api.core.v1.PodSpec`.
        schema: String,
        /// The property, e.g. `containers`.
        field: String,
    },
    /// A generated schema is not a JSON object (a boolean schema), so it cannot carry extensions.
    #[error("the OpenAPI schema {0:?} is not an object")]
    NotAnObject(String),
}
