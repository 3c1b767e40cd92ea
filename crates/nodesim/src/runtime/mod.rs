//! The simulation at run time: [`Fleet::run`] registers the fleet's nodes, then one engine task
//! simulates every node of the cluster. It watches all nodes and all bound pods (one watch
//! each, not one per node), keeps one [`queue::TimerQueue`] of what is due next (pod steps,
//! lease renewals, node status heartbeats), and carries out the writes the pure decisions in
//! [`crate::kubelet`] and [`crate::node`] ask for, a bounded number at a time.
//!
//! Costs at scale: per node a table entry and two timer entries; per pod a cached object, an
//! entry and at most one timer entry. Writes: lease renewals spread evenly over the renewal
//! interval, which stretches from 10 s so that renewals stay under
//! `max_lease_renewals_per_second` (200/s) but never beyond 20 s (1,000 nodes: 100 writes/s;
//! 10,000 nodes: 500/s; see [`crate::node::schedule::lease_interval`]); node status heartbeats
//! every 5 min per node in the node's own slot (1,000 nodes: 3.3/s; 10,000: 33/s); per pod one
//! status write per visible state change (one in all with zero delays) and the deletion. Pod
//! looks go before node work, with every fourth turn kept for node work.
//!
//! Errors never stop the engine: watches re-list after an API server restart (with kube-rs's
//! default back-off), failed writes are retried per object with exponential back-off, and a 409
//! re-reads the pod before deciding again.

mod engine;
mod nodes;
mod pods;
pub mod queue;
mod ready;
pub(crate) mod registration;
mod writes;

use std::time::Duration;

use kube::Client;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::fleet::Fleet;
use crate::node::lease::{LEASE_DURATION_SECONDS, RENEW_INTERVAL};
use crate::node::status::STATUS_REPORT_INTERVAL;

/// Which Events the simulated kubelets record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventPolicy {
    /// Everything a kubelet records (Pulling, Pulled, Created, Started, Killing, BackOff, ...).
    #[default]
    All,
    /// Only Warnings (failures), for large fleets: a DaemonSet rollout over 10,000 nodes would
    /// otherwise write 40,000 Events.
    WarningsOnly,
    /// None.
    None,
}

/// How the simulation runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The kubelet's lease renewal interval for small fleets (10 s).
    pub lease_renew_interval: Duration,
    /// `leaseDurationSeconds` of node leases (40).
    pub lease_duration_seconds: i32,
    /// Renewals per second the fleet may make before the interval is stretched (200).
    pub max_lease_renewals_per_second: u32,
    /// How often an unchanged node status is reported (5 min).
    pub node_status_report_interval: Duration,
    /// Writes in flight at once (64): bounds the load on the API server and the memory of
    /// queued requests.
    pub max_concurrent_writes: usize,
    /// Which Events to record.
    pub events: EventPolicy,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            lease_renew_interval: RENEW_INTERVAL,
            lease_duration_seconds: LEASE_DURATION_SECONDS,
            max_lease_renewals_per_second: 200,
            node_status_report_interval: STATUS_REPORT_INTERVAL,
            max_concurrent_writes: 64,
            events: EventPolicy::All,
            clock: Clock::system(),
        }
    }
}

/// Why waiting on a running fleet failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The engine stopped (shut down, or its task panicked) before the fleet was registered.
    #[error("the node simulation stopped before its nodes were registered")]
    Stopped,
}

/// Where registration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Registration {
    Pending,
    Done,
}

/// A running simulation. Dropping it stops the simulation (the nodes stay registered and go
/// NotReady once their leases expire, as when kubelets stop).
#[must_use = "dropping the handle stops the simulation"]
#[derive(Debug)]
pub struct FleetHandle {
    shutdown: Option<oneshot::Sender<()>>,
    registered: watch::Receiver<Registration>,
    task: Option<JoinHandle<()>>,
}

impl FleetHandle {
    /// Waits until every node of the fleet exists (registration retries while the API server
    /// is unreachable, so this waits as long).
    pub async fn registered(&mut self) -> Result<(), RunError> {
        self.registered
            .wait_for(|r| *r == Registration::Done)
            .await
            .map(|_| ())
            .map_err(|_| RunError::Stopped)
    }

    /// Stops the simulation and waits for it to end.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FleetHandle {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl Fleet {
    /// Registers this fleet's nodes and simulates every node of the cluster (those of the fleet,
    /// those added later by any means, and existing ones) until the handle is dropped or shut
    /// down. Must be called inside a tokio runtime; returns at once.
    pub fn run(client: Client, fleet: Fleet, options: RunOptions) -> FleetHandle {
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let (registered_tx, registered_rx) = watch::channel(Registration::Pending);
        let task = tokio::spawn(engine::run(client, fleet, options, shutdown_rx, registered_tx));
        FleetHandle { shutdown: Some(shutdown_tx), registered: registered_rx, task: Some(task) }
    }
}
