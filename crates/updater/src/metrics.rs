//! Prometheus metrics of the updater, under the `headwind_*` names that existing dashboards query.
//!
//! Names are part of the interface we reimplement (the seed documents `headwind_daemonsets_watched`,
//! `headwind_updates_applied_total{kind}`, `headwind_updates_pending{kind}` and
//! `headwind_rollbacks_total{kind}`). prometheus-client appends `_total` to counters itself, so
//! counters are registered without it; the tests pin the exposed names.
//!
//! Unlike the tool we replace, every metric registered here has a method that updates it, and label
//! values come from typed label sets, never from `Debug` output.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s output, as Prometheus negotiates it.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The workload kind this crate updates. Its per-kind series exist from the start (at zero), so
/// `rate()` and alerts work before the first update happens.
pub const DAEMON_SET_KIND: &str = "DaemonSet";

/// Defines a closed set of label values with their exposed spelling. The derive from prometheus-client
/// would expose the Rust variant name (`Approved`); Prometheus convention is lowercase.
macro_rules! label_values {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// The label value as exposed.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl EncodeLabelValue for $name {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                encoder.write_str(self.as_str())
            }
        }
    };
}

label_values! {
    /// How one registry poll of a tracked image ended.
    PollResult {
        /// Tags were listed.
        Success => "success",
        /// The registry could not be queried.
        Error => "error",
    }
}

label_values! {
    /// How an incoming registry webhook was answered.
    WebhookResult {
        /// Authenticated, parsed and queued (202).
        Accepted => "accepted",
        /// Missing or wrong signature or token (401).
        Unauthorized => "unauthorized",
        /// Malformed body or query (400).
        Invalid => "invalid",
        /// Body over the limit (413).
        TooLarge => "too_large",
        /// No webhook secret configured (503).
        Disabled => "disabled",
        /// Queue full or closed (503).
        Unavailable => "unavailable",
    }
}

label_values! {
    /// How an UpdateRequest was decided.
    ApprovalDecision {
        /// Someone approved it.
        Approved => "approved",
        /// Someone rejected it.
        Rejected => "rejected",
        /// Its `expiresAt` passed first.
        Expired => "expired",
    }
}

label_values! {
    /// How the delivery of one notification to one channel ended.
    NotificationResult {
        /// The receiver answered 2xx.
        Success => "success",
        /// The receiver refused it with a status not worth retrying (most 4xx).
        Rejected => "rejected",
        /// Every attempt failed (network errors, timeouts, 429 or 5xx).
        Failed => "failed",
    }
}

