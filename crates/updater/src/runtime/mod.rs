//! The updater's runtime loop: reflectors on DaemonSets and UpdateRequests, registry polls in
//! the background, webhook pushes from a channel, and a pass every tick that feeds what is known
//! to the pure decisions ([`crate::workflow`], [`crate::rollback`]) and carries out their
//! actions through the API.
//!
//! Each pass decides from scratch, so nothing is lost across restarts: the state that matters
//! lives in the cluster (annotations on the DaemonSet, UpdateRequests). Writes are guarded by
//! resourceVersion or are creates, so a pass deciding from a slightly stale cache gets a 409
//! instead of doing something twice.

mod act;
mod health;
mod poll;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use everynode_controllers::events::EventRecorder;
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::DaemonSet;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tokio::sync::mpsc;

use crate::annotations::{self, EventSource, UpdateConfig};
use crate::history;
use crate::image::ImageRef;
use crate::metrics::{ApprovalDecision, Metrics};
use crate::notify::{EventKind, NotificationEvent, Notifier, Workload};
use crate::policy::{Candidate, Policy};
use crate::registry::TagSource;
use crate::request::{Phase, UpdateRequest};
use crate::webhook::ImagePush;
use crate::workflow::{self, Action, Situation};

use self::poll::{PollKey, Polls};

/// The `kind` label of the metrics and the target kind of requests.
const KIND: &str = "DaemonSet";

/// Webhook-announced tags remembered per repository.
const MAX_PUSHED_TAGS: usize = 256;

/// The component name on Events.
pub const COMPONENT: &str = "everynode-updater";

/// Event reasons, as constants so that tests and docs name the same strings.
pub mod reasons {
    /// An annotation has an invalid value; the DaemonSet is skipped.
    pub const INVALID_CONFIG: &str = "InvalidUpdateConfig";
    /// A `headwind.sh/` annotation nobody reads (a typo?); the rest of the config applies.
    pub const UNKNOWN_ANNOTATION: &str = "UnknownUpdateAnnotation";
    /// An UpdateRequest was created.
    pub const UPDATE_REQUESTED: &str = "UpdateRequested";
    /// A new image was written to the template.
    pub const UPDATE_APPLIED: &str = "UpdateApplied";
    /// An update could not be applied.
    pub const UPDATE_FAILED: &str = "UpdateFailed";
    /// The rollout after an update failed its health checks and was rolled back.
    pub const ROLLED_BACK: &str = "RolledBack";
    /// The rollout after an update completed.
    pub const ROLLOUT_SUCCEEDED: &str = "UpdateRolloutSucceeded";
    /// Watching the rollout ended without a verdict.
    pub const ROLLOUT_WATCH_ENDED: &str = "UpdateRolloutWatchEnded";
    /// With OnDelete, the template changed but pods change only when deleted.
    pub const ON_DELETE: &str = "UpdateAwaitsPodDeletion";
}

/// How the updater runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// How often a pass runs.
    pub tick: Duration,
    /// How DaemonSets without `headwind.sh/event-source` detect new images (Headwind's
    /// default is webhooks only).
    pub default_event_source: EventSource,
    /// Polling interval for DaemonSets without `headwind.sh/polling-interval`.
    pub polling_interval: Duration,
    /// Time between two health checks of a rollout.
    pub health_check_interval: Duration,
    /// How long a new UpdateRequest waits for a decision.
    pub request_ttl: Duration,
    /// Registry polls running at once.
    pub poll_concurrency: usize,
    /// After an update failed to apply (anything but a conflict), the same update is not tried
    /// again for this long: every pass would otherwise repeat the failure, its Event and its
    /// notification.
    pub failed_apply_backoff: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tick: Duration::from_secs(1),
            default_event_source: EventSource::default(),
            polling_interval: Duration::from_secs(300),
            health_check_interval: Duration::from_secs(10),
            request_ttl: workflow::DEFAULT_REQUEST_TTL,
            poll_concurrency: 8,
            failed_apply_backoff: Duration::from_secs(60),
        }
    }
}

