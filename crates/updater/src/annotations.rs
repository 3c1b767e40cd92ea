//! The `headwind.sh/*` annotations: their keys, defaults, and validation into an [`UpdateConfig`].
//!
//! Reading is strict and complete: a value that does not parse is an error naming the annotation
//! and the value (never a silent default), and every bad value is reported at once, so a user
//! fixes their manifest in one round trip. Defaults are those of the seed documentation; the
//! `event-source` default (`webhook`) is Headwind's own (`EventSource::default()` in its
//! `src/models/policy.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::image::ImageRef;
use crate::policy::{Policy, PolicyError};

/// The prefix every annotation of ours starts with.
pub const PREFIX: &str = "headwind.sh/";
/// Update policy: `none`, `patch`, `minor`, `major`, `all`, `glob`, `force`.
pub const POLICY: &str = "headwind.sh/policy";
/// Glob over tags, required by the `glob` policy.
pub const PATTERN: &str = "headwind.sh/pattern";
/// Whether updates wait for an approval (`true`/`false`).
pub const REQUIRE_APPROVAL: &str = "headwind.sh/require-approval";
/// Seconds that must pass between two applied updates.
pub const MIN_UPDATE_INTERVAL: &str = "headwind.sh/min-update-interval";
/// Comma-separated images whose containers are tracked.
pub const IMAGES: &str = "headwind.sh/images";
/// Whether a failed rollout is rolled back automatically (`true`/`false`).
pub const AUTO_ROLLBACK: &str = "headwind.sh/auto-rollback";
/// Seconds of health monitoring after an update.
pub const ROLLBACK_TIMEOUT: &str = "headwind.sh/rollback-timeout";
/// Failed health checks tolerated before rolling back.
pub const HEALTH_CHECK_RETRIES: &str = "headwind.sh/health-check-retries";
/// How new images are detected: `webhook`, `polling`, `both`, `none`.
pub const EVENT_SOURCE: &str = "headwind.sh/event-source";
/// Seconds between registry polls for this workload (overrides the global interval).
pub const POLLING_INTERVAL: &str = "headwind.sh/polling-interval";
/// Written by us: when the last update was applied (RFC 3339).
pub const LAST_UPDATE: &str = "headwind.sh/last-update";
/// Written by us: JSON array of applied updates, newest first (see `crate::history`).
pub const UPDATE_HISTORY: &str = "headwind.sh/update-history";

/// Every annotation key we read or write, to recognise typos in the others.
pub const KNOWN: [&str; 12] = [
    POLICY,
    PATTERN,
    REQUIRE_APPROVAL,
    MIN_UPDATE_INTERVAL,
    IMAGES,
    AUTO_ROLLBACK,
    ROLLBACK_TIMEOUT,
    HEALTH_CHECK_RETRIES,
    EVENT_SOURCE,
    POLLING_INTERVAL,
    LAST_UPDATE,
    UPDATE_HISTORY,
];

/// Default of `require-approval`: a human approves unless told otherwise.
pub const DEFAULT_REQUIRE_APPROVAL: bool = true;
/// Default of `min-update-interval`: five minutes, from the seed.
pub const DEFAULT_MIN_UPDATE_INTERVAL: Duration = Duration::from_secs(300);
/// Default of `auto-rollback`: off, rolling back is a decision users opt into.
pub const DEFAULT_AUTO_ROLLBACK: bool = false;
/// Default of `rollback-timeout`: five minutes, from the seed.
pub const DEFAULT_ROLLBACK_TIMEOUT: Duration = Duration::from_secs(300);
/// Default of `health-check-retries`, from the seed.
pub const DEFAULT_HEALTH_CHECK_RETRIES: NonZeroU32 = NonZeroU32::MIN.saturating_add(2);
/// Shortest accepted `polling-interval`: registries rate-limit tag listing (Docker Hub allows
/// a few hundred anonymous requests per hour), and one workload must not exhaust that alone.
pub const MIN_POLLING_INTERVAL: Duration = Duration::from_secs(10);

