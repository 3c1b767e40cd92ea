//! Crash and restart of the real `everynode server`: every acknowledged write survives a SIGKILL
//! in the middle of a burst, revisions keep growing, and watches resume across the restart.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams, ResourceExt, WatchEvent, WatchParams};
use kube::{Client, Config};
use serde_json::json;
use tokio::sync::mpsc;

/// Concurrent writers: enough that several writes are in flight (and in one group commit) when
/// the server dies.
const WRITERS: usize = 16;

/// The server is killed once this many creates have been acknowledged.
const KILL_AFTER: usize = 300;

/// Guards every wait on the server so a broken server fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

/// A running `everynode server`; killed (SIGKILL) when dropped, so a failing test leaves nothing
/// behind.
struct Server {
    child: Child,
    client: Client,
}

impl Server {
    /// Starts the binary on `data_dir` with a free port and connects a kube client to the address
    /// it prints.
    async fn start(data_dir: &Path) -> anyhow::Result<Server> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_everynode"))
            .arg("server")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting everynode server")?;
        let stdout = child.stdout.take().context("piped stdout")?;
        let url = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
            let mut lines = BufReader::new(stdout).lines();
            let url = loop {
                let line = lines.next().context("the server exited before listening")??;
                if let Some(url) = line.strip_prefix("everynode API server listening on ") {
                    break url.to_owned();
                }
            };
            // Keep reading so the server never writes into a closed pipe.
            std::thread::spawn(move || lines.for_each(drop));
            Ok(url)
        });
        let url = match tokio::time::timeout(PATIENCE, url).await {
            Ok(joined) => joined??,
            Err(_) => {
                let _ = child.kill();
                bail!("the server did not print its address in time");
            }
        };
        let client = Client::try_from(Config::new(url.parse()?))?;
        Ok(Server { child, client })
    }

    /// SIGKILL: no graceful shutdown, no flush beyond what was already durable.
    fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the server answered for one create.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ack {
    resource_version: u64,
    uid: String,
}

fn revision(object: &impl ResourceExt) -> anyhow::Result<u64> {
    let rv = object.resource_version().context("objects carry a resourceVersion")?;
    rv.parse().with_context(|| format!("resourceVersion {rv:?} is not a number"))
}

fn config_map(name: &str) -> anyhow::Result<ConfigMap> {
    Ok(serde_json::from_value(json!({"metadata": {"name": name}, "data": {"writer": name}}))?)
}

/// Creates ConfigMaps until the server stops answering, reporting each acknowledged one.
async fn write_until_refused(api: Api<ConfigMap>, writer: usize, acks: mpsc::UnboundedSender<(String, Ack)>) {
    for i in 0.. {
        let name = format!("cm-{writer}-{i}");
        let Ok(object) = config_map(&name) else { return };
        match api.create(&PostParams::default(), &object).await {
            Ok(created) => {
                let Ok(resource_version) = revision(&created) else { return };
                let ack = Ack { resource_version, uid: created.uid().unwrap_or_default() };
                if acks.send((name, ack)).is_err() {
                    return;
                }
            }
            // The server is gone (or broken; the checks after the restart will tell).
            Err(_) => return,
        }
    }
}

/// name -> (uid, resourceVersion) of the namespaces.
async fn namespaces(client: &Client) -> anyhow::Result<BTreeMap<String, (String, String)>> {
    let list = Api::<Namespace>::all(client.clone()).list(&ListParams::default()).await?;
    Ok(list
        .items
        .iter()
        .map(|ns| (ns.name_any(), (ns.uid().unwrap_or_default(), ns.resource_version().unwrap_or_default())))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_a_sigkill_mid_burst() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("data");

    let mut server = Server::start(&data_dir).await?;
    let namespaces_before = namespaces(&server.client).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let writers: Vec<_> =
        (0..WRITERS).map(|w| tokio::spawn(write_until_refused(api.clone(), w, sender.clone()))).collect();
    drop(sender);

    // Every answer a writer received is durable, even one that arrives after the kill: the
    // server answers only after the commit.
    let mut acked: BTreeMap<String, Ack> = BTreeMap::new();
    while acked.len() < KILL_AFTER {
        let (name, ack) = tokio::time::timeout(PATIENCE, receiver.recv())
            .await
            .context("writes stalled")?
            .context("every writer stopped before the kill")?;
        acked.insert(name, ack);
    }
    server.kill()?;
    while let Some((name, ack)) = tokio::time::timeout(PATIENCE, receiver.recv()).await? {
        acked.insert(name, ack);
    }
    for writer in writers {
        writer.await?;
    }
    let newest_acked = acked.values().map(|a| a.resource_version).max().context("some writes")?;
    let newest_namespace = namespaces_before.values().filter_map(|(_, rv)| rv.parse::<u64>().ok()).max();
    let newest_seen = newest_acked.max(newest_namespace.unwrap_or(0));

    let server = Server::start(&data_dir).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(server.client.clone());
    let stored: BTreeMap<String, Ack> = api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|cm| {
            Ok((cm.name_any(), Ack { resource_version: revision(cm)?, uid: cm.uid().unwrap_or_default() }))
        })
        .collect::<anyhow::Result<_>>()?;
    for (name, ack) in &acked {
        assert_eq!(stored.get(name), Some(ack), "acknowledged {name} must survive the crash unchanged");
    }

    let namespaces_after = namespaces(&server.client).await?;
    assert_eq!(
        namespaces_after, namespaces_before,
        "the restart neither recreates nor duplicates namespaces"
    );

    // A watch from the newest acknowledged revision resumes: it replays whatever committed after
    // it (writes in flight at the kill), then the new write, and no 410.
    let mut events = Box::pin(api.watch(&WatchParams::default(), &newest_acked.to_string()).await?);
    let fresh = api.create(&PostParams::default(), &config_map("after-restart")?).await?;
    let fresh_revision = revision(&fresh)?;
    let newest_stored = stored.values().map(|a| a.resource_version).max().unwrap_or(0);
    assert!(
        fresh_revision > newest_seen && fresh_revision > newest_stored,
        "a write after the restart ({fresh_revision}) must follow every earlier one (acknowledged up to {newest_seen}, stored up to {newest_stored})"
    );
    loop {
        let event = tokio::time::timeout(PATIENCE, events.next())
            .await
            .context("the resumed watch went quiet")?
            .context("the resumed watch ended")??;
        match event {
            WatchEvent::Added(cm) if cm.name_any() == "after-restart" => {
                assert_eq!(revision(&cm)?, fresh_revision);
                break;
            }
            WatchEvent::Added(cm) | WatchEvent::Modified(cm) | WatchEvent::Deleted(cm) => {
                let rv = revision(&cm)?;
                assert!(rv > newest_acked, "the watch replays only what followed {newest_acked}, got {rv}");
                assert!(
                    !acked.contains_key(&cm.name_any()),
                    "{} was acknowledged before the watch",
                    cm.name_any()
                );
            }
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(status) => bail!("resuming the watch failed: {status:?}"),
        }
    }
    Ok(())
}
