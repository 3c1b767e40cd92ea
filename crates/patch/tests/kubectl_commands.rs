//! The patches real kubectl commands send, applied to a realistic DaemonSet the way the API
//! server will: raw body, content type, kind.

use everynode_patch::{PatchType, apply_patch_for_kind};
use serde_json::{Value, json};

fn daemon_set() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "fluentd",
            "namespace": "kube-system",
            "uid": "6a1f2c1e-0d6b-4a57-9a43-5b0c4f3d2e11",
            "resourceVersion": "4242",
            "generation": 3,
            "labels": {"app": "fluentd"},
            "annotations": {
                "deprecated.daemonset.template.generation": "3",
                "kubectl.kubernetes.io/last-applied-configuration": "{\"old\":true}",
            },
            "finalizers": ["example.com/audit"],
        },
        "spec": {
            "selector": {"matchLabels": {"app": "fluentd"}},
            "revisionHistoryLimit": 10,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "template": {
                "metadata": {"labels": {"app": "fluentd"}},
                "spec": {
                    "tolerations": [
                        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
                    ],
                    "containers": [
                        {
                            "name": "fluentd",
                            "image": "fluentd:v1.16",
                            "args": ["-c", "/etc/fluent/fluent.conf"],
                            "env": [{"name": "FLUENT_UID", "value": "0"}, {"name": "LOG_LEVEL", "value": "info"}],
                            "ports": [{"containerPort": 24224, "protocol": "TCP"}],
                            "resources": {"limits": {"memory": "200Mi"}, "requests": {"cpu": "100m", "memory": "200Mi"}},
                            "volumeMounts": [
                                {"name": "varlog", "mountPath": "/var/log"},
                                {"name": "config", "mountPath": "/etc/fluent"},
                            ],
                            "imagePullPolicy": "IfNotPresent",
                            "terminationMessagePath": "/dev/termination-log",
                        },
                        {"name": "sidecar", "image": "busybox:1.36", "command": ["sh", "-c", "tail -f /dev/null"]},
                    ],
                    "volumes": [
                        {"name": "varlog", "hostPath": {"path": "/var/log", "type": ""}},
                        {"name": "config", "configMap": {"name": "fluentd-config", "defaultMode": 420}},
                    ],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                },
            },
        },
        "status": {
            "currentNumberScheduled": 3,
            "desiredNumberScheduled": 3,
            "numberMisscheduled": 0,
            "numberReady": 3,
            "observedGeneration": 3,
        },
    })
}

fn patch(target: &Value, patch_type: PatchType, body: Value) -> Value {
    match apply_patch_for_kind(target, body.to_string().as_bytes(), patch_type, "DaemonSet") {
        Ok(patched) => patched,
        Err(err) => panic!("patch {body} failed: {err}"),
    }
}

fn strategic(target: &Value, body: Value) -> Value {
    patch(target, PatchType::StrategicMerge, body)
}

/// A mutable reference into `value` by JSON pointer, for building expectations.
fn at<'v>(value: &'v mut Value, pointer: &str) -> &'v mut Value {
    match value.pointer_mut(pointer) {
        Some(found) => found,
        None => panic!("fixture has no {pointer}"),
    }
}

#[test]
fn set_image_changes_only_the_named_container() {
    let body = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "fluentd"}, {"name": "sidecar"}],
        "containers": [{"image": "fluentd:v1.17", "name": "fluentd"}],
    }}}});
    let mut want = daemon_set();
    *at(&mut want, "/spec/template/spec/containers/0/image") = json!("fluentd:v1.17");
    assert_eq!(strategic(&daemon_set(), body), want);
}

#[test]
fn set_image_with_an_order_naming_one_container_keeps_the_others_in_place() {
    let body = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}],
        "containers": [{"image": "busybox:1.37", "name": "sidecar"}],
    }}}});
    let mut want = daemon_set();
    *at(&mut want, "/spec/template/spec/containers/1/image") = json!("busybox:1.37");
    assert_eq!(strategic(&daemon_set(), body), want);
}

#[test]
fn set_image_as_kubectl_sends_it_for_a_single_container() {
    let target =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.26"}]}}}});
    let body = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "c"}],
        "containers": [{"image": "nginx:1.27", "name": "c"}],
    }}}});
    assert_eq!(
        strategic(&target, body),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}})
    );
}

