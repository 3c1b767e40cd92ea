//! Acceptance tests of `everynode up` (issue 4): the real binary runs the API server, the
//! controllers and simulated nodes; the real kubectl (and kube-rs, where a watch or a status
//! write is easier) checks that DaemonSets behave as on a real cluster: placement by labels,
//! affinity and taints, rolling updates and their limits, history and rollback, nodes coming
//! and going, failed pods, deletion, and a crash in the middle of a rollout.
//!
//! Every test starts its own cluster on a free port with a fast fleet (pods start in 100-200 ms,
//! are Ready 200 ms later and terminate in 100 ms), so waits are polls with generous timeouts
//! and limits are checked from everything a watch saw, not from fixed sleeps.
//!
//! kubectl is `<workspace>/.venv/bin/kubectl` or the one on PATH; EVERYNODE_SKIP_KUBECTL=1 skips.

// Test helpers panic on purpose: a failure is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};
use support::{Cluster, read_fixture};

/// How long a cluster may take to converge after a change. Pods are Ready within half a second
/// with the fleets below; the margin is for a loaded 2-core machine running every test at once.
const CONVERGE: Duration = Duration::from_secs(30);

/// `everynode up` runs pod GC every 2 s with a 5 s quarantine for pods of deleted nodes.
const POD_GC: Duration = Duration::from_secs(20);

/// How often the polls look again.
const POLL: Duration = Duration::from_millis(50);

/// Pod behaviour of every node of the test fleets: fast, with the "bad release" rule: images
/// tagged `2.1.*` run but never become Ready.
const FAST: &str = r#"{startDelay: 100ms, startJitter: 100ms, readinessDelay: 200ms, terminationDelay: 100ms, backoffScale: 0.1, failures: [{image: "*:2.1.*", mode: NeverReady}]}"#;

/// The fleet `everynode up --nodes <workers + 1>` runs (a tainted `control-plane-1` and
/// `worker-1`...), with fast pods, plus `extra_pools` (YAML list items).
fn fleet_with(workers: u32, extra_pools: &str) -> String {
    format!(
        "pools:
- name: control-plane
  count: 1
  namePrefix: control-plane-
  labels: {{node-role.kubernetes.io/control-plane: \"\"}}
  taints: [{{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}}]
  behaviour: {FAST}
- name: workers
  count: {workers}
  namePrefix: worker-
  behaviour: {FAST}
{extra_pools}defaultBehaviour: {FAST}
"
    )
}

fn fleet(workers: u32) -> String {
    fleet_with(workers, "")
}

/// `everynode up` on `fleet`, or `None` when kubectl tests are skipped.
fn up(fleet: &str) -> Option<Cluster> {
    Cluster::up_with_fleet(fleet)
}

/// `worker-1` ... `worker-<n>`.
fn workers(n: u32) -> Vec<String> {
    (1..=n).map(|i| format!("worker-{i}")).collect()
}

// ---------------------------------------------------------------------------------------------
// DaemonSet manifests

/// A DaemonSet manifest in the default namespace, its pods labelled `app: <name>` and running
/// one container named `agent`: `ds("agent").image("busybox:1.36").max_unavailable("2")`.
#[derive(Debug, Clone)]
struct DaemonSetYaml {
    name: String,
    image: String,
    strategy: Value,
    min_ready_seconds: Option<u32>,
    change_cause: Option<String>,
    pod_spec: serde_json::Map<String, Value>,
}

fn ds(name: &str) -> DaemonSetYaml {
    DaemonSetYaml {
        name: name.to_owned(),
        image: "busybox:1.36".to_owned(),
        strategy: json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}),
        min_ready_seconds: None,
        change_cause: None,
        pod_spec: serde_json::Map::new(),
    }
}

impl DaemonSetYaml {
    fn image(mut self, image: &str) -> Self {
        self.image = image.to_owned();
        self
    }

    /// RollingUpdate with `maxUnavailable` (a number or a percentage).
    fn max_unavailable(mut self, value: Value) -> Self {
        self.strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": value}});
        self
    }

    /// RollingUpdate with `maxSurge` and `maxUnavailable: 0`.
    fn max_surge(mut self, value: Value) -> Self {
        self.strategy =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": value, "maxUnavailable": 0}});
        self
    }

    fn on_delete(mut self) -> Self {
        self.strategy = json!({"type": "OnDelete"});
        self
    }

    fn min_ready_seconds(mut self, seconds: u32) -> Self {
        self.min_ready_seconds = Some(seconds);
        self
    }

    fn change_cause(mut self, cause: &str) -> Self {
        self.change_cause = Some(cause.to_owned());
        self
    }

    /// Sets a field of the pod template's spec (`nodeSelector`, `affinity`, `tolerations`).
    fn pod_spec(mut self, field: &str, value: Value) -> Self {
        self.pod_spec.insert(field.to_owned(), value);
        self
    }

    /// The manifest, as JSON (which kubectl apply reads as YAML).
    fn manifest(&self) -> String {
        let mut pod_spec = self.pod_spec.clone();
        pod_spec.insert("containers".into(), json!([{"name": "agent", "image": self.image}]));
        let mut metadata = json!({"name": self.name});
        if let Some(cause) = &self.change_cause {
            metadata["annotations"] = json!({"kubernetes.io/change-cause": cause});
        }
        let mut spec = json!({
            "selector": {"matchLabels": {"app": self.name}},
            "updateStrategy": self.strategy,
            "template": {"metadata": {"labels": {"app": self.name}}, "spec": pod_spec},
        });
        if let Some(seconds) = self.min_ready_seconds {
            spec["minReadySeconds"] = json!(seconds);
        }
        serde_json::to_string_pretty(&json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": metadata,
            "spec": spec,
        }))
        .unwrap()
    }
}

/// The toleration of the control-plane taint the seeds use.
fn control_plane_toleration() -> Value {
    json!([{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}])
}

// ---------------------------------------------------------------------------------------------
// Reading the cluster

