//! Watches: a chunked stream of newline-delimited watch events, resumable from a
//! resourceVersion, with bookmarks, timeouts, initial events and Table rendering.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use everynode_store::{EventKind, Revision, StoreError, Watch};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::read::{Filter, has_type_meta, with_type_meta};
use super::{Format, Target};
use crate::error::{ApiError, ApiResult};
use crate::request::Query;
use crate::server::ApiServer;
use crate::table::{self, IncludeObject};

/// Upstream's `--min-request-timeout` default: watches without `timeoutSeconds` end after
/// 30 minutes and clients re-watch from their last resourceVersion.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Bookmarks go out this often when the client allows them, so a reconnecting client resumes
/// from a recent revision even on a quiet resource.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// How many encoded events may wait for a slow client before the watch stops reading.
const CHANNEL_DEPTH: usize = 64;

/// How a watch starts.
enum Start {
    /// From the current state: its objects first, as ADDED events.
    Current { initial_events_end: bool },
    /// After a revision.
    After(Revision),
}

struct Encoder {
    format: Format,
    include: IncludeObject,
    server: ApiServer,
    target: Target,
    columns_sent: bool,
}

impl Encoder {
    /// One event line; `encoded` is the object as JSON, when the store has it.
    fn event(&mut self, kind: &str, object: &Value, encoded: Option<&[u8]>) -> Bytes {
        // Stored objects carry their apiVersion and kind already: send them as the store
        // encoded them, without the encoding and the two deep copies (type meta, then the
        // envelope) a watch event would otherwise cost per watcher. A pod write on a
        // 10,000-node cluster reaches half a dozen watchers.
        if self.format == Format::Json && has_type_meta(&self.target.rt, object) {
            return envelope(kind, object, encoded);
        }
        let object = with_type_meta(&self.target.rt, object).into_owned();
        let object = match self.format {
            Format::Json => object,
            Format::Metadata => super::partial_metadata(&object),
            Format::Table => {
                let table = table::render(
                    &self.target.rt.printer,
                    &[&object],
                    self.server.now(),
                    self.include,
                    !self.columns_sent,
                );
                self.columns_sent = true;
                let mut table = table;
                table["metadata"] = json!({"resourceVersion": crate::meta::str_field(&object, "resourceVersion").unwrap_or_default()});
                table
            }
        };
        envelope(kind, &object, None)
    }

    fn bookmark(&self, revision: Revision, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.target.rt.kind, "apiVersion": self.target.rt.api_version(), "metadata": metadata});
        envelope("BOOKMARK", &object, None)
    }
}

/// `{"type":"<kind>","object":<object>}` and a newline, without copying the object first, and
/// without encoding it if `encoded` (its JSON) is given.
///
/// The type goes first, as upstream writes it: clients decode the event as an adjacently tagged
/// enum (kube-rs' `WatchEvent`, serde's `tag`/`content`), and serde can only decode the object
/// straight into its type once it knows the tag; an object before the tag is buffered into a
/// generic tree and decoded a second time. With the object first, that buffering was 9% of the
/// CPU of `everynode bench rollout --nodes 10000`, where every pod write reaches five watchers.
fn envelope(kind: &str, object: &Value, encoded: Option<&[u8]>) -> Bytes {
    let mut bytes = Vec::with_capacity(encoded.map_or(4096, |e| e.len() + 32));
    bytes.extend_from_slice(br#"{"type":"#);
    // Writing a string or a Value to a Vec cannot fail (a Value's keys are strings).
    let _ = serde_json::to_writer(&mut bytes, kind);
    bytes.extend_from_slice(br#","object":"#);
    match encoded {
        Some(encoded) => bytes.extend_from_slice(encoded),
        None => {
            let _ = serde_json::to_writer(&mut bytes, object);
        }
    }
    bytes.extend_from_slice(b"}\n");
    Bytes::from(bytes)
}

fn error_event(error: &ApiError) -> Bytes {
    envelope("ERROR", &error.status(), None)
}

/// GET with `watch=true`.
pub async fn watch(
    server: ApiServer,
    target: Target,
    query: Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let format = Format::negotiate(headers)?;
    let include = IncludeObject::parse(query.get("includeObject")).map_err(ApiError::bad_request)?;
    let mut filter = Filter::from_query(&target.rt, &query)?;
    if let Some(name) = &target.name {
        // GET .../pods/<name>?watch=true watches one object.
        let mut by_name = query.clone();
        let selector = match query.get("fieldSelector") {
            Some(existing) => format!("{existing},metadata.name={name}"),
            None => format!("metadata.name={name}"),
        };
        by_name.set("fieldSelector", &selector);
        filter = Filter::from_query(&target.rt, &by_name)?;
    }
    let timeout = match query.int("timeoutSeconds").map_err(ApiError::bad_request)? {
        Some(seconds) if seconds > 0 => Duration::from_secs(seconds.unsigned_abs()),
        _ => DEFAULT_TIMEOUT,
    };
    let bookmarks = query.flag("allowWatchBookmarks") && format != Format::Table;
    let send_initial = query.flag("sendInitialEvents");
    let start = match query.get("resourceVersion") {
        _ if send_initial => Start::Current { initial_events_end: bookmarks },
        None | Some("0") => Start::Current { initial_events_end: false },
        Some(rv) => Start::After(
            rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
    };
    let (sender, receiver) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
    let encoder =
        Encoder { format, include, server: server.clone(), target: target.clone(), columns_sent: false };
    let namespace = target.namespace.clone();
    let resource = target.rt.storage_resource();
    let store = server.store().clone();
    let (initial, watch): (Vec<Value>, Result<Watch, StoreError>) = match start {
        Start::Current { .. } => {
            let (list, watch) = store.list_and_watch(&resource, namespace.as_deref());
            (list.items.iter().map(|o| o.as_ref().clone()).collect(), Ok(watch))
        }
        Start::After(revision) => (Vec::new(), store.watch(&resource, namespace.as_deref(), revision)),
    };
    let initial_events_end = matches!(start, Start::Current { initial_events_end: true });
    tokio::spawn(pump(encoder, filter, initial, initial_events_end, watch, sender, timeout, bookmarks));
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|bytes| (Ok::<Bytes, Infallible>(bytes), receiver))
    });
    let content_type = "application/json";
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], Body::from_stream(stream)).into_response())
}

