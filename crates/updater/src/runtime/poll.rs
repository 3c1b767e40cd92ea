//! Registry polling in the background: one entry per repository and credentials, polled on the
//! workload's interval with backoff on errors, a bounded number at a time. Passes only read the
//! latest result; they never wait for a registry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::Api;
use kube::{Client, ResourceExt};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::image::ImageRef;
use crate::metrics::{Metrics, PollResult};
use crate::registry::{
    Auth, PollOutcome, PollSchedule, PollState, PullSecret, RegistryError, RegistryImage, TagSource, lookup,
};

/// What is polled: a repository, through the pull secrets of a namespace, and for `force` the
/// digest of one tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PollKey {
    registry: String,
    repository: String,
    namespace: String,
    /// The template's imagePullSecrets, then its service account's name (its secrets are read
    /// at poll time).
    pull_secrets: Vec<String>,
    service_account: String,
    /// The tag whose digest to follow (`force`).
    digest_of: Option<String>,
}

impl PollKey {
    /// The key for `image` as `ds` runs it.
    pub fn new(ds: &DaemonSet, image: &ImageRef, digest_of: Option<String>) -> PollKey {
        let pod = ds.spec.template.spec.as_ref();
        PollKey {
            registry: image.registry().to_owned(),
            repository: image.repository().to_owned(),
            namespace: ds.namespace().unwrap_or_default(),
            pull_secrets: pod
                .and_then(|p| p.image_pull_secrets.as_ref())
                .map(|s| s.iter().map(|r| r.name.clone()).collect())
                .unwrap_or_default(),
            service_account: pod
                .and_then(|p| p.service_account_name.clone())
                .unwrap_or_else(|| "default".to_owned()),
            digest_of,
        }
    }
}

/// The latest successful poll.
#[derive(Debug, Clone, Default)]
pub struct PollData {
    /// Every tag, in registry order.
    pub tags: Vec<String>,
    /// The followed tag's digest now.
    pub digest: Option<String>,
    /// The followed tag's digest when first seen: the digest the workload is assumed to run
    /// until it pins one.
    pub baseline_digest: Option<String>,
}

struct Entry {
    schedule: PollSchedule,
    state: PollState,
    due: Instant,
    in_flight: bool,
    latest: Option<PollData>,
    /// Passes that did not ask for this key since; entries nobody asks for are dropped.
    unused: u32,
}

/// One finished poll.
pub struct Finished {
    key: PollKey,
    result: Result<(Vec<String>, Option<String>), RegistryError>,
}

/// The polls.
pub struct Polls<R> {
    client: Client,
    registry: Arc<R>,
    metrics: Metrics,
    concurrency: usize,
    entries: HashMap<PollKey, Entry>,
    tasks: JoinSet<Finished>,
}

