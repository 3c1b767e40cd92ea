//! The DaemonSet controller's decisions, without IO.
//!
//! Given a snapshot (the DaemonSet, nodes, pods and ControllerRevisions of its namespace, the
//! time, the failed-pod backoff and whether earlier actions have been observed), [`sync::sync`]
//! returns a [`plan::Plan`]: the pods to create and delete, ownership changes, revision writes,
//! events, the new status and when to look again. Semantics follow upstream Kubernetes'
//! `pkg/controller/daemon`, scenario for scenario; runtimes (our controller loop, the `plan`
//! command, benchmarks) only carry plans out.

pub mod backoff;
pub mod claim;
pub mod constants;
pub mod expectations;
pub mod history;
pub mod manage;
pub mod placement;
pub mod plan;
pub mod pod;
pub mod podbuild;
pub mod revision_data;
pub mod rollout;
pub mod slowstart;
pub mod status;
pub mod sync;
pub mod tolerations;

pub use placement::{Ineligibility, Placement, PlacementRules};
pub use plan::Plan;
pub use sync::{Snapshot, sync};