label_values! {
    /// What one post-update health check of a rollout concluded.
    RollbackCheckResult {
        /// The updated pods are healthy.
        Healthy => "healthy",
        /// The updated pods are failing; counts towards `health-check-retries`.
        Unhealthy => "unhealthy",
        /// The controller has not observed the new generation yet, so nothing could be judged.
        Pending => "pending",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PollLabels {
    result: PollResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RegistryLabels {
    registry: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct WebhookLabels {
    source: String,
    result: WebhookResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ApprovalLabels {
    decision: ApprovalDecision,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct NotificationLabels {
    channel: String,
    result: NotificationResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RollbackCheckLabels {
    result: RollbackCheckResult,
}

/// The updater's metrics. Cheap to clone (one `Arc`), so every component holds its own handle and all
/// of them feed the same registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    daemonsets_watched: Gauge,
    updates_detected: Family<KindLabels, Counter>,
    updates_applied: Family<KindLabels, Counter>,
    updates_failed: Family<KindLabels, Counter>,
    updates_pending: Family<KindLabels, Gauge>,
    rollbacks: Family<KindLabels, Counter>,
    rollback_checks: Family<RollbackCheckLabels, Counter>,
    polls: Family<PollLabels, Counter>,
    registry_errors: Family<RegistryLabels, Counter>,
    webhooks: Family<WebhookLabels, Counter>,
    approvals: Family<ApprovalLabels, Counter>,
    notifications: Family<NotificationLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered. Each instance is independent, so tests do not
    /// share counters.
    pub fn new() -> Self {
        let mut inner = Inner {
            registry: Registry::default(),
            daemonsets_watched: Gauge::default(),
            updates_detected: Family::default(),
            updates_applied: Family::default(),
            updates_failed: Family::default(),
            updates_pending: Family::default(),
            rollbacks: Family::default(),
            rollback_checks: Family::default(),
            polls: Family::default(),
            registry_errors: Family::default(),
            webhooks: Family::default(),
            approvals: Family::default(),
            notifications: Family::default(),
        };
        // Counter names omit `_total`: the encoder appends it (see the module docs).
        inner.registry.register(
            "headwind_daemonsets_watched",
            "DaemonSets with a headwind.sh/policy other than none",
            inner.daemonsets_watched.clone(),
        );
        inner.registry.register(
            "headwind_updates_detected",
            "Newer images found that the workload's policy allows",
            inner.updates_detected.clone(),
        );
        inner.registry.register(
            "headwind_updates_applied",
            "Image updates written to a workload",
            inner.updates_applied.clone(),
        );
        inner.registry.register(
            "headwind_updates_failed",
            "Image updates that could not be applied",
            inner.updates_failed.clone(),
        );
        inner.registry.register(
            "headwind_updates_pending",
            "UpdateRequests waiting for approval",
            inner.updates_pending.clone(),
        );
        inner.registry.register(
            "headwind_rollbacks",
            "Rollbacks to the previous image",
            inner.rollbacks.clone(),
        );
        inner.registry.register(
            "headwind_rollback_checks",
            "Health checks of a rollout after an update",
            inner.rollback_checks.clone(),
        );
        inner.registry.register("headwind_polls", "Registry polls of tracked images", inner.polls.clone());
        inner.registry.register(
            "headwind_registry_errors",
            "Failed requests to a container registry",
            inner.registry_errors.clone(),
        );
        inner.registry.register("headwind_webhooks", "Registry webhook requests", inner.webhooks.clone());
        inner.registry.register("headwind_approvals", "Decided UpdateRequests", inner.approvals.clone());
        inner.registry.register(
            "headwind_notifications",
            "Notification deliveries per channel",
            inner.notifications.clone(),
        );
        // Looking a series up creates it at zero; the returned guard is not needed.
        let kind = KindLabels { kind: DAEMON_SET_KIND.to_owned() };
        let _ = inner.updates_detected.get_or_create(&kind);
        let _ = inner.updates_applied.get_or_create(&kind);
        let _ = inner.updates_failed.get_or_create(&kind);
        let _ = inner.updates_pending.get_or_create(&kind);
        let _ = inner.rollbacks.get_or_create(&kind);
        Metrics { inner: Arc::new(inner) }
    }

    fn kind(&self, kind: &str) -> KindLabels {
        KindLabels { kind: kind.to_owned() }
    }

    /// Sets how many DaemonSets are tracked for updates.
    pub fn set_daemonsets_watched(&self, count: usize) {
        self.inner.daemonsets_watched.set(saturating_i64(count));
    }

    /// Counts a newer image that a workload's policy allows.
    pub fn update_detected(&self, kind: &str) {
        self.inner.updates_detected.get_or_create(&self.kind(kind)).inc();
    }

    /// Counts an image update written to a workload.
    pub fn update_applied(&self, kind: &str) {
        self.inner.updates_applied.get_or_create(&self.kind(kind)).inc();
    }

    /// Counts an update that could not be applied.
    pub fn update_failed(&self, kind: &str) {
        self.inner.updates_failed.get_or_create(&self.kind(kind)).inc();
    }

    /// Sets how many UpdateRequests for this kind wait for approval.
    pub fn set_pending(&self, kind: &str, count: usize) {
        self.inner.updates_pending.get_or_create(&self.kind(kind)).set(saturating_i64(count));
    }

    /// Counts a rollback to the previous image.
    pub fn rollback(&self, kind: &str) {
        self.inner.rollbacks.get_or_create(&self.kind(kind)).inc();
    }

    /// Counts one post-update health check.
    pub fn rollback_check(&self, result: RollbackCheckResult) {
        self.inner.rollback_checks.get_or_create(&RollbackCheckLabels { result }).inc();
    }

    /// Counts one registry poll.
    pub fn poll(&self, result: PollResult) {
        self.inner.polls.get_or_create(&PollLabels { result }).inc();
    }

    /// Counts a failed request to `registry` (its host, e.g. `ghcr.io`; never a full URL, which could
    /// carry credentials and would explode cardinality).
    pub fn registry_error(&self, registry: &str) {
        self.inner.registry_errors.get_or_create(&RegistryLabels { registry: registry.to_owned() }).inc();
    }

    /// Counts one webhook request from `source` (`dockerhub`, `registry`, `generic`).
    pub fn webhook(&self, source: &str, result: WebhookResult) {
        self.inner.webhooks.get_or_create(&WebhookLabels { source: source.to_owned(), result }).inc();
    }

    /// Counts one decided UpdateRequest.
    pub fn approval(&self, decision: ApprovalDecision) {
        self.inner.approvals.get_or_create(&ApprovalLabels { decision }).inc();
    }

    /// Counts one notification delivery to `channel` (`slack`, `teams`, `webhook`).
    pub fn notification(&self, channel: &str, result: NotificationResult) {
        self.inner
            .notifications
            .get_or_create(&NotificationLabels { channel: channel.to_owned(), result })
            .inc();
    }

    /// The metrics in the OpenMetrics text format, ending with `# EOF`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail, and our label encoders only write static strings, so an
        // error here would be a bug in the encoder; log it rather than fail the scrape.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        out
    }
}

fn saturating_i64(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// `GET /metrics`, serving [`Metrics::render`] with the OpenMetrics content type.
pub fn router(metrics: Metrics) -> Router {
    Router::new().route("/metrics", get(serve)).with_state(metrics)
}

async fn serve(State(metrics): State<Metrics>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], metrics.render())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    /// Asserts that `line` (a full sample line, `name{labels} value`) is in the rendered output.
    #[track_caller]
    fn assert_sample(metrics: &Metrics, line: &str) {
        let rendered = metrics.render();
        assert!(rendered.lines().any(|l| l == line), "missing `{line}` in:\n{rendered}");
    }

    #[test]
    fn seed_metric_names_are_exposed_exactly() {
        let metrics = Metrics::new();
        assert_sample(&metrics, "headwind_daemonsets_watched 0");
        assert_sample(&metrics, r#"headwind_updates_applied_total{kind="DaemonSet"} 0"#);
        assert_sample(&metrics, r#"headwind_updates_pending{kind="DaemonSet"} 0"#);
        assert_sample(&metrics, r#"headwind_rollbacks_total{kind="DaemonSet"} 0"#);
        let rendered = metrics.render();
        assert!(!rendered.contains("_total_total"), "{rendered}");
        assert!(rendered.contains("# TYPE headwind_updates_applied counter"), "{rendered}");
        assert!(rendered.contains("# TYPE headwind_updates_pending gauge"), "{rendered}");
        assert!(rendered.ends_with("# EOF\n"), "{rendered}");
    }

    #[test]
    fn daemonsets_watched_is_set() {
        let metrics = Metrics::new();
        metrics.set_daemonsets_watched(7);
        assert_sample(&metrics, "headwind_daemonsets_watched 7");
    }

    #[test]
    fn update_counters_count_per_kind() {
        let metrics = Metrics::new();
        metrics.update_detected(DAEMON_SET_KIND);
        metrics.update_applied(DAEMON_SET_KIND);
        metrics.update_applied(DAEMON_SET_KIND);
        metrics.update_failed(DAEMON_SET_KIND);
        metrics.update_applied("Deployment");
        assert_sample(&metrics, r#"headwind_updates_detected_total{kind="DaemonSet"} 1"#);
        assert_sample(&metrics, r#"headwind_updates_applied_total{kind="DaemonSet"} 2"#);
        assert_sample(&metrics, r#"headwind_updates_failed_total{kind="DaemonSet"} 1"#);
        assert_sample(&metrics, r#"headwind_updates_applied_total{kind="Deployment"} 1"#);
    }

    #[test]
    fn pending_gauge_goes_up_and_down() {
        let metrics = Metrics::new();
        metrics.set_pending(DAEMON_SET_KIND, 3);
        assert_sample(&metrics, r#"headwind_updates_pending{kind="DaemonSet"} 3"#);
        metrics.set_pending(DAEMON_SET_KIND, 1);
        assert_sample(&metrics, r#"headwind_updates_pending{kind="DaemonSet"} 1"#);
    }

    #[test]
    fn rollbacks_and_checks_are_counted() {
        let metrics = Metrics::new();
        metrics.rollback(DAEMON_SET_KIND);
        metrics.rollback_check(RollbackCheckResult::Unhealthy);
        metrics.rollback_check(RollbackCheckResult::Pending);
        assert_sample(&metrics, r#"headwind_rollbacks_total{kind="DaemonSet"} 1"#);
        assert_sample(&metrics, r#"headwind_rollback_checks_total{result="unhealthy"} 1"#);
        assert_sample(&metrics, r#"headwind_rollback_checks_total{result="pending"} 1"#);
    }

    #[test]
    fn polls_and_registry_errors_are_counted() {
        let metrics = Metrics::new();
        metrics.poll(PollResult::Success);
        metrics.poll(PollResult::Error);
        metrics.registry_error("ghcr.io");
        assert_sample(&metrics, r#"headwind_polls_total{result="success"} 1"#);
        assert_sample(&metrics, r#"headwind_polls_total{result="error"} 1"#);
        assert_sample(&metrics, r#"headwind_registry_errors_total{registry="ghcr.io"} 1"#);
    }

    #[test]
    fn webhooks_approvals_and_notifications_use_lowercase_label_values() {
        let metrics = Metrics::new();
        metrics.webhook("dockerhub", WebhookResult::TooLarge);
        metrics.approval(ApprovalDecision::Expired);
        metrics.notification("slack", NotificationResult::Rejected);
        assert_sample(&metrics, r#"headwind_webhooks_total{source="dockerhub",result="too_large"} 1"#);
        assert_sample(&metrics, r#"headwind_approvals_total{decision="expired"} 1"#);
        assert_sample(&metrics, r#"headwind_notifications_total{channel="slack",result="rejected"} 1"#);
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::new();
        metrics.registry_error("evil\"} 1\nfake_metric 2");
        let rendered = metrics.render();
        assert!(!rendered.lines().any(|l| l.starts_with("fake_metric")), "{rendered}");
    }

    #[test]
    fn clones_share_one_registry() {
        let metrics = Metrics::new();
        metrics.clone().update_applied(DAEMON_SET_KIND);
        assert_sample(&metrics, r#"headwind_updates_applied_total{kind="DaemonSet"} 1"#);
    }

    #[tokio::test]
    async fn metrics_route_serves_openmetrics_text() {
        let metrics = Metrics::new();
        metrics.rollback(DAEMON_SET_KIND);
        let request = Request::get("/metrics").body(Body::empty()).unwrap();
        let response = router(metrics).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], OPENMETRICS_CONTENT_TYPE);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.lines().any(|l| l == r#"headwind_rollbacks_total{kind="DaemonSet"} 1"#), "{text}");
    }
}