/// Why the updater stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A watch stream ended, which only happens when the client is gone.
    #[error("the {0} watch ended")]
    WatchEnded(&'static str),
}

/// The updater: everything a pass needs.
pub struct Updater<R: TagSource + 'static> {
    client: Client,
    options: Options,
    metrics: Metrics,
    notifier: Arc<Notifier>,
    recorder: EventRecorder,
    polls: Polls<R>,
    /// Tags announced by webhooks, by repository key.
    pushed: HashMap<String, Vec<Candidate>>,
    /// Config errors already reported, by DaemonSet uid and the annotations' text, so a bad
    /// annotation is reported once, not every pass.
    reported: HashMap<String, String>,
    /// When each watched rollout was last checked, by DaemonSet uid.
    last_checks: HashMap<String, tokio::time::Instant>,
    /// Updates already announced as detected, by (DaemonSet uid, container, image).
    announced: HashSet<(String, String, String)>,
    /// The last phase seen of each UpdateRequest, by uid: a change to Approved, Rejected or
    /// Expired is counted and announced once, whoever made it (the approval API, the CLI,
    /// kubectl, or this updater).
    phases: HashMap<String, Phase>,
    /// Set once the first pass has remembered the phases present at start.
    phases_seeded: bool,
    /// Updates that failed to apply, by (DaemonSet uid, container, image), and when.
    failed_applies: HashMap<(String, String, String), tokio::time::Instant>,
}

