//! Acceptance tests of the embedded API server: the real `everynode server` binary driven by the
//! real kubectl, checking exit statuses and what kubectl prints against what it prints against a
//! Kubernetes cluster (upstream columns and formats; AGE cells masked). There are no controllers
//! or nodes yet, so DaemonSets are only stored: these tests check API behaviour, not placement.
//!
//! kubectl is `<workspace>/.venv/bin/kubectl` (scripts/test.sh installs it) or the one on PATH;
//! without either the tests fail, unless EVERYNODE_SKIP_KUBECTL=1 asks to skip them.

// Test helpers panic on purpose: a failure is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::{Cluster, eventually, is_seconds, mask_age, read_fixture, workspace};

/// How long garbage collection and namespace finalization may take. Upstream usually needs a
/// few seconds; ours reacts to watch events at once.
const GC_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a watching kubectl may take to print its next line.
const WATCH_LINE_TIMEOUT: Duration = Duration::from_secs(10);

/// Seed manifests the API server must refuse, or kubectl cannot send (tested on their own).
const SEEDS_REFUSED: [&str; 2] = ["fluentd.tutorial.yaml", "private-agent.yaml"];

/// A seed fixture's DaemonSet, as the tests need it.
#[derive(Debug, Clone)]
struct Seed {
    file: String,
    namespace: String,
    name: String,
    image: String,
}

/// The DaemonSets of tests/fixtures/seeds that the API server accepts. (The API outline block
/// of daemonset-resource-reference.md, with `name: string` and `selector: {}`, is no manifest
/// and has no fixture.)
fn seeds() -> Vec<Seed> {
    let mut files: Vec<String> = std::fs::read_dir(support::fixtures().join("seeds"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".yaml") && !SEEDS_REFUSED.contains(&name.as_str()))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let doc: serde_yaml_ng::Value =
                serde_yaml_ng::from_str(&read_fixture(format!("seeds/{file}"))).unwrap();
            let meta = &doc["metadata"];
            Seed {
                namespace: meta["namespace"].as_str().unwrap_or("default").to_owned(),
                name: meta["name"].as_str().unwrap().to_owned(),
                image: doc["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap().to_owned(),
                file,
            }
        })
        .collect()
}

/// Splits seeds into rounds in which no two share a namespace and name (the seed pages hold
/// three fluent-bit, three node-exporter and two apps/v1 fluentd), keeping file order.
fn rounds(seeds: Vec<Seed>) -> Vec<Vec<Seed>> {
    let mut rounds: Vec<Vec<Seed>> = Vec::new();
    for seed in seeds {
        let clash =
            |round: &Vec<Seed>| round.iter().any(|s| s.namespace == seed.namespace && s.name == seed.name);
        match rounds.iter_mut().find(|round| !clash(round)) {
            Some(round) => round.push(seed),
            None => rounds.push(vec![seed]),
        }
    }
    rounds
}

fn lines(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().map(|line| line + "\n").collect()
}

/// `-f a -f b ...` for kubectl.
fn file_args<'a>(files: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    files.into_iter().flat_map(|file| ["-f", file]).collect()
}

