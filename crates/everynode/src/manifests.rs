//! Reading Kubernetes objects from YAML files or stdin, the way `kubectl apply -f` accepts them.
//!
//! A file may hold several documents (`---`) and `List`-style documents (`kind: List`,
//! `NodeList`, ... with `items`, as `kubectl get nodes -o yaml` prints). Each document is parsed
//! twice: once into a generic YAML value to learn what it is (kind, apiVersion, name), then straight
//! from the text into the typed object. The second pass is what makes errors useful: it reports
//! the field path and the line (`spec.taints: invalid type ... at line 8 column 11`), and it reads
//! plain scalars such as `cpu: 1` as strings where the API expects one, as Kubernetes does.

use std::fmt;
use std::io::Read;
use std::path::Path;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_yaml_ng::Value;

/// What went wrong reading a manifest. None of these is retryable: the input must change.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file (or stdin) could not be read.
    #[error("{file}: cannot read")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// Not YAML. The message carries the line and column.
    #[error("{file}: YAML syntax error")]
    Syntax {
        file: String,
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// YAML, but not a Kubernetes object (no kind, not a mapping, a list without items).
    #[error("{origin}: {problem}")]
    Shape { origin: Origin, problem: String },
    /// A kind we read in an apiVersion the API no longer serves (or never did).
    #[error("{}: {kind} {name:?}: {}", origin.file, unserved_hint(kind, api_version))]
    UnservedVersion { origin: Origin, kind: String, name: String, api_version: String },
    /// The object does not fit its type (a string where a list belongs...). The message carries
    /// the field path and, for top-level documents, the line.
    #[error("{origin}: cannot read as {kind}")]
    Decode {
        origin: Origin,
        kind: &'static str,
        #[source]
        source: serde_yaml_ng::Error,
    },
}

/// `Result` with a [`ManifestError`].
pub type Result<T, E = ManifestError> = std::result::Result<T, E>;

/// Why an apiVersion is refused, with what to do instead. DaemonSets moved to apps/v1 in 1.9 and
/// the beta versions stopped being served in 1.16; old tutorials still show them, so users meet
/// this first and deserve the exact fix (apps/v1 made `spec.selector` required).
fn unserved_hint(kind: &str, api_version: &str) -> String {
    match (kind, api_version) {
        ("DaemonSet", "extensions/v1beta1" | "apps/v1beta2") => format!(
            "apiVersion {api_version} is no longer served (removed in Kubernetes 1.16); use apps/v1 and add \
             spec.selector.matchLabels matching the template labels"
        ),
        _ => format!("no matches for kind {kind:?} in version {api_version:?}"),
    }
}

/// Where an object came from, for messages: the file, the document (1-based) and, inside a
/// list, the item (0-based, as `items[3]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub document: usize,
    pub item: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: document {}", self.file, self.document)?;
        if let Some(i) = self.item {
            write!(f, ", items[{i}]")?;
        }
        Ok(())
    }
}

/// The kinds the `plan` command understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    DaemonSet,
    Node,
    Pod,
    ControllerRevision,
}

impl Kind {
    fn parse(kind: &str) -> Option<Kind> {
        match kind {
            "DaemonSet" => Some(Kind::DaemonSet),
            "Node" => Some(Kind::Node),
            "Pod" => Some(Kind::Pod),
            "ControllerRevision" => Some(Kind::ControllerRevision),
            _ => None,
        }
    }

    /// The only apiVersion the API serves the kind in.
    fn api_version(self) -> &'static str {
        match self {
            Kind::DaemonSet | Kind::ControllerRevision => "apps/v1",
            Kind::Node | Kind::Pod => "v1",
        }
    }

    /// The kind as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DaemonSet => "DaemonSet",
            Kind::Node => "Node",
            Kind::Pod => "Pod",
            Kind::ControllerRevision => "ControllerRevision",
        }
    }
}

/// One typed object.
#[derive(Debug, Clone)]
pub enum Object {
    DaemonSet(Box<DaemonSet>),
    Node(Box<Node>),
    Pod(Box<Pod>),
    ControllerRevision(Box<ControllerRevision>),
}

/// An object and where it came from.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub origin: Origin,
    pub object: T,
}

/// An object of a kind the caller did not ask for, skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub origin: Origin,
    pub kind: String,
    pub name: String,
}

/// Everything read from one input.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    /// The objects of the wanted kinds, in input order.
    pub objects: Vec<Located<Object>>,
    /// Objects of other kinds, for the caller to mention.
    pub skipped: Vec<Skipped>,
}

/// A manifest's text and the name to report it by (`-` reads stdin, reported as `<stdin>`).
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    /// Reads a file, or stdin for `-`.
    pub fn read(path: &Path) -> Result<Source> {
        if path.as_os_str() == "-" {
            let name = "<stdin>".to_string();
            let mut text = String::new();
            return match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => Ok(Source { name, text }),
                Err(source) => Err(ManifestError::Read { file: name, source }),
            };
        }
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Source { name, text }),
            Err(source) => Err(ManifestError::Read { file: name, source }),
        }
    }
}

