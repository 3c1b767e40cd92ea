//! The DaemonSet controller: reflectors over DaemonSets, pods, nodes and ControllerRevisions, a
//! work queue of DaemonSet keys, and `everynode-core`'s plans carried out through the API.
//!
//! Decide, then act: every sync builds a [`everynode_core::Snapshot`] from the caches, asks
//! [`everynode_core::sync`] for a plan, and [`execute`] carries it out. Everything upstream's
//! `daemon_controller.go` does with informers (expectations, requeues, event handlers mapping
//! pods and nodes to DaemonSets) lives in [`handlers`] and [`controller`].

mod controller;
mod execute;
mod handlers;
mod queue;

pub use controller::{DaemonSetController, Error, Options};
pub use queue::WorkQueue;