#[test]
fn every_seed_daemonset_applies_then_reapplies_unchanged_then_configures_a_new_image() {
    let Some(k) = Cluster::start() else { return };
    let seeds = seeds();
    assert_eq!(seeds.len(), 22, "{seeds:#?}");

    // The seeds need namespaces they do not declare: create those a cluster lacks.
    let namespaces: BTreeSet<&str> = seeds.iter().map(|s| s.namespace.as_str()).collect();
    let mut created = Vec::new();
    for ns in namespaces {
        if k.kubectl(&["get", "namespace", ns]).code != 0 {
            let out = k.apply(&format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"));
            assert_eq!(out, format!("namespace/{ns} created\n"));
            created.push(ns);
        }
    }
    assert_eq!(
        created,
        ["logging", "monitoring", "security"],
        "default and kube-system exist from the start"
    );

    for round in rounds(seeds) {
        let originals: Vec<String> = round.iter().map(|s| format!("seeds/{}", s.file)).collect();
        let changed: Vec<String> = round
            .iter()
            .map(|s| {
                let text = read_fixture(format!("seeds/{}", s.file));
                let edited =
                    text.replacen(&format!("image: {}", s.image), &format!("image: {}-changed", s.image), 1);
                assert_ne!(edited, text, "{}: no `image: {}` line", s.file, s.image);
                k.write_file(&format!("changed/{}", s.file), &edited).display().to_string()
            })
            .collect();
        let apply = |files: &[String]| {
            let mut args = vec!["apply"];
            args.extend(file_args(files.iter().map(String::as_str)));
            k.kubectl(&args).ok()
        };
        let each = |verb: &str| lines(round.iter().map(|s| format!("daemonset.apps/{} {verb}", s.name)));

        assert_eq!(apply(&originals), each("created"));
        assert_eq!(apply(&originals), each("unchanged"));
        assert_eq!(apply(&changed), each("configured"));

        // Generation and the template generation both count the one template change.
        let got = k
            .kubectl(&[
                "get",
                "daemonsets",
                "--all-namespaces",
                "-o",
                "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.metadata.generation} \
                 {.metadata.annotations.deprecated\\.daemonset\\.template\\.generation} \
                 {.spec.template.spec.containers[0].image}{\"\\n\"}{end}",
            ])
            .ok();
        let mut sorted = round.clone();
        // Lists come in key order: namespace, then name.
        sorted.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let want =
            lines(sorted.iter().map(|s| format!("{}/{} 2 2 {}-changed", s.namespace, s.name, s.image)));
        assert_eq!(got, want);

        let mut args = vec!["delete"];
        args.extend(file_args(originals.iter().map(String::as_str)));
        let want = lines(
            round
                .iter()
                .map(|s| format!("daemonset.apps \"{}\" deleted from {} namespace", s.name, s.namespace)),
        );
        assert_eq!(k.kubectl(&args).ok(), want);
    }
    let left = k.kubectl(&["get", "daemonsets", "--all-namespaces"]);
    assert_eq!((left.code, left.stdout.as_str(), left.stderr.as_str()), (0, "", "No resources found\n"));
}

/// The upstream object as `kubectl get -o yaml` prints it right after `kubectl apply` of the
/// skill seed's fluentd: defaults filled in, no controller status yet.
const FLUENTD_YAML: &str = r#"apiVersion: apps/v1
kind: DaemonSet
metadata:
  annotations:
    deprecated.daemonset.template.generation: "1"
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"annotations":{},"labels":{"app":"fluentd"},"name":"fluentd","namespace":"kube-system"},"spec":{"selector":{"matchLabels":{"app":"fluentd"}},"template":{"metadata":{"labels":{"app":"fluentd"}},"spec":{"containers":[{"image":"fluent/fluentd:v1.16","name":"fluentd","resources":{"limits":{"memory":"200Mi"},"requests":{"cpu":"100m","memory":"200Mi"}},"volumeMounts":[{"mountPath":"/var/log","name":"varlog"},{"mountPath":"/var/lib/docker/containers","name":"containers","readOnly":true}]}],"volumes":[{"hostPath":{"path":"/var/log"},"name":"varlog"},{"hostPath":{"path":"/var/lib/docker/containers"},"name":"containers"}]}}}}
  creationTimestamp: "<masked>"
  generation: 1
  labels:
    app: fluentd
  name: fluentd
  namespace: kube-system
  resourceVersion: "<masked>"
  uid: <masked>
spec:
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app: fluentd
  template:
    metadata:
      labels:
        app: fluentd
    spec:
      containers:
      - image: fluent/fluentd:v1.16
        imagePullPolicy: IfNotPresent
        name: fluentd
        resources:
          limits:
            memory: 200Mi
          requests:
            cpu: 100m
            memory: 200Mi
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
        volumeMounts:
        - mountPath: /var/log
          name: varlog
        - mountPath: /var/lib/docker/containers
          name: containers
          readOnly: true
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
      volumes:
      - hostPath:
          path: /var/log
          type: ""
        name: varlog
      - hostPath:
          path: /var/lib/docker/containers
          type: ""
        name: containers
  updateStrategy:
    rollingUpdate:
      maxSurge: 0
      maxUnavailable: 1
    type: RollingUpdate
status:
  currentNumberScheduled: 0
  desiredNumberScheduled: 0
  numberMisscheduled: 0
  numberReady: 0
"#;

/// `kubectl describe ds fluentd` with no pods and no events (all of it kubectl's formatting of
/// the object the server returns).
const FLUENTD_DESCRIBE: &str = "Name:           fluentd
Namespace:      kube-system
Selector:       app=fluentd
Node-Selector:  <none>
Labels:         app=fluentd
Annotations:    deprecated.daemonset.template.generation: 1
Desired Number of Nodes Scheduled: 0
Current Number of Nodes Scheduled: 0
Number of Nodes Scheduled with Up-to-date Pods: 0
Number of Nodes Scheduled with Available Pods: 0
Number of Nodes Misscheduled: 0
Pods Status:  0 Running / 0 Waiting / 0 Succeeded / 0 Failed
Pod Template:
  Labels:  app=fluentd
  Containers:
   fluentd:
    Image:      fluent/fluentd:v1.16
    Port:       <none>
    Host Port:  <none>
    Limits:
      memory:  200Mi
    Requests:
      cpu:        100m
      memory:     200Mi
    Environment:  <none>
    Mounts:
      /var/lib/docker/containers from containers (ro)
      /var/log from varlog (rw)
  Volumes:
   varlog:
    Type:          HostPath (bare host directory volume)
    Path:          /var/log
    HostPathType:  
   containers:
    Type:          HostPath (bare host directory volume)
    Path:          /var/lib/docker/containers
    HostPathType:  
  Node-Selectors:  <none>
  Tolerations:     <none>
