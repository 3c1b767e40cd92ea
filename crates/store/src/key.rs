//! `ObjectKey`: where an object lives (resource, namespace, name).

use std::fmt;

/// Identifies one stored object.
///
/// `resource` is any stable string naming the collection, e.g. `"apps/v1/daemonsets"` or
/// `"daemonsets"`; the store only compares it. Cluster-scoped objects use the empty namespace, as
/// `metadata.namespace` does in Kubernetes. Keys order by resource, then namespace, then name, which
/// is the order [`Store::list`](crate::Store::list) returns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The collection, e.g. `"apps/v1/daemonsets"`.
    pub resource: String,
    /// The namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl ObjectKey {
    /// The key of a namespaced object.
    pub fn namespaced(
        resource: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        ObjectKey { resource: resource.into(), namespace: namespace.into(), name: name.into() }
    }

    /// The key of a cluster-scoped object (empty namespace).
    pub fn cluster(resource: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey { resource: resource.into(), namespace: String::new(), name: name.into() }
    }

    /// Whether this key belongs to `resource` and, if given, to `namespace`.
    pub fn is_in(&self, resource: &str, namespace: Option<&str>) -> bool {
        self.resource == resource && namespace.is_none_or(|ns| self.namespace == ns)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {:?}", self.resource, self.name)
        } else {
            write!(f, "{} {}/{:?}", self.resource, self.namespace, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_by_resource_then_namespace_then_name() {
        let mut keys = [
            ObjectKey::namespaced("pods", "b", "a"),
            ObjectKey::cluster("nodes", "z"),
            ObjectKey::namespaced("pods", "a", "z"),
            ObjectKey::cluster("pods", "m"),
        ];
        keys.sort();
        let names: Vec<_> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(names, [r#"nodes "z""#, r#"pods "m""#, r#"pods a/"z""#, r#"pods b/"a""#]);
    }

    #[test]
    fn is_in_matches_all_namespaces_when_none_is_given() {
        let key = ObjectKey::namespaced("pods", "default", "web");
        assert!(key.is_in("pods", None));
        assert!(key.is_in("pods", Some("default")));
        assert!(!key.is_in("pods", Some("kube-system")));
        assert!(!key.is_in("nodes", None));
    }
}