#[test]
fn rollout_undo_replaces_the_template_wholesale() {
    // `kubectl rollout undo` sends the chosen ControllerRevision's data verbatim.
    let old_template = json!({
        "metadata": {"labels": {"app": "fluentd"}, "annotations": {"old": "yes"}},
        "spec": {
            "containers": [{"name": "fluentd", "image": "fluentd:v1.15", "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Always",
        },
    });
    let mut revision_template = old_template.clone();
    if let Some(template) = revision_template.as_object_mut() {
        template.insert("$patch".into(), json!("replace"));
    }
    let body = json!({"spec": {"template": revision_template}});

    let mut want = daemon_set();
    *at(&mut want, "/spec/template") = old_template;
    assert_eq!(strategic(&daemon_set(), body), want);
}

#[test]
fn rollout_restart_adds_the_restarted_at_annotation() {
    let body = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2025-06-01T12:00:00Z",
    }}}}});
    let mut want = daemon_set();
    *at(&mut want, "/spec/template/metadata") = json!({
        "labels": {"app": "fluentd"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-06-01T12:00:00Z"},
    });
    assert_eq!(strategic(&daemon_set(), body), want);
}

#[test]
fn patching_a_node_selector_in_and_out_again_restores_the_original() {
    let original = daemon_set();
    let added = strategic(
        &original,
        json!({"spec": {"template": {"spec": {"nodeSelector": {"non-existing": "true"}}}}}),
    );
    assert_eq!(added.pointer("/spec/template/spec/nodeSelector"), Some(&json!({"non-existing": "true"})));
    let removed = strategic(&added, json!({"spec": {"template": {"spec": {"nodeSelector": null}}}}));
    assert_eq!(removed, original);
}

#[test]
fn nulling_one_node_selector_key_keeps_the_others() {
    let mut original = daemon_set();
    if let Some(spec) = original.pointer_mut("/spec/template/spec").and_then(Value::as_object_mut) {
        spec.insert("nodeSelector".into(), json!({"disk": "ssd"}));
    }
    let added = strategic(
        &original,
        json!({"spec": {"template": {"spec": {"nodeSelector": {"non-existing": "true"}}}}}),
    );
    let removed =
        strategic(&added, json!({"spec": {"template": {"spec": {"nodeSelector": {"non-existing": null}}}}}));
    assert_eq!(removed, original);
}

#[test]
fn label_and_annotate_send_merge_patches() {
    let labelled = patch(&daemon_set(), PatchType::Merge, json!({"metadata": {"labels": {"ssd": "true"}}}));
    assert_eq!(labelled.pointer("/metadata/labels"), Some(&json!({"app": "fluentd", "ssd": "true"})));
    let unlabelled = patch(&labelled, PatchType::Merge, json!({"metadata": {"labels": {"ssd": null}}}));
    assert_eq!(unlabelled, daemon_set());

    let annotated =
        patch(&daemon_set(), PatchType::Merge, json!({"metadata": {"annotations": {"team": "logs"}}}));
    assert_eq!(annotated.pointer("/metadata/annotations/team"), Some(&json!("logs")));
}

#[test]
fn client_side_apply_merges_its_three_way_patch() {
    // What `kubectl apply` computes after a manifest edit: a new env var, one removed, the config
    // volume switched from a ConfigMap to a Secret, hostNetwork dropped, last-applied updated.
    let body = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"new\":true}"}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "fluentd"}, {"name": "sidecar"}],
            "$setElementOrder/volumes": [{"name": "varlog"}, {"name": "config"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "FLUENT_UID"}, {"name": "BUFFER"}],
                "env": [{"name": "BUFFER", "value": "64m"}, {"$patch": "delete", "name": "LOG_LEVEL"}],
                "name": "fluentd",
            }],
            "hostNetwork": null,
            "volumes": [{
                "$retainKeys": ["name", "secret"],
                "configMap": null,
                "name": "config",
                "secret": {"secretName": "fluentd-config"},
            }],
        }}},
    });
    let mut want = daemon_set();
    *at(&mut want, "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration") =
        json!("{\"new\":true}");
    *at(&mut want, "/spec/template/spec/containers/0/env") =
        json!([{"name": "FLUENT_UID", "value": "0"}, {"name": "BUFFER", "value": "64m"}]);
    *at(&mut want, "/spec/template/spec/volumes/1") =
        json!({"name": "config", "secret": {"secretName": "fluentd-config"}});
    assert_eq!(strategic(&daemon_set(), body), want);
}

