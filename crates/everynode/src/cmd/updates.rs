//! `everynode updates`: list proposed image updates (UpdateRequests), approve or reject them.
//!
//! Talks to the Kubernetes API through a kubeconfig, not through the approval HTTP API: whoever
//! may patch `updaterequests/status` in the cluster may decide, as with `kubectl patch`. The
//! decision itself (the Pending and expiry rules, the guarded status write) is the approval API's
//! own, `everynode_updater::approval::decide`, so both ways record the same status.

use std::path::PathBuf;

use anyhow::Context as _;
use everynode_updater::api::RequestView;
use everynode_updater::approval::{self, Decision};
use everynode_updater::request::UpdateRequest;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::config::Kubeconfig;

/// List, approve and reject proposed image updates (UpdateRequests).
#[derive(Debug, Clone, clap::Args)]
pub struct UpdatesArgs {
    /// The cluster's kubeconfig (default: $KUBECONFIG, else the default data dir's kubeconfig).
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current context).
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,
    #[command(subcommand)]
    pub action: UpdatesAction,
}

/// What to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum UpdatesAction {
    /// List UpdateRequests of a namespace (the context's by default) or of all namespaces.
    List {
        /// The namespace (default: the context's namespace, else `default`).
        #[arg(short = 'n', long, value_name = "NS")]
        namespace: Option<String>,
        /// List requests of every namespace.
        #[arg(short = 'A', long, conflicts_with = "namespace")]
        all_namespaces: bool,
    },
    /// Approve a Pending UpdateRequest: everynode then applies the new image.
    Approve(DecideArgs),
    /// Reject a Pending UpdateRequest: the image is never proposed again for that container.
    Reject(DecideArgs),
}

/// Which request to decide, and as whom.
#[derive(Debug, Clone, clap::Args)]
pub struct DecideArgs {
    /// The UpdateRequest's name.
    pub name: String,
    /// Its namespace (default: the context's namespace, else `default`).
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Why; recorded as the request's status message.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Who decides, as recorded in approvedBy/rejectedBy (default: the kubeconfig context's
    /// user, else $USER). Unlike kubectl's --as this impersonates nobody: the API server still
    /// authorises the kubeconfig's credentials.
    #[arg(long = "as", value_name = "IDENTITY")]
    pub identity: Option<String>,
}

/// The kubeconfig to read, as `everynode nodes` resolves it: an explicit file, else whatever
/// $KUBECONFIG names (`None` here), else the one `everynode up` writes into the default data dir.
fn kubeconfig_path(args: &UpdatesArgs) -> anyhow::Result<Option<PathBuf>> {
    Ok(match &args.kubeconfig {
        Some(path) => Some(path.clone()),
        None if std::env::var_os("KUBECONFIG").is_some() => None,
        None => Some(super::server::default_data_dir()?.join("kubeconfig")),
    })
}

/// The user name of the context in use, if the kubeconfig can be read and names one.
fn kubeconfig_user(path: Option<&PathBuf>, context: Option<&String>) -> Option<String> {
    let config = match path {
        Some(path) => Kubeconfig::read_from(path).ok()?,
        None => Kubeconfig::read().ok()?,
    };
    let wanted = context.or(config.current_context.as_ref())?;
    let named = config.contexts.iter().find(|named| &named.name == wanted)?;
    named.context.as_ref()?.user.clone().filter(|user| !user.is_empty())
}

/// Who a decision is recorded as: the explicit identity, else the kubeconfig's user, else the
/// login name. Blank values count as absent, so a decision never records an empty approver.
fn identity(
    explicit: Option<&str>,
    kubeconfig_user: Option<String>,
    login: Option<String>,
) -> Option<String> {
    explicit
        .map(str::to_owned)
        .into_iter()
        .chain(kubeconfig_user)
        .chain(login)
        .map(|candidate| candidate.trim().to_owned())
        .find(|candidate| !candidate.is_empty())
}