impl<R: TagSource + 'static> Polls<R> {
    /// No polls yet.
    pub fn new(client: Client, registry: Arc<R>, metrics: Metrics, concurrency: usize) -> Self {
        Polls {
            client,
            registry,
            metrics,
            concurrency: concurrency.max(1),
            entries: HashMap::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Makes sure `key` is polled every `interval`, starting a poll if one is due.
    pub fn ensure(&mut self, key: PollKey, ds: &DaemonSet, interval: Duration) {
        let now = Instant::now();
        let entry = self.entries.entry(key.clone()).or_insert_with(|| Entry {
            schedule: PollSchedule::with_interval(interval),
            state: PollState::default(),
            due: now,
            in_flight: false,
            latest: None,
            unused: 0,
        });
        entry.unused = 0;
        if entry.schedule.interval != interval {
            // The annotation changed: the new interval counts from now.
            entry.schedule = PollSchedule::with_interval(interval);
            entry.due = entry.due.min(now + interval);
        }
        if entry.in_flight || entry.due > now || self.tasks.len() >= self.concurrency {
            return;
        }
        entry.in_flight = true;
        let client = self.client.clone();
        let registry = Arc::clone(&self.registry);
        let template_secrets = key.pull_secrets.clone();
        tracing::debug!(daemonset = %ds.name_any(), registry = %key.registry, repository = %key.repository, "polling");
        self.tasks.spawn(async move {
            let result = poll(&client, registry.as_ref(), &key, &template_secrets).await;
            Finished { key, result }
        });
    }

    /// The latest successful poll of `key`.
    pub fn latest(&self, key: &PollKey) -> Option<&PollData> {
        self.entries.get(key).and_then(|e| e.latest.as_ref())
    }

    /// The next finished poll; pending forever when none is running (for `select!`).
    pub async fn next_result(&mut self) -> Option<Finished> {
        loop {
            match self.tasks.join_next().await {
                Some(Ok(finished)) => return Some(finished),
                Some(Err(error)) => tracing::warn!(%error, "a registry poll task failed"),
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// Records a finished poll and schedules the next.
    pub fn record(&mut self, finished: Finished) {
        let Some(entry) = self.entries.get_mut(&finished.key) else { return };
        entry.in_flight = false;
        let outcome = PollOutcome::of(&finished.result);
        entry.due = entry.schedule.next_poll(&mut entry.state, outcome, Instant::now());
        let key = &finished.key;
        match finished.result {
            Ok((tags, digest)) => {
                self.metrics.poll(PollResult::Success);
                tracing::debug!(registry = %key.registry, repository = %key.repository, tags = tags.len(), "polled");
                let baseline =
                    entry.latest.as_ref().and_then(|l| l.baseline_digest.clone()).or(digest.clone());
                entry.latest = Some(PollData { tags, digest, baseline_digest: baseline });
            }
            Err(error) => {
                self.metrics.poll(PollResult::Error);
                self.metrics.registry_error(&key.registry);
                tracing::warn!(
                    registry = %key.registry,
                    repository = %key.repository,
                    retryable = error.is_retryable(),
                    failures = entry.state.consecutive_failures,
                    %error,
                    "registry poll failed; backing off"
                );
            }
        }
    }

    /// Forgets polls no pass asked for in a while (the workload or its annotations went away).
    pub fn sweep(&mut self) {
        self.entries.retain(|_, entry| {
            entry.unused += 1;
            entry.in_flight || entry.unused < 3
        });
    }
}

/// One poll: credentials from the pull secrets, every tag, and the followed tag's digest.
async fn poll<R: TagSource>(
    client: &Client,
    registry: &R,
    key: &PollKey,
    template_secrets: &[String],
) -> Result<(Vec<String>, Option<String>), RegistryError> {
    let image = RegistryImage::new(&key.registry, &key.repository);
    let secrets = pull_secrets(client, &key.namespace, template_secrets, &key.service_account).await;
    let auth = Auth::from(lookup(&secrets, &key.registry, &key.repository));
    let tags = registry.list_tags(&image, &auth).await?;
    let digest = match &key.digest_of {
        Some(tag) => Some(registry.digest(&image, tag, &auth).await?),
        None => None,
    };
    Ok((tags, digest))
}

/// The pull secrets the kubelet would use for the pod: the template's, then its service
/// account's. Secrets that are missing or unreadable are skipped (with a log line): the
/// registry may not need them, and if it does, its 401 says so.
async fn pull_secrets(
    client: &Client,
    namespace: &str,
    template: &[String],
    service_account: &str,
) -> Vec<PullSecret> {
    let mut names: Vec<String> = template.to_vec();
    match Api::<ServiceAccount>::namespaced(client.clone(), namespace).get_opt(service_account).await {
        Ok(Some(sa)) => names.extend(sa.image_pull_secrets.iter().flatten().map(|r| r.name.clone())),
        Ok(None) => {}
        Err(error) => tracing::debug!(%error, service_account, "reading the service account failed"),
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut pull = Vec::new();
    for name in names {
        match secrets.get_opt(&name).await {
            Ok(Some(secret)) => match PullSecret::from_secret(&secret) {
                Ok(parsed) => pull.push(parsed),
                Err(error) => tracing::warn!(secret = %name, namespace, %error, "unusable image pull secret"),
            },
            Ok(None) => tracing::debug!(secret = %name, namespace, "image pull secret not found"),
            Err(error) => {
                tracing::warn!(secret = %name, namespace, %error, "reading an image pull secret failed")
            }
        }
    }
    pull
}
