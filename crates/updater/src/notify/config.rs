//! Which channels to notify, from a config file or a Kubernetes Secret, with every secret redacted.
//!
//! Slack and Teams webhook URLs are credentials themselves (anyone holding one can post to the
//! channel), and so is the generic webhook's HMAC secret. None of them is ever printed: `Debug` shows
//! only the scheme and host, and errors name the offending key, never its value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::event::{EventKind, UnknownEventKind};
use crate::webhook::signature::SigningSecret;

/// Result alias for configuration loading.
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// Secret data key holding the Slack incoming-webhook URL.
pub const SLACK_URL_KEY: &str = "slack-webhook-url";
/// Secret data key holding the Teams Workflows webhook URL.
pub const TEAMS_URL_KEY: &str = "teams-webhook-url";
/// Secret data key holding the generic webhook URL.
pub const WEBHOOK_URL_KEY: &str = "webhook-url";
/// Secret data key holding the generic webhook's HMAC secret.
pub const WEBHOOK_SECRET_KEY: &str = "webhook-secret";
/// Secret data keys holding comma-separated event filters, per channel.
pub const SLACK_EVENTS_KEY: &str = "slack-events";
/// See [`SLACK_EVENTS_KEY`].
pub const TEAMS_EVENTS_KEY: &str = "teams-events";
/// See [`SLACK_EVENTS_KEY`].
pub const WEBHOOK_EVENTS_KEY: &str = "webhook-events";

/// The notification channels. Absent channels are off; with none configured nothing is sent.
///
/// File form (JSON; the same keys work in YAML):
/// `{"slack": {"webhookUrl": "https://hooks.slack.com/services/..."},
///   "teams": {"webhookUrl": "https://...", "events": ["update_applied", "update_failed"]},
///   "webhook": {"url": "https://hooks.example.com/everynode", "secret": "..."}}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotifyConfig {
    /// Slack incoming webhook.
    #[serde(default)]
    pub slack: Option<ChatChannelConfig>,
    /// Microsoft Teams Workflows webhook.
    #[serde(default)]
    pub teams: Option<ChatChannelConfig>,
    /// Generic JSON webhook, signed when a secret is set.
    #[serde(default)]
    pub webhook: Option<WebhookChannelConfig>,
}

/// A chat channel reached through an incoming-webhook URL.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatChannelConfig {
    /// The webhook URL (a credential).
    pub webhook_url: SecretUrl,
    /// Which events to send; all when absent, none when empty.
    #[serde(default)]
    pub events: Option<Vec<EventKind>>,
}

/// The generic JSON webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookChannelConfig {
    /// Where to POST (treated as a credential too: such URLs often embed tokens).
    pub url: SecretUrl,
    /// HMAC key for `X-Everynode-Signature`; without it deliveries are unsigned.
    #[serde(default)]
    pub secret: Option<SigningSecret>,
    /// Which events to send; all when absent, none when empty.
    #[serde(default)]
    pub events: Option<Vec<EventKind>>,
}

/// Whether a channel's `events` filter lets `kind` through.
pub(super) fn wants(filter: Option<&[EventKind]>, kind: EventKind) -> bool {
    filter.is_none_or(|kinds| kinds.contains(&kind))
}

impl NotifyConfig {
    /// Reads a JSON config file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_json(&bytes)
    }

    /// Parses the JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(ConfigError::Parse)
    }

    /// Builds the config from a Kubernetes Secret's `data` (keys [`SLACK_URL_KEY`], [`TEAMS_URL_KEY`],
    /// [`WEBHOOK_URL_KEY`], [`WEBHOOK_SECRET_KEY`] and the optional `*-events` filters). Other keys
    /// are ignored, so the Secret may hold unrelated data. Values are trimmed, because
    /// `echo url | kubectl create secret` leaves a trailing newline.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self> {
        let slack = match text(data, SLACK_URL_KEY)? {
            Some(url) => Some(ChatChannelConfig {
                webhook_url: url_at(SLACK_URL_KEY, url)?,
                events: events_at(data, SLACK_EVENTS_KEY)?,
            }),
            None => None,
        };
        let teams = match text(data, TEAMS_URL_KEY)? {
            Some(url) => Some(ChatChannelConfig {
                webhook_url: url_at(TEAMS_URL_KEY, url)?,
                events: events_at(data, TEAMS_EVENTS_KEY)?,
            }),
            None => None,
        };
        let secret = text(data, WEBHOOK_SECRET_KEY)?.and_then(SigningSecret::new);
        let webhook = match (text(data, WEBHOOK_URL_KEY)?, secret) {
            (Some(url), secret) => Some(WebhookChannelConfig {
                url: url_at(WEBHOOK_URL_KEY, url)?,
                secret,
                events: events_at(data, WEBHOOK_EVENTS_KEY)?,
            }),
            (None, Some(_)) => return Err(ConfigError::SecretWithoutUrl),
            (None, None) => None,
        };
        Ok(NotifyConfig { slack, teams, webhook })
    }

    /// Whether no channel is configured.
    pub fn is_empty(&self) -> bool {
        self.slack.is_none() && self.teams.is_none() && self.webhook.is_none()
    }
}

