//! Naming a group-version the ways OpenAPI documents need: the index key (`apis/apps/v1`), the URL
//! prefix of its operations, the camel-cased part of operation ids, and the
//! `x-kubernetes-group-version-kind` extension.

use serde_json::{Value, json};

/// A group-version; `group` is empty for the core group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupVersion {
    /// `""` for core, else e.g. `apps` or `stable.example.com`.
    pub group: String,
    /// e.g. `v1`.
    pub version: String,
}

impl GroupVersion {
    /// A group-version from its parts.
    pub fn new(group: &str, version: &str) -> Self {
        GroupVersion { group: group.to_owned(), version: version.to_owned() }
    }

    /// The index key and document path: `api/v1` for core, `apis/<group>/<version>` otherwise.
    pub fn path(&self) -> String {
        if self.group.is_empty() {
            format!("api/{}", self.version)
        } else {
            format!("apis/{}/{}", self.group, self.version)
        }
    }

    /// Parses [`GroupVersion::path`] back (a leading `/` is tolerated); `None` for anything else.
    pub fn from_path(path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["api", version] if !version.is_empty() => Some(GroupVersion::new("", version)),
            ["apis", group, version] if !group.is_empty() && !version.is_empty() => {
                Some(GroupVersion::new(group, version))
            }
            _ => None,
        }
    }

    /// The URL prefix of the group-version's resources: `/api/v1`, `/apis/apps/v1`.
    pub fn url_prefix(&self) -> String {
        format!("/{}", self.path())
    }

    /// The group-version part of upstream operation ids and tags: `CoreV1`, `AppsV1`,
    /// `ApiextensionsV1` (a trailing `.k8s.io` is dropped), `StableExampleComV1`.
    pub fn camel_name(&self) -> String {
        let group = if self.group.is_empty() { "core" } else { self.group.trim_end_matches(".k8s.io") };
        let mut name: String = group.split(['.', '-']).map(capitalize).collect();
        name.push_str(&capitalize(&self.version));
        name
    }

    /// The tag upstream files operations under: `core_v1`, `apps_v1`, `apiextensions_v1`.
    pub fn tag(&self) -> String {
        let group = if self.group.is_empty() { "core" } else { self.group.trim_end_matches(".k8s.io") };
        format!("{}_{}", group.replace(['.', '-'], "_"), self.version)
    }

    /// `{"group": .., "kind": .., "version": ..}`: exactly these three keys, because kubectl's
    /// `explain` template matches component extensions against operation extensions by equality.
    pub fn gvk(&self, kind: &str) -> Value {
        json!({ "group": self.group, "kind": kind, "version": self.version })
    }

    /// The schema-level form of [`GroupVersion::gvk`]: a one-element list, as upstream writes it
    /// on components (and as kubectl's apply code parses it there).
    pub fn gvk_list(&self, kind: &str) -> Value {
        json!([self.gvk(kind)])
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_for_core_and_named_groups() {
        for gv in [GroupVersion::new("", "v1"), GroupVersion::new("apps", "v1")] {
            assert_eq!(GroupVersion::from_path(&gv.path()), Some(gv));
        }
        assert_eq!(GroupVersion::new("", "v1").path(), "api/v1");
        assert_eq!(GroupVersion::new("apps", "v1").path(), "apis/apps/v1");
        assert_eq!(
            GroupVersion::from_path("/apis/stable.example.com/v1beta1").map(|gv| gv.group),
            Some("stable.example.com".into())
        );
        assert_eq!(GroupVersion::from_path("apis/apps"), None);
        assert_eq!(GroupVersion::from_path("api/v1/pods"), None);
    }

    #[test]
    fn camel_names_follow_upstream_operation_ids() {
        assert_eq!(GroupVersion::new("", "v1").camel_name(), "CoreV1");
        assert_eq!(GroupVersion::new("apps", "v1").camel_name(), "AppsV1");
        assert_eq!(GroupVersion::new("apiextensions.k8s.io", "v1").camel_name(), "ApiextensionsV1");
        assert_eq!(
            GroupVersion::new("stable.example.com", "v1beta1").camel_name(),
            "StableExampleComV1beta1"
        );
        assert_eq!(GroupVersion::new("apiextensions.k8s.io", "v1").tag(), "apiextensions_v1");
    }
}
