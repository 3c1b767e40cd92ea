//! The `paths` of a group-version document: the REST operations of each resource, each tagged
//! with `x-kubernetes-group-version-kind` and `x-kubernetes-action` as upstream tags them.
//!
//! kubectl reads three things here. `explain` finds a resource's kind from the GVK of an
//! operation on `/<prefix>/<plural>` or `/<prefix>/namespaces/{namespace}/<plural>` (with or
//! without `/{name}`). `apply` and `create` decide that the server validates fields when the
//! kind's PATCH operations list a `fieldValidation` query parameter; it looks at whichever PATCH
//! operation of the kind it meets first, so every one of them (status included) must carry it.
//! Client-side `apply` computes a strategic merge patch from the OpenAPI schema only when the
//! PATCH request body lists `application/strategic-merge-patch+json`; custom resources leave it
//! out, which makes kubectl send a JSON merge patch, as it must.

use serde_json::{Map, Value, json};

use super::builtin::{DELETE_OPTIONS, PATCH, STATUS};
use super::group_version::GroupVersion;
use super::parameters;
use super::refs::schema_ref;

/// What the operations of one resource need to know about it.
#[derive(Debug, Clone)]
pub struct Resource<'a> {
    /// The group-version serving it.
    pub group_version: &'a GroupVersion,
    /// Its kind, e.g. `DaemonSet`.
    pub kind: &'a str,
    /// Its URL segment, e.g. `daemonsets`.
    pub plural: &'a str,
    /// Whether its URLs sit under `namespaces/{namespace}`.
    pub namespaced: bool,
    /// Its component schema.
    pub schema: &'a str,
    /// Its list's component schema; without one, the resource only accepts creates (`bindings`).
    pub list_schema: Option<&'a str>,
    /// Whether PATCH accepts `application/strategic-merge-patch+json` (built-in kinds only).
    pub strategic_merge: bool,
    /// Its subresources, in the order their paths are written.
    pub subresources: Vec<Subresource<'a>>,
}

/// A subresource the documents describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subresource<'a> {
    /// `/status`: read, replace and patch, as the parent kind.
    Status,
    /// A create-only subresource taking another kind, e.g. `pods/binding` taking a `Binding`.
    Create {
        /// The path segment, e.g. `binding`.
        name: &'a str,
        /// The group-version of the kind it takes.
        group_version: GroupVersion,
        /// The kind it takes.
        kind: &'a str,
        /// That kind's component schema.
        schema: &'a str,
    },
}

/// The path items of `resource`, keyed by path.
pub fn paths(resource: &Resource<'_>) -> Vec<(String, Value)> {
    let ops = Ops { resource, gvk: resource.group_version.gvk(resource.kind) };
    let prefix = resource.group_version.url_prefix();
    let plural = resource.plural;
    let collection = if resource.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{plural}")
    } else {
        format!("{prefix}/{plural}")
    };
    let item = format!("{collection}/{{name}}");
    let scope = if resource.namespaced { "Namespaced" } else { "" };
    let mut collection_params = Vec::new();
    let mut item_params = vec![parameters::name(resource.kind)];
    if resource.namespaced {
        collection_params.push(parameters::namespace());
        item_params.push(parameters::namespace());
    }
    collection_params.push(parameters::pretty());
    item_params.push(parameters::pretty());

    let mut paths = Vec::new();
    let Some(list_schema) = resource.list_schema else {
        // A create-only resource (upstream's `bindings`): one POST on the collection.
        let create = ops.create(scope, "", resource.schema, &ops.gvk);
        paths.push((collection, path_item(&collection_params, [("post", create)])));
        return paths;
    };
    paths.push((
        collection.clone(),
        path_item(
            &collection_params,
            [
                ("get", ops.list(scope, "", list_schema)),
                ("post", ops.create(scope, "", resource.schema, &ops.gvk)),
                ("delete", ops.delete_collection(scope)),
            ],
        ),
    ));
    paths.push((
        item.clone(),
        path_item(
            &item_params,
            [
                ("get", ops.read(scope, "")),
                ("put", ops.replace(scope, "")),
                ("patch", ops.patch(scope, "")),
                ("delete", ops.delete(scope)),
            ],
        ),
    ));
    if resource.namespaced {
        let all = ops.list("", "ForAllNamespaces", list_schema);
        paths.push((format!("{prefix}/{plural}"), path_item(&[parameters::pretty()], [("get", all)])));
    }
    for subresource in &resource.subresources {
        match subresource {
            Subresource::Status => {
                let suffix = "Status";
                let operations = [
                    ("get", ops.read(scope, suffix)),
                    ("put", ops.replace(scope, suffix)),
                    ("patch", ops.patch(scope, suffix)),
                ];
                paths.push((format!("{item}/status"), path_item(&item_params, operations)));
            }
            Subresource::Create { name, group_version, kind, schema } => {
                let suffix = capitalize(name);
                let create = ops.create(scope, &suffix, schema, &group_version.gvk(kind));
                paths.push((format!("{item}/{name}"), path_item(&item_params, [("post", create)])));
            }
        }
    }
    paths
}