/// What the tests need of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PodView {
    name: String,
    node: String,
    image: String,
    ready: bool,
    deleting: bool,
    phase: String,
    owned: bool,
}

impl PodView {
    fn of(pod: &Pod) -> PodView {
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        PodView {
            name: pod.metadata.name.clone().unwrap_or_default(),
            node: spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
            image: spec.and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default(),
            ready: status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
            deleting: pod.metadata.deletion_timestamp.is_some(),
            phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
            owned: pod.metadata.owner_references.as_ref().is_some_and(|o| !o.is_empty()),
        }
    }

    /// Ready and not terminating: what a rolling update counts as available (without
    /// minReadySeconds).
    fn available(&self) -> bool {
        self.ready && !self.deleting
    }
}

/// `kubectl create -f -` of `manifest` (not `apply`: `rollout undo` warns about objects
/// managed with apply).
fn create(k: &Cluster, manifest: &str) -> String {
    k.kubectl_with_stdin(&["create", "-f", "-"], manifest).ok()
}

/// A count of a DaemonSet's status; Go omits zero counts.
fn count(status: &Value, field: &str) -> i64 {
    status[field].as_i64().unwrap_or(0)
}

/// `kubectl get <args> -o json`, parsed.
fn get_json(k: &Cluster, args: &[&str]) -> Value {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&k.kubectl(&full).ok()).unwrap()
}

/// The pods of `selector` in `namespace`, by name.
fn pods(k: &Cluster, namespace: &str, selector: &str) -> BTreeMap<String, PodView> {
    let list = get_json(k, &["pods", "-n", namespace, "-l", selector]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| PodView::of(&serde_json::from_value(item.clone()).unwrap()))
        .map(|pod| (pod.name.clone(), pod))
        .collect()
}

/// Splits a kubectl table into rows of column name -> cell. Columns are found in the header,
/// where kubectl separates them by at least two spaces ("NOMINATED NODE" is one column).
fn table(output: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let mut starts = Vec::new();
    let bytes = header.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let after_gap = i == 0 || (i >= 2 && bytes[i - 1] == b' ' && bytes[i - 2] == b' ');
        if b != b' ' && after_gap {
            starts.push(i);
        }
    }
    let names: Vec<String> = starts
        .iter()
        .enumerate()
        .map(|(n, &s)| header[s..starts.get(n + 1).copied().unwrap_or(header.len())].trim().to_owned())
        .collect();
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            names
                .iter()
                .enumerate()
                .map(|(n, name)| {
                    let start = starts[n].min(line.len());
                    let end = starts.get(n + 1).copied().unwrap_or(line.len()).min(line.len());
                    (name.clone(), line[start..end].trim().to_owned())
                })
                .collect()
        })
        .collect()
}

/// DESIRED, CURRENT, READY, UP-TO-DATE and AVAILABLE of `kubectl get ds`.
fn ds_counts(k: &Cluster, namespace: &str, name: &str) -> [String; 5] {
    let out = k.kubectl(&["get", "ds", name, "-n", namespace]).ok();
    let rows = table(&out);
    assert_eq!(rows.len(), 1, "{out}");
    ["DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE"].map(|c| rows[0][c].clone())
}

/// Checks `check` until it returns `Ok`, failing the test after `timeout` with the last `Err`
/// (a description of what was seen instead).
fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "{what} did not happen within {timeout:?}; last seen:\n{seen}"
            ),
        }
        thread::sleep(POLL);
    }
}

