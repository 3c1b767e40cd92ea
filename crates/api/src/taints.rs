//! Taints and tolerations: which taints a pod tolerates.

use k8s_openapi::api::core::v1::{Taint, Toleration};

/// The taint effects.
pub const NO_SCHEDULE: &str = "NoSchedule";
pub const PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";
pub const NO_EXECUTE: &str = "NoExecute";

/// Whether `toleration` tolerates `taint` (core/v1 `Toleration.ToleratesTaint`).
///
/// An empty effect matches every effect; an empty key with `Exists` matches every taint; `Equal`
/// (or no operator) compares values, `Exists` ignores them. `tolerationSeconds` plays no part here:
/// it only bounds how long a NoExecute taint is tolerated once it appears.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = toleration.key.as_deref().filter(|k| !k.is_empty())
        && key != taint.key
    {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "" | "Equal" => toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// The first taint accepted by `filter` that no toleration tolerates
/// (`v1helper.FindMatchingUntoleratedTaint`).
pub fn find_untolerated<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    filter: impl Fn(&Taint) -> bool,
) -> Option<&'a Taint> {
    taints.iter().filter(|t| filter(t)).find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

/// `key=value:Effect`, as kubectl prints a taint.
pub fn describe_taint(taint: &Taint) -> String {
    match taint.value.as_deref() {
        Some(v) if !v.is_empty() => format!("{}={}:{}", taint.key, v, taint.effect),
        _ => format!("{}:{}", taint.key, taint.effect),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint { key: key.into(), value: value.map(Into::into), effect: effect.into(), time_added: None }
    }

    fn tol(key: Option<&str>, op: Option<&str>, value: Option<&str>, effect: Option<&str>) -> Toleration {
        Toleration {
            key: key.map(Into::into),
            operator: op.map(Into::into),
            value: value.map(Into::into),
            effect: effect.map(Into::into),
            toleration_seconds: None,
        }
    }

    #[test]
    fn exists_with_empty_key_tolerates_everything() {
        let t = tol(None, Some("Exists"), None, None);
        assert!(tolerates(&t, &taint("a", Some("b"), NO_EXECUTE)));
        assert!(tolerates(&t, &taint("c", None, NO_SCHEDULE)));
    }

    #[test]
    fn effect_must_match_when_given() {
        let t = tol(None, Some("Exists"), None, Some(NO_SCHEDULE));
        assert!(tolerates(&t, &taint("a", None, NO_SCHEDULE)));
        assert!(!tolerates(&t, &taint("a", None, NO_EXECUTE)));
    }

    #[test]
    fn equal_compares_values_and_empty_operator_means_equal() {
        let t = tol(Some("k"), None, Some("v"), None);
        assert!(tolerates(&t, &taint("k", Some("v"), NO_SCHEDULE)));
        assert!(!tolerates(&t, &taint("k", Some("w"), NO_SCHEDULE)));
        assert!(!tolerates(&t, &taint("other", Some("v"), NO_SCHEDULE)));
        let t = tol(Some("k"), Some("Equal"), None, None);
        assert!(tolerates(&t, &taint("k", None, NO_SCHEDULE)));
    }

    #[test]
    fn find_untolerated_respects_filter() {
        let taints = vec![taint("soft", None, PREFER_NO_SCHEDULE), taint("hard", None, NO_EXECUTE)];
        let found = find_untolerated(&taints, &[], |t| t.effect == NO_SCHEDULE || t.effect == NO_EXECUTE);
        assert_eq!(found.map(|t| t.key.as_str()), Some("hard"));
        let found = find_untolerated(&taints, &[tol(Some("hard"), Some("Exists"), None, None)], |_| true);
        assert_eq!(found.map(|t| t.key.as_str()), Some("soft"));
    }

    #[test]
    fn describes_taints_like_kubectl() {
        assert_eq!(describe_taint(&taint("a", Some("b"), NO_SCHEDULE)), "a=b:NoSchedule");
        assert_eq!(
            describe_taint(&taint("node-role.kubernetes.io/control-plane", None, NO_SCHEDULE)),
            "node-role.kubernetes.io/control-plane:NoSchedule"
        );
    }
}