/// The event type a selecting watcher sees, as Kubernetes' watch cache decides it: an update
/// that makes an object leave the selection is DELETED, one that makes it enter is ADDED.
/// `None`: the watcher does not see the event. Without the previous object (history replayed
/// after a restart), the new object alone decides.
fn filtered_kind(filter: &Filter, event: &everynode_store::WatchEvent) -> Option<&'static str> {
    let now = filter.matches(&event.object);
    match event.kind {
        EventKind::Added => now.then_some("ADDED"),
        EventKind::Deleted => now.then_some("DELETED"),
        EventKind::Modified => match (event.previous.as_ref().map(|p| filter.matches(p)), now) {
            (Some(true) | None, true) => Some("MODIFIED"),
            (Some(false), true) => Some("ADDED"),
            (Some(true), false) => Some("DELETED"),
            (Some(false) | None, false) => None,
        },
    }
}

/// Moves events from the store to the client until the timeout, an error, or the client leaves.
#[allow(clippy::too_many_arguments)]
async fn pump(
    mut encoder: Encoder,
    filter: Filter,
    initial: Vec<Value>,
    initial_events_end: bool,
    watch: Result<Watch, StoreError>,
    sender: mpsc::Sender<Bytes>,
    timeout: Duration,
    bookmarks: bool,
) {
    let mut watch = match watch {
        Ok(watch) => watch,
        Err(error) => {
            let rt = &encoder.target.rt;
            let _ = sender.send(error_event(&ApiError::from_store(error, &rt.group, &rt.plural))).await;
            return;
        }
    };
    for object in initial.iter().filter(|o| filter.matches(o)) {
        if sender.send(encoder.event("ADDED", object, None)).await.is_err() {
            return;
        }
    }
    if initial_events_end && sender.send(encoder.bookmark(watch.position(), true)).await.is_err() {
        return;
    }
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
    ticker.tick().await;
    loop {
        tokio::select! {
            () = &mut deadline => return,
            () = sender.closed() => return,
            _ = ticker.tick(), if bookmarks => {
                if sender.send(encoder.bookmark(watch.position(), false)).await.is_err() {
                    return;
                }
            }
            event = watch.next() => match event {
                None => return,
                Some(Err(error)) => {
                    let rt = &encoder.target.rt;
                    let _ = sender.send(error_event(&ApiError::from_store(error, &rt.group, &rt.plural))).await;
                    return;
                }
                Some(Ok(event)) => {
                    let Some(kind) = filtered_kind(&filter, &event) else { continue };
                    let encoded = event.encoded.as_deref();
                    if sender.send(encoder.event(kind, &event.object, encoded)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_is_the_event_object_with_its_type_first() {
        let object = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a\"b", "labels": {"x": "é"}}, "spec": {"containers": [{"name": "c"}]}});
        let encoded = serde_json::to_vec(&object).unwrap();
        for kind in ["ADDED", "MODIFIED", "DELETED"] {
            let expected = json!({"type": kind, "object": object});
            for (line, how) in [
                (envelope(kind, &object, None), "encoded here"),
                (envelope(kind, &object, Some(&encoded)), "encoded by the store"),
            ] {
                assert!(line.ends_with(b"}\n"), "{kind}, {how}: one line");
                let decoded: Value = serde_json::from_slice(&line).unwrap();
                assert_eq!(decoded, expected, "{kind}, {how}");
                assert!(
                    line.starts_with(format!(r#"{{"type":"{kind}","object":{{"#).as_bytes()),
                    "{kind}, {how}: the type first"
                );
            }
        }
    }

    #[test]
    fn kube_decodes_an_envelope_into_its_event() {
        let pod =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "resourceVersion": "7"}});
        let line = envelope("MODIFIED", &pod, None);
        let event: kube::core::WatchEvent<k8s_openapi::api::core::v1::Pod> =
            serde_json::from_slice(&line).unwrap();
        match event {
            kube::core::WatchEvent::Modified(pod) => {
                assert_eq!(pod.metadata.resource_version.as_deref(), Some("7"))
            }
            other => panic!("decoded as {other:?}"),
        }
    }
}
