//! Delivers an event to every configured channel at once, each with its own retries.
//!
//! Channels are independent: a Slack outage must not delay Teams, so deliveries run concurrently and
//! each follows [`RetryPolicy`] on its own. The body of a channel is rendered and signed once, so
//! every retry sends identical bytes. [`Notifier::notify`] spawns the whole delivery, so the update
//! workflow never waits on a chat service.

use std::fmt;
use std::sync::Arc;

use axum::body::Bytes;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use super::config::{NotifyConfig, SecretUrl, wants};
use super::event::{EventKind, NotificationEvent};
use super::retry::{Attempt, DeliveryOutcome, RetryPolicy, Step};
use super::transport::{OutgoingRequest, Transport};
use super::{generic, slack, teams};
use crate::metrics::{Metrics, NotificationResult};
use crate::webhook::signature::SigningSecret;

/// The kinds of notification channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// Slack incoming webhook.
    Slack,
    /// Microsoft Teams Workflows webhook.
    Teams,
    /// Generic signed JSON webhook.
    Webhook,
}

impl ChannelKind {
    /// The stable lowercase name used in metric labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
            ChannelKind::Webhook => "webhook",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of delivering one event to one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The channel.
    pub channel: ChannelKind,
    /// How it ended.
    pub outcome: DeliveryOutcome,
    /// How many requests were sent (1 when the first one settled it).
    pub attempts: u32,
}

/// Told about every finished delivery; the seam through which metrics count them.
pub trait DeliveryObserver: Send + Sync + 'static {
    /// Called once per channel and event, after the last attempt.
    fn observe(&self, delivery: &Delivery);
}

impl DeliveryObserver for Metrics {
    fn observe(&self, delivery: &Delivery) {
        let result = match delivery.outcome {
            DeliveryOutcome::Delivered => NotificationResult::Success,
            DeliveryOutcome::Rejected { .. } => NotificationResult::Rejected,
            DeliveryOutcome::Failed { .. } => NotificationResult::Failed,
        };
        self.notification(delivery.channel.as_str(), result);
    }
}

/// An observer that ignores deliveries.
#[derive(Debug, Clone, Copy, Default)]
pub struct IgnoreDeliveries;

impl DeliveryObserver for IgnoreDeliveries {
    fn observe(&self, _: &Delivery) {}
}

/// One configured destination.
struct Channel {
    kind: ChannelKind,
    url: SecretUrl,
    secret: Option<SigningSecret>,
    events: Option<Vec<EventKind>>,
}

impl Channel {
    /// Renders and signs `event` for this channel.
    fn request(&self, event: &NotificationEvent) -> OutgoingRequest {
        let document = match self.kind {
            ChannelKind::Slack => slack::render(event),
            ChannelKind::Teams => teams::render(event),
            ChannelKind::Webhook => generic::render(event),
        };
        let body = Bytes::from(document.to_string());
        let headers = match self.kind {
            ChannelKind::Webhook => generic::headers(event, &body, self.secret.as_ref()),
            ChannelKind::Slack | ChannelKind::Teams => Vec::new(),
        };
        OutgoingRequest { url: self.url.clone(), headers, body }
    }
}