/// Runs the action.
pub async fn run(args: &UpdatesArgs) -> anyhow::Result<()> {
    let path = kubeconfig_path(args)?;
    let client = super::controller::client(path.as_ref(), args.context.as_ref()).await?;
    let now = crate::wall_clock();
    match &args.action {
        UpdatesAction::List { namespace, all_namespaces } => {
            let api: Api<UpdateRequest> = if *all_namespaces {
                Api::all(client.clone())
            } else {
                let namespace = namespace.as_deref().unwrap_or(client.default_namespace());
                Api::namespaced(client.clone(), namespace)
            };
            let list = api.list(&ListParams::default()).await.context("listing updaterequests")?;
            let mut views: Vec<RequestView> = list.items.iter().map(RequestView::from).collect();
            views.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            if views.is_empty() {
                match (all_namespaces, namespace) {
                    (true, _) => eprintln!("No update requests found."),
                    (false, Some(ns)) => eprintln!("No update requests found in {ns} namespace."),
                    (false, None) => {
                        eprintln!("No update requests found in {} namespace.", client.default_namespace())
                    }
                }
                return Ok(());
            }
            print!("{}", render_table(&views, now));
        }
        UpdatesAction::Approve(decide) => {
            let decision = Decision::Approve { reason: decide.reason.clone() };
            run_decision(&client, args, &path, decide, decision, now).await?;
        }
        UpdatesAction::Reject(decide) => {
            let decision = Decision::Reject { reason: decide.reason.clone() };
            run_decision(&client, args, &path, decide, decision, now).await?;
        }
    }
    Ok(())
}

async fn run_decision(
    client: &kube::Client,
    args: &UpdatesArgs,
    path: &Option<PathBuf>,
    decide: &DecideArgs,
    decision: Decision,
    now: Timestamp,
) -> anyhow::Result<()> {
    let who = identity(
        decide.identity.as_deref(),
        kubeconfig_user(path.as_ref(), args.context.as_ref()),
        std::env::var("USER").ok(),
    )
    .context("cannot tell who is deciding: pass --as IDENTITY")?;
    let namespace = decide.namespace.as_deref().unwrap_or(client.default_namespace());
    // The error says all (which request, why), so it is not wrapped in more context.
    approval::decide(client, namespace, &decide.name, &decision, &who, now).await?;
    println!("updaterequest {namespace}/{} {} by {who}", decide.name, decision.past_tense());
    Ok(())
}

/// The list as a kubectl-style table: columns padded to their widest cell, three spaces apart.
fn render_table(views: &[RequestView], now: Timestamp) -> String {
    let header =
        ["NAMESPACE", "NAME", "TARGET", "CONTAINER", "CURRENT", "NEW", "PHASE", "AGE"].map(String::from);
    let rows: Vec<[String; 8]> = std::iter::once(header)
        .chain(views.iter().map(|view| {
            [
                view.namespace.clone(),
                view.name.clone(),
                format!("{}/{}", view.target.kind.to_lowercase(), view.target.name),
                view.container.clone(),
                view.current_image.clone().unwrap_or_else(|| "<unknown>".to_owned()),
                view.new_image.clone(),
                view.phase.to_string(),
                view.created_at
                    .as_deref()
                    .and_then(|at| at.parse::<Timestamp>().ok())
                    .map_or_else(|| "<unknown>".to_owned(), |then| age(then, now)),
            ]
        }))
        .collect();
    let mut widths = [0; 8];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// How long ago `then` was, the way kubectl's AGE column says it: precise when recent, coarse
/// when old (`45s`, `5m12s`, `37m`, `4h20m`, `2d3h`, `12d`, `3y`).
fn age(then: Timestamp, now: Timestamp) -> String {
    let seconds = (now.as_second() - then.as_second()).max(0);
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86_400);
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            rest => format!("{minutes}m{rest}s"),
        }
    } else if hours < 3 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            rest => format!("{hours}h{rest}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if days < 8 {
        match hours % 24 {
            0 => format!("{days}d"),
            rest => format!("{days}d{rest}h"),
        }
    } else if days < 365 * 2 {
        format!("{days}d")
    } else {
        format!("{}y", days / 365)
    }
}

#[cfg(test)]
mod tests {
    use everynode_updater::api::TargetView;
    use everynode_updater::request::Phase;

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn view(name: &str, phase: Phase) -> RequestView {
        RequestView {
            name: name.into(),
            namespace: "monitoring".into(),
            target: TargetView {
                kind: "DaemonSet".into(),
                namespace: "monitoring".into(),
                name: "node-exporter".into(),
            },
            container: "node-exporter".into(),
            current_image: Some("prom/node-exporter:v1.5.0".into()),
            new_image: "prom/node-exporter:v1.6.0".into(),
            phase,
            reason: None,
            expires_at: None,
            created_at: Some("2025-11-06T10:00:00Z".into()),
            approved_by: None,
            approved_at: None,
            rejected_by: None,
            rejected_at: None,
            message: None,
        }
    }