Events:            <none>
";

/// Replaces the values of the server-assigned metadata lines of `-o yaml` output.
fn mask_server_metadata(yaml: &str) -> String {
    lines(yaml.lines().map(|line| {
        for (key, masked) in [
            ("  creationTimestamp: ", "\"<masked>\""),
            ("  resourceVersion: ", "\"<masked>\""),
            ("  uid: ", "<masked>"),
        ] {
            if line.starts_with(key) && !line.starts_with("    ") {
                return format!("{key}{masked}");
            }
        }
        line.to_owned()
    }))
}

#[test]
fn a_daemonset_reads_back_as_upstream_tables_yaml_jsonpath_and_describe() {
    let Some(k) = Cluster::start() else { return };
    let ks = ["-n", "kube-system"];
    assert_eq!(
        k.kubectl(&["apply", "-f", "seeds/fluentd.skill.yaml"]).ok(),
        "daemonset.apps/fluentd created\n"
    );

    let get = |extra: &[&str]| k.kubectl(&[&ks[..], &["get", "ds"], extra].concat()).ok();
    assert_eq!(
        mask_age(&get(&[])),
        "NAME      DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE\n\
         fluentd   0         0         0       0            0           <none>          0s\n"
    );
    assert_eq!(
        mask_age(&get(&["-o", "wide"])),
        "NAME      DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE   CONTAINERS   IMAGES                 SELECTOR\n\
         fluentd   0         0         0       0            0           <none>          0s    fluentd      fluent/fluentd:v1.16   app=fluentd\n"
    );
    assert_eq!(
        mask_age(&k.kubectl(&["get", "ds", "-A"]).ok()),
        "NAMESPACE     NAME      DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE\n\
         kube-system   fluentd   0         0         0       0            0           <none>          0s\n"
    );
    assert_eq!(mask_server_metadata(&get(&["fluentd", "-o", "yaml"])), FLUENTD_YAML);
    assert_eq!(
        get(&["fluentd", "-o", "jsonpath={.spec.template.spec.containers[0].image}"]),
        "fluent/fluentd:v1.16"
    );
    assert_eq!(get(&["-o", "name"]), "daemonset.apps/fluentd\n");
    assert_eq!(k.kubectl(&[&ks[..], &["describe", "ds", "fluentd"]].concat()).ok(), FLUENTD_DESCRIBE);

    let missing = k.kubectl(&[&ks[..], &["get", "ds", "nope"]].concat()).fails();
    assert_eq!(missing, "Error from server (NotFound): daemonsets.apps \"nope\" not found\n");
}

/// A minimal DaemonSet for the tests that change one.
const NGINX_DS: &str = "apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: nginx
spec:
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.26
";

/// `generation`, the template generation annotation and the image, space-separated.
fn generations(k: &Cluster, name: &str) -> String {
    k.kubectl(&[
        "get",
        "ds",
        name,
        "-o",
        "jsonpath={.metadata.generation} {.metadata.annotations.deprecated\\.daemonset\\.template\\.generation} \
         {.spec.template.spec.containers[0].image}",
    ])
    .ok()
}

#[test]
fn set_image_and_patch_bump_the_generation_and_only_template_changes_bump_the_template_generation() {
    let Some(k) = Cluster::start() else { return };
    assert_eq!(k.apply(NGINX_DS), "daemonset.apps/nginx created\n");
    assert_eq!(generations(&k, "nginx"), "1 1 nginx:1.26");

    assert_eq!(
        k.kubectl(&["set", "image", "ds/nginx", "nginx=nginx:1.27"]).ok(),
        "daemonset.apps/nginx image updated\n"
    );
    assert_eq!(generations(&k, "nginx"), "2 2 nginx:1.27");

    let node_selector = r#"{"spec":{"template":{"spec":{"nodeSelector":{"non-existing":"true"}}}}}"#;
    assert_eq!(
        k.kubectl(&["patch", "ds", "nginx", "-p", node_selector]).ok(),
        "daemonset.apps/nginx patched\n"
    );
    assert_eq!(generations(&k, "nginx"), "3 3 nginx:1.27");
    assert_eq!(
        mask_age(&k.kubectl(&["get", "ds", "nginx"]).ok()),
        "NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR       AGE\n\
         nginx   0         0         0       0            0           non-existing=true   0s\n"
    );

    let back = r#"{"spec":{"template":{"spec":{"nodeSelector":null}}}}"#;
    assert_eq!(k.kubectl(&["patch", "ds", "nginx", "-p", back]).ok(), "daemonset.apps/nginx patched\n");
    assert_eq!(generations(&k, "nginx"), "4 4 nginx:1.27");
    assert_eq!(
        k.kubectl(&["get", "ds", "nginx", "-o", "jsonpath={.spec.template.spec.nodeSelector}"]).ok(),
        ""
    );
    assert_eq!(
        k.kubectl(&["patch", "ds", "nginx", "-p", back]).ok(),
        "daemonset.apps/nginx patched (no change)\n"
    );
    assert_eq!(generations(&k, "nginx"), "4 4 nginx:1.27");

    // A spec change outside the template: a new generation, the same template generation.
    let min_ready = r#"{"spec":{"minReadySeconds":5}}"#;
    assert_eq!(
        k.kubectl(&["patch", "ds", "nginx", "--type", "merge", "-p", min_ready]).ok(),
        "daemonset.apps/nginx patched\n"
    );
    assert_eq!(generations(&k, "nginx"), "5 4 nginx:1.27");

    // Metadata changes leave both alone.
    assert_eq!(k.kubectl(&["label", "ds", "nginx", "tier=edge"]).ok(), "daemonset.apps/nginx labeled\n");
    assert_eq!(generations(&k, "nginx"), "5 4 nginx:1.27");

    // A second image change; without a controller there are still no ControllerRevisions,
    // which `rollout history` reports plainly (exit 0).
    k.kubectl(&["set", "image", "ds/nginx", "nginx=nginx:1.28"]).ok();
    assert_eq!(generations(&k, "nginx"), "6 5 nginx:1.28");
    assert_eq!(
        k.kubectl(&["rollout", "history", "ds/nginx"]).ok(),
        "daemonset.apps/nginx \nNo rollout history found.\n"
    );
}

