//! Turning a request line into what it asks for: the resource path (group, version, namespace,
//! resource, name, subresource) and the query parameters.

use std::collections::HashMap;

/// The parts of a resource URL, before the registry resolves them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourcePath {
    /// API group, "" for `/api/v1`.
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from `/namespaces/<ns>/...`.
    pub namespace: Option<String>,
    /// The resource (plural).
    pub resource: String,
    /// Object name.
    pub name: Option<String>,
    /// Subresource (`status`, `binding`).
    pub subresource: Option<String>,
    /// The deprecated `/watch/` prefix was used.
    pub watch_prefix: bool,
}

/// Subresources of namespaces that `namespaces/<name>/<x>` names (anything else is a resource
/// inside the namespace).
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

impl ResourcePath {
    /// Parses `/api/v1/...` or `/apis/<group>/<version>/...`; `None` for any other path.
    pub fn parse(path: &str) -> Option<ResourcePath> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match parts.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return None,
        };
        let mut rest: Vec<&str> = rest.to_vec();
        let mut out = ResourcePath { group: group.into(), version: version.into(), ..Default::default() };
        if rest.first() == Some(&"watch") {
            out.watch_prefix = true;
            rest.remove(0);
        }
        if rest.is_empty() || rest.iter().any(|p| p.is_empty()) {
            return None;
        }
        if rest[0] == "namespaces" && rest.len() >= 3 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            out.namespace = Some(rest[1].to_owned());
            rest.drain(..2);
        }
        match rest.as_slice() {
            [resource] => out.resource = (*resource).into(),
            [resource, name] => {
                out.resource = (*resource).into();
                out.name = Some((*name).into());
            }
            [resource, name, sub] => {
                out.resource = (*resource).into();
                out.name = Some((*name).into());
                out.subresource = Some((*sub).into());
            }
            _ => return None,
        }
        Some(out)
    }
}

/// Query parameters, last value winning. Empty pairs (kube-rs sends `?&watch=true`) are skipped.
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Query {
        Query(form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect())
    }

    /// A parameter, if present and non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// An integer parameter; a malformed one is an error naming it.
    pub fn int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => {
                v.parse().map(Some).map_err(|_| format!("invalid value {v:?} for query parameter {key}"))
            }
        }
    }

    /// Sets a parameter.
    pub fn set(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_owned(), value.to_owned());
    }

    /// Whether `dryRun=All` was asked for.
    pub fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> ResourcePath {
        ResourcePath::parse(path).unwrap()
    }

    #[test]
    fn namespaced_object_paths_split_into_their_parts() {
        let path = p("/apis/apps/v1/namespaces/default/daemonsets/fluentd/status");
        assert_eq!(path.group, "apps");
        assert_eq!(path.namespace.as_deref(), Some("default"));
        assert_eq!(path.resource, "daemonsets");
        assert_eq!(path.name.as_deref(), Some("fluentd"));
        assert_eq!(path.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn namespaces_themselves_are_cluster_scoped_objects() {
        let path = p("/api/v1/namespaces/kube-system");
        assert_eq!(
            (path.resource.as_str(), path.name.as_deref(), path.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let status = p("/api/v1/namespaces/kube-system/status");
        assert_eq!(status.subresource.as_deref(), Some("status"));
        let pods = p("/api/v1/namespaces/kube-system/pods");
        assert_eq!((pods.resource.as_str(), pods.namespace.as_deref()), ("pods", Some("kube-system")));
    }

    #[test]
    fn watch_prefix_and_bad_paths() {
        assert!(p("/api/v1/watch/namespaces/default/pods").watch_prefix);
        assert!(ResourcePath::parse("/api").is_none());
        assert!(ResourcePath::parse("/apis/apps/v1").is_none());
        assert!(ResourcePath::parse("/api/v1/pods/a/b/c").is_none());
        assert!(ResourcePath::parse("/healthz").is_none());
    }

    #[test]
    fn queries_skip_empty_pairs_and_decode_values() {
        let q = Query::parse(Some("&watch=true&labelSelector=app%3Dx&&limit=5"));
        assert!(q.flag("watch"));
        assert_eq!(q.get("labelSelector"), Some("app=x"));
        assert_eq!(q.int("limit"), Ok(Some(5)));
        assert!(q.int("watch").is_err());
    }
}
