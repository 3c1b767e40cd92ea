//! apps/v1 DaemonSet validation (`pkg/apis/apps/validation` plus the registry strategy's
//! update rules): what the API server checks after defaulting and before storing.

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::field::{BadValue, ErrorList, FieldError, FieldPath};
use crate::labels::Selector;
use crate::validation::meta::{
    FIELD_IMMUTABLE_ERROR_MSG, name_is_dns_subdomain, validate_label_selector, validate_nonnegative,
    validate_object_meta, validate_object_meta_update,
};
use crate::validation::names::regex_error;
use crate::validation::pod::validate_pod_template_spec;
use crate::validation::render;

/// `ValidateDaemonSet`, as run on create.
///
/// Expects a defaulted object whose name has been generated and whose namespace has been set from
/// the request, as the API server prepares it; never panics on anything else.
///
/// k8s-openapi decodes a missing `spec.selector` as an empty one, and upstream treats the two
/// differently (a nil selector matches nothing; an empty one is "empty selector is invalid for
/// daemonset"). Here a selector with neither `matchLabels` nor `matchExpressions` counts as
/// missing; callers that saw the raw body use [`validate_daemonset_as_sent`].
pub fn validate_daemonset(ds: &DaemonSet) -> ErrorList {
    let s = &ds.spec.selector;
    let sent = s.match_labels.is_some() || s.match_expressions.is_some();
    validate_daemonset_as_sent(ds, sent)
}

/// [`validate_daemonset`] for a body in which `spec.selector` was (`selector_sent`) or was not
/// present, so that `selector: {}` gets upstream's "empty selector" error and a missing selector
/// upstream's "`selector` does not match template `labels`".
pub fn validate_daemonset_as_sent(ds: &DaemonSet, selector_sent: bool) -> ErrorList {
    let mut errs = validate_object_meta(&ds.metadata, name_is_dns_subdomain, &FieldPath::new("metadata"));
    errs.extend(validate_daemonset_spec(&ds.spec, selector_sent, &FieldPath::new("spec")));
    errs
}

/// Update validation: everything create checks, the metadata update rules, and selector
/// immutability (apps/v1 forbids changing `spec.selector`; extensions/v1beta1 once allowed it).
pub fn validate_daemonset_update(new: &DaemonSet, old: &DaemonSet) -> ErrorList {
    let s = &new.spec.selector;
    validate_daemonset_update_as_sent(new, old, s.match_labels.is_some() || s.match_expressions.is_some())
}

/// [`validate_daemonset_update`] knowing whether the body carried `spec.selector` (see
/// [`validate_daemonset_as_sent`]).
pub fn validate_daemonset_update_as_sent(new: &DaemonSet, old: &DaemonSet, selector_sent: bool) -> ErrorList {
    let mut errs = validate_daemonset_as_sent(new, selector_sent);
    errs.extend(validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata")));
    if !selectors_equal(&new.spec.selector, &old.spec.selector) {
        errs.push(FieldError::invalid(
            &FieldPath::new("spec").child("selector"),
            render::label_selector(Some(&new.spec.selector)),
            FIELD_IMMUTABLE_ERROR_MSG,
        ));
    }
    errs
}

/// `ValidateDaemonSetStatusUpdate`: metadata update rules, non-negative counters, and a collision
/// count that never goes down.
pub fn validate_daemonset_status_update(new: &DaemonSet, old: &DaemonSet) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"));
    let default_status = DaemonSetStatus::default();
    let status = new.status.as_ref().unwrap_or(&default_status);
    errs.extend(validate_status(status, &FieldPath::new("status")));
    let new_count = status.collision_count;
    let old_count = old.status.as_ref().and_then(|s| s.collision_count);
    let decremented = match (new_count, old_count) {
        (None, Some(_)) => true,
        (Some(n), Some(o)) => n < o,
        _ => false,
    };
    if decremented {
        errs.push(FieldError::invalid(
            &FieldPath::new("status").child("collisionCount"),
            BadValue::Int(i64::from(new_count.unwrap_or(0))),
            "cannot be decremented",
        ));
    }
    errs
}