/// One invalid annotation value. Not retryable: the annotation must be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{annotation}: {}{message}", ValuePrefix(.value))]
pub struct ConfigError {
    /// The annotation key.
    pub annotation: &'static str,
    /// The value as found; `None` when the annotation is missing but required.
    pub value: Option<String>,
    /// What a valid value looks like.
    pub message: String,
}

/// Renders `invalid value "x": ` before the message when there is a value.
struct ValuePrefix<'a>(&'a Option<String>);

impl fmt::Display for ValuePrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "invalid value {value:?}: "),
            None => Ok(()),
        }
    }
}

/// How new images are detected for a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EventSource {
    /// Registry webhooks only (Headwind's default).
    #[default]
    Webhook,
    /// Registry polling only.
    Polling,
    /// Both, for redundancy.
    Both,
    /// Neither: only manually created UpdateRequests.
    None,
}

impl EventSource {
    /// Whether registry webhooks may trigger updates of this workload.
    pub fn accepts_webhooks(self) -> bool {
        matches!(self, EventSource::Webhook | EventSource::Both)
    }

    /// Whether this workload's images are polled.
    pub fn polls(self) -> bool {
        matches!(self, EventSource::Polling | EventSource::Both)
    }

    /// The annotation value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Webhook => "webhook",
            EventSource::Polling => "polling",
            EventSource::Both => "both",
            EventSource::None => "none",
        }
    }
}

impl fmt::Display for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A workload's validated update configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateConfig {
    /// The update policy (never [`Policy::None`]: such workloads have no configuration).
    pub policy: Policy,
    /// Whether an update waits for approval.
    pub require_approval: bool,
    /// Time that must pass between two applied updates.
    pub min_update_interval: Duration,
    /// The images to track; `None` tracks every regular container (see [`UpdateConfig::tracks`]).
    pub images: Option<Vec<ImageRef>>,
    /// Whether a failed rollout is rolled back automatically.
    pub auto_rollback: bool,
    /// How long the rollout is watched after an update (at least one second).
    pub rollback_timeout: Duration,
    /// Failed health checks tolerated before rolling back.
    pub health_check_retries: NonZeroU32,
    /// How new images are detected.
    pub event_source: EventSource,
    /// This workload's polling interval; `None` uses the global one.
    pub polling_interval: Option<Duration>,
}

impl UpdateConfig {
    /// A configuration with `policy` and every other setting at its default.
    pub fn new(policy: Policy) -> UpdateConfig {
        UpdateConfig {
            policy,
            require_approval: DEFAULT_REQUIRE_APPROVAL,
            min_update_interval: DEFAULT_MIN_UPDATE_INTERVAL,
            images: None,
            auto_rollback: DEFAULT_AUTO_ROLLBACK,
            rollback_timeout: DEFAULT_ROLLBACK_TIMEOUT,
            health_check_retries: DEFAULT_HEALTH_CHECK_RETRIES,
            event_source: EventSource::default(),
            polling_interval: None,
        }
    }