/// Applies a ConfigMap and a ControllerRevision owned by the DaemonSet `owner` (uid `uid`),
/// labelled `owner=<owner>` and, for the revision, with the DaemonSet's pod labels.
fn apply_dependents(k: &Cluster, owner: &str, pod_labels: &str, uid: &str) {
    let reference = format!(
        "  ownerReferences:\n  - apiVersion: apps/v1\n    kind: DaemonSet\n    name: {owner}\n    uid: {uid}\n    controller: true\n    blockOwnerDeletion: true\n"
    );
    let yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {owner}-settings\n  labels:\n    owner: {owner}\n{reference}data:\n  level: info\n\
         ---\n\
         apiVersion: apps/v1\nkind: ControllerRevision\nmetadata:\n  name: {owner}-1\n  labels:\n    owner: {owner}\n    {pod_labels}\n{reference}revision: 1\n\
         data:\n  spec:\n    template:\n      $patch: replace\n      metadata:\n        labels:\n          {pod_labels}\n      spec:\n        containers:\n        - name: c\n          image: busybox:1.36\n"
    );
    assert_eq!(
        k.apply(&yaml),
        format!("configmap/{owner}-settings created\ncontrollerrevision.apps/{owner}-1 created\n")
    );
}

#[test]
fn deleting_a_daemonset_collects_its_dependents_unless_orphaned() {
    let Some(k) = Cluster::start() else { return };
    let out = k.kubectl(&["apply", "-f", "seeds/node-monitor.yaml", "-f", "seeds/dev-monitor.yaml"]).ok();
    assert_eq!(out, "daemonset.apps/node-monitor created\ndaemonset.apps/dev-monitor created\n");
    for (ds, labels) in [("node-monitor", "app: node-monitor"), ("dev-monitor", "app: dev-monitor")] {
        let uid = k.kubectl(&["get", "ds", ds, "-o", "jsonpath={.metadata.uid}"]).ok();
        apply_dependents(&k, ds, labels, &uid);
    }
    assert_eq!(
        mask_age(&k.kubectl(&["get", "controllerrevisions"]).ok()),
        "NAME             CONTROLLER                    REVISION   AGE\n\
         dev-monitor-1    daemonset.apps/dev-monitor    1          0s\n\
         node-monitor-1   daemonset.apps/node-monitor   1          0s\n"
    );
    // kubectl finds the revision by the DaemonSet's selector and controller reference.
    assert_eq!(
        k.kubectl(&["rollout", "history", "ds/node-monitor"]).ok(),
        "daemonset.apps/node-monitor \nREVISION  CHANGE-CAUSE\n1         <none>\n\n"
    );

    // Orphaning: the DaemonSet goes, its dependents stay without owner references.
    assert_eq!(
        k.kubectl(&["delete", "ds", "node-monitor", "--cascade=orphan"]).ok(),
        "daemonset.apps \"node-monitor\" deleted from default namespace\n"
    );
    let gone = k.kubectl(&["get", "ds", "node-monitor"]).fails();
    assert_eq!(gone, "Error from server (NotFound): daemonsets.apps \"node-monitor\" not found\n");
    let owners = || {
        k.kubectl(&[
            "get",
            "cm,controllerrevisions",
            "-l",
            "owner=node-monitor",
            "-o",
            "jsonpath={range .items[*]}{.kind}:{.metadata.ownerReferences}{\"\\n\"}{end}",
        ])
        .ok()
    };
    eventually("orphaning node-monitor's dependents", GC_TIMEOUT, || {
        owners() == "ConfigMap:\nControllerRevision:\n"
    });

    // Background deletion: the garbage collector removes the dependents.
    assert_eq!(
        k.kubectl(&["delete", "ds", "dev-monitor"]).ok(),
        "daemonset.apps \"dev-monitor\" deleted from default namespace\n"
    );
    eventually("collecting dev-monitor's dependents", GC_TIMEOUT, || {
        let left = k.kubectl(&["get", "cm,controllerrevisions", "-l", "owner=dev-monitor", "-o", "name"]);
        left.code == 0 && left.stdout.is_empty()
    });
    assert_eq!(
        k.kubectl(&["get", "cm,controllerrevisions", "-l", "owner", "-o", "name"]).ok(),
        "configmap/node-monitor-settings\ncontrollerrevision.apps/node-monitor-1\n"
    );
    let none = k.kubectl(&["get", "ds"]);
    assert_eq!(
        (none.code, none.stdout.as_str(), none.stderr.as_str()),
        (0, "", "No resources found in default namespace.\n")
    );
}