/// Sends notification events to the configured channels. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    channels: Arc<[Channel]>,
    transport: Arc<dyn Transport>,
    retry: RetryPolicy,
    observer: Arc<dyn DeliveryObserver>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let channels: Vec<String> =
            self.channels.iter().map(|c| format!("{}={}", c.kind, c.url.redacted())).collect();
        f.debug_struct("Notifier")
            .field("channels", &channels)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier for the channels in `config`, with the default retry policy and no observer.
    pub fn new(config: &NotifyConfig, transport: impl Transport) -> Self {
        let mut channels = Vec::new();
        if let Some(slack) = &config.slack {
            channels.push(Channel {
                kind: ChannelKind::Slack,
                url: slack.webhook_url.clone(),
                secret: None,
                events: slack.events.clone(),
            });
        }
        if let Some(teams) = &config.teams {
            channels.push(Channel {
                kind: ChannelKind::Teams,
                url: teams.webhook_url.clone(),
                secret: None,
                events: teams.events.clone(),
            });
        }
        if let Some(webhook) = &config.webhook {
            channels.push(Channel {
                kind: ChannelKind::Webhook,
                url: webhook.url.clone(),
                secret: webhook.secret.clone(),
                events: webhook.events.clone(),
            });
        }
        Notifier {
            channels: channels.into(),
            transport: Arc::new(transport),
            retry: RetryPolicy::default(),
            observer: Arc::new(IgnoreDeliveries),
        }
    }

    /// Replaces the retry policy (tests use millisecond backoffs).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Reports every finished delivery to `observer`, e.g. [`Metrics`].
    pub fn with_observer(mut self, observer: impl DeliveryObserver) -> Self {
        self.observer = Arc::new(observer);
        self
    }

    /// Whether no channel is configured (then notifying does nothing).
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Delivers `event` in a spawned task and returns at once. Await the handle only to learn the
    /// outcomes (tests do); dropping it lets the delivery finish on its own. Must be called within a
    /// tokio runtime.
    pub fn notify(&self, event: NotificationEvent) -> JoinHandle<Vec<Delivery>> {
        let notifier = self.clone();
        tokio::spawn(async move { notifier.deliver(&event).await })
    }

    /// Delivers `event` to every channel whose filter wants it, concurrently, and returns when all
    /// deliveries have finished (after retries: up to about a minute with the default policy).
    pub async fn deliver(&self, event: &NotificationEvent) -> Vec<Delivery> {
        let sends = self.channels.iter().filter(|channel| wants(channel.events.as_deref(), event.kind)).map(
            |channel| {
                let span = tracing::info_span!(
                    "notify",
                    channel = channel.kind.as_str(),
                    event = event.kind.as_str(),
                    workload = %event.workload,
                );
                self.send(channel.kind, channel.request(event)).instrument(span)
            },
        );
        futures::future::join_all(sends).await
    }

    /// Sends one request until the retry policy says stop.
    async fn send(&self, channel: ChannelKind, request: OutgoingRequest) -> Delivery {
        let mut retries_done = 0;
        let outcome = loop {
            let attempt =
                match tokio::time::timeout(self.retry.attempt_timeout, self.transport.post(request.clone()))
                    .await
                {
                    Ok(Ok(response)) => {
                        Attempt::Status { status: response.status, retry_after: response.retry_after }
                    }
                    Ok(Err(error)) => Attempt::Error(error.to_string()),
                    Err(_) => Attempt::Error(format!("no answer within {:?}", self.retry.attempt_timeout)),
                };
            match self.retry.next_step(retries_done, &attempt) {
                Step::Finish(outcome) => break outcome,
                Step::Wait(wait) => {
                    tracing::debug!(?attempt, ?wait, "notification attempt failed; retrying");
                    tokio::time::sleep(wait).await;
                    retries_done += 1;
                }
            }
        };
        let delivery = Delivery { channel, outcome, attempts: retries_done + 1 };
        match &delivery.outcome {
            DeliveryOutcome::Delivered => {
                tracing::debug!(attempts = delivery.attempts, "notification delivered")
            }
            DeliveryOutcome::Rejected { status } => {
                tracing::warn!(status, destination = %request.url.redacted(), "notification rejected; not retrying")
            }
            DeliveryOutcome::Failed { last_error } => tracing::warn!(
                attempts = delivery.attempts,
                error = %last_error,
                destination = %request.url.redacted(),
                "notification failed after retries"
            ),
        }
        self.observer.observe(&delivery);
        delivery
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::time::Duration;

    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use futures::future::BoxFuture;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::notify::config::{ChatChannelConfig, WebhookChannelConfig};
    use crate::notify::event::fixtures;
    use crate::notify::generic::{EVENT_HEADER, SIGNATURE_HEADER};
    use crate::notify::transport::{TransportError, TransportResponse};
    use crate::webhook::signature;

    /// Millisecond backoffs keep the real-socket tests fast; paused time would fight the real IO.
    const FAST: RetryPolicy = RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        attempt_timeout: Duration::from_secs(5),
    };

    /// A request as the receiver saw it.
    #[derive(Debug, Clone)]
    struct Received {
        path: String,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Received {
        fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    /// An axum receiver on 127.0.0.1 that records requests and answers with scripted statuses
    /// (200 once the script is exhausted).
    #[derive(Clone, Default)]
    struct Receiver {
        received: Arc<Mutex<Vec<Received>>>,
        script: Arc<Mutex<VecDeque<u16>>>,
    }

    impl Receiver {
        async fn start(script: &[u16]) -> (Self, String) {
            let receiver = Receiver::default();
            receiver.script.lock().unwrap().extend(script);
            let app = Router::new().fallback(record).with_state(receiver.clone());
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await });
            (receiver, base)
        }

        fn received(&self) -> Vec<Received> {
            self.received.lock().unwrap().clone()
        }
    }

    async fn record(
        State(receiver): State<Receiver>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        receiver.received.lock().unwrap().push(Received { path: uri.path().to_owned(), headers, body });
        let status = receiver.script.lock().unwrap().pop_front().unwrap_or(200);
        StatusCode::from_u16(status).unwrap()
    }

    /// A plain HTTP/1.1 client over a TCP socket. reqwest cannot serve here: with
    /// `rustls-no-provider`, building a `reqwest::Client` panics until a crypto provider is installed
    /// process-wide, even for `http://` URLs, and this crate does not depend on rustls directly.
    struct PlainHttp;

    impl Transport for PlainHttp {
        fn post(
            &self,
            request: OutgoingRequest,
        ) -> BoxFuture<'static, Result<TransportResponse, TransportError>> {
            Box::pin(async move {
                let failed = |e: std::io::Error| TransportError(e.to_string());
                let rest = request.url.expose().strip_prefix("http://").unwrap();
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                let mut stream = TcpStream::connect(authority).await.map_err(failed)?;
                let mut head = format!(
                    "POST /{path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n",
                    request.body.len()
                );
                for (name, value) in &request.headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                stream.write_all(head.as_bytes()).await.map_err(failed)?;
                stream.write_all(&request.body).await.map_err(failed)?;
                let mut response = Vec::new();
                stream.read_to_end(&mut response).await.map_err(failed)?;
                let text = String::from_utf8_lossy(&response);
                let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap();
                Ok(TransportResponse { status, retry_after: None })
            })
        }
    }

    /// A transport that counts attempts and fails every one without a network.
    #[derive(Clone, Default)]
    struct Unreachable(Arc<Mutex<u32>>);

    impl Transport for Unreachable {
        fn post(&self, _: OutgoingRequest) -> BoxFuture<'static, Result<TransportResponse, TransportError>> {
            *self.0.lock().unwrap() += 1;
            Box::pin(async { Err(TransportError("connection refused".into())) })
        }
    }

    fn url(base: &str, path: &str) -> SecretUrl {
        SecretUrl::parse(&format!("{base}{path}")).unwrap()
    }

    fn all_channels(base: &str, secret: &str) -> NotifyConfig {
        NotifyConfig {
            slack: Some(ChatChannelConfig { webhook_url: url(base, "/slack"), events: None }),
            teams: Some(ChatChannelConfig { webhook_url: url(base, "/teams"), events: None }),
            webhook: Some(WebhookChannelConfig {
                url: url(base, "/hook"),
                secret: SigningSecret::new(secret),
                events: None,
            }),
        }
    }

    fn webhook_only(base: &str) -> NotifyConfig {
        NotifyConfig {
            webhook: Some(WebhookChannelConfig { url: url(base, "/hook"), secret: None, events: None }),
            ..NotifyConfig::default()
        }
    }

    #[tokio::test]
    async fn every_channel_receives_its_own_payload() {
        let (receiver, base) = Receiver::start(&[]).await;
        let metrics = Metrics::new();
        let notifier = Notifier::new(&all_channels(&base, "hook-secret"), PlainHttp)
            .with_retry(FAST)
            .with_observer(metrics.clone());

        let deliveries = notifier.deliver(&fixtures::applied()).await;

        assert_eq!(deliveries.len(), 3);
        assert!(
            deliveries.iter().all(|d| d.outcome == DeliveryOutcome::Delivered && d.attempts == 1),
            "{deliveries:?}"
        );
        let mut received = receiver.received();
        received.sort_by(|a, b| a.path.cmp(&b.path));
        let paths: Vec<&str> = received.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/hook", "/slack", "/teams"]);

        let hook = &received[0];
        assert_eq!(hook.json()["event"], "update_applied");
        assert_eq!(hook.json()["newImage"], "prom/node-exporter:v1.6.0");
        assert_eq!(hook.headers[EVENT_HEADER], "update_applied");
        let value = hook.headers[SIGNATURE_HEADER].to_str().unwrap();
        let secret = SigningSecret::new("hook-secret").unwrap();
        assert!(
            signature::verify(&secret, &hook.body, value).is_ok(),
            "signature must cover the received body"
        );

        assert_eq!(received[1].json()["blocks"][0]["type"], "header");
        assert!(received[1].headers.get(SIGNATURE_HEADER).is_none());
        assert_eq!(
            received[2].json()["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(received[2].headers["content-type"], "application/json");

        let rendered = metrics.render();
        for channel in ["slack", "teams", "webhook"] {
            let line = format!(r#"headwind_notifications_total{{channel="{channel}",result="success"}} 1"#);
            assert!(rendered.contains(&line), "{line} missing:\n{rendered}");
        }
    }

    #[tokio::test]
    async fn receiver_failing_twice_with_503_gets_three_attempts() {
        let (receiver, base) = Receiver::start(&[503, 503]).await;
        let notifier = Notifier::new(&webhook_only(&base), PlainHttp).with_retry(FAST);

        let deliveries = notifier.deliver(&fixtures::applied()).await;

        assert_eq!(
            deliveries,
            [Delivery { channel: ChannelKind::Webhook, outcome: DeliveryOutcome::Delivered, attempts: 3 }]
        );
        let received = receiver.received();
        assert_eq!(received.len(), 3);
        assert!(received.iter().all(|r| r.body == received[0].body), "retries must resend identical bytes");
    }

    #[tokio::test]
    async fn bad_request_is_not_retried() {
        let (receiver, base) = Receiver::start(&[400]).await;
        let metrics = Metrics::new();
        let notifier =
            Notifier::new(&webhook_only(&base), PlainHttp).with_retry(FAST).with_observer(metrics.clone());

        let deliveries = notifier.deliver(&fixtures::applied()).await;

        assert_eq!(deliveries[0].outcome, DeliveryOutcome::Rejected { status: 400 });
        assert_eq!(deliveries[0].attempts, 1);
        assert_eq!(receiver.received().len(), 1);
        assert!(
            metrics
                .render()
                .contains(r#"headwind_notifications_total{channel="webhook",result="rejected"} 1"#)
        );
    }

    #[tokio::test]
    async fn persistent_server_errors_give_up_after_the_retries() {
        let (receiver, base) = Receiver::start(&[500, 502, 503, 504, 200]).await;
        let notifier = Notifier::new(&webhook_only(&base), PlainHttp).with_retry(FAST);

        let deliveries = notifier.deliver(&fixtures::applied()).await;

        assert_eq!(deliveries[0].outcome, DeliveryOutcome::Failed { last_error: "HTTP 504".into() });
        assert_eq!(deliveries[0].attempts, 4);
        assert_eq!(receiver.received().len(), 4);
    }

    #[tokio::test]
    async fn event_filters_skip_unwanted_channels() {
        let (receiver, base) = Receiver::start(&[]).await;
        let mut config = all_channels(&base, "s");
        config.slack.as_mut().unwrap().events = Some(vec![EventKind::Failed]);
        config.teams.as_mut().unwrap().events = Some(vec![]);
        let notifier = Notifier::new(&config, PlainHttp).with_retry(FAST);

        let deliveries = notifier.deliver(&fixtures::applied()).await;

        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].channel, ChannelKind::Webhook);
        assert_eq!(receiver.received().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn unreachable_channel_waits_by_the_schedule_then_fails() {
        let transport = Unreachable::default();
        let metrics = Metrics::new();
        let notifier = Notifier::new(&webhook_only("http://127.0.0.1:9"), transport.clone())
            .with_observer(metrics.clone());
        let started = tokio::time::Instant::now();

        let deliveries = notifier.deliver(&fixtures::applied()).await;

        assert_eq!(started.elapsed(), Duration::from_secs(1 + 2 + 4));
        assert_eq!(*transport.0.lock().unwrap(), 4);
        assert_eq!(
            deliveries[0].outcome,
            DeliveryOutcome::Failed { last_error: "connection refused".into() }
        );
        assert!(
            metrics.render().contains(r#"headwind_notifications_total{channel="webhook",result="failed"} 1"#)
        );
    }

    #[tokio::test]
    async fn notify_returns_before_delivery_and_the_handle_reports_it() {
        let (receiver, base) = Receiver::start(&[503]).await;
        let notifier = Notifier::new(&webhook_only(&base), PlainHttp).with_retry(FAST);

        let handle = notifier.notify(fixtures::with_kind(EventKind::RollbackTriggered));
        let deliveries = handle.await.unwrap();

        assert_eq!(deliveries[0].attempts, 2);
        assert_eq!(receiver.received()[1].json()["event"], "rollback_triggered");
    }

    #[test]
    fn empty_config_means_an_empty_notifier_and_debug_hides_urls() {
        assert!(Notifier::new(&NotifyConfig::default(), PlainHttp).is_empty());
        let config = NotifyConfig {
            slack: Some(ChatChannelConfig {
                webhook_url: SecretUrl::parse("https://hooks.slack.com/services/T/B/SECRET").unwrap(),
                events: None,
            }),
            ..NotifyConfig::default()
        };
        let debug = format!("{:?}", Notifier::new(&config, PlainHttp));
        assert!(
            debug.contains("slack=https://hooks.slack.com/<redacted>") && !debug.contains("SECRET"),
            "{debug}"
        );
    }
}