/// Builds the operations of one resource.
struct Ops<'r, 'a> {
    resource: &'r Resource<'a>,
    gvk: Value,
}

impl Ops<'_, '_> {
    /// `list` + `CoreV1` + `Namespaced` + `Pod` + `ForAllNamespaces`, as upstream names them.
    fn id(&self, verb: &str, scope: &str, suffix: &str) -> String {
        format!("{verb}{}{scope}{}{suffix}", self.resource.group_version.camel_name(), self.resource.kind)
    }

    fn list(&self, scope: &str, suffix: &str, list_schema: &str) -> Value {
        let description = format!("list or watch objects of kind {}", self.resource.kind);
        let responses = responses(&[("200", "OK")], list_schema, true);
        operation(
            self,
            "list",
            self.id("list", scope, suffix),
            description,
            parameters::list(),
            None,
            responses,
            &self.gvk,
        )
    }

    fn create(&self, scope: &str, suffix: &str, schema: &str, gvk: &Value) -> Value {
        let description = format!("create a {}", gvk["kind"].as_str().unwrap_or(self.resource.kind));
        let responses = responses(&[("200", "OK"), ("201", "Created"), ("202", "Accepted")], schema, false);
        let body = body(schema);
        operation(
            self,
            "post",
            self.id("create", scope, suffix),
            description,
            parameters::write(),
            Some(body),
            responses,
            gvk,
        )
    }

    fn delete_collection(&self, scope: &str) -> Value {
        let description = format!("delete collection of {}", self.resource.kind);
        let responses = responses(&[("200", "OK")], STATUS, false);
        let id = format!(
            "delete{}Collection{scope}{}",
            self.resource.group_version.camel_name(),
            self.resource.kind
        );
        let params = parameters::delete_collection();
        operation(
            self,
            "deletecollection",
            id,
            description,
            params,
            Some(body(DELETE_OPTIONS)),
            responses,
            &self.gvk,
        )
    }

    fn read(&self, scope: &str, suffix: &str) -> Value {
        let description = format!("read {}the specified {}", of_status(suffix), self.resource.kind);
        let responses = responses(&[("200", "OK")], self.resource.schema, false);
        operation(
            self,
            "get",
            self.id("read", scope, suffix),
            description,
            Vec::new(),
            None,
            responses,
            &self.gvk,
        )
    }

    fn replace(&self, scope: &str, suffix: &str) -> Value {
        let description = format!("replace {}the specified {}", of_status(suffix), self.resource.kind);
        let responses = responses(&[("200", "OK"), ("201", "Created")], self.resource.schema, false);
        let body = body(self.resource.schema);
        operation(
            self,
            "put",
            self.id("replace", scope, suffix),
            description,
            parameters::write(),
            Some(body),
            responses,
            &self.gvk,
        )
    }

    fn patch(&self, scope: &str, suffix: &str) -> Value {
        let description =
            format!("partially update {}the specified {}", of_status(suffix), self.resource.kind);
        let responses = responses(&[("200", "OK"), ("201", "Created")], self.resource.schema, false);
        let mut content_types = vec![
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
        ];
        if self.resource.strategic_merge {
            content_types.push("application/strategic-merge-patch+json");
        }
        let content: Map<String, Value> = content_types
            .into_iter()
            .map(|ty| (ty.to_owned(), json!({ "schema": schema_ref(PATCH) })))
            .collect();
        let body = json!({ "content": content, "required": true });
        operation(
            self,
            "patch",
            self.id("patch", scope, suffix),
            description,
            parameters::patch(),
            Some(body),
            responses,
            &self.gvk,
        )
    }

    fn delete(&self, scope: &str) -> Value {
        let description = format!("delete a {}", self.resource.kind);
        let responses = responses(&[("200", "OK"), ("202", "Accepted")], STATUS, false);
        let body = body(DELETE_OPTIONS);
        operation(
            self,
            "delete",
            self.id("delete", scope, ""),
            description,
            parameters::delete(),
            Some(body),
            responses,
            &self.gvk,
        )
    }
}

#[allow(clippy::too_many_arguments)] // one call per operation kind, each naming every part
fn operation(
    ops: &Ops<'_, '_>,
    action: &str,
    id: String,
    description: String,
    parameters: Vec<Value>,
    body: Option<Value>,
    responses: Value,
    gvk: &Value,
) -> Value {
    let mut operation = json!({
        "description": description,
        "operationId": id,
        "responses": responses,
        "tags": [ops.resource.group_version.tag()],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    });
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = body {
        operation["requestBody"] = body;
    }
    operation
}

fn path_item<const N: usize>(parameters: &[Value], operations: [(&str, Value); N]) -> Value {
    let mut item: Map<String, Value> =
        operations.into_iter().map(|(method, op)| (method.to_owned(), op)).collect();
    item.insert("parameters".into(), Value::Array(parameters.to_vec()));
    Value::Object(item)
}