/// The cells of a table row, with an age as `0s`.
fn cells(row: &str) -> Vec<String> {
    row.split_whitespace()
        .map(|cell| if is_seconds(cell) { "0s".to_owned() } else { cell.to_owned() })
        .collect()
}

#[test]
fn get_watch_prints_the_header_then_a_row_per_change_made_by_another_kubectl() {
    let Some(k) = Cluster::start() else { return };
    assert_eq!(k.apply(NGINX_DS), "daemonset.apps/nginx created\n");
    let mut watch = k.watch(&["get", "ds", "-w"]);
    assert_eq!(
        watch.next_line(WATCH_LINE_TIMEOUT),
        "NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE"
    );
    assert_eq!(
        cells(&watch.next_line(WATCH_LINE_TIMEOUT)),
        ["nginx", "0", "0", "0", "0", "0", "<none>", "0s"]
    );

    let node_selector = r#"{"spec":{"template":{"spec":{"nodeSelector":{"ssd":"true"}}}}}"#;
    assert_eq!(
        k.kubectl(&["patch", "ds", "nginx", "-p", node_selector]).ok(),
        "daemonset.apps/nginx patched\n"
    );
    assert_eq!(
        cells(&watch.next_line(WATCH_LINE_TIMEOUT)),
        ["nginx", "0", "0", "0", "0", "0", "ssd=true", "0s"]
    );

    assert_eq!(
        k.kubectl(&["delete", "ds", "nginx"]).ok(),
        "daemonset.apps \"nginx\" deleted from default namespace\n"
    );
    assert_eq!(
        cells(&watch.next_line(WATCH_LINE_TIMEOUT)),
        ["nginx", "0", "0", "0", "0", "0", "ssd=true", "0s"]
    );
}

#[test]
fn get_watch_with_events_names_added_modified_and_deleted() {
    let Some(k) = Cluster::start() else { return };
    assert_eq!(k.apply(NGINX_DS), "daemonset.apps/nginx created\n");
    let mut watch = k.watch(&["get", "ds", "nginx", "-w", "--output-watch-events"]);
    assert_eq!(
        watch.next_line(WATCH_LINE_TIMEOUT),
        "EVENT      NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE"
    );
    assert_eq!(cells(&watch.next_line(WATCH_LINE_TIMEOUT))[..2], ["ADDED", "nginx"]);
    k.kubectl(&["set", "image", "ds/nginx", "nginx=nginx:1.27"]).ok();
    assert_eq!(cells(&watch.next_line(WATCH_LINE_TIMEOUT))[..2], ["MODIFIED", "nginx"]);
    k.kubectl(&["delete", "ds", "nginx"]).ok();
    assert_eq!(cells(&watch.next_line(WATCH_LINE_TIMEOUT))[..2], ["DELETED", "nginx"]);
}

