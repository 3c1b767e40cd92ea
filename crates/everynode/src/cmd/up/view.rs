//! The live view of `everynode up`: nodes ready and each DaemonSet's rollout, redrawn in place
//! on a terminal and logged as plain lines (only when something changed) otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

/// How often the view refreshes.
const REFRESH: Duration = Duration::from_secs(1);

/// One line per DaemonSet, upstream's counters in `kubectl get ds` order.
fn summarize(nodes: &[Node], daemon_sets: &[DaemonSet]) -> Vec<String> {
    let ready = nodes
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count();
    let mut lines = vec![format!("nodes: {ready}/{} ready", nodes.len())];
    for ds in daemon_sets {
        let status = ds.status.clone().unwrap_or_default();
        let observed = status.observed_generation.unwrap_or(0) >= ds.metadata.generation.unwrap_or(0);
        let desired = status.desired_number_scheduled;
        let updated = status.updated_number_scheduled.unwrap_or(0);
        let available = status.number_available.unwrap_or(0);
        let state = if !observed {
            "waiting for the controller".to_owned()
        } else if updated < desired {
            format!("rolling out: {updated}/{desired} updated")
        } else if available < desired {
            format!("rolling out: {available}/{desired} available")
        } else {
            "up to date".to_owned()
        };
        lines.push(format!(
            "ds {}/{}: desired {desired} current {} ready {} up-to-date {updated} available {available} ({state})",
            ds.namespace().unwrap_or_default(),
            ds.name_any(),
            status.current_number_scheduled,
            status.number_ready,
        ));
    }
    lines
}

/// Runs until the process ends.
pub async fn run(client: Client) {
    let nodes: Api<Node> = Api::all(client.clone());
    let daemon_sets: Api<DaemonSet> = Api::all(client);
    let terminal = std::io::stdout().is_terminal();
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut last = Vec::new();
    loop {
        let params = ListParams::default();
        let (n, d) = tokio::join!(nodes.list(&params), daemon_sets.list(&params));
        if let (Ok(n), Ok(d)) = (n, d) {
            let lines = summarize(&n.items, &d.items);
            match &bar {
                Some(bar) => bar.set_message(lines.join("\n  ")),
                None if lines != last => {
                    for line in &lines {
                        tracing::info!("{line}");
                    }
                }
                None => {}
            }
            last = lines;
        }
        tokio::time::sleep(REFRESH).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rollout_progress_reads_like_kubectl_rollout_status() {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})).unwrap();
        let ds: DaemonSet = serde_json::from_value(json!({
            "metadata": {"name": "agent", "namespace": "default", "generation": 2},
            "spec": {"selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
                       "numberReady": 2, "updatedNumberScheduled": 1, "numberAvailable": 2, "numberMisscheduled": 0}
        }))
        .unwrap();
        let lines = summarize(&[node], &[ds]);
        assert_eq!(lines[0], "nodes: 1/1 ready");
        assert_eq!(
            lines[1],
            "ds default/agent: desired 3 current 3 ready 2 up-to-date 1 available 2 (rolling out: 1/3 updated)"
        );
    }
}