    #[test]
    fn the_table_aligns_columns_like_kubectl() {
        let short = |name: &str, phase| RequestView {
            namespace: "ops".into(),
            target: TargetView { kind: "DaemonSet".into(), namespace: "ops".into(), name: "ag".into() },
            container: "ag".into(),
            current_image: Some("ag:1.5".into()),
            new_image: "ag:1.6".into(),
            ..view(name, phase)
        };
        let mut unknown = short("ag-1-6", Phase::Rejected);
        unknown.current_image = None;
        let table = render_table(&[short("ag-1-6-0", Phase::Pending), unknown], at("2025-11-06T10:05:30Z"));
        let expected = [
            "NAMESPACE   NAME       TARGET         CONTAINER   CURRENT     NEW      PHASE      AGE",
            "ops         ag-1-6-0   daemonset/ag   ag          ag:1.5      ag:1.6   Pending    5m30s",
            "ops         ag-1-6     daemonset/ag   ag          <unknown>   ag:1.6   Rejected   5m30s",
        ];
        assert_eq!(table.lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn ages_read_like_kubectls() {
        let now = at("2025-11-06T12:00:00Z");
        let ago = |seconds: i64| age(Timestamp::from_second(now.as_second() - seconds).unwrap(), now);
        assert_eq!(ago(45), "45s");
        assert_eq!(ago(5 * 60 + 12), "5m12s");
        assert_eq!(ago(37 * 60 + 5), "37m");
        assert_eq!(ago(4 * 3600 + 20 * 60), "4h20m");
        assert_eq!(ago(30 * 3600), "30h");
        assert_eq!(ago(2 * 86_400 + 3 * 3600), "2d3h");
        assert_eq!(ago(12 * 86_400), "12d");
        assert_eq!(ago(3 * 365 * 86_400), "3y");
        assert_eq!(ago(-10), "0s", "clock skew never shows a negative age");
    }

    #[test]
    fn the_identity_prefers_as_then_the_kubeconfig_user_then_the_login() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(identity(Some("alice@example.com"), some("admin"), some("al")), some("alice@example.com"));
        assert_eq!(identity(None, some("admin"), some("al")), some("admin"));
        assert_eq!(identity(Some("  "), None, some("al")), some("al"));
        assert_eq!(identity(None, None, None), None);
    }

    #[test]
    fn the_kubeconfig_user_is_the_selected_contexts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        // JSON is YAML too.
        let config = serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "a",
            "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
            "contexts": [
                {"name": "a", "context": {"cluster": "c", "user": "alice"}},
                {"name": "b", "context": {"cluster": "c", "user": "bob"}},
            ],
            "users": [{"name": "alice", "user": {}}, {"name": "bob", "user": {}}],
        });
        std::fs::write(&path, config.to_string()).unwrap();
        assert_eq!(kubeconfig_user(Some(&path), None).as_deref(), Some("alice"));
        assert_eq!(kubeconfig_user(Some(&path), Some(&"b".to_owned())).as_deref(), Some("bob"));
        assert_eq!(kubeconfig_user(Some(&path), Some(&"missing".to_owned())), None);
        assert_eq!(kubeconfig_user(Some(&dir.path().join("absent")), None), None);
    }

    /// A cluster served on a local port, with the UpdateRequest CRD, one pending request
    /// `monitoring/r`, and a kubeconfig pointing at it.
    async fn cluster() -> (tempfile::TempDir, PathBuf, kube::Client) {
        use everynode_updater::request::{CRD_YAML, TargetRef, UpdateRequestSpec};
        use k8s_openapi::api::core::v1::Namespace;
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        use kube::api::PostParams;

        let store = everynode_store::Store::open_in_memory(everynode_store::StoreOptions::default()).unwrap();
        let server = everynode_apiserver::ApiServer::new(store).await.unwrap();
        server.spawn_background();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = server.router();
        tokio::spawn(async move {
            let _server = server;
            axum::serve(listener, router).await
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        super::super::server::write_kubeconfig(&path, &format!("http://{address}")).unwrap();
        let client = super::super::controller::client(Some(&path), None).await.unwrap();
        let crd: CustomResourceDefinition = serde_yaml_ng::from_str(CRD_YAML).unwrap();
        Api::<CustomResourceDefinition>::all(client.clone())
            .create(&PostParams::default(), &crd)
            .await
            .unwrap();
        let namespace: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "monitoring"}})).unwrap();
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
        let spec = UpdateRequestSpec {
            target_ref: TargetRef {
                api_version: None,
                kind: "DaemonSet".into(),
                name: "node-exporter".into(),
                namespace: None,
            },
            container_name: "node-exporter".into(),
            current_image: Some("prom/node-exporter:v1.5.0".into()),
            new_image: "prom/node-exporter:v1.6.0".into(),
            policy: None,
            reason: None,
            require_approval: Some(true),
            expires_at: Some("2999-01-01T00:00:00Z".into()),
        };
        let requests: Api<UpdateRequest> = Api::namespaced(client.clone(), "monitoring");
        for _ in 0..200 {
            match requests.create(&PostParams::default(), &UpdateRequest::new("r", spec.clone())).await {
                Ok(_) => return (dir, path, client),
                // The CRD's resource is served shortly after the CRD is created.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
        panic!("could not create the UpdateRequest");
    }

    fn args(path: &std::path::Path, action: UpdatesAction) -> UpdatesArgs {
        UpdatesArgs { kubeconfig: Some(path.to_owned()), context: None, action }
    }

    fn decide(reason: Option<&str>, identity: Option<&str>) -> DecideArgs {
        DecideArgs {
            name: "r".into(),
            namespace: Some("monitoring".into()),
            reason: reason.map(str::to_owned),
            identity: identity.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn approve_through_a_kubeconfig_records_the_kubeconfig_user_and_refuses_a_second_decision() {
        let (_dir, path, client) = cluster().await;
        let list = UpdatesAction::List { namespace: None, all_namespaces: true };
        run(&args(&path, list)).await.unwrap();
        run(&args(&path, UpdatesAction::Approve(decide(None, None)))).await.unwrap();
        let stored = Api::<UpdateRequest>::namespaced(client, "monitoring").get("r").await.unwrap();
        let status = stored.status.unwrap();
        assert_eq!(status.phase, Some(everynode_updater::request::Phase::Approved));
        assert_eq!(status.approved_by.as_deref(), Some("everynode"), "the kubeconfig's user");
        let again =
            run(&args(&path, UpdatesAction::Reject(decide(Some("no"), Some("bob"))))).await.unwrap_err();
        assert_eq!(
            format!("{again:#}"),
            "updaterequest monitoring/r is Approved; only Pending requests can be rejected"
        );
    }

    #[tokio::test]
    async fn reject_records_the_reason_and_the_given_identity() {
        let (_dir, path, client) = cluster().await;
        let reject = UpdatesAction::Reject(decide(Some("breaks the CNI"), Some("bob@example.com")));
        run(&args(&path, reject)).await.unwrap();
        let status =
            Api::<UpdateRequest>::namespaced(client, "monitoring").get("r").await.unwrap().status.unwrap();
        assert_eq!(status.phase, Some(everynode_updater::request::Phase::Rejected));
        assert_eq!(status.rejected_by.as_deref(), Some("bob@example.com"));
        assert_eq!(status.message.as_deref(), Some("breaks the CNI"));
    }

    #[test]
    fn the_subcommands_parse_like_kubectl() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            args: UpdatesArgs,
        }
        let cli = Cli::try_parse_from([
            "updates",
            "reject",
            "r",
            "-n",
            "monitoring",
            "--reason",
            "no",
            "--as",
            "bob",
        ])
        .unwrap();
        let UpdatesAction::Reject(decide) = cli.args.action else { panic!("{:?}", cli.args.action) };
        assert_eq!(decide.name, "r");
        assert_eq!(decide.namespace.as_deref(), Some("monitoring"));
        assert_eq!(decide.reason.as_deref(), Some("no"));
        assert_eq!(decide.identity.as_deref(), Some("bob"));
        let cli = Cli::try_parse_from(["updates", "list", "-A", "--kubeconfig", "/k"]).unwrap();
        assert!(matches!(cli.args.action, UpdatesAction::List { all_namespaces: true, namespace: None }));
        assert_eq!(cli.args.kubeconfig, Some(PathBuf::from("/k")));
        assert!(Cli::try_parse_from(["updates", "list", "-A", "-n", "x"]).is_err());
    }
}