#[test]
fn nodes_list_with_labels_take_new_labels_and_select_by_them() {
    let Some(k) = Cluster::start() else { return };
    assert_eq!(
        k.kubectl(&["apply", "-f", "nodes.yaml"]).ok(),
        "node/control-plane-1 created\nnode/worker-1 created\nnode/worker-2 created\n"
    );
    // No kubelet reports a Ready condition or a version, so STATUS is Unknown as upstream.
    assert_eq!(
        mask_age(&k.kubectl(&["get", "nodes", "--show-labels"]).ok()),
        "NAME              STATUS    ROLES           AGE   VERSION   LABELS\n\
         control-plane-1   Unknown   control-plane   0s              kubernetes.io/hostname=control-plane-1,kubernetes.io/os=linux,node-role.kubernetes.io/control-plane=\n\
         worker-1          Unknown   <none>          0s              kubernetes.io/hostname=worker-1,kubernetes.io/os=linux,node-type=gpu\n\
         worker-2          Unknown   <none>          0s              kubernetes.io/hostname=worker-2,kubernetes.io/os=linux,ssd=true\n"
    );
    assert_eq!(
        mask_age(&k.kubectl(&["get", "nodes", "-o", "wide"]).ok()).lines().next().unwrap(),
        "NAME              STATUS    ROLES           AGE   VERSION   INTERNAL-IP   EXTERNAL-IP   OS-IMAGE    KERNEL-VERSION   CONTAINER-RUNTIME"
    );
    assert_eq!(
        k.kubectl(&[
            "get",
            "node",
            "control-plane-1",
            "-o",
            "jsonpath={.spec.taints[0].key}:{.spec.taints[0].effect}"
        ])
        .ok(),
        "node-role.kubernetes.io/control-plane:NoSchedule"
    );

    assert_eq!(k.kubectl(&["label", "nodes", "worker-1", "ssd=true"]).ok(), "node/worker-1 labeled\n");
    assert_eq!(
        mask_age(&k.kubectl(&["get", "nodes", "--selector", "ssd=true"]).ok()),
        "NAME       STATUS    ROLES    AGE   VERSION\n\
         worker-1   Unknown   <none>   0s    \n\
         worker-2   Unknown   <none>   0s    \n"
    );
    assert_eq!(k.kubectl(&["get", "nodes", "-l", "!ssd", "-o", "name"]).ok(), "node/control-plane-1\n");
    assert_eq!(k.kubectl(&["label", "nodes", "worker-1", "ssd-"]).ok(), "node/worker-1 unlabeled\n");
    assert_eq!(k.kubectl(&["get", "nodes", "-l", "ssd=true", "-o", "name"]).ok(), "node/worker-2\n");
    let none = k.kubectl(&["get", "nodes", "-l", "ssd=false"]);
    assert_eq!((none.code, none.stdout.as_str(), none.stderr.as_str()), (0, "", "No resources found\n"));
}

#[test]
fn a_pod_applied_by_hand_stays_pending_in_the_wide_listing() {
    let Some(k) = Cluster::start() else { return };
    k.apply(NGINX_DS);
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: nginx-by-hand\n  labels:\n    app: nginx\nspec:\n  containers:\n  - name: nginx\n    image: nginx:1.26\n";
    assert_eq!(k.apply(pod), "pod/nginx-by-hand created\n");
    assert_eq!(
        mask_age(&k.kubectl(&["get", "pods", "-o", "wide", "-l", "app=nginx"]).ok()),
        "NAME            READY   STATUS    RESTARTS   AGE   IP       NODE     NOMINATED NODE   READINESS GATES\n\
         nginx-by-hand   0/1     Pending   0          0s    <none>   <none>   <none>           <none>\n"
    );
    let other = k.kubectl(&["get", "pods", "-l", "app=other"]);
    assert_eq!(
        (other.code, other.stdout.as_str(), other.stderr.as_str()),
        (0, "", "No resources found in default namespace.\n")
    );
    // The pod matches the selector but has no controller reference, so the DaemonSet counts
    // none of it.
    let describe = k.kubectl(&["describe", "ds", "nginx"]).ok();
    assert!(
        describe.contains("Pods Status:  0 Running / 0 Waiting / 0 Succeeded / 0 Failed\n"),
        "{describe}"
    );
}

#[test]
fn a_selector_that_misses_the_template_labels_is_invalid_with_upstreams_message() {
    let Some(k) = Cluster::start() else { return };
    let yaml = NGINX_DS.replace("      labels:\n        app: nginx", "      labels:\n        app: other");
    let stderr = k.kubectl_with_stdin(&["apply", "-f", "-"], &yaml).fails();
    assert_eq!(
        stderr,
        "The DaemonSet \"nginx\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`\n"
    );
    let missing = k.kubectl(&["get", "ds", "nginx"]).fails();
    assert_eq!(missing, "Error from server (NotFound): daemonsets.apps \"nginx\" not found\n");
}

#[test]
fn an_unknown_field_is_a_strict_decoding_error_naming_the_kind() {
    let Some(k) = Cluster::start() else { return };
    let yaml = NGINX_DS.replace("spec:\n  selector:", "spec:\n  bogus: 1\n  selector:");
    let stderr = k.kubectl_with_stdin(&["apply", "-f", "-"], &yaml).fails();
    assert_eq!(
        stderr,
        "Error from server (BadRequest): error when creating \"STDIN\": DaemonSet in version \"v1\" cannot be handled as a DaemonSet: strict decoding error: unknown field \"spec.bogus\"\n"
    );
}

#[test]
fn the_private_agent_seed_without_a_selector_is_refused() {
    let Some(k) = Cluster::start() else { return };
    let stderr = k.kubectl(&["apply", "-f", "seeds/private-agent.yaml"]).fails();
    // Upstream validation (pkg/apis/apps/validation ValidateDaemonSetSpec) has no "required"
    // check for the selector: a nil selector matches nothing.
    assert_eq!(
        stderr,
        "The DaemonSet \"private-agent\" is invalid: spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`\n"
    );
}

