//! `everynode plan`: what a DaemonSet would do on a fleet, before it is applied.

mod output;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;

use crate::admission::admit;
use crate::forecast::{Fleet, forecast};
use crate::manifests::{Kind, Manifests, Object, Source, load};

/// Exit status when a manifest is invalid (the API server would refuse it).
const EXIT_INVALID: u8 = 1;

/// The field names of `-o json`, part of the command's interface.
const JSON_HELP: &str = "\
JSON output (-o json), one object:
  daemonSets[]           one entry per DaemonSet, in input order
    namespace, name
    strategy             {type, maxUnavailable, maxSurge} after defaulting; the last two only for RollingUpdate
    minReadySeconds
    revisionHash         controller-revision-hash of the pods it creates
    nodes[]              sorted by name: {name, run, keepsRunning, reasons[]}
                         run: a new daemon pod is placed there; keepsRunning: an existing one may stay;
                         reasons: why the node does not fully qualify (empty when run is true)
    firstSync            {creates, deletes}: what the controller's first sync does
    totalCreates         pods created before the counts were taken (more than firstSync.creates
                         when the 250-pods-per-sync burst limit splits the work)
    counts               {desired, current, ready, upToDate, available, misscheduled, unavailable}:
                         the status right after those pods are created and Ready
    stopped              present when the controller would do nothing, with the reason
    warnings[]           problems that do not stop the controller

Exit status: 0 planned, 1 invalid input (unreadable or invalid manifests), 2 usage error.";

/// Arguments of `everynode plan`.
#[derive(Debug, clap::Args)]
#[command(
    override_usage = "everynode plan -f <FILE> --nodes <FILE> [--pods <FILE>] [-o text|json]",
    about = "Show where a DaemonSet would run, why not elsewhere, and the status it would report",
    long_about = "Show, for each node, whether a DaemonSet would run a pod there and exactly why not \
                  (which selector term, which taint), and the status counts it would report once its \
                  pods are up. Manifests are defaulted and validated as the API server would; invalid \
                  ones get the API server's field errors.",
    after_long_help = JSON_HELP
)]
pub struct PlanArgs {
    /// DaemonSet manifest(s): YAML, several documents (---) or a List; `-` reads stdin.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filename: PathBuf,
    /// The nodes: Node documents or `kubectl get nodes -o yaml` output; `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub nodes: Option<PathBuf>,
    /// Pods (and ControllerRevisions) already in the cluster, e.g.
    /// `kubectl get pods,controllerrevisions -n NS -o yaml`. Default: none.
    #[arg(long, value_name = "FILE")]
    pub pods: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// How to print the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables for people.
    Text,
    /// One JSON object for scripts (fields in `plan --help`).
    Json,
}

impl PlanArgs {
    /// Usage problems clap cannot check: a missing fleet (with a hint where to get one) and stdin
    /// named twice.
    pub fn check(&self) -> Result<(), String> {
        let Some(nodes) = &self.nodes else {
            return Err("no nodes to plan on: pass --nodes FILE, for example the output of \
                        `kubectl get nodes -o yaml`"
                .to_string());
        };
        let stdin_uses = [Some(&self.filename), Some(nodes), self.pods.as_ref()]
            .into_iter()
            .flatten()
            .filter(|p| p.as_os_str() == "-")
            .count();
        if stdin_uses > 1 {
            return Err("only one of -f, --nodes and --pods can read stdin (-)".to_string());
        }
        Ok(())
    }
}

