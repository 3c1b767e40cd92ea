//! Fleets: the simulated nodes to register, as pools read from a YAML fleet file or built by
//! [`Fleet::default_fleet`].
//!
//! ```yaml
//! pools:
//! - name: control-plane
//!   count: 1
//!   labels: {node-role.kubernetes.io/control-plane: ""}
//!   taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]
//! - name: workers
//!   count: 2
//!   namePrefix: worker-
//!   capacity: {cpu: "4", memory: 16Gi, pods: "110"}
//!   behaviour:
//!     startDelay: 1s
//!     failures: [{image: "*:2.1.*", mode: NeverReady}]
//! defaultBehaviour: {startDelay: 2s}   # nodes that belong to no pool (kubectl apply -f node.yaml)
//! ```

pub mod behaviour;
pub(crate) mod validation;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use everynode_api::FieldError;
use k8s_openapi::api::core::v1::Taint;
use serde::{Deserialize, Serialize};

pub use behaviour::{Behaviour, CompiledBehaviour, FailureMode, FailureRule, GlobError};
pub use validation::MAX_NODES;

/// The label every node-role taint and selector in the wild uses for control-plane nodes.
pub const CONTROL_PLANE_ROLE: &str = "node-role.kubernetes.io/control-plane";

/// The nodes to simulate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fleet {
    /// Groups of identical nodes.
    #[serde(default)]
    pub pools: Vec<Pool>,
    /// The behaviour of nodes that carry no behaviour of their own (nodes created with kubectl).
    #[serde(default, alias = "defaultBehavior")]
    pub default_behaviour: Behaviour,
}

/// A group of identical nodes named `<namePrefix><index>`, index from 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pool {
    /// The pool's name, also the value of the `everynode.io/pool` label on its nodes.
    pub name: String,
    /// How many nodes to register.
    pub count: u32,
    /// Node names are this plus an index from 1; defaults to `<name>-`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Extra node labels (the kubelet's own `kubernetes.io/hostname`, `kubernetes.io/os` and
    /// `kubernetes.io/arch` are always set).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Node taints.
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// Resource capacity, merged over [`default_capacity`]; allocatable equals capacity.
    #[serde(default)]
    pub capacity: BTreeMap<String, String>,
    /// `spec.unschedulable` (as after `kubectl cordon`).
    #[serde(default)]
    pub unschedulable: bool,
    /// How the pods of these nodes behave.
    #[serde(default, alias = "behavior")]
    pub behaviour: Behaviour,
}

impl Pool {
    /// A pool of `count` plain nodes with the default behaviour.
    pub fn new(name: &str, count: u32) -> Pool {
        Pool {
            name: name.to_owned(),
            count,
            name_prefix: None,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            capacity: BTreeMap::new(),
            unschedulable: false,
            behaviour: Behaviour::default(),
        }
    }

    /// The prefix of the pool's node names.
    pub fn prefix(&self) -> String {
        self.name_prefix.clone().unwrap_or_else(|| format!("{}-", self.name))
    }

    /// The name of the pool's node number `index` (from 1).
    pub fn node_name(&self, index: u32) -> String {
        format!("{}{index}", self.prefix())
    }

    /// The capacity of the pool's nodes: the defaults overridden by the pool's entries.
    pub fn effective_capacity(&self) -> BTreeMap<String, String> {
        let mut capacity = default_capacity();
        capacity.extend(self.capacity.iter().map(|(k, v)| (k.clone(), v.clone())));
        capacity
    }
}

