//! Registry credentials from Kubernetes image pull Secrets, matched to a registry as the kubelet does.
//!
//! The updater must poll with the credentials the kubelet would pull with, or it proposes images
//! that nodes cannot pull (or sees nothing that nodes can). So the matching below follows the
//! kubelet's `credentialprovider` keyring rather than inventing a rule:
//!
//! - A key is read as a URL without its scheme; a `/v1/` or `/v2/` path prefix means the host itself
//!   (`https://index.docker.io/v1/` is the key `index.docker.io`).
//! - A key matches an image `host/repository` when the ports are equal, the hosts have as many
//!   dot-separated labels and each label matches (a key label may be a glob, `*.example.com`), and the
//!   key's path is a string prefix of the repository path (the kubelet's rule, kept as it is: the
//!   key `reg/team` also matches `reg/team-b/app`).
//! - Within one secret, keys are tried in reverse lexical order, so `quay.io/coreos` wins over
//!   `quay.io`; across secrets, the first listed secret wins (the pod's `imagePullSecrets`, then the
//!   service account's, in the order the caller passes them).
//! - A Docker Hub image that no key matched falls back to the `index.docker.io` key; we also accept
//!   `registry-1.docker.io` there, which the kubelet does not, because it names the same registry.
//!
//! Secrets are never logged: [`Credentials`] redacts its password in `Debug`, and no error message
//! quotes secret content (serde and base64 errors quote the offending value, so only their position
//! is kept).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;

/// `type` of a Secret holding a `~/.docker/config.json` (`kubernetes.io/dockerconfigjson`).
pub const DOCKER_CONFIG_JSON_TYPE: &str = "kubernetes.io/dockerconfigjson";
/// Data key of a `kubernetes.io/dockerconfigjson` Secret.
pub const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";
/// `type` of a Secret in the legacy `~/.dockercfg` format (`kubernetes.io/dockercfg`).
pub const DOCKERCFG_TYPE: &str = "kubernetes.io/dockercfg";
/// Data key of a `kubernetes.io/dockercfg` Secret.
pub const DOCKERCFG_KEY: &str = ".dockercfg";

/// The host Docker Hub images are normalised to (`nginx` is `docker.io/library/nginx`).
const DOCKER_HUB: &str = "docker.io";
/// Keys the kubelet uses for Docker Hub images when no key matched the image itself.
const DOCKER_HUB_FALLBACK_KEYS: [&str; 2] = ["index.docker.io", "registry-1.docker.io"];
/// Every spelling of Docker Hub's host; all of them mean [`DOCKER_HUB`].
const DOCKER_HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// Why a Secret could not be read as an image pull secret.
///
/// None of these is retryable: the Secret has to be fixed. Callers should report the error on the
/// workload (and skip the secret, as the kubelet fails the pull) rather than poll anonymously in
/// silence. Messages name the key and position but never quote secret content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The Secret is of another type; the kubelet ignores such secrets in `imagePullSecrets`.
    #[error(
        "secret type {secret_type:?} is not an image pull secret ({DOCKER_CONFIG_JSON_TYPE} or {DOCKERCFG_TYPE})"
    )]
    NotAPullSecret {
        /// The Secret's `type` (empty when unset).
        secret_type: String,
    },
    /// The data key its type requires is missing or empty.
    #[error("image pull secret has no data under {key}")]
    MissingKey {
        /// `.dockerconfigjson` or `.dockercfg`.
        key: &'static str,
    },
    /// The data is not the JSON document its type promises.
    #[error("{key} is not valid docker config JSON ({category} error at line {line}, column {column})")]
    Json {
        /// `.dockerconfigjson` or `.dockercfg`.
        key: &'static str,
        /// serde_json's error category (`syntax`, `data`, `eof`, `io`).
        category: &'static str,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// An entry's `auth` field is not base64.
    #[error("the auth field for {registry} is not valid base64")]
    Base64 {
        /// The entry's key as written in the secret.
        registry: String,
    },
    /// An entry's `auth` field decodes to something other than UTF-8 `username:password`.
    #[error("the auth field for {registry} does not decode to username:password")]
    AuthFormat {
        /// The entry's key as written in the secret.
        registry: String,
    },
}

/// Result of reading pull secrets.
pub type Result<T, E = AuthError> = std::result::Result<T, E>;

/// A username and password for a registry (HTTP basic auth, or the input of a bearer-token exchange).
///
/// `Debug` prints the username only, so credentials can travel inside structs that get logged.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// The registry user (for cloud registries often a fixed name such as `_json_key` or `AWS`).
    pub username: String,
    password: String,
}

