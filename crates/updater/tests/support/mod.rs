//! Fixtures shared by the updater's integration tests (`mod support;`).

pub mod registry;
