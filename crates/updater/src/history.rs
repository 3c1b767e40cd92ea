//! The `headwind.sh/update-history` annotation: a JSON array of applied updates, newest first.
//!
//! The format is the seed's, field for field (`container`, `image`, `timestamp`,
//! `updateRequestName`, `approvedBy`), so existing tooling (`kubectl ... | jq`) keeps working; we
//! add an optional `kind` for rollbacks. The annotation lives on objects users can edit, so
//! reading is tolerant: a corrupt value is replaced (with a warning) instead of blocking updates
//! forever, and a single bad entry is dropped without losing the others.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many entries the annotation keeps: enough to see the recent trend and to roll back,
/// small enough to stay far below the 256 KiB limit on an object's annotations.
pub const HISTORY_LIMIT: usize = 10;

/// One applied update (or rollback) of one container.
///
/// Fields serialise in declaration order, which is the seed's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The container's name.
    pub container: String,
    /// The image the container was set to, as written into the spec.
    pub image: String,
    /// When the change was applied; serialised as RFC 3339.
    #[serde(serialize_with = "to_rfc3339", deserialize_with = "from_rfc3339")]
    pub timestamp: Timestamp,
    /// The UpdateRequest that carried the change, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_request_name: Option<String>,
    /// Who approved it (a user, or `webhook`/`auto` for unattended updates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// What kind of change this was; absent means an update (Headwind writes no kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<HistoryKind>,
}

/// What kind of change a [`HistoryEntry`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryKind {
    /// A policy-driven update.
    Update,
    /// An automatic or manual rollback to an earlier image.
    Rollback,
}

impl HistoryKind {
    /// The serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::Update => "update",
            HistoryKind::Rollback => "rollback",
        }
    }
}

fn to_rfc3339<S: Serializer>(timestamp: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(timestamp)
}

fn from_rfc3339<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// Why the existing history was not fully kept; worth a log line or an event, never an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryWarning {
    /// The annotation is not JSON, or not an array; it was replaced.
    #[error("the update history is not a JSON array and was replaced: {reason}")]
    Corrupt {
        /// What the JSON parser said.
        reason: String,
    },
    /// Some entries could not be read and were dropped; the others were kept.
    #[error("{count} unreadable update history entries were dropped")]
    DroppedEntries {
        /// How many.
        count: usize,
    },
}

/// The entries read from an annotation, and what could not be kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedHistory {
    /// The readable entries, in the annotation's order (newest first).
    pub entries: Vec<HistoryEntry>,
    /// Set when the value, or some of its entries, could not be read.
    pub warning: Option<HistoryWarning>,
}

/// Reads the annotation's value; an absent or blank value is an empty history without warning.
pub fn read(existing: Option<&str>) -> ParsedHistory {
    let Some(existing) = existing.filter(|text| !text.trim().is_empty()) else {
        return ParsedHistory::default();
    };
    let items = match serde_json::from_str::<Vec<serde_json::Value>>(existing) {
        Ok(items) => items,
        Err(err) => {
            return ParsedHistory {
                entries: Vec::new(),
                warning: Some(HistoryWarning::Corrupt { reason: err.to_string() }),
            };
        }
    };
    let total = items.len();
    let entries: Vec<HistoryEntry> =
        items.into_iter().filter_map(|item| serde_json::from_value(item).ok()).collect();
    let dropped = total - entries.len();
    ParsedHistory {
        entries,
        warning: (dropped > 0).then_some(HistoryWarning::DroppedEntries { count: dropped }),
    }
}

/// The readable entries of the annotation's value (see [`read`] to learn what was dropped).
pub fn parse(existing: &str) -> Vec<HistoryEntry> {
    read(Some(existing)).entries
}

/// Renders entries as the annotation's value, exactly as `serde_json::to_string` would.
///
/// Written by hand (serde_json escaping each string) so that rendering cannot fail: a history
/// that could not be written would have to be dropped, or block the update.
pub fn render(entries: &[HistoryEntry]) -> String {
    let mut out = String::from("[");
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        push_field(&mut out, "container", &entry.container);
        push_field(&mut out, "image", &entry.image);
        push_field(&mut out, "timestamp", &entry.timestamp.to_string());
        if let Some(name) = &entry.update_request_name {
            push_field(&mut out, "updateRequestName", name);
        }
        if let Some(approved_by) = &entry.approved_by {
            push_field(&mut out, "approvedBy", approved_by);
        }
        if let Some(kind) = entry.kind {
            push_field(&mut out, "kind", kind.as_str());
        }
        out.push('}');
    }
    out.push(']');
    out
}

/// Appends `"key":"value"` to an object being written, with a comma unless it is the first.
fn push_field(out: &mut String, key: &str, value: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
    out.push_str(&serde_json::Value::from(value).to_string());
}

/// The annotation's new value after [`push`], and what of the old one could not be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The value to write into `headwind.sh/update-history`.
    pub annotation: String,
    /// Set when the previous value, or some of its entries, could not be read.
    pub warning: Option<HistoryWarning>,
}

/// Adds `entry` in front of the existing history and keeps the newest `cap` entries.
///
/// `cap` is at least 1 in effect: the entry being recorded is always kept.
pub fn push(existing: Option<&str>, entry: HistoryEntry, cap: usize) -> Pushed {
    let ParsedHistory { mut entries, warning } = read(existing);
    entries.insert(0, entry);
    entries.truncate(cap.max(1));
    Pushed { annotation: render(&entries), warning }
}

#[cfg(test)]
mod tests;
