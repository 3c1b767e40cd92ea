//! What a pod asks for and a node offers: CPU, memory, ephemeral storage, pod slots and extended
//! resources (upstream `framework.Resource`), plus the host ports a pod occupies.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::quantity;

const CPU: &str = "cpu";
const MEMORY: &str = "memory";
const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
const PODS: &str = "pods";

/// Amounts of every resource the scheduler accounts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Pod slots (only meaningful for allocatable).
    pub pods: i64,
    /// Extended resources (`example.com/gpu`), hugepages and attachable volumes, in units.
    pub scalar: BTreeMap<String, i64>,
}

/// Whether a resource name is counted as a scalar (`schedutil.IsScalarResourceName`): extended
/// resources live under a domain that is not `kubernetes.io`; hugepages and attachable volumes
/// are native but scalar too.
fn is_scalar(name: &str) -> bool {
    let extended = name.contains('/') && !name.contains("kubernetes.io/") && !name.starts_with("requests.");
    extended || name.starts_with("hugepages-") || name.starts_with("attachable-volumes-")
}

impl Resources {
    /// Sums a resource list into these amounts (`Resource.Add`). Unparsable quantities count as
    /// zero: the API server validates them, so they only come from foreign servers.
    pub fn add_list(&mut self, list: &BTreeMap<String, Quantity>) {
        for (name, q) in list {
            match name.as_str() {
                CPU => {
                    self.milli_cpu = self.milli_cpu.saturating_add(quantity::milli_value(&q.0).unwrap_or(0))
                }
                MEMORY => self.memory = self.memory.saturating_add(quantity::value(&q.0).unwrap_or(0)),
                EPHEMERAL_STORAGE => {
                    self.ephemeral_storage =
                        self.ephemeral_storage.saturating_add(quantity::value(&q.0).unwrap_or(0))
                }
                PODS => self.pods = self.pods.saturating_add(quantity::value(&q.0).unwrap_or(0)),
                other if is_scalar(other) => {
                    let entry = self.scalar.entry(other.to_owned()).or_default();
                    *entry = entry.saturating_add(quantity::value(&q.0).unwrap_or(0));
                }
                _ => {}
            }
        }
    }

    /// Adds other amounts to these.
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_add(other.ephemeral_storage);
        self.pods = self.pods.saturating_add(other.pods);
        for (name, v) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_default();
            *entry = entry.saturating_add(*v);
        }
    }

    /// Takes other amounts (added earlier) away from these: the inverse of [`add`](Self::add).
    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_sub(other.ephemeral_storage);
        self.pods = self.pods.saturating_sub(other.pods);
        for (name, v) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_default();
            *entry = entry.saturating_sub(*v);
        }
    }

    /// Raises each amount to at least the other's (`maxResourceList`).
    fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, v) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_default();
            *entry = (*entry).max(*v);
        }
    }

    /// Whether nothing at all is requested (the fit check then only counts pod slots).
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }

    /// The amounts of a resource list.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Resources {
        let mut out = Resources::default();
        out.add_list(list);
        out
    }
}

fn container_requests(container: &Container) -> Resources {
    container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .map(Resources::from_list)
        .unwrap_or_default()
}

/// A pod's effective requests (`resourcehelper.PodRequests`): the sum of its containers and
/// sidecars (restartable init containers), at least the largest regular init container plus the
/// sidecars started before it, plus pod overhead; pod-level `resources.requests` replace the
/// container sum for CPU and memory when set.
pub fn pod_requests(spec: &PodSpec) -> Resources {
    let mut requests = Resources::default();
    for container in &spec.containers {
        requests.add(&container_requests(container));
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for container in spec.init_containers.iter().flatten() {
        let own = container_requests(container);
        if container.restart_policy.as_deref() == Some("Always") {
            requests.add(&own);
            sidecars.add(&own);
            init_peak.max_with(&sidecars);
        } else {
            let mut running = own;
            running.add(&sidecars);
            init_peak.max_with(&running);
        }
    }
    requests.max_with(&init_peak);
    if let Some(pod_level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        let pod_level_amounts = Resources::from_list(pod_level);
        if pod_level.contains_key(CPU) {
            requests.milli_cpu = pod_level_amounts.milli_cpu;
        }
        if pod_level.contains_key(MEMORY) {
            requests.memory = pod_level_amounts.memory;
        }
    }
    if let Some(overhead) = &spec.overhead {
        requests.add_list(overhead);
    }
    requests
}

/// What a node offers (`status.allocatable`). A node that never reported it offers nothing, not
/// even pod slots, exactly as upstream: the kubelet always reports it.
pub fn node_allocatable(node: &Node) -> Resources {
    node.status.as_ref().and_then(|s| s.allocatable.as_ref()).map(Resources::from_list).unwrap_or_default()
}

/// One host port a pod binds (`HostPortInfo` entry).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPort {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The host IP; `0.0.0.0` means every address.
    pub ip: String,
    /// The port.
    pub port: i32,
}

