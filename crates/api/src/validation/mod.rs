//! Validation of API objects, returning upstream's field-path errors.

pub mod names;