/// A request body of `schema`, in any content type (the server decodes JSON and YAML).
fn body(schema: &str) -> Value {
    json!({ "content": { "*/*": { "schema": schema_ref(schema) } }, "required": true })
}

/// Responses answering `schema` as JSON or YAML (and as a watch stream for lists), plus 401.
fn responses(codes: &[(&str, &str)], schema: &str, watch: bool) -> Value {
    let mut content_types = vec!["application/json", "application/yaml"];
    if watch {
        content_types.push("application/json;stream=watch");
    }
    let content: Map<String, Value> = content_types
        .into_iter()
        .map(|ty| (ty.to_owned(), json!({ "schema": schema_ref(schema) })))
        .collect();
    let mut responses: Map<String, Value> = codes
        .iter()
        .map(|(code, description)| {
            ((*code).to_owned(), json!({ "content": content, "description": description }))
        })
        .collect();
    responses.insert("401".into(), json!({ "description": "Unauthorized" }));
    Value::Object(responses)
}

fn of_status(suffix: &str) -> &'static str {
    if suffix == "Status" { "status of " } else { "" }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods(group_version: &GroupVersion) -> Resource<'_> {
        Resource {
            group_version,
            kind: "Pod",
            plural: "pods",
            namespaced: true,
            schema: "io.k8s.api.core.v1.Pod",
            list_schema: Some("io.k8s.api.core.v1.PodList"),
            strategic_merge: true,
            subresources: vec![
                Subresource::Status,
                Subresource::Create {
                    name: "binding",
                    group_version: GroupVersion::new("", "v1"),
                    kind: "Binding",
                    schema: "io.k8s.api.core.v1.Binding",
                },
            ],
        }
    }

    fn find<'a>(paths: &'a [(String, Value)], path: &str) -> &'a Value {
        paths.iter().find(|(candidate, _)| candidate == path).map(|(_, item)| item).unwrap_or(&Value::Null)
    }

    #[test]
    fn namespaced_resources_get_collection_item_all_namespaces_and_subresource_paths() {
        let core = GroupVersion::new("", "v1");
        let paths = paths(&pods(&core));
        let names: Vec<&str> = paths.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(
            names,
            [
                "/api/v1/namespaces/{namespace}/pods",
                "/api/v1/namespaces/{namespace}/pods/{name}",
                "/api/v1/pods",
                "/api/v1/namespaces/{namespace}/pods/{name}/status",
                "/api/v1/namespaces/{namespace}/pods/{name}/binding",
            ]
        );
        let read = &find(&paths, "/api/v1/namespaces/{namespace}/pods/{name}")["get"];
        assert_eq!(read["operationId"], "readCoreV1NamespacedPod");
        assert_eq!(read["x-kubernetes-action"], "get");
        assert_eq!(
            read["x-kubernetes-group-version-kind"],
            json!({ "group": "", "kind": "Pod", "version": "v1" })
        );
        let binding = &find(&paths, "/api/v1/namespaces/{namespace}/pods/{name}/binding")["post"];
        assert_eq!(binding["operationId"], "createCoreV1NamespacedPodBinding");
        assert_eq!(binding["x-kubernetes-group-version-kind"]["kind"], "Binding");
    }

    #[test]
    fn every_patch_operation_lists_field_validation() {
        let core = GroupVersion::new("", "v1");
        for (path, item) in paths(&pods(&core)) {
            if let Some(patch) = item.get("patch") {
                let names: Vec<&Value> =
                    patch["parameters"].as_array().into_iter().flatten().map(|p| &p["name"]).collect();
                assert!(names.contains(&&json!("fieldValidation")), "{path} lacks fieldValidation");
            }
        }
    }

    #[test]
    fn only_strategic_resources_advertise_strategic_merge_patches() {
        let group_version = GroupVersion::new("stable.example.com", "v1");
        let mut resource = pods(&group_version);
        resource.strategic_merge = false;
        resource.namespaced = false;
        let paths = paths(&resource);
        let content =
            &find(&paths, "/apis/stable.example.com/v1/pods/{name}")["patch"]["requestBody"]["content"];
        assert!(content.get("application/merge-patch+json").is_some());
        assert!(content.get("application/strategic-merge-patch+json").is_none());
        assert_eq!(
            find(&paths, "/apis/stable.example.com/v1/pods")["get"]["operationId"],
            "listStableExampleComV1Pod"
        );
    }

    #[test]
    fn resources_without_lists_only_accept_creates() {
        let core = GroupVersion::new("", "v1");
        let mut resource = pods(&core);
        resource.list_schema = None;
        let paths = paths(&resource);
        assert_eq!(paths.len(), 1);
        let item = &paths[0].1;
        assert!(item.get("post").is_some() && item.get("get").is_none());
    }
}
