//! Simulated addresses: node InternalIPs, one pod CIDR per node, and pod IPs inside it.
//!
//! Nodes get InternalIPs from 172.16.0.0/12 (about a million) and a /24 pod network each from
//! 10.128.0.0/9 (32,768 nodes, which bounds a fleet), as a node IPAM controller with
//! `--node-cidr-mask-size=24` would. Inside a /24, `.1` is the bridge, so pods get `.2`–`.254`.
//! Allocation is first-free from a moving cursor, so it stays O(1) when the space is sparse and
//! never hands out an address that an existing node or pod already shows.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use k8s_openapi::api::core::v1::Node;

/// Where node InternalIPs come from.
pub const NODE_NETWORK: Cidr = Cidr { base: Ipv4Addr::new(172, 16, 0, 0), prefix: 12 };
/// Where pod CIDRs come from.
pub const POD_NETWORK: Cidr = Cidr { base: Ipv4Addr::new(10, 128, 0, 0), prefix: 9 };
/// The size of each node's pod network.
pub const POD_CIDR_PREFIX: u8 = 24;
/// How many /24s fit into [`POD_NETWORK`].
pub const MAX_POD_CIDRS: u32 = 1 << (POD_CIDR_PREFIX - POD_NETWORK.prefix);

/// An IPv4 network such as `10.128.3.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    base: Ipv4Addr,
    prefix: u8,
}

/// A string that is not an IPv4 CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid IPv4 CIDR {0:?}")]
pub struct CidrError(pub String);

impl Cidr {
    /// The network containing `base` with `prefix` bits (host bits are cleared).
    pub fn new(base: Ipv4Addr, prefix: u8) -> Cidr {
        let prefix = prefix.min(32);
        Cidr { base: Ipv4Addr::from(u32::from(base) & mask(prefix)), prefix }
    }

    /// How many addresses the network spans.
    fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Whether `ip` is inside.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.base)
    }

    /// The address at `offset` from the base (None past the end).
    fn at(self, offset: u64) -> Option<Ipv4Addr> {
        (offset < self.size()).then(|| Ipv4Addr::from(u32::from(self.base).wrapping_add(offset as u32)))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let (ip, prefix) = s.split_once('/').ok_or_else(|| CidrError(s.to_owned()))?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| CidrError(s.to_owned()))?;
        let prefix: u8 = prefix.parse().map_err(|_| CidrError(s.to_owned()))?;
        if prefix > 32 {
            return Err(CidrError(s.to_owned()));
        }
        Ok(Cidr::new(ip, prefix))
    }
}

/// The InternalIP a node reports, if any.
pub fn internal_ip(node: &Node) -> Option<Ipv4Addr> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .and_then(|a| a.address.parse().ok())
}

/// The node's pod CIDR (`spec.podCIDR`), if set and IPv4.
pub fn pod_cidr(node: &Node) -> Option<Cidr> {
    node.spec.as_ref()?.pod_cidr.as_deref()?.parse().ok()
}

/// Hands out node InternalIPs and pod CIDRs across the cluster.
#[derive(Debug, Default)]
pub struct AddressPlan {
    node_ips: HashSet<Ipv4Addr>,
    pod_cidrs: HashSet<Cidr>,
    next_node_ip: u64,
    next_pod_cidr: u32,
}

impl AddressPlan {
    /// Marks the addresses an existing node shows as taken.
    pub fn observe(&mut self, node: &Node) {
        if let Some(ip) = internal_ip(node) {
            self.node_ips.insert(ip);
        }
        if let Some(cidr) = pod_cidr(node) {
            self.pod_cidrs.insert(cidr);
        }
    }

    /// Frees a deleted node's addresses.
    pub fn forget(&mut self, node: &Node) {
        self.release(internal_ip(node), pod_cidr(node));
    }

    /// Frees addresses handed out earlier.
    pub fn release(&mut self, ip: Option<Ipv4Addr>, cidr: Option<Cidr>) {
        if let Some(ip) = ip {
            self.node_ips.remove(&ip);
        }
        if let Some(cidr) = cidr {
            self.pod_cidrs.remove(&cidr);
        }
    }

    /// A free InternalIP (`172.16.0.2` first; `.0` and `.1` look like network and gateway).
    pub fn node_ip(&mut self) -> Option<Ipv4Addr> {
        let usable = NODE_NETWORK.size() - 3;
        for _ in 0..usable {
            let offset = 2 + self.next_node_ip % usable;
            self.next_node_ip = self.next_node_ip.wrapping_add(1);
            let ip = NODE_NETWORK.at(offset)?;
            if self.node_ips.insert(ip) {
                return Some(ip);
            }
        }
        None
    }

