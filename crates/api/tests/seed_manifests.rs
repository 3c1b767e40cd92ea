//! Every apps/v1 DaemonSet manifest from the reference seeds (`/work/shared/reference/seeds/*.md`,
//! copied into `tests/fixtures/`) must default and validate the way a real API server takes it.
//!
//! Two seeds are not plain manifests and are handled explicitly:
//! - `daemonset-resource-reference.md`'s first block is a field reference with placeholders
//!   (`minReadySeconds: integer`), not a manifest; it is not copied.
//! - `headwind-daemonsets-07.yaml` is a fragment without selector or template labels; a real
//!   cluster rejects it too, so its exact errors are asserted instead.

use std::fs;
use std::path::PathBuf;

use everynode_api::defaults::default_daemonset;
use everynode_api::validation::{invalid_message, validate_daemonset};
use k8s_openapi::api::apps::v1::DaemonSet;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const FRAGMENT_WITHOUT_SELECTOR: &str = "headwind-daemonsets-07.yaml";

fn fixtures() -> Result<Vec<(String, DaemonSet)>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = fs::read_to_string(&path)?;
        let ds: DaemonSet =
            serde_yaml_ng::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        out.push((name, ds));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// What the API server does before validating: fill the namespace from the request (kubectl
/// sends to `default` when the manifest has none), then default.
fn admit(mut ds: DaemonSet) -> DaemonSet {
    ds.metadata.namespace.get_or_insert_with(|| "default".to_string());
    default_daemonset(&mut ds);
    ds
}

#[test]
fn all_seed_daemonsets_are_present() -> Result<()> {
    assert_eq!(fixtures()?.len(), 23, "one fixture per apps/v1 DaemonSet manifest in the seeds");
    Ok(())
}

#[test]
fn seed_daemonsets_default_and_validate_cleanly() -> Result<()> {
    for (name, ds) in fixtures()? {
        if name == FRAGMENT_WITHOUT_SELECTOR {
            continue;
        }
        let ds = admit(ds);
        let errs = validate_daemonset(&ds);
        let ds_name = ds.metadata.name.clone().unwrap_or_default();
        assert!(errs.is_empty(), "{name}: {}", invalid_message("DaemonSet", &ds_name, &errs));
    }
    Ok(())
}

#[test]
fn seed_daemonsets_default_idempotently() -> Result<()> {
    for (name, ds) in fixtures()? {
        let once = admit(ds);
        let twice = admit(once.clone());
        assert_eq!(once, twice, "{name}: defaulting twice changed the object");
    }
    Ok(())
}

#[test]
fn seed_defaults_look_like_a_real_cluster() -> Result<()> {
    let all = fixtures()?;
    let (_, kube_proxy) = all
        .iter()
        .find(|(n, _)| n == "daemonset-resource-reference-12.yaml")
        .ok_or("kube-proxy fixture missing")?;
    let ds = admit(kube_proxy.clone());
    let pod = ds.spec.template.spec.clone().unwrap_or_default();
    let container = &pod.containers[0];
    assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
    let field_ref =
        container.env.as_ref().and_then(|e| e[0].value_from.as_ref()).and_then(|v| v.field_ref.as_ref());
    assert_eq!(field_ref.and_then(|f| f.api_version.as_deref()), Some("v1"));
    let volumes = pod.volumes.unwrap_or_default();
    assert_eq!(volumes[0].config_map.as_ref().and_then(|c| c.default_mode), Some(420));
    assert_eq!(volumes[1].host_path.as_ref().and_then(|h| h.type_.as_deref()), Some("FileOrCreate"));
    assert_eq!(volumes[2].host_path.as_ref().and_then(|h| h.type_.as_deref()), Some(""));
    let rolling = ds.spec.update_strategy.and_then(|s| s.rolling_update).ok_or("no rolling update")?;
    assert_eq!(rolling.max_surge, Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(0)));
    Ok(())
}

#[test]
fn selectorless_fragment_is_rejected_as_a_real_cluster_would() -> Result<()> {
    let (_, fragment) = fixtures()?
        .into_iter()
        .find(|(n, _)| n == FRAGMENT_WITHOUT_SELECTOR)
        .ok_or("fragment fixture missing")?;
    let errs = validate_daemonset(&admit(fragment));
    assert_eq!(
        invalid_message("DaemonSet", "private-agent", &errs),
        r#"The DaemonSet "private-agent" is invalid: spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`"#
    );
    Ok(())
}
