//! Defaulting of API objects, as the API server applies it before validation.