/// What the first pass found in one document.
enum Shape {
    /// An empty document (a stray `---`).
    Empty,
    /// One object; `None` when it is not wanted.
    Single(Option<Kind>),
    /// A list; per item, its kind when wanted.
    List(Vec<Option<Kind>>),
}

/// The identifying fields of an object, read from the generic value.
struct Header {
    api_version: String,
    kind: String,
    name: String,
}

fn header(value: &Value) -> Option<Header> {
    let mapping = value.as_mapping()?;
    let text = |key: &str| mapping.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let name =
        mapping.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or_default();
    Some(Header { api_version: text("apiVersion"), kind: text("kind"), name: name.to_string() })
}

/// Reads every object of the `wanted` kinds from `source`; others are listed as skipped.
pub fn load(source: &Source, wanted: &[Kind]) -> Result<Manifests> {
    let mut out = Manifests::default();
    let mut shapes = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(&source.text).enumerate() {
        let value = Value::deserialize(document)
            .map_err(|e| ManifestError::Syntax { file: source.name.clone(), source: e })?;
        let origin = Origin { file: source.name.clone(), document: index + 1, item: None };
        shapes.push(classify(&value, origin, wanted, &mut out.skipped)?);
    }
    for (index, document) in serde_yaml_ng::Deserializer::from_str(&source.text).enumerate() {
        let origin = Origin { file: source.name.clone(), document: index + 1, item: None };
        let Some(shape) = shapes.get(index) else { break };
        let decoded = match shape {
            Shape::Empty => continue,
            Shape::Single(None) => continue,
            Shape::Single(Some(kind)) => TopSeed(Some(*kind)).deserialize(document).map(|o| vec![(None, o)]),
            Shape::List(kinds) => ListSeed(kinds).deserialize(document),
        };
        let decoded = decoded.map_err(|e| decode_error(&source.name, index, shape, e))?;
        for (item, object) in decoded {
            if let Some(object) = object {
                out.objects.push(Located { origin: Origin { item, ..origin.clone() }, object });
            }
        }
    }
    Ok(out)
}

/// First pass over one document: checks it is an object (or a list of them) in a served
/// apiVersion and decides what to decode.
fn classify(value: &Value, origin: Origin, wanted: &[Kind], skipped: &mut Vec<Skipped>) -> Result<Shape> {
    if value.is_null() {
        return Ok(Shape::Empty);
    }
    let shape_error = |origin: &Origin, problem: &str| ManifestError::Shape {
        origin: origin.clone(),
        problem: problem.into(),
    };
    let Some(top) = header(value) else {
        return Err(shape_error(
            &origin,
            "not a Kubernetes object (expected a mapping with apiVersion and kind)",
        ));
    };
    if top.kind.ends_with("List") {
        let Some(items) = value.get("items") else { return Ok(Shape::List(Vec::new())) };
        let Some(items) = items.as_sequence() else {
            return Err(shape_error(&origin, &format!("{}: items is not a list", top.kind)));
        };
        // Items of a typed list (NodeList) may omit kind and apiVersion, as the API server's own
        // lists do; `kubectl get -o yaml` fills them in.
        let implied = Header {
            kind: top.kind.trim_end_matches("List").to_string(),
            api_version: String::new(),
            name: String::new(),
        };
        let mut kinds = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let origin = Origin { item: Some(i), ..origin.clone() };
            let Some(mut h) = header(item) else {
                return Err(shape_error(&origin, "not a Kubernetes object (expected a mapping)"));
            };
            if h.kind.is_empty() {
                h.kind.clone_from(&implied.kind);
            }
            kinds.push(wanted_kind(&h, origin, wanted, skipped)?);
        }
        return Ok(Shape::List(kinds));
    }
    if top.kind.is_empty() {
        return Err(shape_error(&origin, "object has no kind"));
    }
    Ok(Shape::Single(wanted_kind(&top, origin, wanted, skipped)?))
}

fn wanted_kind(
    h: &Header,
    origin: Origin,
    wanted: &[Kind],
    skipped: &mut Vec<Skipped>,
) -> Result<Option<Kind>> {
    let Some(kind) = Kind::parse(&h.kind).filter(|k| wanted.contains(k)) else {
        skipped.push(Skipped { origin, kind: h.kind.clone(), name: h.name.clone() });
        return Ok(None);
    };
    if !h.api_version.is_empty() && h.api_version != kind.api_version() {
        return Err(ManifestError::UnservedVersion {
            origin,
            kind: h.kind.clone(),
            name: h.name.clone(),
            api_version: h.api_version.clone(),
        });
    }
    Ok(Some(kind))
}