/// Waits until DaemonSet `namespace/name` (pods selected by `selector`) has observed its latest
/// generation and runs exactly one Ready pod of its current image on each of `nodes` and
/// nowhere else, with every count of `kubectl get ds` equal to their number. Returns the pods.
fn wait_settled(
    k: &Cluster,
    namespace: &str,
    name: &str,
    selector: &str,
    nodes: &[String],
) -> BTreeMap<String, PodView> {
    let want: BTreeSet<&str> = nodes.iter().map(String::as_str).collect();
    let count = nodes.len().to_string();
    wait_for(&format!("{namespace}/{name} settling on {want:?}"), CONVERGE, || {
        let ds = get_json(k, &["ds", name, "-n", namespace]);
        let image = ds["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or_default();
        let pods = pods(k, namespace, selector);
        let on: Vec<&str> = pods.values().map(|p| p.node.as_str()).collect();
        let settled = ds["status"]["observedGeneration"] == ds["metadata"]["generation"]
            && pods.len() == nodes.len()
            && on.iter().copied().collect::<BTreeSet<_>>() == want
            && pods.values().all(|p| p.available() && p.image == image);
        let counts = if settled { ds_counts(k, namespace, name) } else { Default::default() };
        if settled && counts.iter().all(|c| *c == count) {
            Ok(pods)
        } else {
            Err(format!("status {}\ncounts {counts:?}\npods {pods:#?}", ds["status"]))
        }
    })
}

/// `kubectl rollout status` until the rollout ends; checks upstream's last line.
fn rollout_status(k: &Cluster, name: &str) {
    let out = k.kubectl(&["rollout", "status", &format!("ds/{name}"), "--timeout=60s"]).ok();
    assert_eq!(
        out.lines().last(),
        Some(format!("daemon set \"{name}\" successfully rolled out").as_str()),
        "{out}"
    );
}

fn names(pods: &BTreeMap<String, PodView>) -> BTreeSet<String> {
    pods.keys().cloned().collect()
}

/// Pod name by node.
fn by_node(pods: &BTreeMap<String, PodView>) -> BTreeMap<String, String> {
    pods.values().map(|p| (p.node.clone(), p.name.clone())).collect()
}

// ---------------------------------------------------------------------------------------------
// kube-rs

/// Runs a future to completion on a runtime of its own (the tests themselves are blocking).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// A kube-rs client from the kubeconfig everynode wrote.
async fn client(kubeconfig: &Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

/// One state a watch passed through: every pod of the selection after one event.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    pods: BTreeMap<String, PodView>,
}

/// A kube-rs watch of pods on a thread of its own, recording every state it sees.
struct PodWatch {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<Vec<Seen>>>,
}

impl PodWatch {
    /// Starts watching the pods of `selector` in `namespace`; returns once the initial list is in.
    fn start(k: &Cluster, namespace: &str, selector: &str) -> PodWatch {
        let kubeconfig: PathBuf = k.kubeconfig().to_owned();
        let (namespace, selector) = (namespace.to_owned(), selector.to_owned());
        let stop = Arc::new(AtomicBool::new(false));
        let (listed_tx, listed) = mpsc::channel();
        let thread = thread::spawn({
            let stop = Arc::clone(&stop);
            move || block_on(watch_pods(kubeconfig, namespace, selector, stop, listed_tx))
        });
        listed.recv_timeout(CONVERGE).expect("the pod watch lists the pods");
        PodWatch { stop, thread: Some(thread) }
    }

    /// Stops watching; returns every state seen, the initial list first.
    fn finish(mut self) -> Vec<Seen> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().expect("the pod watch thread")
    }
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

async fn watch_pods(
    kubeconfig: PathBuf,
    namespace: String,
    selector: String,
    stop: Arc<AtomicBool>,
    listed: mpsc::Sender<()>,
) -> Vec<Seen> {
    let api: Api<Pod> = Api::namespaced(client(&kubeconfig).await, &namespace);
    let events = watcher::watcher(api, watcher::Config::default().labels(&selector)).default_backoff();
    futures::pin_mut!(events);
    let mut current = BTreeMap::new();
    let mut relist = BTreeMap::new();
    let mut seen = Vec::new();
    let mut listed = Some(listed);
    while !stop.load(Ordering::SeqCst) {
        // The watcher keeps its in-flight request across a timed-out `next`.
        let Ok(next) = tokio::time::timeout(Duration::from_millis(20), events.next()).await else { continue };
        let Some(event) = next else { break };
        match event {
            Ok(Event::Init) => {
                relist.clear();
                continue;
            }
            Ok(Event::InitApply(pod)) => {
                let pod = PodView::of(&pod);
                relist.insert(pod.name.clone(), pod);
                continue;
            }
            Ok(Event::InitDone) => {
                current = std::mem::take(&mut relist);
                if let Some(tx) = listed.take() {
                    let _ = tx.send(());
                }
            }
            Ok(Event::Apply(pod)) => {
                let pod = PodView::of(&pod);
                current.insert(pod.name.clone(), pod);
            }
            Ok(Event::Delete(pod)) => {
                current.remove(&PodView::of(&pod).name);
            }
            Err(_) => continue,
        }
        seen.push(Seen { at: Instant::now(), pods: current.clone() });
    }
    seen
}

/// The nodes of `nodes` without an available pod in `pods`.
fn unavailable_nodes(pods: &BTreeMap<String, PodView>, nodes: &[String]) -> Vec<String> {
    nodes.iter().filter(|n| !pods.values().any(|p| &p.node == *n && p.available())).cloned().collect()
}

/// The most nodes that lacked an available pod at once, and one state where they did.
fn peak_unavailable(seen: &[Seen], nodes: &[String]) -> (usize, Vec<String>) {
    seen.iter()
        .map(|s| unavailable_nodes(&s.pods, nodes))
        .max_by_key(Vec::len)
        .map_or((0, Vec::new()), |worst| (worst.len(), worst))
}

/// How many nodes have more than one pod that is not terminating (surging nodes).
fn nodes_with_two_live_pods(pods: &BTreeMap<String, PodView>) -> usize {
    let mut live: BTreeMap<&str, usize> = BTreeMap::new();
    for pod in pods.values().filter(|p| !p.deleting && !p.node.is_empty()) {
        *live.entry(&pod.node).or_default() += 1;
    }
    live.values().filter(|&&n| n > 1).count()
}

/// The most nodes that surged at once.
fn peak_surging_nodes(seen: &[Seen]) -> usize {
    seen.iter().map(|s| nodes_with_two_live_pods(&s.pods)).max().unwrap_or(0)
}

/// A state in which some node had two pods that were not terminating, if any.
fn two_live_pods_on_a_node(seen: &[Seen]) -> Option<BTreeMap<String, PodView>> {
    seen.iter().find(|s| nodes_with_two_live_pods(&s.pods) > 0).map(|s| s.pods.clone())
}

/// Runs a rolling update of `agent` (already settled on `nodes`) to `image` under a watch, waits
/// for `kubectl rollout status` and the new pods, and returns what the watch saw.
fn watched_rollout(k: &Cluster, nodes: &[String], image: &str) -> Vec<Seen> {
    let watch = PodWatch::start(k, "default", "app=agent");
    let out = k.kubectl(&["set", "image", "ds/agent", &format!("agent={image}")]).ok();
    assert_eq!(out, "daemonset.apps/agent image updated\n");
    rollout_status(k, "agent");
    let settled = wait_settled(k, "default", "agent", "app=agent", nodes);
    assert!(settled.values().all(|p| p.image == image), "{settled:#?}");
    watch.finish()
}

// ---------------------------------------------------------------------------------------------
// Placement

#[test]
fn the_default_fleet_has_a_tainted_control_plane_and_workers() {
    let Some(k) = Cluster::up(3) else { return };
    let nodes = wait_for("three Ready nodes", CONVERGE, || {
        let rows = table(&k.kubectl(&["get", "nodes"]).ok());
        let summary: Vec<String> =
            rows.iter().map(|r| format!("{} {} {}", r["NAME"], r["STATUS"], r["ROLES"])).collect();
        if summary.len() == 3 && rows.iter().all(|r| r["STATUS"] == "Ready") {
            Ok(summary)
        } else {
            Err(summary.join("\n"))
        }
    });
    assert_eq!(
        nodes,
        ["control-plane-1 Ready control-plane", "worker-1 Ready <none>", "worker-2 Ready <none>"]
    );
    // Default pod timings (about 2.5 s to Ready), no toleration: the two workers.
    k.apply(&ds("agent").manifest());
    wait_settled(&k, "default", "agent", "app=agent", &workers(2));
}

#[test]
fn seed_daemon_sets_run_one_ready_pod_on_every_eligible_node() {
    let Some(k) = up(&fleet(3)) else { return };
    for ns in ["monitoring", "logging"] {
        assert_eq!(k.kubectl(&["create", "ns", ns]).ok(), format!("namespace/{ns} created\n"));
    }
    let all: Vec<String> = ["control-plane-1", "worker-1", "worker-2", "worker-3"].map(String::from).into();
    // fluentd has no toleration: not on the control plane. node-exporter tolerates everything,
    // fluent-bit the control-plane taint.
    let seeds = [
        ("fluentd.skill.yaml", "kube-system", "fluentd", "app=fluentd", workers(3)),
        (
            "node-exporter.skill.yaml",
            "monitoring",
            "node-exporter",
            "app.kubernetes.io/name=node-exporter",
            all.clone(),
        ),
        ("fluent-bit.skill.yaml", "logging", "fluent-bit", "app=fluent-bit", all),
    ];
    for (file, ns, name, _, _) in &seeds {
        assert_eq!(
            k.apply(&read_fixture(format!("seeds/{file}"))),
            format!("daemonset.apps/{name} created\n"),
            "{ns}"
        );
    }
    for (file, ns, name, selector, nodes) in &seeds {
        wait_settled(&k, ns, name, selector, nodes);
        let wide = k.kubectl(&["get", "pods", "-n", ns, "-l", selector, "-o", "wide"]).ok();
        let rows = table(&wide);
        let placed: Vec<&str> = rows.iter().map(|r| r["NODE"].as_str()).collect();
        let distinct: BTreeSet<&str> = placed.iter().copied().collect();
        assert_eq!(placed.len(), distinct.len(), "{file}: two pods on a node:\n{wide}");
        assert_eq!(distinct, nodes.iter().map(String::as_str).collect(), "{file}:\n{wide}");
        assert!(rows.iter().all(|r| r["READY"] == "1/1" && r["STATUS"] == "Running"), "{file}:\n{wide}");
    }
    let all_ds = table(&k.kubectl(&["get", "ds", "-A"]).ok());
    let summary: Vec<String> = all_ds
        .iter()
        .map(|r| {
            let counts = ["DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE"].map(|c| r[c].as_str());
            format!("{}/{} {}", r["NAMESPACE"], r["NAME"], counts.join(" "))
        })
        .collect();
    assert_eq!(
        summary,
        [
            "kube-system/fluentd 3 3 3 3 3",
            "logging/fluent-bit 4 4 4 4 4",
            "monitoring/node-exporter 4 4 4 4 4"
        ]
    );
}

#[test]
fn a_node_selector_places_pods_only_on_labelled_nodes() {
    let Some(k) = up(&fleet(2)) else { return };
    assert_eq!(k.apply(&read_fixture("ssd.yaml")), "daemonset.apps/nginx-fast-storage created\n");
    let selector = "app=nginx,ssd=true";
    wait_settled(&k, "default", "nginx-fast-storage", selector, &[]);

    assert_eq!(k.kubectl(&["label", "nodes", "worker-1", "ssd=true"]).ok(), "node/worker-1 labeled\n");
    wait_settled(&k, "default", "nginx-fast-storage", selector, &["worker-1".into()]);
    let wide = table(&k.kubectl(&["get", "pods", "-l", selector, "-o", "wide"]).ok());
    assert_eq!(wide.len(), 1);
    assert_eq!(wide[0]["NODE"], "worker-1");

    assert_eq!(k.kubectl(&["label", "nodes", "worker-1", "ssd-"]).ok(), "node/worker-1 unlabeled\n");
    wait_settled(&k, "default", "nginx-fast-storage", selector, &[]);
    let run = k.kubectl(&["get", "pods", "-l", selector]);
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("", "No resources found in default namespace.\n")
    );
}

