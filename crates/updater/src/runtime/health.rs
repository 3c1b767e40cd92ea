//! Rollout health checks after an update: gathers what [`crate::rollback::check`] judges (the
//! DaemonSet's status and its newest revision's pods) and acts on the verdict.

use everynode_controllers::events::{EventType, reference};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use super::{TagSource, Updater, reasons};
use crate::annotations::UpdateConfig;
use crate::metrics::RollbackCheckResult;
use crate::rollback::{self, Observation, PodHealth, Progress, Step, WATCH_ANNOTATION, Watch};

/// The label carrying a pod's (and a revision's) template hash.
const REVISION_HASH_LABEL: &str = "controller-revision-hash";

impl<R: TagSource + 'static> Updater<R> {
    /// Checks the watched rollouts of `ds` if a check is due.
    pub(super) async fn check_health(&mut self, ds: &DaemonSet, config: &UpdateConfig, now: Timestamp) {
        let watches = match rollback::read_watches(ds.annotations().get(WATCH_ANNOTATION).map(String::as_str))
        {
            Ok(watches) => watches,
            Err(error) => {
                tracing::warn!(daemonset = %ds.name_any(), %error, "unreadable rollout watch annotation; dropped");
                let _ = super::act::store_watches(&self.client, ds, &[]).await;
                return;
            }
        };
        if watches.is_empty() {
            return;
        }
        let uid = ds.uid().unwrap_or_default();
        let due = self
            .last_checks
            .get(&uid)
            .is_none_or(|last| last.elapsed() >= self.options.health_check_interval);
        if !due {
            return;
        }
        self.last_checks.insert(uid, tokio::time::Instant::now());
        let seen = match observe(&self.client, ds).await {
            Ok(seen) => seen,
            Err(error) => {
                tracing::warn!(daemonset = %ds.name_any(), %error, "observing the rollout failed; checking later");
                return;
            }
        };
        let mut kept: Vec<Watch> = Vec::new();
        let mut rollback: Option<(Watch, String)> = None;
        for watch in &watches {
            let step =
                rollback::check(watch, &seen, config.health_check_retries, config.rollback_timeout, now);
            match step {
                Step::NotObserved => {
                    self.metrics.rollback_check(RollbackCheckResult::Pending);
                    kept.push(watch.clone());
                }
                Step::Continue { watch: next, failure } => {
                    match &failure {
                        Some(reason) => {
                            self.metrics.rollback_check(RollbackCheckResult::Unhealthy);
                            tracing::warn!(daemonset = %ds.name_any(), container = %watch.container, failed_checks = next.failed_checks, %reason, "rollout health check failed");
                        }
                        None => self.metrics.rollback_check(RollbackCheckResult::Healthy),
                    }
                    kept.push(next);
                }
                Step::Succeeded => {
                    self.metrics.rollback_check(RollbackCheckResult::Healthy);
                    tracing::info!(daemonset = %ds.name_any(), container = %watch.container, image = %watch.new_image, "rollout after update succeeded");
                    self.recorder.record(
                        reference(ds),
                        EventType::Normal,
                        reasons::ROLLOUT_SUCCEEDED,
                        format!("{} runs {} on every node", watch.container, watch.new_image),
                    );
                }
                Step::Ended { message } => {
                    tracing::info!(daemonset = %ds.name_any(), container = %watch.container, %message, "rollout watch ended");
                    self.recorder.record(
                        reference(ds),
                        EventType::Normal,
                        reasons::ROLLOUT_WATCH_ENDED,
                        message,
                    );
                }
                Step::RollBack { reason } => {
                    self.metrics.rollback_check(RollbackCheckResult::Unhealthy);
                    if rollback.is_none() {
                        rollback = Some((watch.clone(), reason));
                    } else {
                        kept.push(watch.clone());
                    }
                }
            }
        }
        if let Some((watch, reason)) = rollback {
            self.roll_back(ds, &watch, kept, &reason, now).await;
        } else if kept != watches
            && let Err(error) = super::act::store_watches(&self.client, ds, &kept).await
        {
            tracing::debug!(daemonset = %ds.name_any(), %error, "storing the rollout watch failed; the next check retries");
        }
    }
}

/// The DaemonSet's status and its newest revision's pods.
async fn observe(client: &Client, ds: &DaemonSet) -> Result<Observation, kube::Error> {
    let namespace = ds.namespace().unwrap_or_default();
    let uid = ds.uid().unwrap_or_default();
    let owned = |refs: Option<&Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>| {
        refs.is_some_and(|refs| refs.iter().any(|r| r.uid == uid && r.controller == Some(true)))
    };
    let revisions = Api::<ControllerRevision>::namespaced(client.clone(), &namespace)
        .list(&ListParams::default())
        .await?;
    let newest = revisions
        .items
        .iter()
        .filter(|r| owned(r.metadata.owner_references.as_ref()))
        .max_by_key(|r| r.revision);
    let hash = newest.and_then(|r| {
        r.labels()
            .get(REVISION_HASH_LABEL)
            .cloned()
            .or_else(|| r.name_any().strip_prefix(&format!("{}-", ds.name_any())).map(str::to_owned))
    });
    // Only the newest revision's pods, selected by their hash label: on a large fleet a check
    // then reads the pods the update created so far, not every pod of the namespace.
    let new_pods = match &hash {
        Some(hash) => {
            let selected = ListParams::default().labels(&format!("{REVISION_HASH_LABEL}={hash}"));
            let pods = Api::<Pod>::namespaced(client.clone(), &namespace).list(&selected).await?;
            pods.items
                .iter()
                .filter(|p| owned(p.metadata.owner_references.as_ref()))
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .map(pod_health)
                .collect()
        }
        None => Vec::new(),
    };
    let status = ds.status.clone().unwrap_or_default();
    Ok(Observation {
        generation: ds.metadata.generation.unwrap_or(0),
        observed_generation: status.observed_generation.unwrap_or(0),
        desired: i64::from(status.desired_number_scheduled),
        progress: Progress {
            updated: i64::from(status.updated_number_scheduled.unwrap_or(0)),
            available: i64::from(status.number_available.unwrap_or(0)),
            ready: i64::from(status.number_ready),
        },
        on_delete: ds.spec.update_strategy.as_ref().and_then(|u| u.type_.as_deref()) == Some("OnDelete"),
        new_pods,
    })
}

fn pod_health(pod: &Pod) -> PodHealth {
    let status = pod.status.clone().unwrap_or_default();
    let ready = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
    let containers = status.container_statuses.unwrap_or_default();
    let waiting_reason = containers
        .iter()
        .find_map(|c| c.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.clone()));
    let restarts = containers.iter().map(|c| u64::try_from(c.restart_count).unwrap_or(0)).sum();
    PodHealth { name: pod.name_any(), ready, waiting_reason, restarts }
}