#[test]
fn retain_keys_clears_a_volume_source_the_patch_does_not_name() {
    // $retainKeys alone (no explicit null) must still drop the old configMap source.
    let body = json!({"spec": {"template": {"spec": {"volumes": [{
        "$retainKeys": ["emptyDir", "name"],
        "emptyDir": {},
        "name": "config",
    }]}}}});
    let patched = strategic(&daemon_set(), body);
    assert_eq!(
        patched.pointer("/spec/template/spec/volumes/1"),
        Some(&json!({"name": "config", "emptyDir": {}}))
    );
}

#[test]
fn tolerations_and_args_are_replaced_whole() {
    let body = json!({"spec": {"template": {"spec": {
        "tolerations": [{"operator": "Exists"}],
        "containers": [{"name": "fluentd", "args": ["-v"]}],
    }}}});
    let patched = strategic(&daemon_set(), body);
    assert_eq!(patched.pointer("/spec/template/spec/tolerations"), Some(&json!([{"operator": "Exists"}])));
    assert_eq!(patched.pointer("/spec/template/spec/containers/0/args"), Some(&json!(["-v"])));
    assert_eq!(patched.pointer("/spec/template/spec/containers/0/image"), Some(&json!("fluentd:v1.16")));
}

#[test]
fn ports_merge_by_container_port_and_mounts_by_mount_path() {
    let body = json!({"spec": {"template": {"spec": {"containers": [{
        "name": "fluentd",
        "ports": [{"containerPort": 24224, "name": "forward"}, {"containerPort": 9880, "protocol": "TCP"}],
        "volumeMounts": [{"mountPath": "/var/log", "readOnly": true}],
    }]}}}});
    let patched = strategic(&daemon_set(), body);
    assert_eq!(
        patched.pointer("/spec/template/spec/containers/0/ports"),
        Some(&json!([
            {"containerPort": 24224, "protocol": "TCP", "name": "forward"},
            {"containerPort": 9880, "protocol": "TCP"},
        ]))
    );
    assert_eq!(
        patched.pointer("/spec/template/spec/containers/0/volumeMounts/0"),
        Some(&json!({"name": "varlog", "mountPath": "/var/log", "readOnly": true}))
    );
}

#[test]
fn finalizers_merge_as_a_set_and_delete_by_value() {
    let added = strategic(
        &daemon_set(),
        json!({"metadata": {"finalizers": ["foregroundDeletion", "example.com/audit"]}}),
    );
    assert_eq!(
        added.pointer("/metadata/finalizers"),
        Some(&json!(["foregroundDeletion", "example.com/audit"]))
    );
    let removed = strategic(
        &added,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["foregroundDeletion"]}}),
    );
    assert_eq!(removed, daemon_set());
}

#[test]
fn status_conditions_merge_by_type() {
    let target = json!({"status": {"conditions": [
        {"type": "Ready", "status": "False"},
        {"type": "MemoryPressure", "status": "False"},
    ]}});
    let body =
        json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
    let patched =
        apply_patch_for_kind(&target, body.to_string().as_bytes(), PatchType::StrategicMerge, "Node");
    assert_eq!(
        patched.ok(),
        Some(json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady"},
            {"type": "MemoryPressure", "status": "False"},
        ]}}))
    );
}

#[test]
fn a_container_without_a_name_is_rejected_with_its_path() {
    let body = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
    let err = apply_patch_for_kind(
        &daemon_set(),
        body.to_string().as_bytes(),
        PatchType::StrategicMerge,
        "DaemonSet",
    );
    let err = err.err().map(|err| (err.http_status(), err.to_string()));
    assert_eq!(
        err,
        Some((
            422,
            "strategic merge patch at spec.template.spec.containers: list element {\"image\":\"x\"} \
             does not contain declared merge key \"name\""
                .to_owned()
        ))
    );
}

#[test]
fn custom_resources_replace_lists() {
    let target = json!({"spec": {"items": [{"name": "a"}]}, "metadata": {"finalizers": ["x"]}});
    let body = json!({"spec": {"items": [{"name": "b"}]}, "metadata": {"finalizers": ["y"]}});
    let patched = apply_patch_for_kind(
        &target,
        body.to_string().as_bytes(),
        PatchType::StrategicMerge,
        "UpdateRequest",
    );
    // Finalizers still merge as a set; as upstream, a value new to the list goes first.
    assert_eq!(
        patched.ok(),
        Some(json!({"spec": {"items": [{"name": "b"}]}, "metadata": {"finalizers": ["y", "x"]}}))
    );
}
