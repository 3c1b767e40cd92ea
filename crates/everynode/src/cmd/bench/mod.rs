//! `everynode bench`: the whole cluster in one process, timed on a scenario.
//!
//! `rollout` starts the API server (on a durable store unless `--in-memory`), the controllers and
//! N simulated nodes whose pods start and become Ready at once, then times three phases: the
//! nodes' registration until all are Ready and hold their Leases, a DaemonSet's creation until
//! every node runs an available pod, and an image change until the rolling update is complete.
//! Figures are for issue notes, not assertions.

mod observe;
mod report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use everynode_apiserver::ApiServer;
use everynode_nodesim::{Behaviour, EventPolicy, Fleet, RunOptions};
use everynode_store::{Store, StoreOptions};
use k8s_openapi::api::apps::v1::DaemonSet;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::watch;

use self::observe::{Observer, Rollout};
use self::report::{Phase, Progress, Summary};
use super::server::open_store;
use super::up::{Controllers, spawn_controllers};

/// The benchmarked DaemonSet.
const NAMESPACE: &str = "default";
const NAME: &str = "bench";
/// The images before and after the update; simulated nodes pull nothing.
const IMAGE_BEFORE: &str = "registry.k8s.io/pause:3.9";
const IMAGE_AFTER: &str = "registry.k8s.io/pause:3.10";

/// Time a scenario on simulated nodes, everything in this process.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// The scenarios.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Scenario {
    /// Create a DaemonSet on N nodes, then roll out a new image; time both.
    Rollout(RolloutArgs),
}

/// `everynode bench rollout`.
#[derive(Debug, Clone, clap::Args)]
pub struct RolloutArgs {
    /// How many simulated (untainted) nodes.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub nodes: u32,
    /// Where the store lives (default: a temporary directory, removed afterwards).
    #[arg(long, value_name = "DIR", conflicts_with = "in_memory")]
    pub data_dir: Option<PathBuf>,
    /// Keep the store in memory only (no fsync): shows what durability costs.
    #[arg(long)]
    pub in_memory: bool,
    /// The rolling update's maxUnavailable (a number or a percentage).
    #[arg(long, value_name = "N|P%", default_value = "10%")]
    pub max_unavailable: String,
    /// Record every kubelet Event (Pulled, Created, Started, Killing) as `everynode up` does;
    /// by default only warnings, as for large fleets.
    #[arg(long)]
    pub kubelet_events: bool,
    /// Give up on a phase after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub timeout: u64,
}

/// Runs the chosen scenario and prints its summary on stdout.
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    match &args.scenario {
        Scenario::Rollout(args) => rollout(args).await,
    }
}

/// Where the store lives for the run.
enum Storage {
    Memory,
    /// The temporary directory, if the data dir is one (removed on drop).
    Disk {
        dir: PathBuf,
        _temporary: Option<tempfile::TempDir>,
    },
}

impl Storage {
    fn resolve(args: &RolloutArgs) -> anyhow::Result<Storage> {
        if args.in_memory {
            return Ok(Storage::Memory);
        }
        Ok(match &args.data_dir {
            Some(dir) => Storage::Disk { dir: dir.clone(), _temporary: None },
            None => {
                let temporary = tempfile::Builder::new()
                    .prefix("everynode-bench-")
                    .tempdir()
                    .context("creating a temporary data dir")?;
                Storage::Disk { dir: temporary.path().to_owned(), _temporary: Some(temporary) }
            }
        })
    }

    async fn open(&self) -> anyhow::Result<Store> {
        match self {
            Storage::Memory => Ok(Store::open_in_memory(StoreOptions::default())?),
            Storage::Disk { dir, .. } => open_store(dir).await,
        }
    }

    fn describe(&self) -> String {
        match self {
            Storage::Memory => "in-memory store".to_owned(),
            Storage::Disk { dir, .. } => format!("durable store in {}", dir.display()),
        }
    }
}

