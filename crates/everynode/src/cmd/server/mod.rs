//! `everynode server`: the API server alone, on a durable data dir, with a kubeconfig for kubectl.

mod kubeconfig;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use everynode_apiserver::ApiServer;
use everynode_store::{Store, StoreOptions};

pub use kubeconfig::write_kubeconfig;

/// Serve the Kubernetes API (no controllers, no nodes) from a data dir.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Where the store and the kubeconfig live (default: a per-user folder, e.g.
    /// ~/.local/share/everynode).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on. Only loopback addresses are accepted until authentication exists;
    /// port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Where to write the kubeconfig (default: <data-dir>/kubeconfig).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

/// The per-user data dir: `$XDG_DATA_HOME/everynode`, else `~/.local/share/everynode`.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("everynode"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .context("neither XDG_DATA_HOME nor HOME is set; pass --data-dir")?;
    Ok(PathBuf::from(home).join(".local/share/everynode"))
}

/// Refuses addresses other machines could reach: nothing authenticates requests yet.
pub fn check_listen(addr: &SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!(
            "refusing to listen on {addr}: everynode has no authentication yet, so it only listens on loopback (e.g. 127.0.0.1:{})",
            addr.port()
        );
    }
    Ok(())
}

/// Opens the store in `data_dir` (creating it), off the async threads: opening may repair the
/// file after a crash.
pub async fn open_store(data_dir: &Path) -> anyhow::Result<Store> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let path = data_dir.join("store.redb");
    let store = tokio::task::spawn_blocking(move || Store::open(&path, StoreOptions::default()))
        .await
        .context("store open task failed")?
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    Ok(store)
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: &ServerArgs) -> anyhow::Result<()> {
    check_listen(&args.listen)?;
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
    println!("everynode API server listening on http://{addr}");
    println!("kubeconfig: {}", kubeconfig.display());
    println!("export KUBECONFIG={}", kubeconfig.display());
    let background = server.spawn_background();
    let result = axum::serve(listener, server.router()).with_graceful_shutdown(shutdown_signal()).await;
    background.abort();
    result.context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