/// A node of a simulated machine: 4 CPUs, 16 GiB, 100 GiB disk, 110 pods (the kubelet's
/// default `maxPods`).
pub fn default_capacity() -> BTreeMap<String, String> {
    [("cpu", "4"), ("memory", "16Gi"), ("ephemeral-storage", "100Gi"), ("pods", "110")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Why a fleet could not be loaded. Only [`FleetError::Read`] may succeed when retried
/// unchanged; the others need the file fixed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The file could not be read.
    #[error("reading fleet file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// Not YAML of the fleet's shape (unknown field, bad duration, wrong type...). The source
    /// names the line and column.
    #[error("parsing fleet file: {source}")]
    Parse {
        /// serde's error, with the location.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// Well-formed but invalid: every problem, each with its field path.
    #[error("invalid fleet: {}", everynode_api::field::aggregate_message(.0))]
    Invalid(Vec<FieldError>),
}

impl Fleet {
    /// The fleet `everynode up --nodes N` runs.
    ///
    /// - `N >= 2`: one control-plane node `control-plane-1`, labelled and tainted
    ///   `node-role.kubernetes.io/control-plane:NoSchedule` as kubeadm does, plus `N - 1`
    ///   workers `worker-1` ... So the default of 3 gives two workers, and a DaemonSet without
    ///   the control-plane toleration runs on `N - 1` nodes.
    /// - `N == 1`: a single control-plane node *without* the taint, as kubeadm and kind leave
    ///   single-node clusters so that workloads can run at all.
    /// - `N == 0`: no nodes (add them later with `kubectl apply` or `everynode nodes add`).
    pub fn default_fleet(nodes: u32) -> Fleet {
        let mut control_plane = Pool::new("control-plane", 1);
        control_plane.labels.insert(CONTROL_PLANE_ROLE.to_owned(), String::new());
        let pools = match nodes {
            0 => Vec::new(),
            1 => vec![control_plane],
            n => {
                control_plane.taints.push(Taint {
                    key: CONTROL_PLANE_ROLE.to_owned(),
                    effect: "NoSchedule".to_owned(),
                    value: None,
                    time_added: None,
                });
                let mut workers = Pool::new("workers", n - 1);
                workers.name_prefix = Some("worker-".to_owned());
                vec![control_plane, workers]
            }
        };
        Fleet { pools, default_behaviour: Behaviour::default() }
    }

    /// `nodes` untainted workers `worker-1` ... with `behaviour` (benchmarks use
    /// [`Behaviour::instant`]).
    pub fn workers(nodes: u32, behaviour: Behaviour) -> Fleet {
        let mut workers = Pool::new("workers", nodes);
        workers.name_prefix = Some("worker-".to_owned());
        workers.behaviour = behaviour.clone();
        Fleet { pools: vec![workers], default_behaviour: behaviour }
    }

    /// Parses and validates a fleet file's text.
    pub fn from_yaml(text: &str) -> Result<Fleet, FleetError> {
        let fleet: Fleet = serde_yaml_ng::from_str(text).map_err(|source| FleetError::Parse { source })?;
        fleet.validate()?;
        Ok(fleet)
    }

    /// Reads, parses and validates a fleet file.
    pub fn from_file(path: &Path) -> Result<Fleet, FleetError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| FleetError::Read { path: path.to_owned(), source })?;
        Fleet::from_yaml(&text)
    }

    /// Checks names, labels, taints, capacity and behaviours; reports every problem at once.
    pub fn validate(&self) -> Result<(), FleetError> {
        let errors = validation::validate_fleet(self);
        if errors.is_empty() { Ok(()) } else { Err(FleetError::Invalid(errors)) }
    }

    /// The pool named `name`.
    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// Every node of the fleet, with its pool, in file order.
    pub fn nodes(&self) -> impl Iterator<Item = (&Pool, String)> {
        self.pools.iter().flat_map(|pool| (1..=pool.count).map(move |i| (pool, pool.node_name(i))))
    }

    /// How many nodes the fleet has.
    pub fn node_count(&self) -> u64 {
        self.pools.iter().map(|p| u64::from(p.count)).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const EXAMPLE: &str = r#"
pools:
- name: control-plane
  count: 1
  namePrefix: control-plane-
  labels: {node-role.kubernetes.io/control-plane: ""}
  taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]
- name: workers
  count: 2
  namePrefix: worker-
  labels: {}
  capacity: {cpu: "4", memory: 16Gi, pods: "110"}
  unschedulable: false
  behaviour:
    startDelay: 1s
    startJitter: 500ms
    readinessDelay: 2s
    terminationDelay: 1s
    failures:
    - image: "*:2.1.*"
      mode: NeverReady
"#;

    #[test]
    fn the_documented_example_parses() {
        let fleet = Fleet::from_yaml(EXAMPLE).unwrap();
        let names: Vec<String> = fleet.nodes().map(|(_, name)| name).collect();
        assert_eq!(names, ["control-plane-1", "worker-1", "worker-2"]);
        let workers = fleet.pool("workers").unwrap();
        assert_eq!(workers.behaviour.readiness_delay, Duration::from_secs(2));
        assert_eq!(workers.behaviour.failures[0].mode, FailureMode::NeverReady);
        assert_eq!(fleet.pools[0].taints[0].effect, "NoSchedule");
        assert_eq!(workers.effective_capacity()["ephemeral-storage"], "100Gi");
    }

    #[test]
    fn the_default_fleet_has_a_tainted_control_plane_and_workers() {
        let fleet = Fleet::default_fleet(3);
        let names: Vec<String> = fleet.nodes().map(|(_, name)| name).collect();
        assert_eq!(names, ["control-plane-1", "worker-1", "worker-2"]);
        assert_eq!(fleet.pools[0].taints[0].key, CONTROL_PLANE_ROLE);
        assert!(fleet.pools[1].taints.is_empty());
        fleet.validate().unwrap();
    }

    #[test]
    fn a_single_node_fleet_is_an_untainted_control_plane() {
        let fleet = Fleet::default_fleet(1);
        assert_eq!(fleet.node_count(), 1);
        assert!(fleet.pools[0].taints.is_empty());
        assert!(fleet.pools[0].labels.contains_key(CONTROL_PLANE_ROLE));
        assert_eq!(Fleet::default_fleet(0).node_count(), 0);
    }

    #[test]
    fn unknown_fields_and_bad_durations_are_parse_errors_with_a_location() {
        let error =
            Fleet::from_yaml("pools:\n- name: a\n  count: 1\n  behaviour: {startDelay: 1x}\n").unwrap_err();
        let FleetError::Parse { source } = &error else { panic!("{error:?}") };
        let message = source.to_string();
        assert!(message.contains("unknown unit \"x\""), "{message}");
        assert!(message.contains("line 4"), "{message}");
        let error = Fleet::from_yaml("pools:\n- name: a\n  count: 1\n  startDelay: 1s\n").unwrap_err();
        assert!(matches!(error, FleetError::Parse { .. }), "{error:?}");
        assert!(error.to_string().contains("unknown field `startDelay`"), "{error}");
    }

    #[test]
    fn the_american_spelling_is_accepted() {
        let fleet =
            Fleet::from_yaml("pools:\n- name: a\n  count: 1\n  behavior: {startDelay: 3s}\n").unwrap();
        assert_eq!(fleet.pools[0].behaviour.start_delay, Duration::from_secs(3));
    }
}