impl Credentials {
    /// Credentials from their parts.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self { username: username.into(), password: password.into() }
    }

    /// The password or token. Kept behind a method so that reading it is a visible, greppable act.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The credentials of one image pull Secret, keyed the way the kubelet keys them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PullSecret {
    /// In the kubelet's lookup order: reverse lexical order of the normalised keys.
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// Normalised key: `host[:port][/path]`, lowercase host, no scheme, no `/v1/` or `/v2/`.
    key: String,
    credentials: Credentials,
}

/// One registry entry of a docker config, as both formats spell it.
#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    /// base64 of `username:password`; overrides the two fields above, as in the kubelet.
    #[serde(default)]
    auth: Option<String>,
}

#[derive(Deserialize)]
struct DockerConfigJson {
    #[serde(default)]
    auths: BTreeMap<String, RawEntry>,
}

impl PullSecret {
    /// Reads a Kubernetes Secret of type `kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg`.
    ///
    /// Like the kubelet, the type decides the format; a secret of another type is an error here so
    /// that the caller can say why a listed secret was not used.
    pub fn from_secret(secret: &Secret) -> Result<Self> {
        let secret_type = secret.type_.as_deref().unwrap_or_default();
        let key = match secret_type {
            DOCKER_CONFIG_JSON_TYPE => DOCKER_CONFIG_JSON_KEY,
            DOCKERCFG_TYPE => DOCKERCFG_KEY,
            other => return Err(AuthError::NotAPullSecret { secret_type: other.to_owned() }),
        };
        let bytes = match secret.data.as_ref().and_then(|data| data.get(key)) {
            Some(bytes) if !bytes.0.is_empty() => &bytes.0,
            _ => return Err(AuthError::MissingKey { key }),
        };
        if key == DOCKER_CONFIG_JSON_KEY {
            Self::from_docker_config_json(bytes)
        } else {
            Self::from_dockercfg(bytes)
        }
    }

    /// Reads the (already base64-decoded) `.dockerconfigjson` value: `{"auths": {key: entry}}`.
    pub fn from_docker_config_json(bytes: &[u8]) -> Result<Self> {
        let config: DockerConfigJson = parse_json(bytes, DOCKER_CONFIG_JSON_KEY)?;
        Self::from_entries(config.auths)
    }

    /// Reads the (already base64-decoded) legacy `.dockercfg` value: `{key: entry}`.
    pub fn from_dockercfg(bytes: &[u8]) -> Result<Self> {
        let entries: BTreeMap<String, RawEntry> = parse_json(bytes, DOCKERCFG_KEY)?;
        Self::from_entries(entries)
    }

    fn from_entries(raw: BTreeMap<String, RawEntry>) -> Result<Self> {
        let mut entries = Vec::with_capacity(raw.len());
        for (registry, entry) in raw {
            let credentials = match entry.auth.filter(|auth| !auth.is_empty()) {
                Some(auth) => decode_auth(&registry, &auth)?,
                None => {
                    Credentials::new(entry.username.unwrap_or_default(), entry.password.unwrap_or_default())
                }
            };
            // An entry without credentials would only make the kubelet pull anonymously; treating
            // it as absent lets a less specific key with real credentials apply instead.
            if credentials.username.is_empty() && credentials.password.is_empty() {
                continue;
            }
            entries.push(Entry { key: normalize_key(&registry), credentials });
        }
        // The kubelet sorts its index in reverse so that longer, more specific keys come first.
        entries.sort_by(|a, b| b.key.cmp(&a.key));
        Ok(Self { entries })
    }

    /// The credentials this secret holds for an image in `repository` on `registry`, if any.
    pub fn credentials_for(&self, registry: &str, repository: &str) -> Option<&Credentials> {
        let target = Target::new(registry, repository);
        self.entries
            .iter()
            .find(|entry| target.matches(&entry.key))
            .or_else(|| {
                if !target.docker_hub {
                    return None;
                }
                DOCKER_HUB_FALLBACK_KEYS
                    .iter()
                    .find_map(|fallback| self.entries.iter().find(|entry| entry.key == *fallback))
            })
            .map(|entry| &entry.credentials)
    }

    /// Whether the secret holds no usable credentials at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The credentials for an image in `repository` on `registry`: the first secret (in the order
/// given: the pod's `imagePullSecrets`, then the service account's) that has a matching entry wins.
/// `None` means anonymous access.
pub fn lookup<'a>(secrets: &'a [PullSecret], registry: &str, repository: &str) -> Option<&'a Credentials> {
    secrets.iter().find_map(|secret| secret.credentials_for(registry, repository))
}

