//! `everynode updater`: automated image updates (the `headwind.sh/*` annotations) against any
//! Kubernetes API server; `everynode up` runs the same thing in process.
//!
//! One HTTP listener serves the registry webhooks (`/webhook/...`, HMAC-signed), the approval
//! API (`/api/v1/updaterequests`, bearer tokens) and `/metrics`. It listens on loopback unless
//! told otherwise; the webhook and approval routes refuse every request until their secret or
//! tokens are configured.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use everynode_updater::annotations::EventSource;
use everynode_updater::api::{ApiState, Tokens};
use everynode_updater::metrics::Metrics;
use everynode_updater::notify::{Notifier, NotifyConfig, ReqwestTransport};
use everynode_updater::registry::{OciRegistry, RegistryConfig};
use everynode_updater::request::CRD_YAML;
use everynode_updater::runtime::{Options, Updater};
use everynode_updater::webhook::{SigningSecret, WebhookState};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};

/// The updater's settings, shared by `everynode updater` and `everynode up`.
#[derive(Debug, Clone, clap::Args)]
pub struct UpdaterSettings {
    /// Where the webhooks, the approval API and /metrics listen.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    pub updater_listen: SocketAddr,
    /// Accept connections from other hosts on --updater-listen (the webhook and approval routes
    /// still require their secret and tokens).
    #[arg(long)]
    pub updater_public: bool,
    /// A file holding the shared secret registry webhooks sign with (HMAC-SHA256); without it
    /// the webhook routes answer 503.
    #[arg(long, value_name = "FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// Bearer tokens of the approval API, one `token,user[,uid,"groups"]` per line (the format
    /// of Kubernetes' static token file); without it the approval API answers 401.
    #[arg(long, value_name = "FILE")]
    pub approval_tokens: Option<PathBuf>,
    /// Slack, Teams and webhook notification settings (JSON).
    #[arg(long, value_name = "FILE", conflicts_with = "notify_secret")]
    pub notify_config: Option<PathBuf>,
    /// Notification settings from a Secret instead (keys slack-webhook-url, teams-webhook-url,
    /// webhook-url, webhook-secret, and optional *-events filters), read at start.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub notify_secret: Option<String>,
    /// How DaemonSets without headwind.sh/event-source learn of new images: Headwind's default
    /// is webhooks only; `both` also polls the registry.
    #[arg(long, value_enum, default_value = "webhook")]
    pub default_event_source: DefaultEventSource,
    /// Registry polling interval for DaemonSets without headwind.sh/polling-interval.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub polling_interval: u64,
    /// Seconds between two health checks of a rollout after an update (auto-rollback).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub health_check_interval: u64,
    /// Registries reached over plain HTTP (loopback ones always are), repeatable.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
}

/// The event sources `--default-event-source` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DefaultEventSource {
    /// Registry webhooks only.
    Webhook,
    /// Registry polling only.
    Polling,
    /// Both.
    Both,
    /// Neither: only UpdateRequests created by hand are acted on.
    None,
}

impl From<DefaultEventSource> for EventSource {
    fn from(source: DefaultEventSource) -> Self {
        match source {
            DefaultEventSource::Webhook => EventSource::Webhook,
            DefaultEventSource::Polling => EventSource::Polling,
            DefaultEventSource::Both => EventSource::Both,
            DefaultEventSource::None => EventSource::None,
        }
    }
}

/// Run automated image updates against an API server reached through a kubeconfig.
#[derive(Debug, Clone, clap::Args)]
pub struct UpdaterArgs {
    /// The kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Create the UpdateRequest CRD if the cluster lacks it (needs the right to create CRDs).
    #[arg(long)]
    pub install_crd: bool,
    #[command(flatten)]
    pub settings: UpdaterSettings,
}

/// Runs until Ctrl-C or SIGTERM.
pub async fn run(args: &UpdaterArgs) -> anyhow::Result<()> {
    let client = super::controller::client(args.kubeconfig.as_ref(), args.context.as_ref()).await?;
    let version = client.apiserver_version().await.context("reaching the API server")?;
    tracing::info!(server = version.git_version, "connected");
    if args.install_crd {
        install_crd(&client).await?;
    }
    let task = start(client, &args.settings).await?;
    super::server::shutdown_signal().await;
    task.abort();
    Ok(())
}

