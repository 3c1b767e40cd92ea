//! `everynode controller`: the controllers alone, against any Kubernetes API server.
//!
//! On a real cluster, upstream's kube-controller-manager runs its own DaemonSet controller; two
//! controllers managing the same DaemonSets would fight, so disable upstream's first
//! (`--controllers=*,-daemonset`) or run this against a cluster made for it.

use std::path::PathBuf;

use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::up::{Controllers, spawn_controllers};

/// Run the controllers against an API server reached through a kubeconfig.
#[derive(Debug, Clone, clap::Args)]
pub struct ControllerArgs {
    /// The kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Controllers to run, comma-separated: daemonset, scheduler, nodelifecycle, podgc. On a
    /// real cluster only `daemonset` makes sense (with upstream's disabled).
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "daemonset")]
    pub controllers: Vec<ControllerName>,
}

/// A controller `everynode controller` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ControllerName {
    /// The DaemonSet controller.
    Daemonset,
    /// The scheduler.
    Scheduler,
    /// Node lifecycle and taint eviction.
    Nodelifecycle,
    /// Pod garbage collection.
    Podgc,
}

/// Builds a client from `--kubeconfig`/`--context`, or the usual inference.
pub async fn client(kubeconfig: Option<&PathBuf>, context: Option<&String>) -> anyhow::Result<kube::Client> {
    let options = KubeConfigOptions { context: context.cloned(), ..KubeConfigOptions::default() };
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &options).await.context("loading the kubeconfig")?
        }
        None if context.is_some() => {
            kube::Config::from_kubeconfig(&options).await.context("loading the kubeconfig")?
        }
        None => {
            kube::Config::infer().await.context("finding a kubeconfig (set --kubeconfig or KUBECONFIG)")?
        }
    };
    kube::Client::try_from(config).context("building the API client")
}

/// Runs until Ctrl-C or SIGTERM.
pub async fn run(args: &ControllerArgs) -> anyhow::Result<()> {
    let client = client(args.kubeconfig.as_ref(), args.context.as_ref()).await?;
    let version = client.apiserver_version().await.context("reaching the API server")?;
    tracing::info!(server = version.git_version, "connected");
    let has = |name| args.controllers.contains(&name);
    let which = Controllers {
        daemonset: has(ControllerName::Daemonset),
        scheduler: has(ControllerName::Scheduler),
        nodelifecycle: has(ControllerName::Nodelifecycle),
        podgc: has(ControllerName::Podgc),
    };
    let mut tasks = tokio::task::JoinSet::new();
    spawn_controllers(&mut tasks, &client, which);
    super::server::shutdown_signal().await;
    tasks.abort_all();
    Ok(())
}