#[test]
fn the_extensions_v1beta1_seed_is_not_mapped_when_client_validation_is_off() {
    let Some(k) = Cluster::start() else { return };
    let stderr = k.kubectl(&["apply", "--validate=false", "-f", "seeds/fluentd.tutorial.yaml"]).fails();
    assert_eq!(
        stderr,
        "error: resource mapping not found for name: \"fluentd\" namespace: \"\" from \"seeds/fluentd.tutorial.yaml\": no matches for kind \"DaemonSet\" in version \"extensions/v1beta1\"\nensure CRDs are installed first\n"
    );
}

#[test]

fn the_extensions_v1beta1_seed_is_not_mapped_as_upstream_says() {
    let Some(k) = Cluster::start() else { return };
    let stderr = k.kubectl(&["apply", "-f", "seeds/fluentd.tutorial.yaml"]).fails();
    assert_eq!(
        stderr,
        "error: resource mapping not found for name: \"fluentd\" namespace: \"\" from \"seeds/fluentd.tutorial.yaml\": no matches for kind \"DaemonSet\" in version \"extensions/v1beta1\"\nensure CRDs are installed first\n"
    );
}

#[test]
fn explain_describes_the_update_strategy_fields() {
    let Some(k) = Cluster::start() else { return };
    let out = k.kubectl(&["explain", "daemonset.spec.updateStrategy"]).ok();
    assert!(out.starts_with("GROUP:      apps\nKIND:       DaemonSet\nVERSION:    v1\n\nFIELD: updateStrategy <DaemonSetUpdateStrategy>\n"), "{out}");
    assert!(out.contains("\n  rollingUpdate\t<RollingUpdateDaemonSet>\n"), "{out}");
    assert!(out.contains("\n  type\t<string>\n"), "{out}");
}

#[test]
#[ignore = "the served OpenAPI schemas carry no enums (k8s-openapi does not generate them), so explain prints no `enum:` line"]
fn explain_lists_the_update_strategy_types_as_upstream_does() {
    let Some(k) = Cluster::start() else { return };
    let out = k.kubectl(&["explain", "daemonset.spec.updateStrategy"]).ok();
    assert!(out.contains("\n  type\t<string>\n  enum: OnDelete, RollingUpdate\n"), "{out}");
}

const UPDATE_REQUEST: &str = "apiVersion: headwind.sh/v1alpha1
kind: UpdateRequest
metadata:
  name: fluentd-v1-17
spec:
  targetRef:
    apiVersion: apps/v1
    kind: DaemonSet
    name: fluentd
    namespace: default
  containerName: fluentd
  currentImage: fluent/fluentd:v1.16
  newImage: fluent/fluentd:v1.17
  policy: minor
  reason: a new minor version
  requireApproval: true
";

#[test]
fn the_update_request_crd_serves_its_printer_columns_and_validates_its_schema() {
    let Some(k) = Cluster::start() else { return };
    let crd = workspace().join("deploy/crds/updaterequests.headwind.sh.yaml");
    assert_eq!(
        k.kubectl(&["apply", "-f", crd.to_str().unwrap()]).ok(),
        "customresourcedefinition.apiextensions.k8s.io/updaterequests.headwind.sh created\n"
    );
    let empty = k.kubectl(&["get", "updaterequests"]);
    assert_eq!(
        (empty.code, empty.stdout.as_str(), empty.stderr.as_str()),
        (0, "", "No resources found in default namespace.\n")
    );

    assert_eq!(k.apply(UPDATE_REQUEST), "updaterequest.headwind.sh/fluentd-v1-17 created\n");
    assert_eq!(k.apply(UPDATE_REQUEST), "updaterequest.headwind.sh/fluentd-v1-17 unchanged\n");
    assert_eq!(
        mask_age(&k.kubectl(&["get", "updaterequests"]).ok()),
        "NAME            KIND        TARGET    CONTAINER   NEW IMAGE              PHASE   AGE\n\
         fluentd-v1-17   DaemonSet   fluentd   fluentd     fluent/fluentd:v1.17           0s\n"
    );
    assert_eq!(
        mask_age(&k.kubectl(&["get", "ur", "-o", "wide"]).ok()),
        "NAME            KIND        TARGET    CONTAINER   NEW IMAGE              PHASE   AGE   CURRENT IMAGE          POLICY\n\
         fluentd-v1-17   DaemonSet   fluentd   fluentd     fluent/fluentd:v1.17           0s    fluent/fluentd:v1.16   minor\n"
    );
    let list: serde_json::Value =
        serde_json::from_str(&k.kubectl(&["get", "updaterequests", "-A", "-o", "json"]).ok()).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["spec"]["targetRef"]["kind"], "DaemonSet");

    // Status is a subresource: only a status patch sets the phase.
    let approve = r#"{"status":{"phase":"Approved","approvedBy":"e2e"}}"#;
    assert_eq!(
        k.kubectl(&["patch", "ur", "fluentd-v1-17", "--subresource=status", "--type=merge", "-p", approve])
            .ok(),
        "updaterequest.headwind.sh/fluentd-v1-17 patched\n"
    );
    assert_eq!(
        mask_age(&k.kubectl(&["get", "ur"]).ok()),
        "NAME            KIND        TARGET    CONTAINER   NEW IMAGE              PHASE      AGE\n\
         fluentd-v1-17   DaemonSet   fluentd   fluentd     fluent/fluentd:v1.17   Approved   0s\n"
    );

    let bad = UPDATE_REQUEST.replace("policy: minor", "policy: sometimes");
    let stderr = k.kubectl_with_stdin(&["apply", "-f", "-"], &bad).fails();
    assert_eq!(
        stderr,
        "The UpdateRequest \"fluentd-v1-17\" is invalid: spec.policy: Unsupported value: \"sometimes\": supported values: \"none\", \"patch\", \"minor\", \"major\", \"all\", \"glob\", \"force\"\n"
    );
}