    /// Reads a workload's annotations.
    ///
    /// `Ok(None)` when there is no policy annotation or it is `none` (the other annotations are
    /// then not looked at: nothing will use them). Otherwise every annotation is validated and
    /// all invalid values are returned together. A pattern given to a non-glob policy is ignored.
    pub fn from_annotations(
        annotations: &BTreeMap<String, String>,
    ) -> Result<Option<UpdateConfig>, Vec<ConfigError>> {
        let Some(raw_policy) = annotations.get(POLICY) else {
            return Ok(None);
        };
        let mut errors = Vec::new();
        let pattern = annotations.get(PATTERN).map(String::as_str);
        let policy = match Policy::parse(raw_policy, pattern) {
            Ok(Policy::None) => return Ok(None),
            Ok(policy) => Some(policy),
            Err(err) => {
                errors.push(policy_error(err, raw_policy, pattern));
                None
            }
        };

        let mut read = Reader { annotations, errors };
        let config_without_policy = UpdateConfig {
            policy: Policy::None,
            require_approval: read.value(REQUIRE_APPROVAL, DEFAULT_REQUIRE_APPROVAL, parse_bool),
            min_update_interval: read
                .value(MIN_UPDATE_INTERVAL, DEFAULT_MIN_UPDATE_INTERVAL, |v| parse_seconds(v, 0)),
            images: read.images(),
            auto_rollback: read.value(AUTO_ROLLBACK, DEFAULT_AUTO_ROLLBACK, parse_bool),
            rollback_timeout: read.value(ROLLBACK_TIMEOUT, DEFAULT_ROLLBACK_TIMEOUT, |v| parse_seconds(v, 1)),
            health_check_retries: read.value(
                HEALTH_CHECK_RETRIES,
                DEFAULT_HEALTH_CHECK_RETRIES,
                parse_retries,
            ),
            event_source: read.value(EVENT_SOURCE, EventSource::default(), parse_event_source),
            polling_interval: read
                .optional(POLLING_INTERVAL, |v| parse_seconds(v, MIN_POLLING_INTERVAL.as_secs())),
        };
        match policy {
            Some(policy) if read.errors.is_empty() => {
                Ok(Some(UpdateConfig { policy, ..config_without_policy }))
            }
            _ => Err(read.errors),
        }
    }

    /// Whether a container running `image` is tracked.
    ///
    /// Without `headwind.sh/images`, every regular container is tracked and no init container:
    /// init containers are usually tooling pinned on purpose. With it, exactly the containers
    /// whose image repository is listed (whatever the spelling, tag or digest), init containers
    /// included when listed, since naming the image is an explicit request.
    pub fn tracks(&self, image: &ImageRef, init_container: bool) -> bool {
        match &self.images {
            None => !init_container,
            Some(listed) => listed.iter().any(|listed| listed.same_repository(image)),
        }
    }
}

/// Maps a policy error to the annotation at fault.
fn policy_error(err: PolicyError, raw_policy: &str, pattern: Option<&str>) -> ConfigError {
    match err {
        PolicyError::Unknown { value } => ConfigError {
            annotation: POLICY,
            value: Some(value),
            message: "must be one of none, patch, minor, major, all, glob, force".to_owned(),
        },
        PolicyError::MissingPattern => ConfigError {
            annotation: PATTERN,
            value: pattern.map(str::to_owned),
            message: format!(
                "the {raw_policy:?} policy requires a glob pattern over tags, e.g. \"*-stable\""
            ),
        },
        PolicyError::InvalidPattern { pattern, source } => ConfigError {
            annotation: PATTERN,
            value: Some(pattern),
            message: format!("not a valid glob: {}", source.kind()),
        },
    }
}

/// Reads annotations, collecting every error instead of stopping at the first.
struct Reader<'a> {
    annotations: &'a BTreeMap<String, String>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    /// The parsed value, or `default` when absent (or invalid, after recording the error: the
    /// configuration is discarded then, the default only keeps the reading going).
    fn value<T>(&mut self, key: &'static str, default: T, parse: impl Fn(&str) -> Result<T, String>) -> T {
        self.optional(key, parse).unwrap_or(default)
    }

    fn optional<T>(&mut self, key: &'static str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let raw = self.annotations.get(key)?;
        match parse(raw) {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors.push(ConfigError { annotation: key, value: Some(raw.clone()), message });
                None
            }
        }
    }

    /// `headwind.sh/images`: items trimmed, empty items skipped (a trailing comma is harmless),
    /// and an annotation with no items at all treated as absent, as Headwind documents
    /// ("empty = all"). Each bad item is its own error.
    fn images(&mut self) -> Option<Vec<ImageRef>> {
        let raw = self.annotations.get(IMAGES)?;
        let mut images = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            match ImageRef::parse(item) {
                Ok(image) => images.push(image),
                Err(err) => self.errors.push(ConfigError {
                    annotation: IMAGES,
                    value: Some(item.to_owned()),
                    message: err.to_string(),
                }),
            }
        }
        if images.is_empty() { None } else { Some(images) }
    }
}