#[test]
fn node_affinity_in_and_not_in_select_the_right_nodes() {
    let gpu = format!(
        "- name: gpu\n  count: 1\n  namePrefix: gpu-\n  labels: {{node-type: gpu}}\n  behaviour: {FAST}\n"
    );
    let Some(k) = up(&fleet_with(2, &gpu)) else { return };
    k.kubectl(&["create", "ns", "monitoring"]).ok();
    // Linux nodes that are not GPU nodes, the control plane included (it is tolerated).
    assert_eq!(k.apply(&read_fixture("node-affinity.yaml")), "daemonset.apps/linux-agent created\n");
    let gpu_only = ds("gpu-agent").pod_spec(
        "affinity",
        json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "node-type", "operator": "In", "values": ["gpu"]}]}
        ]}}}),
    );
    k.apply(&gpu_only.manifest());
    let not_gpu: Vec<String> = ["control-plane-1", "worker-1", "worker-2"].map(String::from).into();
    wait_settled(&k, "monitoring", "linux-agent", "app=linux-agent", &not_gpu);
    wait_settled(&k, "default", "gpu-agent", "app=gpu-agent", &["gpu-1".into()]);

    // A node that becomes a GPU node swaps agents.
    k.kubectl(&["label", "nodes", "worker-1", "node-type=gpu"]).ok();
    wait_settled(
        &k,
        "monitoring",
        "linux-agent",
        "app=linux-agent",
        &["control-plane-1".into(), "worker-2".into()],
    );
    wait_settled(&k, "default", "gpu-agent", "app=gpu-agent", &["gpu-1".into(), "worker-1".into()]);
}

#[test]
fn the_control_plane_taint_excludes_its_node_unless_tolerated() {
    let Some(k) = up(&fleet(2)) else { return };
    let agent = ds("agent");
    k.apply(&agent.manifest());
    wait_settled(&k, "default", "agent", "app=agent", &workers(2));

    let tolerant = agent.pod_spec("tolerations", control_plane_toleration());
    assert_eq!(k.apply(&tolerant.manifest()), "daemonset.apps/agent configured\n");
    let mut everywhere = workers(2);
    everywhere.push("control-plane-1".into());
    wait_settled(&k, "default", "agent", "app=agent", &everywhere);
}

