//! Notifications about image updates: Slack, Microsoft Teams and a signed generic webhook.
//!
//! Pure parts first: `event` is what happened, `slack`, `teams` and `generic` render it, `retry`
//! decides when to try again. `config` loads the channels with their secrets redacted, `transport`
//! is the HTTP seam, and `notifier` delivers to every channel concurrently, reporting each outcome to
//! a [`DeliveryObserver`] (the metrics).

pub mod config;
pub mod event;
pub mod generic;
pub mod notifier;
pub mod retry;
pub mod slack;
pub mod teams;
pub mod transport;

pub use config::{ChatChannelConfig, ConfigError, NotifyConfig, SecretUrl, WebhookChannelConfig};
pub use event::{EventKind, NotificationEvent, Workload};
pub use notifier::{ChannelKind, Delivery, DeliveryObserver, Notifier};
pub use retry::{DeliveryOutcome, RetryPolicy};
pub use transport::{ReqwestTransport, Transport};