const ANY_IP: &str = "0.0.0.0";

impl HostPort {
    /// Whether two bindings collide: same protocol and port, and the same IP or a wildcard on
    /// either side (`HostPortInfo.CheckConflict`).
    pub fn conflicts_with(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == ANY_IP || other.ip == ANY_IP)
    }
}

/// The host ports of a pod's containers (init containers included, as upstream).
pub fn host_ports(spec: &PodSpec) -> Vec<HostPort> {
    let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    let mut out: Vec<HostPort> = containers
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.is_some_and(|hp| hp > 0))
        .map(|p| HostPort {
            protocol: p.protocol.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "TCP".to_owned()),
            ip: p.host_ip.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| ANY_IP.to_owned()),
            port: p.host_port.unwrap_or_default(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> PodSpec {
        serde_json::from_value(value).unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    #[test]
    fn containers_are_summed_and_init_containers_take_the_max() {
        let s = spec(json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "200m"}}},
            ],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1", "memory": "10Mi"}}}],
        }));
        let r = pod_requests(&s);
        assert_eq!(r.milli_cpu, 1000);
        assert_eq!(r.memory, 100 << 20);
    }

    #[test]
    fn sidecars_add_to_the_sum_and_to_later_init_containers() {
        let s = spec(json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}],
            "initContainers": [
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "200m"}}},
                {"name": "init", "resources": {"requests": {"cpu": "250m"}}},
            ],
        }));
        // containers 100 + sidecar 200 = 300; init 250 + sidecar 200 = 450 is the peak.
        assert_eq!(pod_requests(&s).milli_cpu, 450);
    }

    #[test]
    fn overhead_and_pod_level_requests_count() {
        let s = spec(json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}}],
            "resources": {"requests": {"cpu": "2"}},
            "overhead": {"cpu": "10m"},
        }));
        let r = pod_requests(&s);
        assert_eq!(r.milli_cpu, 2010);
        assert_eq!(r.memory, 1 << 30);
    }

    #[test]
    fn extended_resources_are_scalars() {
        let s = spec(json!({
            "containers": [{"name": "a", "resources": {"requests": {"example.com/gpu": "2", "hugepages-2Mi": "4Mi"}}}],
        }));
        let r = pod_requests(&s);
        assert_eq!(r.scalar.get("example.com/gpu"), Some(&2));
        assert_eq!(r.scalar.get("hugepages-2Mi"), Some(&(4 << 20)));
    }

    #[test]
    fn host_ports_default_protocol_and_ip_and_conflict_on_wildcards() {
        let s = spec(json!({
            "containers": [{"name": "a", "ports": [
                {"containerPort": 80, "hostPort": 8080},
                {"containerPort": 81},
                {"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.1"},
            ]}],
        }));
        let ports = host_ports(&s);
        assert_eq!(ports.len(), 2);
        let tcp = HostPort { protocol: "TCP".into(), ip: "127.0.0.1".into(), port: 8080 };
        assert!(ports.iter().any(|p| p.conflicts_with(&tcp)));
        let udp_other_ip = HostPort { protocol: "UDP".into(), ip: "10.0.0.2".into(), port: 53 };
        assert!(!ports.iter().any(|p| p.conflicts_with(&udp_other_ip)));
    }
}