#[test]
fn a_no_execute_taint_evicts_and_a_no_schedule_taint_does_not() {
    let Some(k) = up(&fleet(3)) else { return };
    k.apply(&ds("agent").manifest());
    let before = by_node(&wait_settled(&k, "default", "agent", "app=agent", &workers(3)));

    let taint = |node: &str, taint: &str| k.kubectl(&["taint", "nodes", node, taint]).ok();
    assert_eq!(taint("worker-1", "dedicated=infra:NoSchedule"), "node/worker-1 tainted\n");
    assert_eq!(taint("worker-2", "dedicated=infra:NoExecute"), "node/worker-2 tainted\n");
    // worker-1's pod is no longer desired but keeps running (misscheduled); worker-2's goes.
    let pods = wait_for("the eviction from worker-2", CONVERGE, || {
        let pods = pods(&k, "default", "app=agent");
        let status = get_json(&k, &["ds", "agent"])["status"].clone();
        let nodes: BTreeSet<&str> = pods.values().map(|p| p.node.as_str()).collect();
        if nodes == BTreeSet::from(["worker-1", "worker-3"])
            && count(&status, "numberMisscheduled") == 1
            && count(&status, "desiredNumberScheduled") == 1
        {
            Ok(pods)
        } else {
            Err(format!("{status}\n{pods:#?}"))
        }
    });
    assert_eq!(by_node(&pods)["worker-1"], before["worker-1"], "the NoSchedule taint restarted a pod");
    assert_eq!(by_node(&pods)["worker-3"], before["worker-3"]);

    // Without the taints the pods come back (worker-1's was never gone).
    assert_eq!(taint("worker-2", "dedicated-"), "node/worker-2 untainted\n");
    assert_eq!(taint("worker-1", "dedicated-"), "node/worker-1 untainted\n");
    let after = by_node(&wait_settled(&k, "default", "agent", "app=agent", &workers(3)));
    assert_eq!(after["worker-1"], before["worker-1"]);
    assert_ne!(after["worker-2"], before["worker-2"]);
}

// ---------------------------------------------------------------------------------------------
// Rolling updates

#[test]
fn rolling_update_with_max_unavailable_1_replaces_one_node_at_a_time() {
    let Some(k) = up(&fleet(5)) else { return };
    let nodes = workers(5);
    k.apply(&ds("agent").image("busybox:1.36").manifest());
    let old = wait_settled(&k, "default", "agent", "app=agent", &nodes);

    let seen = watched_rollout(&k, &nodes, "busybox:1.37");
    let (peak, worst) = peak_unavailable(&seen, &nodes);
    assert_eq!(peak, 1, "nodes without an available pod at once: {worst:?}");
    if let Some(pods) = two_live_pods_on_a_node(&seen) {
        panic!("without maxSurge a node had two running pods: {pods:#?}");
    }
    let new = pods(&k, "default", "app=agent");
    assert!(names(&old).is_disjoint(&names(&new)));
}

#[test]
fn rolling_update_with_max_unavailable_2_or_40_percent_replaces_two_nodes_at_a_time() {
    let Some(k) = up(&fleet(5)) else { return };
    let nodes = workers(5);
    k.apply(&ds("agent").image("busybox:1.35").max_unavailable(json!(2)).manifest());
    wait_settled(&k, "default", "agent", "app=agent", &nodes);
    let seen = watched_rollout(&k, &nodes, "busybox:1.36");
    let (peak, worst) = peak_unavailable(&seen, &nodes);
    assert_eq!(peak, 2, "maxUnavailable 2: nodes without an available pod at once: {worst:?}");

    // 40% of 5 nodes is 2.
    k.apply(&ds("agent").image("busybox:1.36").max_unavailable(json!("40%")).manifest());
    let seen = watched_rollout(&k, &nodes, "busybox:1.37");
    let (peak, worst) = peak_unavailable(&seen, &nodes);
    assert_eq!(peak, 2, "maxUnavailable 40%: nodes without an available pod at once: {worst:?}");
}

#[test]
fn rolling_update_with_max_surge_readies_the_new_pod_before_the_old_one_goes() {
    let Some(k) = up(&fleet(5)) else { return };
    let nodes = workers(5);
    k.apply(&ds("agent").max_surge(json!(1)).manifest());
    wait_settled(&k, "default", "agent", "app=agent", &nodes);
    let seen = watched_rollout(&k, &nodes, "busybox:1.37");
    let (peak, worst) = peak_unavailable(&seen, &nodes);
    assert_eq!(peak, 0, "a node had no available pod: {worst:?}");
    assert_eq!(peak_surging_nodes(&seen), 1, "maxSurge 1: one node at a time has two running pods");
}

#[test]
fn min_ready_seconds_holds_the_next_node_until_the_new_pod_has_been_ready_long_enough() {
    /// Ready conditions carry whole seconds, so a pod can count as available up to 1 s early;
    /// watch latency takes a little more. Observed gaps must still be well above zero (without
    /// minReadySeconds they are a few milliseconds).
    const MIN_READY: u32 = 3;
    const LEAST_GAP: Duration = Duration::from_millis(1500);
    let Some(k) = up(&fleet(3)) else { return };
    let nodes = workers(3);
    // From the start: had the old pods been Ready for less than minReadySeconds when the rollout
    // starts, they would be unavailable, and upstream replaces unavailable old pods at once.
    let agent = ds("agent").image("busybox:1.36").min_ready_seconds(MIN_READY);
    k.apply(&agent.manifest());
    wait_settled(&k, "default", "agent", "app=agent", &nodes);

    let watch = PodWatch::start(&k, "default", "app=agent");
    k.apply(&agent.image("busybox:1.37").manifest());
    rollout_status(&k, "agent");
    wait_settled(&k, "default", "agent", "app=agent", &nodes);
    let seen = watch.finish();

    // When each old pod started terminating, and when each new pod was first Ready.
    let mut deleted: BTreeMap<String, Instant> = BTreeMap::new();
    let mut ready: BTreeMap<String, Instant> = BTreeMap::new();
    for s in &seen {
        for pod in s.pods.values() {
            if pod.image == "busybox:1.36" && pod.deleting {
                deleted.entry(pod.node.clone()).or_insert(s.at);
            }
            if pod.image == "busybox:1.37" && pod.ready {
                ready.entry(pod.node.clone()).or_insert(s.at);
            }
        }
    }
    let mut order: Vec<(Instant, String)> = deleted.iter().map(|(n, at)| (*at, n.clone())).collect();
    order.sort();
    assert_eq!(order.len(), 3, "{deleted:?}");
    for pair in order.windows(2) {
        let (previous, next) = (&pair[0].1, &pair[1]);
        let previous_ready = ready[previous];
        assert!(
            next.0 >= previous_ready + LEAST_GAP,
            "{}'s old pod went {:?} after {previous}'s new pod was Ready (minReadySeconds {MIN_READY})",
            next.1,
            next.0.saturating_duration_since(previous_ready)
        );
    }
}

