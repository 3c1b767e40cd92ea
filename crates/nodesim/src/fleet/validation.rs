//! Fleet validation: every problem reported at once, with its path in the file
//! (`pools[1].behaviour.failures[0].image`), in the API server's wording where one exists.

use std::collections::HashSet;

use everynode_api::validation::meta::{
    dns1123_label, invalid_each, name_is_dns_subdomain, validate_labels, validate_qualified_name,
};
use everynode_api::validation::names::is_valid_label_value;
use everynode_api::validation::quantity::Quantity;
use everynode_api::{BadValue, ErrorList, FieldError, FieldPath};

use super::{Behaviour, CompiledBehaviour, Fleet, Pool};

/// The most nodes a fleet may have: the pod network hands each node a /24 out of a /9.
pub const MAX_NODES: u64 = crate::network::MAX_POD_CIDRS as u64;

const EFFECTS: &[&str] = &["NoExecute", "NoSchedule", "PreferNoSchedule"];

pub(super) fn validate_fleet(fleet: &Fleet) -> ErrorList {
    let mut errs = Vec::new();
    let pools = FieldPath::new("pools");
    let mut pool_names = HashSet::new();
    for (i, pool) in fleet.pools.iter().enumerate() {
        let path = pools.index(i);
        if !pool_names.insert(pool.name.as_str()) {
            errs.push(FieldError::duplicate(&path.child("name"), BadValue::Str(pool.name.clone())));
        }
        errs.extend(validate_pool(pool, &path));
    }
    errs.extend(validate_behaviour(&fleet.default_behaviour, &FieldPath::new("defaultBehaviour")));
    let total = fleet.node_count();
    if total > MAX_NODES {
        errs.push(FieldError::invalid(
            &pools,
            BadValue::Int(i64::try_from(total).unwrap_or(i64::MAX)),
            format!("a fleet may have at most {MAX_NODES} nodes (one /24 pod network each)"),
        ));
    } else if errs.is_empty() {
        // Two pools may still produce the same name (`worker-` #11 and `worker-1` #1).
        let mut seen = HashSet::new();
        for (pool, name) in fleet.nodes() {
            if !seen.insert(name.clone()) {
                let i = fleet.pools.iter().position(|p| p.name == pool.name).unwrap_or(0);
                errs.push(FieldError::invalid(
                    &pools.index(i).child("namePrefix"),
                    BadValue::Str(pool.prefix()),
                    format!("node name {name:?} is also produced by another pool"),
                ));
                break;
            }
        }
    }
    errs
}

fn validate_pool(pool: &Pool, path: &FieldPath) -> ErrorList {
    let mut errs = invalid_each(dns1123_label(&pool.name), &path.child("name"), &pool.name);
    let prefix = pool.prefix();
    errs.extend(invalid_each(name_is_dns_subdomain(&prefix, true), &path.child("namePrefix"), &prefix));
    errs.extend(validate_labels(Some(&pool.labels), &path.child("labels")));
    let taints = path.child("taints");
    let mut seen = HashSet::new();
    for (i, taint) in pool.taints.iter().enumerate() {
        let p = taints.index(i);
        errs.extend(validate_qualified_name(&taint.key, &p.child("key")));
        if let Some(value) = &taint.value {
            errs.extend(invalid_each(is_valid_label_value(value), &p.child("value"), value));
        }
        if !EFFECTS.contains(&taint.effect.as_str()) {
            errs.push(FieldError::not_supported(
                &p.child("effect"),
                BadValue::Str(taint.effect.clone()),
                EFFECTS,
            ));
        } else if !seen.insert((taint.key.as_str(), taint.effect.as_str())) {
            errs.push(FieldError::duplicate(&p, BadValue::Str(format!("{}:{}", taint.key, taint.effect))));
        }
    }
    let capacity = path.child("capacity");
    for (resource, value) in &pool.capacity {
        errs.extend(validate_qualified_name(resource, &capacity));
        match Quantity::parse(value) {
            Ok(q) if q.is_negative() => errs.push(FieldError::invalid(
                &capacity.key(resource),
                BadValue::Str(value.clone()),
                "must be greater than or equal to 0",
            )),
            Ok(_) => {}
            Err(e) => errs.push(FieldError::invalid(
                &capacity.key(resource),
                BadValue::Str(value.clone()),
                e.to_string(),
            )),
        }
    }
    errs.extend(validate_behaviour(&pool.behaviour, &path.child("behaviour")));
    errs
}

/// Checks a behaviour (also used for the `everynode.io/behaviour` annotation).
pub(crate) fn validate_behaviour(behaviour: &Behaviour, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    let scale = behaviour.backoff_scale;
    if !(scale.is_finite() && scale > 0.0) {
        errs.push(FieldError::invalid(
            &path.child("backoffScale"),
            BadValue::Rendered(scale.to_string()),
            "must be a positive number (1 is upstream's timing, 0.1 ten times faster)",
        ));
    }
    if let Err(e) = CompiledBehaviour::new(behaviour.clone()) {
        errs.push(FieldError::invalid(
            &path.child("failures").index(e.index).child("image"),
            BadValue::Str(e.pattern),
            e.reason,
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::fleet::{FailureMode, FailureRule, FleetError};

    use super::*;

    fn messages(fleet: &Fleet) -> Vec<String> {
        validate_fleet(fleet).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut bad = Pool::new("Workers", 2);
        bad.labels.insert("bad key!".into(), "v".into());
        bad.taints.push(k8s_openapi::api::core::v1::Taint {
            key: "dedicated".into(),
            effect: "Sometimes".into(),
            ..Default::default()
        });
        bad.capacity.insert("cpu".into(), "four".into());
        bad.behaviour.backoff_scale = 0.0;
        bad.behaviour.failures.push(FailureRule { image: "[".into(), mode: FailureMode::CrashLoop });
        let fleet = Fleet { pools: vec![bad, Pool::new("Workers", 1)], ..Fleet::default() };
        let all = messages(&fleet).join("\n");
        for want in [
            "pools[0].name: Invalid value: \"Workers\"",
            "pools[0].labels: Invalid value: \"bad key!\"",
            "pools[0].taints[0].effect: Unsupported value: \"Sometimes\"",
            "pools[0].capacity[cpu]: Invalid value: \"four\"",
            "pools[0].behaviour.backoffScale: Invalid value: 0",
            "pools[0].behaviour.failures[0].image: Invalid value: \"[\"",
            "pools[1].name: Duplicate value: \"Workers\"",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
    }

    #[test]
    fn pools_that_produce_the_same_node_name_are_rejected() {
        let mut a = Pool::new("a", 11);
        a.name_prefix = Some("worker-".into());
        let mut b = Pool::new("b", 1);
        b.name_prefix = Some("worker-1".into());
        let fleet = Fleet { pools: vec![a, b], ..Fleet::default() };
        let all = messages(&fleet).join("\n");
        assert!(all.contains("node name \"worker-11\" is also produced by another pool"), "{all}");
    }

    #[test]
    fn huge_fleets_are_rejected_before_naming_every_node() {
        let fleet = Fleet { pools: vec![Pool::new("a", u32::MAX)], ..Fleet::default() };
        let Err(FleetError::Invalid(errs)) = fleet.validate() else { panic!("must be invalid") };
        assert!(errs[0].to_string().contains("at most 32768 nodes"), "{}", errs[0]);
    }
}
