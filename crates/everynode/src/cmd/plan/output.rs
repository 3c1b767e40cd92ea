//! Printing plans: tables for people, JSON for scripts. Both render one [`Report`], so they
//! always say the same thing; the JSON field names are documented in `plan --help`.

use std::io::Write;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use everynode_core::constants::BURST_REPLICAS;

use crate::forecast::Forecast;

/// Everything `plan` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub daemon_sets: Vec<DaemonSetReport>,
}

/// The plan for one DaemonSet.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetReport {
    pub namespace: String,
    pub name: String,
    pub strategy: Strategy,
    pub min_ready_seconds: i32,
    pub revision_hash: String,
    pub nodes: Vec<NodeReport>,
    pub first_sync: SyncReport,
    pub total_creates: usize,
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub warnings: Vec<String>,
}

/// The update strategy after defaulting.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<String>,
}

/// One node's verdict.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeReport {
    pub name: String,
    pub run: bool,
    pub keeps_running: bool,
    pub reasons: Vec<String>,
}

/// What one sync does.
#[derive(Debug, Serialize)]
pub struct SyncReport {
    pub creates: usize,
    pub deletes: usize,
}

/// The status counts, named like `kubectl get daemonset` columns.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub desired: i32,
    pub current: i32,
    pub ready: i32,
    pub up_to_date: i32,
    pub available: i32,
    pub misscheduled: i32,
    pub unavailable: i32,
}

fn int_or_string(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

fn strategy(ds: &DaemonSet) -> Strategy {
    let strategy = ds.spec.update_strategy.as_ref();
    let type_ = strategy.and_then(|s| s.type_.clone()).unwrap_or_else(|| "RollingUpdate".to_string());
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref()).filter(|_| type_ == "RollingUpdate");
    Strategy {
        type_,
        max_unavailable: rolling.and_then(|r| r.max_unavailable.as_ref()).map(int_or_string),
        max_surge: rolling.and_then(|r| r.max_surge.as_ref()).map(int_or_string),
    }
}

impl Report {
    /// Gathers what to print from the admitted DaemonSets and their forecasts.
    pub fn new(plans: &[(DaemonSet, Forecast)]) -> Report {
        let daemon_sets = plans
            .iter()
            .map(|(ds, f)| DaemonSetReport {
                namespace: ds.metadata.namespace.clone().unwrap_or_default(),
                name: ds.metadata.name.clone().unwrap_or_default(),
                strategy: strategy(ds),
                min_ready_seconds: ds.spec.min_ready_seconds.unwrap_or(0),
                revision_hash: f.revision_hash.clone(),
                nodes: f
                    .nodes
                    .iter()
                    .map(|v| NodeReport {
                        name: v.node.clone(),
                        run: v.placement.should_run,
                        keeps_running: v.placement.should_continue_running,
                        reasons: v.reasons.clone(),
                    })
                    .collect(),
                first_sync: SyncReport { creates: f.first_sync_creates, deletes: f.first_sync_deletes },
                total_creates: f.total_creates,
                counts: Counts {
                    desired: f.counts.desired,
                    current: f.counts.current,
                    ready: f.counts.ready,
                    up_to_date: f.counts.updated,
                    available: f.counts.available,
                    misscheduled: f.counts.misscheduled,
                    unavailable: f.counts.unavailable(),
                },
                stopped: f.stopped.clone(),
                warnings: f.warnings.clone(),
            })
            .collect();
        Report { daemon_sets }
    }
}

/// Prints the report as one pretty JSON object.
pub fn write_json(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

/// Prints rows as columns three spaces apart, as kubectl does. The last column is not padded.
fn write_table(out: &mut dyn Write, rows: &[Vec<String>]) -> std::io::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   ", width = widths[c]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn pods(n: usize) -> String {
    if n == 1 { "1 pod".to_string() } else { format!("{n} pods") }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// Prints the report as a header and two tables per DaemonSet.
pub fn write_text(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    for (i, ds) in report.daemon_sets.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let mut strategy = ds.strategy.type_.clone();
        if let (Some(mu), Some(ms)) = (&ds.strategy.max_unavailable, &ds.strategy.max_surge) {
            strategy.push_str(&format!(" (maxUnavailable {mu}, maxSurge {ms})"));
        }
        writeln!(out, "DaemonSet {}/{}   strategy: {strategy}", ds.namespace, ds.name)?;
        if let Some(stopped) = &ds.stopped {
            writeln!(out, "the controller would do nothing: {stopped}")?;
        }
        let mut rows = vec![vec!["NODE".into(), "RUN".into(), "KEEPS-RUNNING".into(), "REASON".into()]];
        for node in &ds.nodes {
            let reason = if node.reasons.is_empty() { "-".to_string() } else { node.reasons.join("; ") };
            rows.push(vec![node.name.clone(), yes_no(node.run), yes_no(node.keeps_running), reason]);
        }
        writeln!(out)?;
        write_table(out, &rows)?;
        writeln!(out)?;
        let mut sync = format!(
            "first sync: create {}, delete {}",
            pods(ds.first_sync.creates),
            pods(ds.first_sync.deletes)
        );
        if ds.total_creates > ds.first_sync.creates {
            let more = ds.total_creates - ds.first_sync.creates;
            sync.push_str(&format!(
                " ({more} more in later syncs: at most {BURST_REPLICAS} creates per sync)"
            ));
        }
        writeln!(out, "{sync}")?;
        let mut heading = "status once the new pods are Ready".to_string();
        if ds.min_ready_seconds > 0 {
            heading.push_str(&format!(" (available only after minReadySeconds={})", ds.min_ready_seconds));
        }
        writeln!(out, "{heading}:")?;
        let c = &ds.counts;
        let values = [c.desired, c.current, c.ready, c.up_to_date, c.available, c.misscheduled];
        write_table(
            out,
            &[
                ["DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "MISSCHEDULED"]
                    .map(String::from)
                    .to_vec(),
                values.iter().map(ToString::to_string).collect(),
            ],
        )?;
        for warning in &ds.warnings {
            writeln!(out, "warning: {warning}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_leave_the_last_unpadded() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["A".to_string(), "BB".into(), "x".into()],
            vec!["ccc".into(), "d".into(), "long".into()],
        ];
        write_table(&mut out, &rows).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "A     BB   x\nccc   d    long\n");
    }
}