#[test]
fn a_never_ready_image_stalls_the_rollout_at_max_unavailable_nodes_until_undone() {
    let Some(k) = up(&fleet(5)) else { return };
    let nodes = workers(5);
    create(&k, &ds("agent").image("busybox:2.0.0").max_unavailable(json!(2)).manifest());
    let good = by_node(&wait_settled(&k, "default", "agent", "app=agent", &nodes));

    // The fleet's pods of `*:2.1.*` images run but never become Ready.
    k.kubectl(&["set", "image", "ds/agent", "agent=busybox:2.1.0"]).ok();
    let stalled = || -> Result<BTreeMap<String, PodView>, String> {
        let pods = pods(&k, "default", "app=agent");
        let status = get_json(&k, &["ds", "agent"])["status"].clone();
        let bad = pods
            .values()
            .filter(|p| p.image == "busybox:2.1.0" && p.phase == "Running" && !p.ready && !p.deleting)
            .count();
        let fine = pods.values().filter(|p| p.image == "busybox:2.0.0" && p.available()).count();
        let updated = count(&status, "updatedNumberScheduled");
        if pods.len() == 5
            && bad == 2
            && fine == 3
            && updated == 2
            && count(&status, "numberUnavailable") == 2
        {
            Ok(pods)
        } else {
            Err(format!("{status}\n{pods:#?}"))
        }
    };
    let first = wait_for("the rollout to stall at 2 nodes", CONVERGE, stalled);
    // It stays stalled: the same pods, nothing more replaced.
    let run = k.kubectl(&["rollout", "status", "ds/agent", "--timeout=2s"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stdout.lines().last(),
        Some("Waiting for daemon set \"agent\" rollout to finish: 2 out of 5 new pods have been updated..."),
        "{run:?}"
    );
    assert_eq!(run.stderr, "error: timed out waiting for the condition\n");
    assert_eq!(stalled().unwrap(), first);

    // Undo to revision 1: the bad pods are replaced, the good ones are left alone.
    assert_eq!(
        k.kubectl(&["rollout", "undo", "ds/agent", "--to-revision=1"]).ok(),
        "daemonset.apps/agent rolled back\n"
    );
    rollout_status(&k, "agent");
    let after = wait_settled(&k, "default", "agent", "app=agent", &nodes);
    let kept: Vec<&String> = first.values().filter(|p| p.image == "busybox:2.0.0").map(|p| &p.name).collect();
    assert_eq!(kept.len(), 3);
    for name in kept {
        assert!(after.contains_key(name), "{name} was restarted by the undo: {after:#?}");
        assert!(good.values().any(|n| n == name));
    }
}

#[test]
fn on_delete_records_a_revision_but_replaces_only_deleted_pods() {
    let Some(k) = up(&fleet(3)) else { return };
    let nodes = workers(3);
    let agent = ds("agent").image("busybox:1.36").on_delete();
    k.apply(&agent.manifest());
    let before = wait_settled(&k, "default", "agent", "app=agent", &nodes);

    k.kubectl(&["set", "image", "ds/agent", "agent=busybox:1.37"]).ok();
    let status = wait_for("the controller to observe generation 2", CONVERGE, || {
        let ds = get_json(&k, &["ds", "agent"]);
        (ds["status"]["observedGeneration"] == 2).then(|| ds["status"].clone()).ok_or(ds.to_string())
    });
    assert_eq!(count(&status, "updatedNumberScheduled"), 0, "{status}");
    let revisions = table(&k.kubectl(&["get", "controllerrevisions"]).ok());
    let numbers: BTreeSet<&str> = revisions.iter().map(|r| r["REVISION"].as_str()).collect();
    assert_eq!(numbers, BTreeSet::from(["1", "2"]), "{revisions:?}");
    assert_eq!(pods(&k, "default", "app=agent"), before, "OnDelete changed pods without a deletion");

    let victim = by_node(&before)["worker-1"].clone();
    k.kubectl(&["delete", "pod", &victim]).ok();
    let after = wait_for("a new pod on worker-1", CONVERGE, || {
        let pods = pods(&k, "default", "app=agent");
        let fresh = pods.values().any(|p| p.node == "worker-1" && p.image == "busybox:1.37" && p.available());
        if fresh && pods.len() == 3 { Ok(pods) } else { Err(format!("{pods:#?}")) }
    });
    for (name, pod) in &before {
        if *name != victim {
            assert_eq!(after.get(name), Some(pod), "only the deleted pod may change");
        }
    }
    wait_for("status: 1 updated", CONVERGE, || {
        let status = get_json(&k, &["ds", "agent"])["status"].clone();
        (count(&status, "updatedNumberScheduled") == 1).then_some(()).ok_or(status.to_string())
    });
}

#[test]
fn rollout_history_undo_to_revision_and_restart() {
    let Some(k) = up(&fleet(3)) else { return };
    let nodes = workers(3);
    create(&k, &ds("agent").image("busybox:1.35").change_cause("create with busybox 1.35").manifest());
    wait_settled(&k, "default", "agent", "app=agent", &nodes);
    for version in ["1.36", "1.37"] {
        let cause = format!("kubernetes.io/change-cause=busybox {version}");
        k.kubectl(&["annotate", "ds", "agent", &cause, "--overwrite"]).ok();
        k.kubectl(&["set", "image", "ds/agent", &format!("agent=busybox:{version}")]).ok();
        rollout_status(&k, "agent");
    }
    let history = |k: &Cluster| k.kubectl(&["rollout", "history", "ds/agent"]).ok();
    assert_eq!(
        history(&k),
        "daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n1         create with busybox 1.35\n2         busybox 1.36\n3         busybox 1.37\n\n"
    );
    let revision_2 = k.kubectl(&["rollout", "history", "ds/agent", "--revision=2"]).ok();
    assert!(revision_2.contains("Image:\tbusybox:1.36"), "{revision_2}");

    // Undo: back to revision 2's template, which becomes revision 4.
    assert_eq!(k.kubectl(&["rollout", "undo", "ds/agent"]).ok(), "daemonset.apps/agent rolled back\n");
    rollout_status(&k, "agent");
    let pods_4 = wait_settled(&k, "default", "agent", "app=agent", &nodes);
    assert!(pods_4.values().all(|p| p.image == "busybox:1.36"), "{pods_4:#?}");
    assert_eq!(
        history(&k),
        "daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n1         create with busybox 1.35\n3         busybox 1.37\n4         busybox 1.36\n\n"
    );

    // Undoing to the revision already running changes nothing and restarts nothing.
    assert_eq!(
        k.kubectl(&["rollout", "undo", "ds/agent", "--to-revision=4"]).ok(),
        "daemonset.apps/agent skipped rollback (current template already matches revision 4)\n"
    );
    assert_eq!(
        k.kubectl(&["rollout", "undo", "ds/agent", "--to-revision=1"]).ok(),
        "daemonset.apps/agent rolled back\n"
    );
    rollout_status(&k, "agent");
    let pods_5 = wait_settled(&k, "default", "agent", "app=agent", &nodes);
    assert!(pods_5.values().all(|p| p.image == "busybox:1.35"), "{pods_5:#?}");
    assert!(names(&pods_4).is_disjoint(&names(&pods_5)));
    let template = get_json(&k, &["ds", "agent"])["spec"]["template"].clone();
    assert_eq!(template["spec"]["containers"][0]["image"], "busybox:1.35");

    // Restart: every pod replaced, same template otherwise.
    assert_eq!(k.kubectl(&["rollout", "restart", "ds/agent"]).ok(), "daemonset.apps/agent restarted\n");
    rollout_status(&k, "agent");
    let restarted = wait_settled(&k, "default", "agent", "app=agent", &nodes);
    assert!(names(&pods_5).is_disjoint(&names(&restarted)), "{pods_5:#?}\n{restarted:#?}");
    let template = get_json(&k, &["ds", "agent"])["spec"]["template"].clone();
    assert!(
        template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string(),
        "{template}"
    );
}

// ---------------------------------------------------------------------------------------------
// Nodes and pods coming and going

#[test]
fn added_nodes_get_a_pod_and_deleted_nodes_lose_theirs() {
    let Some(k) = up(&fleet(2)) else { return };
    k.apply(&ds("agent").manifest());
    wait_settled(&k, "default", "agent", "app=agent", &workers(2));

    let added = k.everynode(&["nodes", "add", "--pool", "workers", "--count", "1"]).ok();
    assert_eq!(added, "node/worker-3 created\n");
    wait_settled(&k, "default", "agent", "app=agent", &workers(3));
    // A node created with kubectl is simulated too (with the fleet's default behaviour).
    k.apply(r#"{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "extra-1"}}"#);
    let mut nodes = workers(3);
    nodes.push("extra-1".into());
    wait_settled(&k, "default", "agent", "app=agent", &nodes);

    assert_eq!(k.kubectl(&["delete", "node", "worker-1"]).ok(), "node \"worker-1\" deleted\n");
    nodes.retain(|n| n != "worker-1");
    // The DaemonSet stops counting the node at once; pod GC removes its pod after a quarantine.
    let remaining = wait_for("pod GC of worker-1's pod", POD_GC, || {
        let pods = pods(&k, "default", "app=agent");
        if pods.values().any(|p| p.node == "worker-1") { Err(format!("{pods:#?}")) } else { Ok(pods) }
    });
    assert_eq!(remaining.len(), 3, "{remaining:#?}");
    wait_settled(&k, "default", "agent", "app=agent", &nodes);
}

#[test]
fn a_failed_pod_is_recreated_with_backoff() {
    /// Upstream's failed-pod backoff starts at 1 s and doubles; the first deletion is at once.
    /// Deletions are observed by polling, late by up to a few hundred milliseconds on a loaded
    /// machine, so allow that much less. Without backoff the gaps would be the time a
    /// replacement takes to become Ready (about 0.4 s).
    const SECOND_GAP: Duration = Duration::from_millis(700);
    const THIRD_GAP: Duration = Duration::from_millis(1500);
    let Some(k) = up(&fleet(2)) else { return };
    k.apply(&ds("agent").manifest());
    wait_settled(&k, "default", "agent", "app=agent", &workers(2));
    let kubeconfig = k.kubeconfig().to_owned();

    let deletions = block_on(async move {
        let api: Api<Pod> = Api::namespaced(client(&kubeconfig).await, "default");
        let on_worker_1 = || async {
            let list = api.list(&ListParams::default().labels("app=agent")).await.unwrap();
            list.items.iter().map(PodView::of).filter(|p| p.node == "worker-1").collect::<Vec<_>>()
        };
        let mut deletions = Vec::new();
        let mut failed = BTreeSet::new();
        for _ in 0..3 {
            // Wait for a Running, Ready pod on worker-1 that was not failed yet, then fail it.
            let deadline = Instant::now() + CONVERGE;
            let victim = loop {
                let pods = on_worker_1().await;
                if let Some(p) = pods.iter().find(|p| p.available() && !failed.contains(&p.name)) {
                    break p.name.clone();
                }
                assert!(Instant::now() < deadline, "no new Ready pod on worker-1: {pods:#?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            let status = Patch::Merge(json!({"status": {"phase": "Failed"}}));
            api.patch_status(&victim, &PatchParams::default(), &status).await.unwrap();
            failed.insert(victim.clone());
            // The controller deletes it (after the backoff) and creates a replacement.
            let deadline = Instant::now() + CONVERGE;
            loop {
                let pods = on_worker_1().await;
                if pods.iter().all(|p| p.name != victim || p.deleting) {
                    deletions.push(Instant::now());
                    break;
                }
                assert!(Instant::now() < deadline, "failed pod {victim} is not deleted: {pods:#?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        deletions
    });
    let second = deletions[1] - deletions[0];
    let third = deletions[2] - deletions[1];
    assert!(second >= SECOND_GAP, "the second failed pod went {second:?} after the first");
    assert!(third >= THIRD_GAP, "the third failed pod went {third:?} after the second");
    wait_settled(&k, "default", "agent", "app=agent", &workers(2));
    // One warning per failed pod (their messages differ).
    let events = k.kubectl(&["get", "events", "--field-selector", "reason=FailedDaemonPod"]).ok();
    let rows = table(&events);
    assert_eq!(rows.len(), 3, "{events}");
    for row in &rows {
        assert_eq!(
            (row["TYPE"].as_str(), row["OBJECT"].as_str()),
            ("Warning", "daemonset/agent"),
            "{events}"
        );
        let message = &row["MESSAGE"];
        assert!(message.starts_with("Found failed daemon pod default/agent-"), "{events}");
        assert!(message.ends_with(" on node worker-1, will try to kill it"), "{events}");
    }
}

#[test]
fn deleting_a_daemon_set_removes_its_pods_unless_orphaned() {
    let Some(k) = up(&fleet(2)) else { return };
    let nodes = workers(2);
    k.apply(&ds("doomed").manifest());
    k.apply(&ds("orphans").manifest());
    wait_settled(&k, "default", "doomed", "app=doomed", &nodes);
    let orphans = wait_settled(&k, "default", "orphans", "app=orphans", &nodes);

    assert_eq!(
        k.kubectl(&["delete", "ds", "doomed"]).ok(),
        "daemonset.apps \"doomed\" deleted from default namespace\n"
    );
    wait_for("the pods of the deleted DaemonSet to go", CONVERGE, || {
        let pods = pods(&k, "default", "app=doomed");
        if pods.is_empty() { Ok(()) } else { Err(format!("{pods:#?}")) }
    });

    assert_eq!(
        k.kubectl(&["delete", "ds", "orphans", "--cascade=orphan"]).ok(),
        "daemonset.apps \"orphans\" deleted from default namespace\n"
    );
    let left = wait_for("the orphans to lose their owner references", CONVERGE, || {
        let pods = pods(&k, "default", "app=orphans");
        let ds = k.kubectl(&["get", "ds", "orphans"]);
        if ds.code == 1 && pods.values().all(|p| !p.owned) {
            Ok(pods)
        } else {
            Err(format!("{ds:?}\n{pods:#?}"))
        }
    });
    assert_eq!(names(&left), names(&orphans), "orphaned pods were replaced");
    assert!(left.values().all(PodView::available), "{left:#?}");
    let owners = k
        .kubectl(&["get", "pods", "-l", "app=orphans", "-o", "jsonpath={.items[*].metadata.ownerReferences}"])
        .ok();
    assert_eq!(owners, "");
}

// ---------------------------------------------------------------------------------------------
// Crash

#[test]
fn a_rollout_interrupted_by_a_crash_completes_after_restart() {
    let Some(mut k) = up(&fleet(5)) else { return };
    let nodes = workers(5);
    k.apply(&ds("agent").image("busybox:1.36").manifest());
    wait_settled(&k, "default", "agent", "app=agent", &nodes);

    // Acknowledged writes: the new template, an annotation, ConfigMaps.
    k.kubectl(&["annotate", "ds", "agent", "kubernetes.io/change-cause=busybox 1.37"]).ok();
    assert_eq!(
        k.kubectl(&["set", "image", "ds/agent", "agent=busybox:1.37"]).ok(),
        "daemonset.apps/agent image updated\n"
    );
    let mut acknowledged = Vec::new();
    // SIGKILL once some but not all nodes run the new image.
    wait_for("the rollout to be under way", CONVERGE, || {
        let name = format!("acked-{}", acknowledged.len());
        k.kubectl(&["create", "configmap", &name, "--from-literal=n=1"]).ok();
        acknowledged.push(name);
        let pods = pods(&k, "default", "app=agent");
        let new = pods.values().filter(|p| p.image == "busybox:1.37").count();
        if (1..nodes.len()).contains(&new) { Ok(()) } else { Err(format!("{pods:#?}")) }
    });
    k.restart();

    let watch = PodWatch::start(&k, "default", "app=agent");
    rollout_status(&k, "agent");
    let settled = wait_settled(&k, "default", "agent", "app=agent", &nodes);
    assert!(settled.values().all(|p| p.image == "busybox:1.37"), "{settled:#?}");
    let seen = watch.finish();
    if let Some(pods) = two_live_pods_on_a_node(&seen) {
        panic!("a node had two running pods after the restart: {pods:#?}");
    }

    let ds = get_json(&k, &["ds", "agent"]);
    assert_eq!(ds["metadata"]["annotations"]["kubernetes.io/change-cause"], "busybox 1.37");
    let revisions = table(&k.kubectl(&["get", "controllerrevisions"]).ok());
    assert_eq!(revisions.len(), 2, "{revisions:?}");
    let configmaps: BTreeSet<String> = get_json(&k, &["configmaps"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cm| cm["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    for name in &acknowledged {
        assert!(configmaps.contains(name), "acknowledged ConfigMap {name} was lost: {configmaps:?}");
    }
}
