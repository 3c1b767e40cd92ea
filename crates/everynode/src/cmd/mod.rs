//! The subcommands, one module each; `main` only parses arguments and dispatches.

pub mod plan;
pub mod server;