/// The trimmed UTF-8 value of `key`, `None` when absent or blank.
fn text<'a>(data: &'a BTreeMap<String, Vec<u8>>, key: &str) -> Result<Option<&'a str>> {
    let Some(bytes) = data.get(key) else { return Ok(None) };
    let value = std::str::from_utf8(bytes).map_err(|_| ConfigError::NotUtf8 { key: key.to_owned() })?.trim();
    Ok((!value.is_empty()).then_some(value))
}

fn url_at(key: &str, url: &str) -> Result<SecretUrl> {
    SecretUrl::parse(url).map_err(|source| ConfigError::InvalidUrl { key: key.to_owned(), source })
}

fn events_at(data: &BTreeMap<String, Vec<u8>>, key: &str) -> Result<Option<Vec<EventKind>>> {
    let Some(list) = text(data, key)? else { return Ok(None) };
    let kinds = list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::parse)
        .collect::<std::result::Result<Vec<EventKind>, _>>()
        .map_err(|source| ConfigError::UnknownEvent { key: key.to_owned(), source })?;
    Ok(Some(kinds))
}

/// Why a notification config could not be loaded. None is retryable without changing the config,
/// except `Read`, which may be a file not mounted yet.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read notification config {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid JSON for [`NotifyConfig`].
    #[error("notification config is invalid")]
    Parse(#[source] serde_json::Error),
    /// A Secret value is not UTF-8.
    #[error("secret key `{key}` is not UTF-8 text")]
    NotUtf8 {
        /// The Secret data key.
        key: String,
    },
    /// A Secret value is not a usable URL.
    #[error("secret key `{key}` does not hold a usable URL")]
    InvalidUrl {
        /// The Secret data key.
        key: String,
        /// What is wrong (never the URL itself).
        #[source]
        source: UrlError,
    },
    /// A `*-events` filter names an unknown event.
    #[error("secret key `{key}` has an invalid event filter")]
    UnknownEvent {
        /// The Secret data key.
        key: String,
        /// The unknown name.
        #[source]
        source: UnknownEventKind,
    },
    /// `webhook-secret` without `webhook-url`: almost certainly a typo, so refuse rather than ignore.
    #[error("secret key `{WEBHOOK_SECRET_KEY}` is set but `{WEBHOOK_URL_KEY}` is not")]
    SecretWithoutUrl,
}

/// Why a string is not a usable webhook URL. Messages never quote the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not `http://` or `https://`.
    #[error("URL must start with http:// or https://")]
    Scheme,
    /// Nothing after the scheme.
    #[error("URL has no host")]
    Host,
    /// Contains whitespace or control characters.
    #[error("URL contains whitespace or control characters")]
    Characters,
}

/// A webhook URL treated as a secret: `Debug` shows only scheme and host.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Checks the scheme and host. Plain `http` is allowed for in-cluster receivers and tests.
    pub fn parse(url: &str) -> std::result::Result<Self, UrlError> {
        let url = url.trim();
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::Characters);
        }
        let rest =
            url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or(UrlError::Scheme)?;
        if host_of(rest).is_empty() {
            return Err(UrlError::Host);
        }
        Ok(SecretUrl(url.to_owned()))
    }

    /// The full URL, for the HTTP client only. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `scheme://host[:port]/<redacted>`: enough to tell channels apart in logs.
    pub fn redacted(&self) -> String {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        format!("{scheme}://{}/<redacted>", host_of(rest))
    }
}