fn parse_json<'de, T: Deserialize<'de>>(bytes: &'de [u8], key: &'static str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|error| AuthError::Json {
        key,
        category: match error.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        },
        line: error.line(),
        column: error.column(),
    })
}

/// Decodes `auth` as the kubelet does: standard base64 of `username:password`, split at the first
/// colon (passwords may contain colons, usernames may not).
fn decode_auth(registry: &str, auth: &str) -> Result<Credentials> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| AuthError::Base64 { registry: registry.to_owned() })?;
    let decoded =
        String::from_utf8(decoded).map_err(|_| AuthError::AuthFormat { registry: registry.to_owned() })?;
    match decoded.split_once(':') {
        Some((username, password)) => Ok(Credentials::new(username, password)),
        None => Err(AuthError::AuthFormat { registry: registry.to_owned() }),
    }
}

/// `https://Registry.example.com:5000/v2/team/` -> `registry.example.com:5000/team/`.
fn normalize_key(key: &str) -> String {
    let key = key.trim();
    let without_scheme = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let (host, path) = match without_scheme.find('/') {
        Some(slash) => without_scheme.split_at(slash),
        None => (without_scheme, ""),
    };
    // The docker client treats `/v1/` and `/v2/` (API paths pasted from `docker login`) as the host.
    let path = ["/v1", "/v2"]
        .iter()
        .find_map(|api| path.strip_prefix(api).filter(|rest| rest.is_empty() || rest.starts_with('/')))
        .unwrap_or(path);
    let host = host.to_ascii_lowercase();
    if path.is_empty() || path == "/" { host } else { format!("{host}{path}") }
}

/// The image being looked up, split as the kubelet's URL matching splits it.
struct Target {
    host: String,
    port: String,
    path: String,
    docker_hub: bool,
}

impl Target {
    fn new(registry: &str, repository: &str) -> Self {
        let registry = registry.trim().to_ascii_lowercase();
        let docker_hub = registry.is_empty() || DOCKER_HUB_ALIASES.contains(&registry.as_str());
        let registry = if docker_hub { DOCKER_HUB.to_owned() } else { registry };
        let (host, port) = split_port(&registry);
        Self {
            host: host.to_owned(),
            port: port.to_owned(),
            path: format!("/{}", repository.trim_start_matches('/')),
            docker_hub,
        }
    }

    fn matches(&self, key: &str) -> bool {
        let (authority, path) = match key.find('/') {
            Some(slash) => key.split_at(slash),
            None => (key, ""),
        };
        let (host, port) = split_port(authority);
        if port != self.port || !self.path.starts_with(path) {
            return false;
        }
        let key_labels: Vec<&str> = host.split('.').collect();
        let labels: Vec<&str> = self.host.split('.').collect();
        key_labels.len() == labels.len()
            && key_labels.iter().zip(&labels).all(|(pattern, label)| glob_match(pattern, label))
    }
}

/// `host:port` -> (`host`, `port`); `[::1]:5000` -> (`[::1]`, `5000`); no port gives an empty port.
fn split_port(authority: &str) -> (&str, &str) {
    if let Some(end) = authority.rfind(']') {
        let (host, rest) = authority.split_at(end + 1);
        return (host, rest.strip_prefix(':').unwrap_or(rest));
    }
    authority.split_once(':').unwrap_or((authority, ""))
}