/// `true` or `false`, in any case; nothing else (`yes`, `1`, `on` are refused, not guessed).
fn parse_bool(value: &str) -> Result<bool, String> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err("must be true or false".to_owned())
    }
}

/// A non-negative decimal integer: digits only (no sign, unit, space or exponent).
fn parse_whole(value: &str, what: &str) -> Result<u64, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("must be a whole number of {what}"));
    }
    value.parse().map_err(|_| format!("is too large a number of {what}"))
}

fn parse_seconds(value: &str, minimum: u64) -> Result<Duration, String> {
    let seconds = parse_whole(value, "seconds")?;
    if seconds < minimum {
        let unit = if minimum == 1 { "second" } else { "seconds" };
        return Err(format!("must be at least {minimum} {unit}"));
    }
    Ok(Duration::from_secs(seconds))
}

fn parse_retries(value: &str) -> Result<NonZeroU32, String> {
    let retries = parse_whole(value, "retries")?;
    let retries = u32::try_from(retries).map_err(|_| "is too large a number of retries".to_owned())?;
    NonZeroU32::new(retries).ok_or_else(|| "must be at least 1".to_owned())
}

fn parse_event_source(value: &str) -> Result<EventSource, String> {
    [EventSource::Webhook, EventSource::Polling, EventSource::Both, EventSource::None]
        .into_iter()
        .find(|source| value.eq_ignore_ascii_case(source.as_str()))
        .ok_or_else(|| "must be one of webhook, polling, both, none".to_owned())
}

/// Annotation keys under [`PREFIX`] that we do not know: most likely typos
/// (`headwind.sh/polcy`), worth a warning since they silently do nothing.
pub fn unknown_keys(annotations: &BTreeMap<String, String>) -> Vec<&str> {
    annotations
        .keys()
        .map(String::as_str)
        .filter(|key| key.starts_with(PREFIX) && !KNOWN.contains(key))
        .collect()
}

/// When the last update was applied, from `headwind.sh/last-update`.
///
/// Accepts RFC 3339, and the form Headwind writes for DaemonSets,
/// `"<rfc3339> (approved by X)"`, which Headwind itself then failed to parse and so skipped the
/// interval. An unreadable value is an error, never "no previous update".
pub fn last_update(annotations: &BTreeMap<String, String>) -> Result<Option<Timestamp>, ConfigError> {
    let Some(raw) = annotations.get(LAST_UPDATE) else {
        return Ok(None);
    };
    let timestamp = raw.split(' ').next().unwrap_or_default();
    timestamp.parse::<Timestamp>().map(Some).map_err(|_| ConfigError {
        annotation: LAST_UPDATE,
        value: Some(raw.clone()),
        message: "must be an RFC 3339 timestamp, e.g. 2025-11-06T10:30:00Z".to_owned(),
    })
}

/// The value to write into `headwind.sh/last-update`: plain RFC 3339 in UTC.
pub fn last_update_value(applied_at: Timestamp) -> String {
    applied_at.to_string()
}

/// How long until another update may be applied: zero when `min_interval` has passed since
/// `last` (or there was no update). A `last` in the future (clock skew, a hand-edited value)
/// counts as "just now plus the skew": the interval is waited out rather than skipped.
pub fn interval_remaining(last: Option<Timestamp>, now: Timestamp, min_interval: Duration) -> Duration {
    let Some(last) = last else {
        return Duration::ZERO;
    };
    // Intervals beyond SignedDuration's range (about 292 billion years) never elapse.
    let min_interval = SignedDuration::try_from(min_interval).unwrap_or(SignedDuration::MAX);
    let remaining = min_interval.saturating_sub(now.duration_since(last));
    // Negative (already elapsed) converts to an error: zero remaining.
    Duration::try_from(remaining).unwrap_or(Duration::ZERO)
}

/// Whether `min_interval` has passed since `last` (see [`interval_remaining`]).
pub fn interval_elapsed(last: Option<Timestamp>, now: Timestamp, min_interval: Duration) -> bool {
    interval_remaining(last, now, min_interval).is_zero()
}

#[cfg(test)]
mod tests;