/// The `host[:port]` of what follows `scheme://`, without any `user:password@`.
fn host_of(after_scheme: &str) -> &str {
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit_once('@').map_or(authority, |(_, host)| host)
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretUrl").field(&self.redacted()).finish()
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SecretUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK_URL: &str = "https://hooks.slack.com/services/T0000/B0000/XXXXSECRETXXXX";
    const TEAMS_URL: &str =
        "https://prod-01.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=SIGSECRET";

    fn secret_data(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        entries.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect()
    }

    #[test]
    fn file_form_parses_every_channel() {
        let json = format!(
            r#"{{"slack": {{"webhookUrl": "{SLACK_URL}"}},
                "teams": {{"webhookUrl": "{TEAMS_URL}", "events": ["update_applied", "rollback_triggered"]}},
                "webhook": {{"url": "http://127.0.0.1:8080/hook", "secret": "hmac-secret"}}}}"#
        );
        let config = NotifyConfig::from_json(json.as_bytes()).unwrap();
        assert_eq!(config.slack.as_ref().unwrap().webhook_url.expose(), SLACK_URL);
        assert_eq!(
            config.teams.as_ref().unwrap().events.as_deref(),
            Some(&[EventKind::Applied, EventKind::RollbackTriggered][..])
        );
        let webhook = config.webhook.as_ref().unwrap();
        assert_eq!(webhook.secret.as_ref().unwrap().expose(), b"hmac-secret");
        assert!(webhook.events.is_none());
    }

    #[test]
    fn file_form_rejects_typos_and_bad_urls() {
        assert!(NotifyConfig::from_json(br#"{"slack": {"webhookURL": "https://x"}}"#).is_err());
        assert!(NotifyConfig::from_json(br#"{"slak": {}}"#).is_err());
        let err = NotifyConfig::from_json(br#"{"slack": {"webhookUrl": "ftp://hooks/SECRET"}}"#).unwrap_err();
        let chain = format!("{err} {:?}", std::error::Error::source(&err));
        assert!(chain.contains("http://") && !chain.contains("SECRET"), "{chain}");
        assert!(NotifyConfig::from_json(br#"{"webhook": {"url": "https://x", "secret": ""}}"#).is_err());
        assert!(
            NotifyConfig::from_json(br#"{"teams": {"webhookUrl": "https://x", "events": ["nope"]}}"#)
                .is_err()
        );
    }

    #[test]
    fn from_file_reads_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.json");
        std::fs::write(&path, format!(r#"{{"slack": {{"webhookUrl": "{SLACK_URL}"}}}}"#)).unwrap();
        let config = NotifyConfig::from_file(&path).unwrap();
        assert!(config.slack.is_some() && config.teams.is_none());
        let missing = NotifyConfig::from_file(dir.path().join("absent.json")).unwrap_err();
        assert!(matches!(missing, ConfigError::Read { .. }));
    }

    #[test]
    fn secret_data_builds_every_channel_and_trims_newlines() {
        let data = secret_data(&[
            (SLACK_URL_KEY, &format!("{SLACK_URL}\n")),
            (TEAMS_URL_KEY, TEAMS_URL),
            (WEBHOOK_URL_KEY, "https://hooks.example.com/everynode"),
            (WEBHOOK_SECRET_KEY, "hmac-secret\n"),
            (WEBHOOK_EVENTS_KEY, "update_applied, update_failed"),
            ("unrelated", "ignored"),
        ]);
        let config = NotifyConfig::from_secret_data(&data).unwrap();
        assert_eq!(config.slack.unwrap().webhook_url.expose(), SLACK_URL);
        assert_eq!(config.teams.unwrap().webhook_url.expose(), TEAMS_URL);
        let webhook = config.webhook.unwrap();
        assert_eq!(webhook.secret.unwrap().expose(), b"hmac-secret");
        assert_eq!(webhook.events, Some(vec![EventKind::Applied, EventKind::Failed]));
    }

    #[test]
    fn empty_secret_data_configures_nothing() {
        assert!(NotifyConfig::from_secret_data(&BTreeMap::new()).unwrap().is_empty());
    }

    #[test]
    fn secret_data_errors_name_the_key_not_the_value() {
        let bad_url = secret_data(&[(SLACK_URL_KEY, "hooks.slack.com/services/SECRET")]);
        let err = NotifyConfig::from_secret_data(&bad_url).unwrap_err();
        assert!(err.to_string().contains(SLACK_URL_KEY) && !format!("{err:?}").contains("SECRET"), "{err:?}");

        let mut not_utf8 = BTreeMap::new();
        not_utf8.insert(TEAMS_URL_KEY.to_owned(), vec![0xff, 0xfe]);
        assert!(matches!(NotifyConfig::from_secret_data(&not_utf8), Err(ConfigError::NotUtf8 { .. })));

        let orphan_secret = secret_data(&[(WEBHOOK_SECRET_KEY, "s")]);
        assert!(matches!(NotifyConfig::from_secret_data(&orphan_secret), Err(ConfigError::SecretWithoutUrl)));

        let bad_events =
            secret_data(&[(SLACK_URL_KEY, SLACK_URL), (SLACK_EVENTS_KEY, "update_applied,typo")]);
        assert!(matches!(NotifyConfig::from_secret_data(&bad_events), Err(ConfigError::UnknownEvent { .. })));
    }

    #[test]
    fn debug_output_redacts_urls_and_secrets() {
        let data = secret_data(&[
            (SLACK_URL_KEY, SLACK_URL),
            (TEAMS_URL_KEY, TEAMS_URL),
            (WEBHOOK_URL_KEY, "https://user:PASSWORD@hooks.example.com/path?token=TOKEN"),
            (WEBHOOK_SECRET_KEY, "HMACSECRET"),
        ]);
        let debug = format!("{:?}", NotifyConfig::from_secret_data(&data).unwrap());
        for secret in
            ["XXXXSECRETXXXX", "SIGSECRET", "PASSWORD", "TOKEN", "HMACSECRET", "services", "workflows"]
        {
            assert!(!debug.contains(secret), "`{secret}` leaked: {debug}");
        }
        assert!(debug.contains("https://hooks.slack.com/<redacted>"), "{debug}");
        assert!(debug.contains("https://prod-01.westus.logic.azure.com:443/<redacted>"), "{debug}");
        assert!(debug.contains("https://hooks.example.com/<redacted>"), "{debug}");
    }

    #[test]
    fn event_filter_absent_means_all_and_empty_means_none() {
        assert!(wants(None, EventKind::Applied));
        assert!(!wants(Some(&[]), EventKind::Applied));
        assert!(wants(Some(&[EventKind::Applied]), EventKind::Applied));
        assert!(!wants(Some(&[EventKind::Applied]), EventKind::Failed));
    }
}