#[test]
fn deleting_a_namespace_removes_it_with_its_contents_but_default_is_protected() {
    let Some(k) = Cluster::start() else { return };
    let yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: scratch\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: scratch\ndata:\n  level: debug\n";
    assert_eq!(k.apply(yaml), "namespace/scratch created\nconfigmap/settings created\n");
    assert_eq!(k.kubectl(&["delete", "namespace", "scratch"]).ok(), "namespace \"scratch\" deleted\n");
    eventually("namespace scratch disappearing", GC_TIMEOUT, || {
        k.kubectl(&["get", "namespace", "scratch"]).code == 1
    });
    assert_eq!(
        k.kubectl(&["get", "namespace", "scratch"]).fails(),
        "Error from server (NotFound): namespaces \"scratch\" not found\n"
    );
    let leftovers = k.kubectl(&["get", "configmaps", "-n", "scratch"]);
    assert_eq!((leftovers.code, leftovers.stdout.as_str()), (0, ""), "{leftovers:?}");

    assert_eq!(
        k.kubectl(&["delete", "namespace", "default"]).fails(),
        "Error from server (Forbidden): namespaces \"default\" is forbidden: this namespace may not be deleted\n"
    );
    assert_eq!(k.kubectl(&["get", "namespace", "default", "-o", "name"]).ok(), "namespace/default\n");
}

/// kubectl's typed-client `create` commands send protobuf bodies.
#[test]
fn kubectl_create_makes_namespaces_configmaps_secrets_and_service_accounts() {
    let Some(k) = Cluster::start() else { return };
    assert_eq!(k.kubectl(&["create", "namespace", "scratch"]).ok(), "namespace/scratch created\n");
    assert_eq!(
        k.kubectl(&["create", "configmap", "settings", "-n", "scratch", "--from-literal=level=debug"]).ok(),
        "configmap/settings created\n"
    );
    let secret = ["create", "secret", "generic", "creds", "-n", "scratch", "--from-literal=password=s3cret"];
    assert_eq!(k.kubectl(&secret).ok(), "secret/creds created\n");
    assert_eq!(
        k.kubectl(&["create", "serviceaccount", "robot", "-n", "scratch"]).ok(),
        "serviceaccount/robot created\n"
    );

    let jsonpath = |kind: &str, name: &str, path: &str| {
        k.kubectl(&["get", kind, name, "-n", "scratch", "-o", &format!("jsonpath={{{path}}}")]).ok()
    };
    assert_eq!(jsonpath("configmap", "settings", ".data.level"), "debug");
    assert_eq!(jsonpath("secret", "creds", ".data.password"), "czNjcmV0");
    assert_eq!(jsonpath("secret", "creds", ".type"), "Opaque");
    assert_eq!(jsonpath("serviceaccount", "robot", ".metadata.name"), "robot");
    assert_eq!(
        k.kubectl(&["create", "namespace", "scratch"]).fails(),
        "Error from server (AlreadyExists): namespaces \"scratch\" already exists\n"
    );
}

#[test]
fn raw_gets_answer_the_version_and_a_bounded_pod_watch() {
    let Some(k) = Cluster::start() else { return };
    let version: serde_json::Value =
        serde_json::from_str(&k.kubectl(&["get", "--raw", "/version"]).ok()).unwrap();
    assert_eq!(version["major"], "1", "{version}");
    assert!(version["gitVersion"].as_str().unwrap().starts_with("v1."), "{version}");

    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: watched\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n";
    assert_eq!(k.apply(pod), "pod/watched created\n");
    let started = std::time::Instant::now();
    let out = k.kubectl(&["get", "--raw", "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1"]).ok();
    assert!(started.elapsed() < Duration::from_secs(10), "the watch outlived its timeoutSeconds");
    let events: Vec<serde_json::Value> =
        out.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(events.len(), 1, "{out}");
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "watched");
}