/// `ValidateDaemonSetSpec`.
fn validate_daemonset_spec(spec: &DaemonSetSpec, selector_sent: bool, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    let selector_path = path.child("selector");
    let selector = &spec.selector;
    let template_labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    if !selector_sent {
        // A nil selector selects nothing, so it never matches the template's labels.
        errs.push(FieldError::invalid(
            &path.child("template").child("metadata").child("labels"),
            render::string_map(template_labels),
            "`selector` does not match template `labels`",
        ));
    } else {
        errs.extend(validate_label_selector(selector, &selector_path));
        if let Ok(parsed) = Selector::from_label_selector(Some(selector))
            && !parsed.matches_opt(template_labels)
        {
            errs.push(FieldError::invalid(
                &path.child("template").child("metadata").child("labels"),
                render::string_map(template_labels),
                "`selector` does not match template `labels`",
            ));
        }
        let size = selector.match_labels.as_ref().map_or(0, |m| m.len())
            + selector.match_expressions.as_ref().map_or(0, |e| e.len());
        if size == 0 {
            errs.push(FieldError::invalid(
                &selector_path,
                render::label_selector(Some(selector)),
                "empty selector is invalid for daemonset",
            ));
        }
    }

    let template_path = path.child("template");
    errs.extend(validate_pod_template_spec(&spec.template, &template_path));
    let pod = spec.template.spec.as_ref();
    let restart_policy = pod.and_then(|p| p.restart_policy.as_deref()).unwrap_or_default();
    if restart_policy != "Always" {
        errs.push(FieldError::not_supported(
            &template_path.child("spec").child("restartPolicy"),
            render::named_string(restart_policy),
            &["Always"],
        ));
    }
    if pod.is_some_and(|p| p.active_deadline_seconds.is_some()) {
        errs.push(FieldError::forbidden(
            &template_path.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in DaemonSet is not Supported",
        ));
    }
    errs.extend(validate_nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &path.child("minReadySeconds"),
    ));
    errs.extend(validate_update_strategy(spec.update_strategy.as_ref(), &path.child("updateStrategy")));
    if let Some(limit) = spec.revision_history_limit {
        // Zero is a valid limit: it keeps no old revisions.
        errs.extend(validate_nonnegative(i64::from(limit), &path.child("revisionHistoryLimit")));
    }
    errs
}

/// `ValidateDaemonSetUpdateStrategy`.
fn validate_update_strategy(strategy: Option<&DaemonSetUpdateStrategy>, path: &FieldPath) -> ErrorList {
    let strategy_type = strategy.and_then(|s| s.type_.as_deref()).unwrap_or_default();
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    match strategy_type {
        "OnDelete" => Vec::new(),
        "RollingUpdate" => match rolling {
            Some(ru) => validate_rolling_update(ru, &path.child("rollingUpdate")),
            None => vec![FieldError::required(&path.child("rollingUpdate"), "")],
        },
        other => {
            let value = render::internal_update_strategy(
                other,
                rolling.map(|r| r.max_unavailable.as_ref()),
                rolling.map(|r| r.max_surge.as_ref()),
            );
            vec![FieldError::not_supported(path, value, &["RollingUpdate", "OnDelete"])]
        }
    }
}

/// `ValidateRollingUpdateDaemonSet`: both values are non-negative ints or percentages up to 100%,
/// and exactly one of them is non-zero. An unset value counts as 0, as in the internal type.
fn validate_rolling_update(ru: &RollingUpdateDaemonSet, path: &FieldPath) -> ErrorList {
    let zero = IntOrString::Int(0);
    let max_unavailable = ru.max_unavailable.as_ref().unwrap_or(&zero);
    let max_surge = ru.max_surge.as_ref().unwrap_or(&zero);
    let (unavailable_path, surge_path) = (path.child("maxUnavailable"), path.child("maxSurge"));
    let mut errs = validate_positive_int_or_percent(max_unavailable, &unavailable_path);
    errs.extend(validate_positive_int_or_percent(max_surge, &surge_path));
    errs.extend(not_more_than_100_percent(max_unavailable, &unavailable_path));
    errs.extend(not_more_than_100_percent(max_surge, &surge_path));
    let has_unavailable = int_or_percent_value(max_unavailable) != 0;
    let has_surge = int_or_percent_value(max_surge) != 0;
    if has_unavailable && has_surge {
        errs.push(FieldError::invalid(
            &surge_path,
            render::int_or_string(max_surge),
            "may not be set when maxUnavailable is non-zero",
        ));
    } else if !has_unavailable && !has_surge {
        errs.push(FieldError::required(&unavailable_path, "cannot be 0 when maxSurge is 0"));
    }
    errs
}

