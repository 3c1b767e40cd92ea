//! Simulated nodes (KWOK-like) for an everynode cluster.
//!
//! A [`Fleet`] (pools of identical nodes, read from a YAML fleet file or
//! [`Fleet::default_fleet`]) is registered and run by [`Fleet::run`]: every Node of the
//! cluster then behaves as if a kubelet ran on it. It keeps a Lease and its Ready status,
//! and drives the pods bound to it through `ContainerCreating`, `Running` and `Ready`, graceful
//! deletion, and injected failures (`NeverReady`, `CrashLoop`, `ImagePullBackOff`) matched by
//! image. Nodes created later by any means are simulated too; [`add_nodes`], [`fail_node`] and
//! [`recover_node`] are what `everynode nodes ...` calls.
//!
//! The decisions are pure functions of the objects and `now` ([`kubelet`], [`node`]); the
//! [`runtime`] is one task that watches, keeps timers and writes.

pub mod clock;
pub mod control;
pub mod duration;
pub mod fingerprint;
pub mod fleet;
pub mod kubelet;
pub mod network;
pub mod node;
pub mod runtime;

pub use clock::Clock;
pub use control::{NodesError, add_nodes, fail_node, find_pool, pool_from_node, recover_node};
pub use fleet::{Behaviour, FailureMode, FailureRule, Fleet, FleetError, Pool};
pub use runtime::{EventPolicy, FleetHandle, RunError, RunOptions};
