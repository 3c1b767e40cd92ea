//! End-to-end tests of `everynode plan`: the real binary on the fixture manifests (taken from the
//! seed pages) and a three-node fleet: control-plane-1 (tainted NoSchedule), worker-1 (a GPU
//! node) and worker-2 (with an SSD).

// Test helpers panic on purpose: a failure is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs `everynode <args>` in the fixtures directory (so messages name files as given), feeding
/// `stdin` when some.
fn everynode(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_everynode"))
        .args(args)
        .current_dir(fixtures())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the everynode binary starts");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn plan(args: &[&str]) -> Run {
    plan_with_stdin(args, None)
}

fn plan_with_stdin(args: &[&str], stdin: Option<&str>) -> Run {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    let out = everynode(&all, stdin);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The row of `node` in the text table, split into columns (REASON may hold spaces).
fn row<'a>(stdout: &'a str, node: &str) -> Vec<&'a str> {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(node))
        .unwrap_or_else(|| panic!("no row for {node} in:\n{stdout}"));
    let mut cols = Vec::new();
    let mut rest = line;
    for _ in 0..3 {
        rest = rest.trim_start();
        let end = rest.find(' ').unwrap_or(rest.len());
        cols.push(&rest[..end]);
        rest = &rest[end..];
    }
    cols.push(rest.trim());
    cols
}

/// The numbers under DESIRED CURRENT READY UP-TO-DATE AVAILABLE MISSCHEDULED.
fn counts(stdout: &str) -> Vec<i64> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("DESIRED"));
    lines.next().unwrap_or_else(|| panic!("no counts in:\n{stdout}"));
    lines.next().unwrap().split_whitespace().map(|n| n.parse().unwrap()).collect()
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