async fn rollout(args: &RolloutArgs) -> anyhow::Result<()> {
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    let load_before = report::load_average();
    let storage = Storage::resolve(args)?;
    let store = storage.open().await?;
    if store.current_revision().get() > 1_000 {
        bail!("the data dir already holds a cluster; benchmark on an empty one");
    }
    let server = ApiServer::new(store).await.context("starting the API server")?;
    let mut observer = Observer::start(&server, (NAMESPACE, NAME))?;
    let gc = server.spawn_background();
    let client = kube::Client::new(server.router(), "default");
    let mut controllers = tokio::task::JoinSet::new();
    spawn_controllers(&mut controllers, &client, Controllers::all());
    let timeout = Duration::from_secs(args.timeout);
    let n = i64::from(args.nodes);
    let mut phases = Vec::new();
    let mut clock = PhaseClock::start(&server, &observer);

    // 1. Registration: every node reports Ready and holds its Lease, as a kubelet's registration
    // ends. Timing the DaemonSet from here keeps the fleet's first 10,000 Lease writes out of it.
    let options = RunOptions {
        events: if args.kubelet_events { EventPolicy::All } else { EventPolicy::WarningsOnly },
        ..RunOptions::default()
    };
    let simulation = Fleet::run(client.clone(), Fleet::workers(args.nodes, Behaviour::instant()), options);
    let mut progress = Progress::start("register nodes", u64::from(args.nodes));
    let ready = wait(&mut observer.ready_nodes, timeout, |ready| {
        progress.update(*ready as u64, || format!("{ready} nodes Ready"));
        *ready as i64 >= n
    })
    .await;
    progress.finish(&format!("{} of {} nodes Ready", *observer.ready_nodes.borrow(), args.nodes));
    ready.context("waiting for the nodes to be Ready")?;
    phases.push(clock.lap("register nodes", &server, &observer));
    // The simulated kubelets spread their first Lease writes over a renewal interval (20 s for
    // 10,000 nodes), as nodes registered together would otherwise renew together forever.
    let mut progress = Progress::start("node leases", u64::from(args.nodes));
    let leased = wait(&mut observer.node_leases, timeout, |leases| {
        progress.update(*leases as u64, || format!("{leases} node Leases"));
        *leases as i64 >= n
    })
    .await;
    progress.finish(&format!("{} of {} node Leases", *observer.node_leases.borrow(), args.nodes));
    leased.context("waiting for the nodes' Leases")?;
    phases.push(clock.lap("node leases", &server, &observer));

    // 2. Create to ready: the DaemonSet's pods are available on every node.
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), NAMESPACE);
    let created = daemon_sets
        .create(&PostParams::default(), &daemon_set(&args.max_unavailable)?)
        .await
        .context("creating the DaemonSet")?;
    let generation = created.metadata.generation.unwrap_or(1);
    let mut progress = Progress::start("create to ready", u64::from(args.nodes));
    let available = wait(&mut observer.daemon_set, timeout, |ds| {
        let ds = ds.unwrap_or_default();
        progress.update(ds.available.max(0) as u64, || describe(&ds));
        ds.complete(generation, n)
    })
    .await;
    progress.finish(&describe(&observer.daemon_set.borrow().unwrap_or_default()));
    available.context("waiting for the DaemonSet's pods to be available")?;
    phases.push(clock.lap("create to ready", &server, &observer));

    // 3. Rolling update: a new image on every node, maxUnavailable at a time.
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": IMAGE_AFTER}]}}}});
    let updated = daemon_sets
        .patch(NAME, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .context("changing the DaemonSet's image")?;
    let generation = updated.metadata.generation.unwrap_or(generation + 1);
    let mut progress = Progress::start("rolling update", u64::from(args.nodes));
    let rolled = wait(&mut observer.daemon_set, timeout, |ds| {
        let ds = ds.unwrap_or_default();
        let done = if ds.generation >= generation && ds.observed_generation >= generation {
            ds.updated.min(ds.available).max(0) as u64
        } else {
            0
        };
        progress.update(done, || describe(&ds));
        ds.complete(generation, n)
    })
    .await;
    progress.finish(&describe(&observer.daemon_set.borrow().unwrap_or_default()));
    rolled.context("waiting for the rolling update to complete")?;
    phases.push(clock.lap("rolling update", &server, &observer));

    let summary = Summary {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        storage: storage.describe(),
        nodes: args.nodes,
        max_unavailable: args.max_unavailable.clone(),
        load_before,
        phases,
        counts_lossy: observer.writes.lossy(),
        peak_memory: report::peak_memory(),
    };
    println!("{}", summary.render());
    simulation.shutdown().await;
    controllers.abort_all();
    gc.abort();
    Ok(())
}

/// The benchmarked DaemonSet: one container, tolerating nothing, rolling `max_unavailable` nodes at
/// a time.
fn daemon_set(max_unavailable: &str) -> anyhow::Result<DaemonSet> {
    let max_unavailable = match max_unavailable.parse::<i64>() {
        Ok(number) => json!(number),
        Err(_) => json!(max_unavailable),
    };
    let object = json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "selector": {"matchLabels": {"app": NAME}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}},
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {"containers": [{"name": "agent", "image": IMAGE_BEFORE}]}
            }
        }
    });
    serde_json::from_value(object).context("building the DaemonSet")
}

fn describe(ds: &Rollout) -> String {
    format!(
        "desired {} up-to-date {} available {} (generation {}, observed {})",
        ds.desired, ds.updated, ds.available, ds.generation, ds.observed_generation
    )
}

/// Waits until `done` holds for the watched value, calling it on every change.
async fn wait<T>(
    receiver: &mut watch::Receiver<T>,
    timeout: Duration,
    mut done: impl FnMut(&T) -> bool,
) -> anyhow::Result<()> {
    let waiting = async {
        loop {
            if done(&receiver.borrow_and_update()) {
                return Ok(());
            }
            if receiver.changed().await.is_err() {
                bail!("the store closed");
            }
        }
    };
    tokio::time::timeout(timeout, waiting)
        .await
        .with_context(|| format!("gave up after {} s", timeout.as_secs()))?
}

/// Phase boundaries: the time, the CPU time, the store revision and the write counts at the
/// last lap.
struct PhaseClock {
    at: Instant,
    cpu: Option<Duration>,
    revision: u64,
    counts: Vec<(&'static str, u64)>,
}

impl PhaseClock {
    fn start(server: &ApiServer, observer: &Observer) -> PhaseClock {
        PhaseClock {
            at: Instant::now(),
            cpu: report::cpu_time(),
            revision: server.store().current_revision().get(),
            counts: observer.writes.snapshot(),
        }
    }

    /// The phase `name` that ends now; the next starts now.
    fn lap(&mut self, name: &'static str, server: &ApiServer, observer: &Observer) -> Phase {
        let next = PhaseClock::start(server, observer);
        let mut by_resource: Vec<(&'static str, u64)> = next
            .counts
            .iter()
            .zip(&self.counts)
            .map(|((resource, now), (_, before))| (*resource, now - before))
            .collect();
        by_resource.sort_by_key(|(_, writes)| std::cmp::Reverse(*writes));
        let phase = Phase {
            name,
            elapsed: next.at - self.at,
            cpu: next.cpu.zip(self.cpu).map(|(now, before)| now.saturating_sub(before)),
            writes: next.revision - self.revision,
            by_resource,
        };
        *self = next;
        phase
    }
}