/// Names the document a decode error is about; inside a list, the error's own path starts with
/// `items[i]`.
fn decode_error(file: &str, index: usize, shape: &Shape, source: serde_yaml_ng::Error) -> ManifestError {
    let origin = Origin { file: file.to_string(), document: index + 1, item: None };
    let kind = match shape {
        Shape::Single(Some(kind)) => kind.as_str(),
        _ => "List",
    };
    ManifestError::Decode { origin, kind, source }
}

/// Decodes one object of a known kind; `None` skips it cheaply.
#[derive(Clone, Copy)]
struct TopSeed(Option<Kind>);

impl<'de> DeserializeSeed<'de> for TopSeed {
    type Value = Option<Object>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(Some(match self.0 {
            None => {
                IgnoredAny::deserialize(d)?;
                return Ok(None);
            }
            Some(Kind::DaemonSet) => Object::DaemonSet(Box::new(DaemonSet::deserialize(d)?)),
            Some(Kind::Node) => Object::Node(Box::new(Node::deserialize(d)?)),
            Some(Kind::Pod) => Object::Pod(Box::new(Pod::deserialize(d)?)),
            Some(Kind::ControllerRevision) => {
                Object::ControllerRevision(Box::new(ControllerRevision::deserialize(d)?))
            }
        }))
    }
}

/// Decodes the `items` of a list document, each with the kind the first pass found.
struct ListSeed<'a>(&'a [Option<Kind>]);

/// Decoded list items: index and object (None for skipped items).
type Items = Vec<(Option<usize>, Option<Object>)>;

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Items;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Items;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list object with items")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Items, A::Error> {
        let mut items = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                items = map.next_value_seed(ItemsSeed(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(items)
    }
}

struct ItemsSeed<'a>(&'a [Option<Kind>]);

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = Items;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = Items;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        let mut out = Vec::with_capacity(self.0.len());
        for (i, kind) in self.0.iter().enumerate() {
            match seq.next_element_seed(TopSeed(*kind))? {
                Some(object) => out.push((Some(i), object)),
                None => break,
            }
        }
        // Both passes read the same text, so there is nothing left; drain defensively anyway.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source { name: "test.yaml".into(), text: text.into() }
    }

    const NODE: &str = "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n";

    #[test]
    fn multi_document_files_yield_every_object_and_skip_empty_documents() {
        let text = format!("---\n{NODE}---\n{}\n---\n", NODE.replace("name: a", "name: b"));
        let got = load(&source(&text), &[Kind::Node]).unwrap();
        assert_eq!(got.objects.len(), 2);
        assert_eq!(got.objects[1].origin.document, 2);
    }

    #[test]
    fn node_lists_without_item_kinds_are_read_as_nodes() {
        let text =
            "apiVersion: v1\nkind: NodeList\nitems:\n- metadata:\n    name: a\n- metadata:\n    name: b\n";
        let got = load(&source(text), &[Kind::Node]).unwrap();
        assert_eq!(got.objects.len(), 2);
        assert_eq!(got.objects[1].origin.item, Some(1));
    }

    #[test]
    fn unwanted_kinds_are_skipped_and_reported() {
        let text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n---\n{NODE}");
        let got = load(&source(&text), &[Kind::Node]).unwrap();
        assert_eq!(got.objects.len(), 1);
        assert_eq!(got.skipped[0].kind, "ConfigMap");
        assert_eq!(got.skipped[0].name, "cfg");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = load(&source("a: [1\nb: 2\n"), &[Kind::Node]).unwrap_err();
        let ManifestError::Syntax { source, .. } = &err else { panic!("{err:?}") };
        assert!(source.to_string().contains("line 2"), "{source}");
    }

    #[test]
    fn type_errors_name_the_field_path_and_line() {
        let err = load(&source(&format!("{NODE}spec:\n  taints: 5\n")), &[Kind::Node]).unwrap_err();
        let ManifestError::Decode { source, .. } = &err else { panic!("{err:?}") };
        assert!(source.to_string().contains("spec.taints"), "{source}");
        assert!(source.to_string().contains("line 6"), "{source}");
    }

    #[test]
    fn plain_scalars_are_read_as_strings_where_the_api_expects_one() {
        let text = format!("{NODE}  labels:\n    rack: 7\n");
        let got = load(&source(&text), &[Kind::Node]).unwrap();
        let Object::Node(node) = &got.objects[0].object else { panic!() };
        assert_eq!(node.metadata.labels.as_ref().unwrap()["rack"], "7");
    }

    #[test]
    fn removed_daemonset_versions_are_refused_with_the_fix() {
        let text = "apiVersion: extensions/v1beta1\nkind: DaemonSet\nmetadata:\n  name: fluentd\n";
        let err = load(&source(text), &[Kind::DaemonSet]).unwrap_err().to_string();
        assert!(
            err.contains(r#"DaemonSet "fluentd": apiVersion extensions/v1beta1 is no longer served"#),
            "{err}"
        );
        assert!(err.contains("use apps/v1 and add spec.selector.matchLabels"), "{err}");
    }
}
