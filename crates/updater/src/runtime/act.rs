//! Carrying out workflow actions: creating UpdateRequests, patching DaemonSets, moving requests
//! between phases, and telling people (Events, notifications, metrics).

use everynode_controllers::events::{EventType, reference};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::DaemonSet;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::{KIND, TagSource, Updater, reasons};
use crate::annotations::{self, UpdateConfig};
use crate::history::{self, HISTORY_LIMIT, HistoryEntry, HistoryKind};
use crate::notify::{EventKind, NotificationEvent, Workload};
use crate::request::{Phase, UpdateRequest, UpdateRequestStatus};
use crate::rollback::{self, WATCH_ANNOTATION, Watch};
use crate::workflow::{Action, Application};

/// The annotation `kubectl rollout history` shows as CHANGE-CAUSE.
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

/// A change to one container's image, with the annotations that record it.
pub(crate) struct ImageChange<'a> {
    pub container: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub change_cause: String,
    pub history: HistoryEntry,
    /// The rollout watches to store after the change.
    pub watches: Vec<Watch>,
}

/// Patches `ds`'s container image and annotations in one write, guarded by the DaemonSet's
/// resourceVersion (a concurrent change gets a 409, never a lost update). Returns the patched
/// DaemonSet.
pub(crate) async fn patch_image(
    client: &Client,
    ds: &DaemonSet,
    change: &ImageChange<'_>,
) -> Result<DaemonSet, kube::Error> {
    let init = ds
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|p| p.init_containers.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.name == change.container))
        && !ds
            .spec
            .template
            .spec
            .as_ref()
            .is_some_and(|p| p.containers.iter().any(|c| c.name == change.container));
    let list = if init { "initContainers" } else { "containers" };
    let pushed = history::push(
        ds.annotations().get(annotations::UPDATE_HISTORY).map(String::as_str),
        change.history.clone(),
        HISTORY_LIMIT,
    );
    if let Some(warning) = &pushed.warning {
        tracing::warn!(daemonset = %ds.name_any(), %warning, "update history");
    }
    let patch = json!({
        "metadata": {
            "resourceVersion": ds.resource_version(),
            "annotations": {
                CHANGE_CAUSE: change.change_cause,
                annotations::LAST_UPDATE: annotations::last_update_value(change.history.timestamp),
                annotations::UPDATE_HISTORY: pushed.annotation,
                WATCH_ANNOTATION: rollback::render_watches(&change.watches),
            }
        },
        "spec": {"template": {"spec": {list: [{"name": change.container, "image": change.to}]}}}
    });
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), &ds.namespace().unwrap_or_default());
    api.patch(&ds.name_any(), &PatchParams::default(), &Patch::Strategic(&patch)).await
}

/// Writes the rollout watches of `ds` (removing the annotation when there are none).
pub(crate) async fn store_watches(
    client: &Client,
    ds: &DaemonSet,
    watches: &[Watch],
) -> Result<(), kube::Error> {
    let patch = json!({
        "metadata": {
            "resourceVersion": ds.resource_version(),
            "annotations": {WATCH_ANNOTATION: rollback::render_watches(watches)}
        }
    });
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), &ds.namespace().unwrap_or_default());
    api.patch(&ds.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ())
}

/// Moves request `name` to `phase`.
pub(crate) async fn set_phase(
    client: &Client,
    namespace: &str,
    name: &str,
    phase: Phase,
    message: &str,
    now: Timestamp,
) -> Result<(), kube::Error> {
    let status = UpdateRequestStatus {
        phase: Some(phase),
        message: Some(message.to_owned()),
        last_updated: Some(now.to_string()),
        ..UpdateRequestStatus::default()
    };
    let patch = json!({"status": status});
    let api: Api<UpdateRequest> = Api::namespaced(client.clone(), namespace);
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ())
}

fn conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