#[test]
fn fluent_bit_tolerates_the_control_plane_and_runs_on_all_three_nodes() {
    let run = plan(&["-f", "fluent-bit.yaml", "--nodes", "nodes.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("DaemonSet logging/fluent-bit   strategy: RollingUpdate"),
        "{}",
        run.stdout
    );
    for node in ["control-plane-1", "worker-1", "worker-2"] {
        assert_eq!(row(&run.stdout, node), [node, "yes", "yes", "-"]);
    }
    assert!(run.stdout.contains("first sync: create 3 pods, delete 0 pods"), "{}", run.stdout);
    assert_eq!(counts(&run.stdout), [3, 3, 3, 3, 3, 0]);
}

#[test]
fn plain_fluentd_skips_the_control_plane_and_names_the_taint() {
    let run = plan(&["-f", "fluentd.yaml", "--nodes", "nodes.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("DaemonSet kube-system/fluentd"), "{}", run.stdout);
    let cp = row(&run.stdout, "control-plane-1");
    assert_eq!(cp[..3], ["control-plane-1", "no", "yes"]);
    assert!(
        cp[3].contains("taint node-role.kubernetes.io/control-plane:NoSchedule is not tolerated"),
        "{cp:?}"
    );
    assert_eq!(row(&run.stdout, "worker-1")[1], "yes");
    assert_eq!(counts(&run.stdout), [2, 2, 2, 2, 2, 0]);
}

#[test]
fn node_selector_ssd_runs_only_on_the_ssd_node() {
    let run = plan(&["-f", "ssd.yaml", "--nodes", "nodes.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(row(&run.stdout, "worker-2"), ["worker-2", "yes", "yes", "-"]);
    assert_eq!(
        row(&run.stdout, "worker-1"),
        ["worker-1", "no", "no", "nodeSelector ssd=true: node has no label ssd"]
    );
    assert!(row(&run.stdout, "control-plane-1")[3].contains("nodeSelector ssd=true: node has no label ssd"));
    assert_eq!(counts(&run.stdout), [1, 1, 1, 1, 1, 0]);
}

#[test]
fn node_affinity_not_in_excludes_the_gpu_node() {
    let run = plan(&["-f", "node-affinity.yaml", "--nodes", "nodes.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let gpu = row(&run.stdout, "worker-1");
    assert_eq!(gpu[..3], ["worker-1", "no", "no"]);
    assert!(gpu[3].contains("node-type notin (gpu)"), "{gpu:?}");
    assert_eq!(row(&run.stdout, "worker-2")[1], "yes");
    assert_eq!(row(&run.stdout, "control-plane-1")[1], "yes");
    assert_eq!(counts(&run.stdout)[0], 2);
}

#[test]
fn a_selector_not_matching_the_template_is_refused_with_the_api_servers_message() {
    let run = plan(&["-f", "invalid-selector.yaml", "--nodes", "nodes.yaml"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains(r#"The DaemonSet "broken" is invalid: "#), "{}", run.stderr);
    assert!(run.stderr.contains("`selector` does not match template `labels`"), "{}", run.stderr);
}

#[test]
fn extensions_v1beta1_is_refused_with_the_way_to_apps_v1() {
    let run = plan(&["-f", "fluentd-extensions-v1beta1.yaml", "--nodes", "nodes.yaml"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim_end(),
        "error: fluentd-extensions-v1beta1.yaml: DaemonSet \"fluentd\": apiVersion extensions/v1beta1 is no longer \
         served (removed in Kubernetes 1.16); use apps/v1 and add spec.selector.matchLabels matching the template labels"
    );
}

#[test]
fn kubectl_get_nodes_list_output_is_read_like_separate_documents() {
    let from_list = plan(&["-f", "fluentd.yaml", "--nodes", "nodes-list.yaml"]);
    let from_docs = plan(&["-f", "fluentd.yaml", "--nodes", "nodes.yaml"]);
    assert_eq!(from_list.code, 0, "{}", from_list.stderr);
    assert_eq!(from_list.stdout, from_docs.stdout);
}

#[test]
fn json_output_has_the_nodes_and_the_counts() {
    let run = plan(&["-f", "fluentd.yaml", "--nodes", "nodes.yaml", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    let ds = &v["daemonSets"][0];
    assert_eq!(ds["namespace"], "kube-system");
    assert_eq!(ds["name"], "fluentd");
    assert_eq!(ds["strategy"]["type"], "RollingUpdate");
    assert_eq!(ds["nodes"][0]["name"], "control-plane-1");
    assert_eq!(ds["nodes"][0]["run"], false);
    assert_eq!(ds["nodes"][0]["keepsRunning"], true);
    assert!(ds["nodes"][0]["reasons"][0].as_str().unwrap().contains("control-plane:NoSchedule"));
    assert_eq!(ds["firstSync"]["creates"], 2);
    assert_eq!(
        ds["counts"],
        serde_json::json!({"desired": 2, "current": 2, "ready": 2, "upToDate": 2, "available": 2,
                           "misscheduled": 0, "unavailable": 0})
    );
}

#[test]
fn the_daemonset_can_come_from_stdin() {
    let manifest = std::fs::read_to_string(fixtures().join("fluent-bit.yaml")).unwrap();
    let run = plan_with_stdin(&["-f", "-", "--nodes", "nodes-list.yaml"], Some(&manifest));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(counts(&run.stdout), [3, 3, 3, 3, 3, 0]);
}

#[test]
fn existing_pods_on_nodes_that_lost_their_label_count_as_misscheduled() {
    let run = plan(&["-f", "ssd.yaml", "--nodes", "nodes.yaml", "--pods", "pods-ssd.yaml", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = &json(&run.stdout)["daemonSets"][0];
    assert_eq!(ds["firstSync"], serde_json::json!({"creates": 1, "deletes": 1}));
    assert_eq!(ds["counts"]["desired"], 1);
    assert_eq!(ds["counts"]["current"], 1);
    assert_eq!(ds["counts"]["misscheduled"], 1);
}

#[test]
fn every_daemonset_of_a_multi_document_file_is_planned_and_other_kinds_noted() {
    let run = plan(&["-f", "seed-examples.yaml", "--nodes", "nodes.yaml", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    let names: Vec<&str> =
        v["daemonSets"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 19, "{names:?}");
    assert!(names.contains(&"kube-proxy") && names.contains(&"security-agent"), "{names:?}");
    assert!(run.stderr.contains(r#"ignoring ConfigMap "fluent-bit-config""#), "{}", run.stderr);
}

#[test]
fn yaml_syntax_errors_name_the_file_and_line() {
    let run = plan_with_stdin(
        &["-f", "fluent-bit.yaml", "--nodes", "-"],
        Some("apiVersion: v1\nkind: Node\nmetadata: [name\n"),
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.starts_with("error: <stdin>: YAML syntax error: "), "{}", run.stderr);
    assert!(run.stderr.contains("line 4"), "{}", run.stderr);
}

#[test]
fn nodes_without_a_name_are_refused() {
    let run = plan_with_stdin(
        &["-f", "fluent-bit.yaml", "--nodes", "-"],
        Some("apiVersion: v1\nkind: Node\nmetadata: {}\n"),
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.trim_end(), "error: <stdin>: document 1: Node has no metadata.name");
}

#[test]
fn a_plan_without_nodes_is_a_usage_error_with_a_hint() {
    let run = plan(&["-f", "fluent-bit.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("kubectl get nodes -o yaml"), "{}", run.stderr);
}

#[test]
fn unknown_flags_are_usage_errors() {
    assert_eq!(plan(&["-f", "fluent-bit.yaml", "--nodes", "nodes.yaml", "--bogus"]).code, 2);
    assert_eq!(plan(&["-f", "fluent-bit.yaml", "--nodes", "nodes.yaml", "-o", "xml"]).code, 2);
}

#[test]
fn a_missing_file_is_invalid_input_naming_the_file() {
    let run = plan(&["-f", "no-such-file.yaml", "--nodes", "nodes.yaml"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.starts_with("error: no-such-file.yaml: cannot read: "), "{}", run.stderr);
}