impl<R: TagSource + 'static> Updater<R> {
    /// An updater over `client`, polling through `registry`.
    pub fn new(
        client: Client,
        registry: R,
        notifier: Arc<Notifier>,
        metrics: Metrics,
        options: Options,
    ) -> Self {
        let recorder = EventRecorder::new(client.clone(), COMPONENT);
        let polls = Polls::new(client.clone(), Arc::new(registry), metrics.clone(), options.poll_concurrency);
        Updater {
            client,
            options,
            metrics,
            notifier,
            recorder,
            polls,
            pushed: HashMap::new(),
            reported: HashMap::new(),
            last_checks: HashMap::new(),
            failed_applies: HashMap::new(),
            announced: HashSet::new(),
            phases: HashMap::new(),
            phases_seeded: false,
        }
    }

    /// Runs until a watch ends. `pushes` carries webhook announcements.
    pub async fn run(mut self, mut pushes: mpsc::Receiver<ImagePush>) -> Result<(), Error> {
        let (ds_store, ds_writer) = reflector::store::<DaemonSet>();
        let mut ds_events =
            watcher(kube::Api::<DaemonSet>::all(self.client.clone()), watcher::Config::default())
                .default_backoff()
                .reflect(ds_writer)
                .boxed();
        let (ur_store, ur_writer) = reflector::store::<UpdateRequest>();
        let mut ur_events =
            watcher(kube::Api::<UpdateRequest>::all(self.client.clone()), watcher::Config::default())
                .default_backoff()
                .reflect(ur_writer)
                .boxed();
        let mut ticks = tokio::time::interval(self.options.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut synced = (false, false);
        loop {
            tokio::select! {
                event = ds_events.next() => match event {
                    Some(Ok(watcher::Event::InitDone)) => synced.0 = true,
                    Some(Err(error)) => tracing::warn!(%error, "daemonset watch failed; retrying"),
                    Some(Ok(_)) => {}
                    None => return Err(Error::WatchEnded("daemonset")),
                },
                event = ur_events.next() => match event {
                    Some(Ok(watcher::Event::InitDone)) => synced.1 = true,
                    Some(Err(error)) => tracing::warn!(
                        %error,
                        "updaterequest watch failed (is the CRD {} installed?); retrying",
                        crate::request::CRD_NAME
                    ),
                    Some(Ok(_)) => {}
                    None => return Err(Error::WatchEnded("updaterequest")),
                },
                Some(push) = pushes.recv() => self.remember_push(push),
                Some(result) = self.polls.next_result() => self.polls.record(result),
                _ = ticks.tick() => {
                    if synced.0 && synced.1 {
                        self.pass(&ds_store, &ur_store).await;
                    }
                }
            }
        }
    }

    fn remember_push(&mut self, push: ImagePush) {
        let Some(tag) = push.tag else { return };
        let Ok(image) = ImageRef::parse(&format!("{}:{tag}", push.repository)) else {
            tracing::info!(repository = %push.repository, %tag, "webhook push names no valid image; ignored");
            return;
        };
        tracing::info!(image = %image, source = ?push.source, "image push announced");
        let tags = self.pushed.entry(image.repository_key()).or_default();
        tags.retain(|c| c.tag != tag);
        // Announced tags only add candidates; the newest few are plenty to choose from.
        if tags.len() >= MAX_PUSHED_TAGS {
            tags.remove(0);
        }
        let candidate = Candidate::new(tag);
        tags.push(match push.digest {
            Some(digest) => candidate.with_digest(digest),
            None => candidate,
        });
    }

    /// One pass over every configured DaemonSet and every UpdateRequest.
    async fn pass(&mut self, daemon_sets: &Store<DaemonSet>, requests: &Store<UpdateRequest>) {
        let now = Timestamp::now();
        let requests = requests.state();
        let daemon_sets = daemon_sets.state();
        let mut watched = 0;
        let mut by_key: HashMap<(String, String), &DaemonSet> = HashMap::new();
        for ds in &daemon_sets {
            let namespace = ds.namespace().unwrap_or_default();
            let name = ds.name_any();
            by_key.insert((namespace.clone(), name.clone()), ds);
            let Some(config) = self.config(ds) else { continue };
            watched += 1;
            let mine: Vec<&UpdateRequest> =
                requests.iter().filter(|r| targets(r, &namespace, &name)).map(|r| r.as_ref()).collect();
            self.consider(ds, &config, &mine, now).await;
            if config.auto_rollback || ds.annotations().contains_key(crate::rollback::WATCH_ANNOTATION) {
                self.check_health(ds, &config, now).await;
            }
        }
        self.observe_phases(&requests, now);
        let mut pending = 0;
        for request in &requests {
            // Requests for other kinds (Headwind's Deployments, say) belong to another updater.
            if request.spec.target_ref.kind != KIND {
                continue;
            }
            let namespace = request.namespace().unwrap_or_default();
            let target_ns = request.spec.target_ref.namespace.clone().unwrap_or_else(|| namespace.clone());
            if request.phase() == Phase::Pending {
                pending += 1;
            }
            let ds = by_key.get(&(target_ns, request.spec.target_ref.name.clone())).copied();
            let running = ds.and_then(|ds| {
                containers(ds)
                    .into_iter()
                    .find(|(container, _, _)| *container == request.spec.container_name)
                    .map(|(_, image, _)| image)
            });
            let actions = workflow::reconcile_request(request, running.as_deref(), now);
            if actions.is_empty() {
                continue;
            }
            let config = ds.and_then(|d| UpdateConfig::from_annotations(d.annotations()).ok().flatten());
            for action in actions {
                self.act(ds, config.as_ref(), &namespace, action, now).await;
            }
        }
        self.polls.sweep();
        let retry_after = self.options.failed_apply_backoff;
        self.failed_applies.retain(|_, at| at.elapsed() < retry_after);
        self.metrics.set_daemonsets_watched(watched);
        self.metrics.set_pending(KIND, pending);
    }

    /// The DaemonSet's configuration, reporting invalid annotations (and unknown `headwind.sh/`
    /// keys, most likely typos that would silently do nothing) once per distinct problem.
    fn config(&mut self, ds: &DaemonSet) -> Option<UpdateConfig> {
        let uid = ds.uid().unwrap_or_default();
        let unknown = annotations::unknown_keys(ds.annotations());
        let (config, problem) = match UpdateConfig::from_annotations(ds.annotations()) {
            Ok(Some(mut config)) => {
                if !ds.annotations().contains_key(annotations::EVENT_SOURCE) {
                    config.event_source = self.options.default_event_source;
                }
                let problem = (!unknown.is_empty()).then(|| {
                    (
                        reasons::UNKNOWN_ANNOTATION,
                        format!("unknown annotations ignored: {}", unknown.join(", ")),
                    )
                });
                (Some(config), problem)
            }
            Ok(None) => (None, None),
            Err(errors) => {
                let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
                    + "; updates skipped";
                (None, Some((reasons::INVALID_CONFIG, message)))
            }
        };
        match problem {
            None => {
                self.reported.remove(&uid);
            }
            Some((reason, message)) if self.reported.get(&uid) != Some(&message) => {
                tracing::warn!(daemonset = %ds.name_any(), namespace = ?ds.namespace(), %message, "update configuration");
                self.recorder.record(
                    everynode_controllers::events::reference(ds),
                    everynode_controllers::events::EventType::Warning,
                    reason,
                    message.clone(),
                );
                self.reported.insert(uid, message);
            }
            Some(_) => {}
        }
        config
    }

    /// Counts and announces decisions on UpdateRequests made since the last pass. The first
    /// pass only remembers phases (after a restart, those decisions were announced before); a
    /// request first seen later already decided was decided since (within one pass of its
    /// creation) and is announced.
    fn observe_phases(&mut self, requests: &[Arc<UpdateRequest>], now: Timestamp) {
        let mut seen = HashMap::with_capacity(requests.len());
        let first_pass = !self.phases_seeded;
        for request in requests {
            let uid = request.uid().unwrap_or_default();
            let phase = request.phase();
            let before = self.phases.get(&uid).copied();
            seen.insert(uid, phase);
            if first_pass {
                continue;
            }
            let before = before.unwrap_or(Phase::Pending);
            if before == phase || request.spec.target_ref.kind != KIND {
                continue;
            }
            let status = request.status.clone().unwrap_or_default();
            let (decision, kind, actor) = match phase {
                Phase::Approved => {
                    (ApprovalDecision::Approved, Some(EventKind::Approved), status.approved_by)
                }
                Phase::Rejected => {
                    (ApprovalDecision::Rejected, Some(EventKind::Rejected), status.rejected_by)
                }
                Phase::Expired => (ApprovalDecision::Expired, None, None),
                _ => continue,
            };
            self.metrics.approval(decision);
            if let Some(kind) = kind {
                let namespace = request.spec.target_ref.namespace.clone().or_else(|| request.namespace());
                self.notify(NotificationEvent {
                    kind,
                    workload: Workload::daemon_set(
                        namespace.unwrap_or_default(),
                        &request.spec.target_ref.name,
                    ),
                    container: request.spec.container_name.clone(),
                    current_image: request.spec.current_image.clone().unwrap_or_default(),
                    new_image: request.spec.new_image.clone(),
                    update_request: Some(request.name_any()),
                    actor,
                    message: status.message,
                    timestamp: now,
                });
            }
        }
        self.phases = seen;
        self.phases_seeded = true;
    }

    /// Counts and announces a detected update once.
    fn detected(
        &mut self,
        ds: &DaemonSet,
        container: &str,
        current_image: &str,
        new_image: &str,
        now: Timestamp,
    ) {
        let key = (ds.uid().unwrap_or_default(), container.to_owned(), new_image.to_owned());
        if !self.announced.insert(key) {
            return;
        }
        self.metrics.update_detected(KIND);
        self.notify(NotificationEvent {
            kind: EventKind::UpdateDetected,
            workload: Workload::daemon_set(ds.namespace().unwrap_or_default(), ds.name_any()),
            container: container.to_owned(),
            current_image: current_image.to_owned(),
            new_image: new_image.to_owned(),
            update_request: None,
            actor: None,
            message: None,
            timestamp: now,
        });
    }

    /// Polls, judges and acts for every tracked container of `ds`.
    async fn consider(
        &mut self,
        ds: &DaemonSet,
        config: &UpdateConfig,
        requests: &[&UpdateRequest],
        now: Timestamp,
    ) {
        let namespace = ds.namespace().unwrap_or_default();
        let name = ds.name_any();
        let history =
            history::read(ds.annotations().get(annotations::UPDATE_HISTORY).map(String::as_str)).entries;
        let last_update = annotations::last_update(ds.annotations()).ok().flatten();
        let mut seen = HashSet::new();
        for (container, image_text, init) in containers(ds) {
            let Ok(image) = ImageRef::parse(&image_text) else {
                tracing::debug!(%container, image = %image_text, "unparseable image; not tracked");
                continue;
            };
            if !config.tracks(&image, init) || !seen.insert(container.clone()) {
                continue;
            }
            let force = matches!(config.policy, Policy::Force);
            let mut candidates = Vec::new();
            let mut current_digest = image.digest().map(str::to_owned);
            if config.event_source.polls() {
                let interval = config.polling_interval.unwrap_or(self.options.polling_interval);
                let key = PollKey::new(ds, &image, force.then(|| image.tag_or_latest().to_owned()));
                self.polls.ensure(key.clone(), ds, interval);
                if let Some(result) = self.polls.latest(&key) {
                    candidates.extend(result.tags.iter().cloned().map(Candidate::new));
                    if current_digest.is_none() {
                        current_digest = result.baseline_digest.clone();
                    }
                    if let Some(digest) = &result.digest {
                        set_digest(&mut candidates, image.tag_or_latest(), digest);
                    }
                }
            }
            if config.event_source.accepts_webhooks()
                && let Some(pushed) = self.pushed.get(&image.repository_key())
            {
                for push in pushed {
                    match candidates.iter_mut().find(|c| c.tag == push.tag) {
                        Some(existing) => existing.digest = push.digest.clone().or(existing.digest.take()),
                        None => candidates.push(push.clone()),
                    }
                }
            }
            if candidates.is_empty() {
                continue;
            }
            let choice = config.policy.choose(image.tag_or_latest(), current_digest.as_deref(), &candidates);
            let container_requests: Vec<&UpdateRequest> =
                requests.iter().copied().filter(|r| r.spec.container_name == container).collect();
            let situation = Situation {
                namespace: &namespace,
                name: &name,
                config,
                container: &container,
                current_image: &image_text,
                requests: &container_requests,
                history: &history,
                last_update,
                request_ttl: self.options.request_ttl,
                now,
            };
            let actions = workflow::decide(&situation, &image, choice.as_ref());
            if let Some(new_image) = detected(&actions) {
                self.detected(ds, &container, &image_text, new_image, now);
            }
            for action in actions {
                self.act(Some(ds), Some(config), &namespace, action, now).await;
            }
        }
    }
}