/// `ValidatePositiveIntOrPercent`.
fn validate_positive_int_or_percent(value: &IntOrString, path: &FieldPath) -> ErrorList {
    match value {
        IntOrString::String(s) if percent_value(s).is_none() => vec![FieldError::invalid(
            path,
            render::int_or_string(value),
            regex_error(
                "a valid percent string must be a numeric string followed by an ending '%'",
                "[0-9]+%",
                &["1%", "93%"],
            ),
        )],
        IntOrString::String(_) => Vec::new(),
        IntOrString::Int(i) => validate_nonnegative(i64::from(*i), path),
    }
}

/// `IsNotMoreThan100Percent`.
fn not_more_than_100_percent(value: &IntOrString, path: &FieldPath) -> ErrorList {
    match value {
        IntOrString::String(s) if percent_value(s).is_some_and(|p| p > 100) => {
            vec![FieldError::invalid(path, render::int_or_string(value), "must not be greater than 100%")]
        }
        _ => Vec::new(),
    }
}

/// The number in a valid (`[0-9]+%`) percent string. Like Go's `Atoi`, an overflowing number
/// counts as 0.
fn percent_value(s: &str) -> Option<i64> {
    let digits = s.strip_suffix('%')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(0))
}

/// `getIntOrPercentValue`: the percentage, else `IntValue()` (which reads a plain numeric string
/// and treats anything else as 0).
fn int_or_percent_value(value: &IntOrString) -> i64 {
    match value {
        IntOrString::Int(i) => i64::from(*i),
        IntOrString::String(s) => percent_value(s).unwrap_or_else(|| s.parse().unwrap_or(0)),
    }
}

/// `validateDaemonSetStatus`.
fn validate_status(status: &DaemonSetStatus, path: &FieldPath) -> ErrorList {
    let counters = [
        ("currentNumberScheduled", i64::from(status.current_number_scheduled)),
        ("numberMisscheduled", i64::from(status.number_misscheduled)),
        ("desiredNumberScheduled", i64::from(status.desired_number_scheduled)),
        ("numberReady", i64::from(status.number_ready)),
        ("observedGeneration", status.observed_generation.unwrap_or(0)),
        ("updatedNumberScheduled", i64::from(status.updated_number_scheduled.unwrap_or(0))),
        ("numberAvailable", i64::from(status.number_available.unwrap_or(0))),
        ("numberUnavailable", i64::from(status.number_unavailable.unwrap_or(0))),
    ];
    let mut errs: ErrorList = counters
        .into_iter()
        .flat_map(|(field, value)| validate_nonnegative(value, &path.child(field)))
        .collect();
    if let Some(count) = status.collision_count {
        errs.extend(validate_nonnegative(i64::from(count), &path.child("collisionCount")));
    }
    errs
}

/// `apiequality.Semantic.DeepEqual` on selectors: absent and empty collections are equal.
fn selectors_equal(a: &LabelSelector, b: &LabelSelector) -> bool {
    fn values(r: &LabelSelectorRequirement) -> &[String] {
        r.values.as_deref().unwrap_or_default()
    }
    let labels = |s: &LabelSelector| s.match_labels.clone().unwrap_or_default();
    let exprs_a = a.match_expressions.as_deref().unwrap_or_default();
    let exprs_b = b.match_expressions.as_deref().unwrap_or_default();
    labels(a) == labels(b)
        && exprs_a.len() == exprs_b.len()
        && exprs_a
            .iter()
            .zip(exprs_b)
            .all(|(x, y)| x.key == y.key && x.operator == y.operator && values(x) == values(y))
}

#[cfg(test)]
mod tests;