    /// A free /24 pod network.
    pub fn pod_cidr(&mut self) -> Option<Cidr> {
        for _ in 0..MAX_POD_CIDRS {
            let index = self.next_pod_cidr % MAX_POD_CIDRS;
            self.next_pod_cidr = self.next_pod_cidr.wrapping_add(1);
            let cidr = Cidr::new(pod_cidr_base(index), POD_CIDR_PREFIX);
            if self.pod_cidrs.insert(cidr) {
                return Some(cidr);
            }
        }
        None
    }
}

/// The base of the `index`th /24 of the pod network.
fn pod_cidr_base(index: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(POD_NETWORK.base) + (index << (32 - u32::from(POD_CIDR_PREFIX))))
}

/// The pod IPs of one node's pod network.
#[derive(Debug)]
pub struct PodIps {
    cidr: Cidr,
    by_pod: HashMap<String, Ipv4Addr>,
    used: HashSet<Ipv4Addr>,
    cursor: u64,
}

impl PodIps {
    /// An empty pool over `cidr`.
    pub fn new(cidr: Cidr) -> PodIps {
        PodIps { cidr, by_pod: HashMap::new(), used: HashSet::new(), cursor: 0 }
    }

    /// The network.
    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    /// Records that pod `uid` already has `ip` (seen in its status after a restart).
    pub fn observe(&mut self, uid: &str, ip: Ipv4Addr) {
        if self.cidr.contains(ip) && !self.by_pod.contains_key(uid) {
            self.used.insert(ip);
            self.by_pod.insert(uid.to_owned(), ip);
        }
    }

    /// The pod's IP: the one it has, else a free one (None when the network is full).
    pub fn assign(&mut self, uid: &str) -> Option<Ipv4Addr> {
        if let Some(ip) = self.by_pod.get(uid) {
            return Some(*ip);
        }
        // Skip the network address, the bridge (.1) and the broadcast address.
        let usable = self.cidr.size().saturating_sub(3);
        for _ in 0..usable {
            let offset = 2 + self.cursor % usable;
            self.cursor = self.cursor.wrapping_add(1);
            let ip = self.cidr.at(offset)?;
            if self.used.insert(ip) {
                self.by_pod.insert(uid.to_owned(), ip);
                return Some(ip);
            }
        }
        None
    }

    /// Frees the pod's IP.
    pub fn release(&mut self, uid: &str) {
        if let Some(ip) = self.by_pod.remove(uid) {
            self.used.remove(&ip);
        }
    }

    /// How many IPs are in use.
    pub fn len(&self) -> usize {
        self.by_pod.len()
    }

    /// Whether no IP is in use.
    pub fn is_empty(&self) -> bool {
        self.by_pod.is_empty()
    }

    /// Whether `ip` is this network's.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.cidr.contains(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_print() {
        let cidr: Cidr = "10.128.3.7/24".parse().unwrap();
        assert_eq!(cidr.to_string(), "10.128.3.0/24");
        assert!(cidr.contains(Ipv4Addr::new(10, 128, 3, 200)));
        assert!(!cidr.contains(Ipv4Addr::new(10, 128, 4, 1)));
        assert!("10.0.0.0".parse::<Cidr>().is_err());
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    }

    #[test]
    fn the_plan_skips_addresses_existing_nodes_show() {
        let mut plan = AddressPlan::default();
        let existing: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n"},
            "spec": {"podCIDR": "10.128.0.0/24"},
            "status": {"addresses": [{"type": "InternalIP", "address": "172.16.0.2"}]},
        }))
        .unwrap();
        plan.observe(&existing);
        assert_eq!(plan.node_ip(), Some(Ipv4Addr::new(172, 16, 0, 3)));
        assert_eq!(plan.pod_cidr().unwrap().to_string(), "10.128.1.0/24");
        assert_eq!(plan.pod_cidr().unwrap().to_string(), "10.128.2.0/24");
        plan.forget(&existing);
        assert_eq!(plan.pod_cidrs.len(), 2);
    }

    #[test]
    fn the_plan_has_room_for_the_largest_fleet() {
        let mut plan = AddressPlan::default();
        let mut last = None;
        for _ in 0..MAX_POD_CIDRS {
            last = plan.pod_cidr();
            assert!(last.is_some());
        }
        assert_eq!(last.unwrap().to_string(), "10.255.255.0/24");
        assert_eq!(plan.pod_cidr(), None);
    }

    #[test]
    fn pods_get_distinct_ips_and_keep_them() {
        let mut ips = PodIps::new("10.128.0.0/24".parse().unwrap());
        ips.observe("old", Ipv4Addr::new(10, 128, 0, 2));
        let a = ips.assign("a").unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 128, 0, 3));
        assert_eq!(ips.assign("a"), Some(a));
        ips.release("a");
        assert_eq!(ips.len(), 1);
        let mut n = 1;
        while ips.assign(&format!("p{n}")).is_some() {
            n += 1;
        }
        // 253 usable addresses, one held by "old".
        assert_eq!(n, 253);
    }
}