/// The new image `actions` are about, when they act on a detected update (propose it, apply
/// it, or wait for the interval to allow it).
fn detected(actions: &[Action]) -> Option<&str> {
    actions.iter().find_map(|action| match action {
        Action::Propose { spec, .. } => Some(spec.new_image.as_str()),
        Action::Apply(application) => Some(application.new_image.as_str()),
        _ => None,
    })
}

/// Whether `request` targets DaemonSet `namespace/name`.
fn targets(request: &UpdateRequest, namespace: &str, name: &str) -> bool {
    let target = &request.spec.target_ref;
    let target_ns = target.namespace.clone().or_else(|| request.namespace()).unwrap_or_default();
    target.kind == KIND && target.name == name && target_ns == namespace
}

/// `(name, image, is_init)` of every container of the DaemonSet's template.
fn containers(ds: &DaemonSet) -> Vec<(String, String, bool)> {
    let Some(spec) = ds.spec.template.spec.as_ref() else { return Vec::new() };
    let regular =
        spec.containers.iter().map(|c| (c.name.clone(), c.image.clone().unwrap_or_default(), false));
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default(), true));
    regular.chain(init).collect()
}

/// Records `digest` as the current digest of `tag` among `candidates`.
fn set_digest(candidates: &mut Vec<Candidate>, tag: &str, digest: &str) {
    match candidates.iter_mut().find(|c| c.tag == tag) {
        Some(candidate) => candidate.digest = Some(digest.to_owned()),
        None => candidates.push(Candidate::new(tag).with_digest(digest)),
    }
}
