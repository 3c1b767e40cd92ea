//! Slack incoming-webhook messages in Block Kit (pure: event in, JSON out).
//!
//! Every user-controlled string is escaped (`&`, `<`, `>`), because Slack turns `<!channel>` or
//! `<https://evil|click>` in mrkdwn into mentions and links, and texts are cut to Slack's length
//! limits, above which Slack rejects the whole message with 400.

use serde_json::{Value, json};

use super::event::{EventKind, NotificationEvent, Severity};

/// Slack's limits: header text 150 characters, section text 3000, section field 2000, and at most ten
/// fields per section.
const HEADER_MAX: usize = 150;
const TEXT_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;

/// Renders `event` as `{"text": fallback, "blocks": [...]}`.
pub fn render(event: &NotificationEvent) -> Value {
    let mut fields = vec![
        field("Container", &code(&event.container)),
        field("Current image", &code(&event.current_image)),
        field("New image", &code(&event.new_image)),
    ];
    if let Some(request) = &event.update_request {
        fields.push(field("UpdateRequest", &code(request)));
    }
    if let Some(actor) = &event.actor {
        let label = if event.kind == EventKind::Rejected { "Rejected by" } else { "Approved by" };
        fields.push(field(label, &escape(actor)));
    }

    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(&header_text(event), HEADER_MAX), "emoji": true},
        }),
        json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(&format!(
                "*{}* `{}/{}`",
                escape(&event.workload.kind),
                escape(&event.workload.namespace),
                escape(&event.workload.name),
            ), TEXT_MAX)},
        }),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some(message) = &event.message {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(&escape(message), TEXT_MAX)},
        }));
    }
    if let Some(hint) = event.approval_hint() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(&escape(&hint), TEXT_MAX)},
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": format!("everynode | {} | {}", event.kind, event.timestamp)}],
    }));

    json!({"text": truncate(&escape(&event.summary()), TEXT_MAX), "blocks": blocks})
}

/// The header with a severity marker, since Block Kit has no colour without legacy attachments.
fn header_text(event: &NotificationEvent) -> String {
    let marker = match event.kind.severity() {
        Severity::Info => ":information_source:",
        Severity::Good => ":white_check_mark:",
        Severity::Warning => ":warning:",
        Severity::Attention => ":x:",
    };
    format!("{marker} {}", event.kind.title())
}

fn field(label: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": truncate(&format!("*{label}*\n{value}"), FIELD_MAX)})
}

/// Inline code; a backtick inside would end the span early, so it is replaced by a look-alike.
fn code(text: &str) -> String {
    format!("`{}`", escape(text).replace('`', "\u{2035}"))
}

/// The three characters Slack requires escaping in every text object.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('\u{2026}');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::fixtures;

    fn texts(message: &Value) -> Vec<String> {
        let mut out = Vec::new();
        collect_texts(message, &mut out);
        out
    }

    fn collect_texts(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("text", Value::String(text)) => out.push(text.clone()),
                        _ => collect_texts(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| collect_texts(item, out)),
            _ => {}
        }
    }

    #[test]
    fn applied_update_has_header_workload_fields_and_context() {
        let message = render(&fixtures::applied());
        assert!(
            message["text"]
                .as_str()
                .unwrap()
                .starts_with("Image update applied: DaemonSet monitoring/node-exporter")
        );
        let blocks = message["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[0]["text"]["text"], ":white_check_mark: Image update applied");
        assert_eq!(blocks[1]["text"]["text"], "*DaemonSet* `monitoring/node-exporter`");
        let fields: Vec<&str> =
            blocks[2]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert_eq!(
            fields,
            [
                "*Container*\n`node-exporter`",
                "*Current image*\n`prom/node-exporter:v1.5.0`",
                "*New image*\n`prom/node-exporter:v1.6.0`",
                "*UpdateRequest*\n`node-exporter-v1-6-0`",
                "*Approved by*\nadmin@example.com",
            ]
        );
        let context = blocks.last().unwrap();
        assert_eq!(context["type"], "context");
        assert_eq!(context["elements"][0]["text"], "everynode | update_applied | 2025-11-06T10:30:00Z");
    }

    #[test]
    fn no_block_is_interactive() {
        for kind in EventKind::ALL {
            let message = render(&fixtures::with_kind(kind));
            for block in message["blocks"].as_array().unwrap() {
                assert_ne!(block["type"], "actions", "{kind}");
                assert!(block.get("accessory").is_none(), "{kind}");
            }
        }
    }

    #[test]
    fn awaiting_approval_explains_how_to_approve_in_text() {
        let message = render(&fixtures::with_kind(EventKind::RequestCreated));
        let hint = texts(&message).into_iter().find(|t| t.contains("approval API")).unwrap();
        assert!(hint.contains("kubectl -n monitoring get updaterequest node-exporter-v1-6-0"), "{hint}");
    }

    #[test]
    fn user_text_cannot_mention_or_link() {
        let mut event = fixtures::with_kind(EventKind::Failed);
        event.message = Some("<!channel> see <https://evil.example|here> & more".into());
        event.container = "c`<!here>".into();
        let all = texts(&render(&event)).join("\n");
        assert!(!all.contains("<!channel>") && !all.contains("<!here>") && !all.contains("<https"), "{all}");
        assert!(all.contains("&lt;!channel&gt; see &lt;https://evil.example|here&gt; &amp; more"), "{all}");
    }

    #[test]
    fn long_messages_are_cut_to_slack_limits() {
        let mut event = fixtures::with_kind(EventKind::Failed);
        event.message = Some("x".repeat(10_000));
        let message = render(&event);
        for text in texts(&message) {
            assert!(text.chars().count() <= TEXT_MAX, "{} characters", text.chars().count());
        }
    }
}