/// Creates the UpdateRequest CRD unless it exists.
pub async fn install_crd(client: &kube::Client) -> anyhow::Result<()> {
    let crd: CustomResourceDefinition =
        serde_yaml_ng::from_str(CRD_YAML).context("reading the shipped CRD")?;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    match api.create(&PostParams::default(), &crd).await {
        Ok(_) => tracing::info!("installed the UpdateRequest CRD"),
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => return Err(error).context("installing the UpdateRequest CRD"),
    }
    Ok(())
}

/// Reads notification settings from Secret `namespace/name`.
async fn notify_from_secret(client: &kube::Client, secret: &str) -> anyhow::Result<NotifyConfig> {
    let Some((namespace, name)) = secret.split_once('/') else {
        anyhow::bail!("--notify-secret {secret:?}: expected NAMESPACE/NAME");
    };
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .with_context(|| format!("reading Secret {namespace}/{name}"))?;
    let data = secret.data.unwrap_or_default().into_iter().map(|(key, value)| (key, value.0)).collect();
    NotifyConfig::from_secret_data(&data).with_context(|| format!("Secret {namespace}/{name}"))
}

/// Starts the updater and its HTTP listener on `client`; the task runs until aborted.
pub async fn start(
    client: kube::Client,
    settings: &UpdaterSettings,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    if !settings.updater_public && !settings.updater_listen.ip().is_loopback() {
        anyhow::bail!(
            "--updater-listen {} is not a loopback address; add --updater-public to accept other hosts",
            settings.updater_listen
        );
    }
    // reqwest (registries and notifications) uses rustls with the process-wide provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let metrics = Metrics::new();
    let notify = match (&settings.notify_config, &settings.notify_secret) {
        (Some(path), _) => {
            NotifyConfig::from_file(path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, Some(secret)) => notify_from_secret(&client, secret).await?,
        (None, None) => NotifyConfig::default(),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client for notifications")?;
    let notifier = Notifier::new(&notify, ReqwestTransport::new(http)).with_observer(metrics.clone());
    let webhook_secret = match &settings.webhook_secret_file {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let trimmed = String::from_utf8_lossy(&bytes).trim().to_owned();
            Some(SigningSecret::new(trimmed.into_bytes()).context("the webhook secret file is empty")?)
        }
        None => None,
    };
    let tokens = match &settings.approval_tokens {
        Some(path) => Tokens::from_file(path).with_context(|| format!("reading {}", path.display()))?,
        None => Tokens::default(),
    };
    let registry = OciRegistry::new(RegistryConfig {
        insecure_registries: settings.insecure_registry.clone(),
        ..RegistryConfig::default()
    });
    let options = Options {
        polling_interval: Duration::from_secs(settings.polling_interval.max(10)),
        health_check_interval: Duration::from_secs(settings.health_check_interval.max(1)),
        default_event_source: settings.default_event_source.into(),
        ..Options::default()
    };
    let (pushes, received) = tokio::sync::mpsc::channel(1024);
    let notifier = Arc::new(notifier);
    let router =
        everynode_updater::webhook::router(WebhookState::new(webhook_secret, pushes, metrics.clone()))
            .merge(everynode_updater::api::router(ApiState {
                client: client.clone(),
                tokens: Arc::new(tokens),
            }))
            .merge(everynode_updater::metrics::router(metrics.clone()));
    let listener = tokio::net::TcpListener::bind(settings.updater_listen)
        .await
        .with_context(|| format!("listening on {}", settings.updater_listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    println!("image updates: webhooks, approvals and metrics on http://{addr}");
    let updater = Updater::new(client, registry, notifier, metrics, options);
    Ok(tokio::spawn(async move {
        let serve = axum::serve(listener, router);
        tokio::select! {
            result = serve => if let Err(error) = result {
                tracing::error!(%error, "the updater's HTTP listener stopped");
            },
            result = updater.run(received) => if let Err(error) = result {
                tracing::error!(%error, "the updater stopped");
            },
        }
    }))
}
