//! Recording Kubernetes Events (`core/v1`), as client-go's event recorder does: asynchronously
//! (a controller never waits on, or fails because of, an Event), with repeats of the same event
//! folded into one object whose `count` grows.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc;

/// How many events may wait to be written before new ones are dropped (a controller must not
/// stall on a slow API server just to report).
const QUEUE_DEPTH: usize = 4096;

/// How many distinct events the recorder remembers for folding repeats.
const CACHE_SIZE: usize = 4096;

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Expected things.
    Normal,
    /// Something went wrong or needs attention.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct EventRecord {
    /// The object the event is about.
    pub regarding: ObjectReference,
    /// Normal or Warning.
    pub type_: EventType,
    /// A CamelCase reason (`SuccessfulCreate`).
    pub reason: String,
    /// A human-readable message.
    pub message: String,
}

/// Records events in the background. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventRecorder {
    sender: mpsc::Sender<EventRecord>,
}

/// An ObjectReference to `object`, for [`EventRecord::regarding`].
pub fn reference<K: Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: object.meta().name.clone(),
        namespace: object.meta().namespace.clone(),
        uid: object.meta().uid.clone(),
        resource_version: object.meta().resource_version.clone(),
        field_path: None,
    }
}

impl EventRecorder {
    /// Starts the writer task; `component` is the `source.component` (e.g. `daemonset-controller`).
    pub fn new(client: Client, component: &str) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(write_events(client, component.to_owned(), receiver));
        EventRecorder { sender }
    }

    /// Queues an event; never waits. Dropped (with a log line) when the queue is full.
    pub fn record(
        &self,
        regarding: ObjectReference,
        type_: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        let record = EventRecord { regarding, type_, reason: reason.to_owned(), message: message.into() };
        if self.sender.try_send(record).is_err() {
            tracing::debug!(reason, "event queue full or closed; event dropped");
        }
    }
}

type FoldKey = (String, String, String, String);

async fn write_events(client: Client, component: String, mut receiver: mpsc::Receiver<EventRecord>) {
    // (uid or name, type, reason, message) -> (namespace, event name, count)
    let mut seen: HashMap<FoldKey, (String, String, i32)> = HashMap::new();
    while let Some(record) = receiver.recv().await {
        let namespace = record.regarding.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let object_name = record.regarding.name.clone().unwrap_or_default();
        let key: FoldKey = (
            record.regarding.uid.clone().unwrap_or_else(|| object_name.clone()),
            record.type_.as_str().to_owned(),
            record.reason.clone(),
            record.message.clone(),
        );
        let now = jiff::Timestamp::now();
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        if let Some((ns, name, count)) = seen.get_mut(&key) {
            *count += 1;
            let patch = json!({"count": *count, "lastTimestamp": Time(now)});
            let api: Api<Event> = Api::namespaced(client.clone(), ns);
            if api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.is_ok() {
                continue;
            }
        }
        let name = format!("{object_name}.{:x}", now.as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: record.regarding.clone(),
            type_: Some(record.type_.as_str().to_owned()),
            reason: Some(record.reason.clone()),
            message: Some(record.message.clone()),
            source: Some(EventSource { component: Some(component.clone()), host: None }),
            reporting_component: Some(component.clone()),
            reporting_instance: Some(component.clone()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            action: Some(record.reason.clone()),
            count: Some(1),
            ..Event::default()
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(created) => {
                if seen.len() >= CACHE_SIZE {
                    seen.clear();
                }
                seen.insert(key, (namespace, created.name_any(), 1));
            }
            Err(error) => tracing::debug!(%error, reason = record.reason, "could not record event"),
        }
    }
}
