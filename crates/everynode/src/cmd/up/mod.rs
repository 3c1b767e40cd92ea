//! `everynode up`: the API server, the controllers and a fleet of simulated nodes in one process.

mod view;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use everynode_apiserver::ApiServer;
use everynode_controllers::daemonset::{DaemonSetController, Options as DaemonSetOptions};
use everynode_controllers::informer::SharedWatch;
use everynode_controllers::{nodelifecycle, podgc, scheduler};
use everynode_nodesim::{Fleet, RunOptions};
use k8s_openapi::api::core::v1::Pod;

use super::server::{check_listen, default_data_dir, open_store, shutdown_signal, write_kubeconfig};

/// Start a cluster: API server, controllers and simulated nodes.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Where the store and the kubeconfig live (default: a per-user folder, e.g.
    /// ~/.local/share/everynode). Running `up` again on it resumes the cluster.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the API server; loopback only (there is no authentication yet).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Where to write the kubeconfig (default: <data-dir>/kubeconfig).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// How many simulated nodes: one control-plane node (tainted NoSchedule when N >= 2) and
    /// N - 1 workers.
    #[arg(long, value_name = "N", default_value_t = 3, conflicts_with = "fleet")]
    pub nodes: u32,
    /// A fleet file describing node pools and their behaviour instead of --nodes.
    #[arg(long, value_name = "FILE")]
    pub fleet: Option<PathBuf>,
    /// Do not run automated image updates (the headwind.sh annotations).
    #[arg(long)]
    pub no_updater: bool,
    #[command(flatten)]
    pub updater: super::updater::UpdaterSettings,
}

/// Runs the cluster until Ctrl-C or SIGTERM.
pub async fn run(args: &UpArgs) -> anyhow::Result<()> {
    check_listen(&args.listen)?;
    let fleet = match &args.fleet {
        Some(path) => {
            Fleet::from_file(path).with_context(|| format!("reading fleet file {}", path.display()))?
        }
        None => Fleet::default_fleet(args.nodes),
    };
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => default_data_dir()?,
    };
    let store = open_store(&data_dir).await?;
    let server = ApiServer::new(store).await.context("starting the API server")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let kubeconfig = args.kubeconfig.clone().unwrap_or_else(|| data_dir.join("kubeconfig"));
    write_kubeconfig(&kubeconfig, &format!("http://{addr}"))
        .with_context(|| format!("writing {}", kubeconfig.display()))?;
    println!("everynode is up: API server on http://{addr}, data in {}", data_dir.display());
    println!("kubeconfig: {}", kubeconfig.display());
    println!("export KUBECONFIG={}", kubeconfig.display());

    let mut tasks = tokio::task::JoinSet::new();
    let gc = server.spawn_background();
    // The controllers talk to the API server in process, through the same router (no TCP).
    let client = kube::Client::new(server.router(), "default");
    spawn_controllers(&mut tasks, &client, Controllers::all());
    // Nodes already registered (a resumed data dir) keep their state; missing ones are created.
    let simulation = Fleet::run(client.clone(), fleet, RunOptions::default());
    let updater = if args.no_updater {
        None
    } else {
        super::updater::install_crd(&client).await?;
        Some(super::updater::start(client.clone(), &args.updater).await?)
    };
    tasks.spawn(view::run(client.clone()));
    let result = axum::serve(listener, server.router()).with_graceful_shutdown(shutdown_signal()).await;
    simulation.shutdown().await;
    if let Some(updater) = updater {
        updater.abort();
    }
    tasks.abort_all();
    gc.abort();
    result.context("serving HTTP")?;
    println!("everynode stopped; run `everynode up` again on {} to resume", data_dir.display());
    Ok(())
}

/// Which controllers to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Controllers {
    /// The DaemonSet controller.
    pub daemonset: bool,
    /// The scheduler (binds pending pods).
    pub scheduler: bool,
    /// Node lifecycle: heartbeats, not-ready/unreachable taints, NoExecute eviction.
    pub nodelifecycle: bool,
    /// Pod GC: pods of deleted nodes.
    pub podgc: bool,
}

impl Controllers {
    /// Everything a cluster of simulated nodes needs.
    pub fn all() -> Self {
        Controllers { daemonset: true, scheduler: true, nodelifecycle: true, podgc: true }
    }
}

/// Starts the chosen controllers on `tasks`; each logs and stops on a fatal error.
///
/// The controllers that look at every pod share one pod watch and cache, as upstream's
/// controllers share informers (see `everynode_controllers::informer`).
pub fn spawn_controllers(tasks: &mut tokio::task::JoinSet<()>, client: &kube::Client, which: Controllers) {
    let mut pods = SharedWatch::<Pod>::new(kube::Api::all(client.clone()));
    if which.daemonset {
        let controller =
            DaemonSetController::new(client.clone(), DaemonSetOptions::default()).with_pods(pods.subscribe());
        tasks.spawn(async move {
            if let Err(error) = controller.run().await {
                tracing::error!(%error, "daemonset controller stopped");
            }
        });
    }
    if which.scheduler {
        let client = client.clone();
        let pods = pods.subscribe();
        tasks.spawn(async move {
            if let Err(error) =
                scheduler::run_with_pods(client, scheduler::SchedulerOptions::default(), pods).await
            {
                tracing::error!(%error, "scheduler stopped");
            }
        });
    }
    if which.nodelifecycle {
        let client = client.clone();
        let options = nodelifecycle::NodeLifecycleOptions::default();
        let pods = options.taint_eviction.then(|| pods.subscribe());
        tasks.spawn(async move {
            if let Err(error) = nodelifecycle::run_with_pods(client, options, pods).await {
                tracing::error!(%error, "node lifecycle controller stopped");
            }
        });
    }
    if which.podgc {
        let client = client.clone();
        // Simulated nodes are deleted on purpose, not lost to a network partition: their pods
        // can go sooner than upstream's 40 s quarantine.
        let options = podgc::PodGcOptions {
            period: std::time::Duration::from_secs(2),
            quarantine: std::time::Duration::from_secs(5),
            ..podgc::PodGcOptions::default()
        };
        let pods = pods.subscribe();
        tasks.spawn(async move {
            if let Err(error) = podgc::run_with_pods(client, options, pods).await {
                tracing::error!(%error, "pod GC stopped");
            }
        });
    }
    // Runs until every subscriber is gone; without subscribers it ends at once.
    tasks.spawn(pods.run());
}