impl<R: TagSource + 'static> Updater<R> {
    /// Carries out one action about DaemonSet `ds` (in `namespace`).
    pub(super) async fn act(
        &mut self,
        ds: Option<&DaemonSet>,
        config: Option<&UpdateConfig>,
        namespace: &str,
        action: Action,
        now: Timestamp,
    ) {
        match action {
            Action::WaitUntil(until) => {
                tracing::debug!(daemonset = ?ds.map(|d| d.name_any()), %until, "minimum update interval not over");
            }
            Action::SetPhase { request, phase, message } => {
                match set_phase(&self.client, namespace, &request, phase, &message, now).await {
                    Ok(()) => {
                        tracing::info!(%request, namespace, %phase, %message, "update request");
                    }
                    Err(error) => {
                        tracing::warn!(%request, namespace, %error, "updating the request's phase failed")
                    }
                }
            }
            Action::Propose { name, spec, replaces_expired } => {
                let api: Api<UpdateRequest> = Api::namespaced(self.client.clone(), namespace);
                if replaces_expired && let Err(error) = api.delete(&name, &DeleteParams::default()).await {
                    tracing::warn!(request = %name, namespace, %error, "removing the expired request failed");
                    return;
                }
                let mut request = UpdateRequest::new(&name, (*spec).clone());
                request.metadata.namespace = Some(namespace.to_owned());
                request.metadata.labels = Some(
                    [
                        (crate::request::TARGET_LABEL.to_owned(), spec.target_ref.name.clone()),
                        (crate::request::CONTAINER_LABEL.to_owned(), spec.container_name.clone()),
                    ]
                    .into_iter()
                    .filter(|(_, v)| v.len() <= 63)
                    .collect(),
                );
                match api.create(&PostParams::default(), &request).await {
                    Ok(_) => {
                        let _ = set_phase(
                            &self.client,
                            namespace,
                            &name,
                            Phase::Pending,
                            "waiting for approval",
                            now,
                        )
                        .await;
                        tracing::info!(request = %name, namespace, image = %spec.new_image, "update request created");
                        if let Some(ds) = ds {
                            self.recorder.record(
                                reference(ds),
                                EventType::Normal,
                                reasons::UPDATE_REQUESTED,
                                format!(
                                    "UpdateRequest {name} proposes {} for container {}; approve it to roll it out",
                                    spec.new_image, spec.container_name
                                ),
                            );
                        }
                        self.notify(NotificationEvent {
                            kind: EventKind::RequestCreated,
                            workload: Workload::daemon_set(namespace, &spec.target_ref.name),
                            container: spec.container_name.clone(),
                            current_image: spec.current_image.clone().unwrap_or_default(),
                            new_image: spec.new_image.clone(),
                            update_request: Some(name.clone()),
                            actor: None,
                            message: spec.reason.clone(),
                            timestamp: now,
                        });
                    }
                    Err(kube::Error::Api(status)) if status.code == 409 => {}
                    Err(error) => {
                        tracing::warn!(request = %name, namespace, %error, "creating the update request failed")
                    }
                }
            }
            Action::Apply(application) => {
                let Some(ds) = ds else {
                    if let Some(request) = &application.request {
                        let _ = set_phase(
                            &self.client,
                            namespace,
                            request,
                            Phase::Failed,
                            "the DaemonSet is gone",
                            now,
                        )
                        .await;
                    }
                    return;
                };
                self.apply(ds, config, application, now).await;
            }
        }
    }

    async fn apply(
        &mut self,
        ds: &DaemonSet,
        config: Option<&UpdateConfig>,
        application: Application,
        now: Timestamp,
    ) {
        let namespace = ds.namespace().unwrap_or_default();
        let name = ds.name_any();
        let attempt =
            (ds.uid().unwrap_or_default(), application.container.clone(), application.new_image.clone());
        if self.failed_applies.contains_key(&attempt) {
            return;
        }
        let auto_rollback = config.is_some_and(|c| c.auto_rollback);
        let mut watches = rollback::read_watches(ds.annotations().get(WATCH_ANNOTATION).map(String::as_str))
            .unwrap_or_default();
        watches.retain(|w| w.container != application.container);
        let generation = ds.metadata.generation.unwrap_or(0);
        if auto_rollback {
            watches.push(Watch {
                container: application.container.clone(),
                previous_image: application.current_image.clone(),
                new_image: application.new_image.clone(),
                started_at: now,
                // A template change bumps the generation by one.
                generation: generation + 1,
                failed_checks: 0,
                last_progress: None,
                last_restarts: 0,
                request: application.request.clone(),
            });
        }
        let change = ImageChange {
            container: &application.container,
            from: &application.current_image,
            to: &application.new_image,
            change_cause: format!(
                "everynode: {} {} -> {} ({}; approved by {})",
                application.container,
                application.current_image,
                application.new_image,
                application.reason,
                application.approved_by
            ),
            history: HistoryEntry {
                container: application.container.clone(),
                image: application.new_image.clone(),
                timestamp: now,
                update_request_name: application.request.clone(),
                approved_by: Some(application.approved_by.clone()),
                kind: None,
            },
            watches,
        };
        let event = |kind, message: Option<String>| NotificationEvent {
            kind,
            workload: Workload::daemon_set(&namespace, &name),
            container: application.container.clone(),
            current_image: application.current_image.clone(),
            new_image: application.new_image.clone(),
            update_request: application.request.clone(),
            actor: Some(application.approved_by.clone()),
            message,
            timestamp: now,
        };
        match patch_image(&self.client, ds, &change).await {
            Ok(updated) => {
                tracing::info!(daemonset = %name, namespace, container = %application.container, from = %change.from, to = %change.to, "update applied");
                self.metrics.update_applied(KIND);
                let on_delete = updated.spec.update_strategy.as_ref().and_then(|u| u.type_.as_deref())
                    == Some("OnDelete");
                let message = format!("{} {} -> {}", application.container, change.from, change.to);
                self.recorder.record(
                    reference(ds),
                    EventType::Normal,
                    reasons::UPDATE_APPLIED,
                    message.clone(),
                );
                if on_delete {
                    self.recorder.record(
                        reference(ds),
                        EventType::Normal,
                        reasons::ON_DELETE,
                        format!("updateStrategy is OnDelete: pods run {} until they are deleted", change.to),
                    );
                }
                if let Some(request) = &application.request {
                    let status = if on_delete {
                        format!("applied; OnDelete: pods change only when deleted ({message})")
                    } else {
                        format!("applied: {message}")
                    };
                    if let Err(error) =
                        set_phase(&self.client, &namespace, request, Phase::Completed, &status, now).await
                    {
                        tracing::warn!(%request, %error, "marking the request Completed failed");
                    }
                }
                self.notify(event(EventKind::Applied, None));
            }
            Err(error) if conflict(&error) => {
                tracing::debug!(daemonset = %name, "the DaemonSet changed meanwhile; the next pass decides again");
            }
            Err(error) => {
                tracing::warn!(daemonset = %name, namespace, %error, "applying the update failed");
                self.failed_applies.insert(attempt, tokio::time::Instant::now());
                self.metrics.update_failed(KIND);
                self.recorder.record(
                    reference(ds),
                    EventType::Warning,
                    reasons::UPDATE_FAILED,
                    format!("{} -> {}: {error}", application.container, application.new_image),
                );
                if let Some(request) = &application.request {
                    let _ =
                        set_phase(&self.client, &namespace, request, Phase::Failed, &error.to_string(), now)
                            .await;
                }
                self.notify(event(EventKind::Failed, Some(error.to_string())));
            }
        }
    }

    /// Sends a notification in the background.
    pub(super) fn notify(&self, event: NotificationEvent) {
        if !self.notifier.is_empty() {
            drop(self.notifier.notify(event));
        }
    }

    /// Puts `watch`'s previous image back after a failed rollout.
    pub(super) async fn roll_back(
        &mut self,
        ds: &DaemonSet,
        watch: &Watch,
        remaining: Vec<Watch>,
        reason: &str,
        now: Timestamp,
    ) {
        let namespace = ds.namespace().unwrap_or_default();
        let name = ds.name_any();
        let event = |kind| NotificationEvent {
            kind,
            workload: Workload::daemon_set(&namespace, &name),
            container: watch.container.clone(),
            current_image: watch.new_image.clone(),
            new_image: watch.previous_image.clone(),
            update_request: watch.request.clone(),
            actor: Some(super::COMPONENT.to_owned()),
            message: Some(reason.to_owned()),
            timestamp: now,
        };
        self.notify(event(EventKind::RollbackTriggered));
        let change = ImageChange {
            container: &watch.container,
            from: &watch.new_image,
            to: &watch.previous_image,
            change_cause: format!(
                "everynode: rolled back {} {} -> {}: {reason}",
                watch.container, watch.new_image, watch.previous_image
            ),
            history: HistoryEntry {
                container: watch.container.clone(),
                image: watch.previous_image.clone(),
                timestamp: now,
                update_request_name: watch.request.clone(),
                approved_by: Some(super::COMPONENT.to_owned()),
                kind: Some(HistoryKind::Rollback),
            },
            watches: remaining,
        };
        match patch_image(&self.client, ds, &change).await {
            Ok(_) => {
                tracing::warn!(daemonset = %name, namespace, container = %watch.container, from = %watch.new_image, to = %watch.previous_image, %reason, "rolled back");
                self.metrics.rollback(KIND);
                self.recorder.record(
                    reference(ds),
                    EventType::Warning,
                    reasons::ROLLED_BACK,
                    format!("{} {} -> {}: {reason}", watch.container, watch.new_image, watch.previous_image),
                );
                if let Some(request) = &watch.request {
                    let _ = set_phase(
                        &self.client,
                        &namespace,
                        request,
                        Phase::Failed,
                        &format!("rolled back: {reason}"),
                        now,
                    )
                    .await;
                }
                self.notify(event(EventKind::RollbackCompleted));
            }
            Err(error) if conflict(&error) => {
                tracing::debug!(daemonset = %name, "the DaemonSet changed meanwhile; the next check decides again");
            }
            Err(error) => tracing::warn!(daemonset = %name, namespace, %error, "rolling back failed"),
        }
    }
}
