//! The subcommands, one module each; `main` only parses arguments and dispatches.

pub mod bench;
pub mod controller;
pub mod nodes;
pub mod plan;
pub mod server;
pub mod up;
pub mod updater;
pub mod updates;
