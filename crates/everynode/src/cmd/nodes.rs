//! `everynode nodes`: add simulated nodes to a running cluster, fail and recover them.

use std::path::PathBuf;

use anyhow::Context;

/// Manage the simulated nodes of a running `everynode up`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodesArgs {
    /// The cluster's kubeconfig (default: $KUBECONFIG, else the default data dir's kubeconfig).
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    #[command(subcommand)]
    pub action: NodesAction,
}

/// What to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum NodesAction {
    /// Add nodes to a pool (its labels, taints, capacity and behaviour are copied from the pool's
    /// existing nodes).
    Add {
        /// The pool (e.g. `workers`).
        #[arg(long)]
        pool: String,
        /// How many nodes to add.
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Stop a node's heartbeat, as if the machine died: after the grace period it becomes
    /// NotReady/Unknown and gets the unreachable taints.
    Fail {
        /// The node.
        node: String,
    },
    /// Bring a failed node back.
    Recover {
        /// The node.
        node: String,
    },
}

async fn client(args: &NodesArgs) -> anyhow::Result<kube::Client> {
    let path = match &args.kubeconfig {
        Some(path) => Some(path.clone()),
        None if std::env::var_os("KUBECONFIG").is_some() => None,
        None => Some(super::server::default_data_dir()?.join("kubeconfig")),
    };
    super::controller::client(path.as_ref(), None).await
}

/// Runs the action.
pub async fn run(args: &NodesArgs) -> anyhow::Result<()> {
    let client = client(args).await?;
    match &args.action {
        NodesAction::Add { pool, count } => {
            let pool = everynode_nodesim::find_pool(&client, pool)
                .await
                .with_context(|| format!("finding pool {pool}"))?;
            for name in everynode_nodesim::add_nodes(&client, &pool, *count).await.context("adding nodes")? {
                println!("node/{name} created");
            }
        }
        NodesAction::Fail { node } => {
            everynode_nodesim::fail_node(&client, node).await.with_context(|| format!("failing {node}"))?;
            println!("node/{node} failed (heartbeats stopped)");
        }
        NodesAction::Recover { node } => {
            everynode_nodesim::recover_node(&client, node)
                .await
                .with_context(|| format!("recovering {node}"))?;
            println!("node/{node} recovered");
        }
    }
    Ok(())
}