/// Runs the command: plans go to `out`, notes and refusals to `notes`.
pub fn run(
    args: &PlanArgs,
    now: Timestamp,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let Some(nodes_path) = &args.nodes else { bail!("--nodes is required") };
    let daemon_sets = read(&args.filename, &[Kind::DaemonSet], notes)?;
    let nodes = read(nodes_path, &[Kind::Node], notes)?;
    let existing = match &args.pods {
        Some(path) => read(path, &[Kind::Pod, Kind::ControllerRevision], notes)?,
        None => Manifests::default(),
    };

    let mut admitted = Vec::new();
    let mut refusals = Vec::new();
    for located in daemon_sets.objects {
        let Object::DaemonSet(ds) = located.object else { continue };
        match admit(*ds) {
            Ok(ds) => admitted.push(ds),
            Err(invalid) => refusals.push(format!("{}: {invalid}", located.origin.file)),
        }
    }
    if !refusals.is_empty() {
        for refusal in refusals {
            writeln!(notes, "error: {refusal}")?;
        }
        return Ok(ExitCode::from(EXIT_INVALID));
    }
    if admitted.is_empty() {
        bail!("{}: no DaemonSet found", args.filename.display());
    }

    let nodes = fleet_nodes(nodes)?;
    if nodes.is_empty() {
        writeln!(notes, "note: {}: no nodes, so the DaemonSet runs nowhere", nodes_path.display())?;
    }
    let (pods, revisions) = split_existing(existing);
    let fleet = Fleet { nodes: &nodes, pods: &pods, revisions: &revisions };
    let plans: Vec<(DaemonSet, _)> = admitted
        .into_iter()
        .map(|ds| {
            let f = forecast(&ds, fleet, now);
            (ds, f)
        })
        .collect();
    let report = output::Report::new(&plans);
    match args.output {
        Format::Text => output::write_text(&report, out)?,
        Format::Json => output::write_json(&report, out)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads one input, mentioning on `notes` every object it ignores.
fn read(path: &Path, wanted: &[Kind], notes: &mut dyn Write) -> anyhow::Result<Manifests> {
    let source = Source::read(path)?;
    let manifests = load(&source, wanted)?;
    let wanted_names: Vec<String> = wanted.iter().map(|k| format!("{}s", k.as_str())).collect();
    for skipped in &manifests.skipped {
        writeln!(
            notes,
            "note: {}: ignoring {} {:?} (only {} are read from this file)",
            skipped.origin,
            skipped.kind,
            skipped.name,
            wanted_names.join(" and ")
        )?;
    }
    Ok(manifests)
}

/// The nodes, each with a unique name: the controller identifies nodes by name only.
fn fleet_nodes(manifests: Manifests) -> anyhow::Result<Vec<Node>> {
    let mut seen = HashSet::new();
    let mut nodes = Vec::with_capacity(manifests.objects.len());
    for located in manifests.objects {
        let Object::Node(node) = located.object else { continue };
        let name = node.metadata.name.clone().unwrap_or_default();
        if name.is_empty() {
            bail!("{}: Node has no metadata.name", located.origin);
        }
        if !seen.insert(name.clone()) {
            bail!("{}: Node {name:?} is listed twice", located.origin);
        }
        nodes.push(*node);
    }
    Ok(nodes)
}

fn split_existing(manifests: Manifests) -> (Vec<Pod>, Vec<ControllerRevision>) {
    let mut pods = Vec::new();
    let mut revisions = Vec::new();
    for located in manifests.objects {
        match located.object {
            Object::Pod(pod) => pods.push(*pod),
            Object::ControllerRevision(rev) => revisions.push(*rev),
            Object::DaemonSet(_) | Object::Node(_) => {}
        }
    }
    (pods, revisions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(nodes: Option<&str>, f: &str) -> PlanArgs {
        PlanArgs { filename: f.into(), nodes: nodes.map(Into::into), pods: None, output: Format::Text }
    }

    #[test]
    fn a_missing_fleet_is_a_usage_error_with_a_hint() {
        let err = args(None, "ds.yaml").check().unwrap_err();
        assert!(err.contains("kubectl get nodes -o yaml"), "{err}");
    }

    #[test]
    fn stdin_can_feed_only_one_input() {
        assert!(args(Some("-"), "-").check().is_err());
        assert!(args(Some("-"), "ds.yaml").check().is_ok());
    }

    #[test]
    fn unread_files_are_named_in_the_error() {
        let err = Source::read(Path::new("/nonexistent/ds.yaml")).unwrap_err();
        assert!(format!("{:#}", anyhow::Error::from(err)).contains("/nonexistent/ds.yaml"));
    }

    #[test]
    fn nodes_without_names_are_refused() {
        let source =
            Source { name: "n.yaml".into(), text: "apiVersion: v1\nkind: Node\nmetadata: {}\n".into() };
        let err = fleet_nodes(load(&source, &[Kind::Node]).unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "n.yaml: document 1: Node has no metadata.name");
    }
}
