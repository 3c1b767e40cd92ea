//! Automated image updates for DaemonSets, through the `headwind.sh/*` annotations.
//!
//! The crate is split at the IO boundary, as the DaemonSet controller is: what to do is decided
//! by pure functions (`image`, `version`, `policy`, `annotations`, `history`, `workflow`,
//! `rollback`), and thin runtime loops (`registry`, `webhook`, `notify`, `runtime`, `api`) carry
//! the decisions out. Every decision is a plain unit test.

pub mod annotations;
pub mod api;
pub mod approval;
pub mod history;
pub mod image;
pub mod metrics;
pub mod notify;
pub mod policy;
pub mod registry;
pub mod request;
pub mod rollback;
pub mod runtime;
pub mod status;
pub mod version;
pub mod webhook;
pub mod workflow;