/// Shell-style match of one host label: `*` is any run of characters, `?` any one character
/// (what Go's `filepath.Match` does within a label, without character classes).
fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Classic greedy matcher with one backtrack point: linear enough for host labels.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use serde_json::json;

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn config_json(auths: serde_json::Value) -> PullSecret {
        PullSecret::from_docker_config_json(json!({ "auths": auths }).to_string().as_bytes()).unwrap()
    }

    fn user(secret: &PullSecret, registry: &str, repository: &str) -> Option<String> {
        secret.credentials_for(registry, repository).map(|c| c.username.clone())
    }

    fn secret(type_: &str, key: &str, value: &[u8]) -> Secret {
        Secret {
            type_: Some(type_.to_owned()),
            data: Some([(key.to_owned(), ByteString(value.to_vec()))].into()),
            ..Secret::default()
        }
    }

    #[test]
    fn auth_field_is_split_at_the_first_colon() {
        let s = config_json(json!({ "registry.example.com": { "auth": b64("bob:pa:ss") } }));
        let creds = s.credentials_for("registry.example.com", "team/app").unwrap();
        assert_eq!(creds.username, "bob");
        assert_eq!(creds.password(), "pa:ss");
    }

    #[test]
    fn auth_field_overrides_username_and_password() {
        let s = config_json(json!({
            "registry.example.com": { "username": "old", "password": "x", "auth": b64("new:y") }
        }));
        assert_eq!(user(&s, "registry.example.com", "app").as_deref(), Some("new"));
    }

    #[test]
    fn username_and_password_fields_are_used_without_auth() {
        let s = config_json(json!({ "registry.example.com": { "username": "bob", "password": "pw" } }));
        assert_eq!(s.credentials_for("registry.example.com", "app").unwrap().password(), "pw");
    }

    #[test]
    fn docker_login_key_for_docker_hub_matches_hub_images_in_every_spelling() {
        let s = config_json(json!({ "https://index.docker.io/v1/": { "auth": b64("hub:pw") } }));
        for registry in ["docker.io", "index.docker.io", "registry-1.docker.io", ""] {
            assert_eq!(user(&s, registry, "library/nginx").as_deref(), Some("hub"), "registry {registry:?}");
        }
        assert_eq!(user(&s, "quay.io", "library/nginx"), None);
    }

    #[test]
    fn plain_docker_io_key_matches_hub_images() {
        let s = config_json(json!({ "docker.io": { "auth": b64("hub:pw") } }));
        assert_eq!(user(&s, "index.docker.io", "prom/node-exporter").as_deref(), Some("hub"));
    }

    #[test]
    fn key_with_port_matches_only_that_port() {
        let s = config_json(json!({ "registry.example.com:5000": { "auth": b64("five:pw") } }));
        assert_eq!(user(&s, "registry.example.com:5000", "app").as_deref(), Some("five"));
        assert_eq!(user(&s, "registry.example.com", "app"), None);
        assert_eq!(user(&s, "registry.example.com:5001", "app"), None);
    }

    #[test]
    fn scheme_and_api_path_are_ignored_in_keys() {
        let s = config_json(json!({ "http://Registry.Example.com/v2/": { "auth": b64("api:pw") } }));
        assert_eq!(user(&s, "registry.example.com", "app").as_deref(), Some("api"));
    }

    #[test]
    fn more_specific_path_key_wins_within_a_secret() {
        let s = config_json(json!({
            "quay.io": { "auth": b64("everyone:pw") },
            "quay.io/coreos": { "auth": b64("coreos:pw") },
        }));
        assert_eq!(user(&s, "quay.io", "coreos/etcd").as_deref(), Some("coreos"));
        assert_eq!(user(&s, "quay.io", "prometheus/node-exporter").as_deref(), Some("everyone"));
    }

    #[test]
    fn path_keys_are_string_prefixes_as_in_the_kubelet() {
        let s = config_json(json!({ "reg.example.com/team": { "auth": b64("team:pw") } }));
        assert_eq!(user(&s, "reg.example.com", "team/app").as_deref(), Some("team"));
        assert_eq!(user(&s, "reg.example.com", "team-b/app").as_deref(), Some("team"));
        assert_eq!(user(&s, "reg.example.com", "other/app"), None);
    }

    #[test]
    fn wildcard_host_labels_match_one_label_each() {
        let s = config_json(json!({ "*.example.com": { "auth": b64("wild:pw") } }));
        assert_eq!(user(&s, "eu.example.com", "app").as_deref(), Some("wild"));
        assert_eq!(user(&s, "example.com", "app"), None);
        assert_eq!(user(&s, "a.eu.example.com", "app"), None);
    }

    #[test]
    fn glob_matches_like_filepath_match_within_a_label() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("reg-*", "reg-eu"));
        assert!(glob_match("r?g", "reg"));
        assert!(glob_match("*-*-x", "a-b-c-x"));
        assert!(!glob_match("reg-*", "registry"));
        assert!(!glob_match("r?g", "rg"));
    }

    #[test]
    fn ipv6_loopback_keys_keep_their_port() {
        let s = config_json(json!({ "[::1]:5000": { "auth": b64("six:pw") } }));
        assert_eq!(user(&s, "[::1]:5000", "app").as_deref(), Some("six"));
        assert_eq!(user(&s, "[::1]", "app"), None);
    }

    #[test]
    fn first_listed_secret_wins() {
        let pod = config_json(json!({ "registry.example.com": { "auth": b64("pod:pw") } }));
        let service_account = config_json(json!({ "registry.example.com": { "auth": b64("sa:pw") } }));
        let other = config_json(json!({ "quay.io": { "auth": b64("quay:pw") } }));
        let secrets = [other.clone(), pod, service_account];
        assert_eq!(lookup(&secrets, "registry.example.com", "app").unwrap().username, "pod");
        assert_eq!(lookup(&secrets, "quay.io", "app").unwrap().username, "quay");
        assert!(lookup(&secrets, "ghcr.io", "app").is_none());
        assert!(lookup(&[], "ghcr.io", "app").is_none());
    }

    #[test]
    fn entries_without_credentials_are_skipped() {
        let s = config_json(json!({
            "reg.example.com/team": {},
            "reg.example.com": { "auth": b64("host:pw") },
        }));
        assert_eq!(user(&s, "reg.example.com", "team/app").as_deref(), Some("host"));
    }

    #[test]
    fn legacy_dockercfg_has_no_auths_wrapper() {
        let data = json!({ "https://registry.example.com": { "auth": b64("legacy:pw"), "email": "a@b" } });
        let s = PullSecret::from_secret(&secret(DOCKERCFG_TYPE, DOCKERCFG_KEY, data.to_string().as_bytes()))
            .unwrap();
        assert_eq!(user(&s, "registry.example.com", "app").as_deref(), Some("legacy"));
    }

    #[test]
    fn dockerconfigjson_secret_is_read_from_its_key() {
        let data = json!({ "auths": { "ghcr.io": { "username": "me", "password": "token" } } });
        let s = PullSecret::from_secret(&secret(
            DOCKER_CONFIG_JSON_TYPE,
            DOCKER_CONFIG_JSON_KEY,
            data.to_string().as_bytes(),
        ))
        .unwrap();
        assert_eq!(user(&s, "ghcr.io", "me/app").as_deref(), Some("me"));
    }

    #[test]
    fn secret_of_another_type_is_rejected() {
        let err = PullSecret::from_secret(&secret("Opaque", DOCKER_CONFIG_JSON_KEY, b"{}")).unwrap_err();
        assert_eq!(err, AuthError::NotAPullSecret { secret_type: "Opaque".into() });
    }

    #[test]
    fn secret_without_its_key_is_rejected() {
        let err =
            PullSecret::from_secret(&secret(DOCKER_CONFIG_JSON_TYPE, DOCKERCFG_KEY, b"{}")).unwrap_err();
        assert_eq!(err, AuthError::MissingKey { key: DOCKER_CONFIG_JSON_KEY });
        let empty = secret(DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, b"");
        assert_eq!(
            PullSecret::from_secret(&empty).unwrap_err(),
            AuthError::MissingKey { key: DOCKER_CONFIG_JSON_KEY }
        );
    }

    #[test]
    fn malformed_json_is_an_error_that_does_not_quote_the_secret() {
        let err = PullSecret::from_docker_config_json(br#"{"auths": {"r.io": {"password": 12345678}}}"#)
            .unwrap_err();
        assert!(matches!(err, AuthError::Json { category: "data", line: 1, .. }), "{err:?}");
        assert!(!err.to_string().contains("12345678"), "{err}");
        let err = PullSecret::from_dockercfg(b"{not json").unwrap_err();
        assert!(matches!(err, AuthError::Json { category: "syntax", .. }), "{err:?}");
    }

    #[test]
    fn malformed_auth_field_is_an_error_that_does_not_quote_it() {
        let err = PullSecret::from_docker_config_json(br#"{"auths": {"r.io": {"auth": "%%secret%%"}}}"#)
            .unwrap_err();
        assert_eq!(err, AuthError::Base64 { registry: "r.io".into() });
        assert!(!err.to_string().contains("secret%"), "{err}");
        let no_colon = json!({ "auths": { "r.io": { "auth": b64("justatoken") } } }).to_string();
        let err = PullSecret::from_docker_config_json(no_colon.as_bytes()).unwrap_err();
        assert_eq!(err, AuthError::AuthFormat { registry: "r.io".into() });
    }

    #[test]
    fn debug_output_redacts_the_password() {
        let s = config_json(json!({ "r.io": { "auth": b64("bob:hunter2") } }));
        let printed = format!("{s:?} {:?}", s.credentials_for("r.io", "app").unwrap());
        assert!(printed.contains("bob"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn missing_auths_object_means_no_credentials() {
        let s = PullSecret::from_docker_config_json(b"{}").unwrap();
        assert!(s.is_empty());
    }
}
