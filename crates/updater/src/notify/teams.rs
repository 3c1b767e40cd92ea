//! Microsoft Teams messages: an Adaptive Card in the `message` envelope (pure: event in, JSON out).
//!
//! The envelope `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",
//! "content":{...}}]}` is what Teams Workflows ("Post to a channel when a webhook request is received")
//! accept; the retired Office 365 connector `MessageCard` format is not used. The card has no
//! `actions`: approving stays an authenticated action outside chat (see
//! [`NotificationEvent::approval_hint`]).

use serde_json::{Value, json};

use super::event::{EventKind, NotificationEvent, Severity};
use super::slack::truncate;

/// Adaptive Card schema version; 1.4 renders in every current Teams client.
const CARD_VERSION: &str = "1.4";

/// Teams rejects payloads above about 28 KB; capping the free text keeps a card well below that.
const MESSAGE_MAX: usize = 4000;

/// Renders `event` as a Teams message with one Adaptive Card.
pub fn render(event: &NotificationEvent) -> Value {
    let mut facts = vec![
        fact("Workload", &event.workload.to_string()),
        fact("Container", &event.container),
        fact("Current image", &event.current_image),
        fact("New image", &event.new_image),
    ];
    if let Some(request) = &event.update_request {
        facts.push(fact("UpdateRequest", request));
    }
    if let Some(actor) = &event.actor {
        let label = if event.kind == EventKind::Rejected { "Rejected by" } else { "Approved by" };
        facts.push(fact(label, actor));
    }

    let mut body = vec![
        json!({
            "type": "TextBlock",
            "text": event.kind.title(),
            "size": "Medium",
            "weight": "Bolder",
            "color": color(event.kind.severity()),
            "wrap": true,
        }),
        json!({"type": "FactSet", "facts": facts}),
    ];
    if let Some(message) = &event.message {
        body.push(json!({"type": "TextBlock", "text": truncate(message, MESSAGE_MAX), "wrap": true}));
    }
    if let Some(hint) = event.approval_hint() {
        body.push(json!({"type": "TextBlock", "text": hint, "wrap": true}));
    }
    body.push(json!({
        "type": "TextBlock",
        "text": format!("everynode | {} | {}", event.kind, event.timestamp),
        "isSubtle": true,
        "size": "Small",
        "wrap": true,
    }));

    json!({
        "type": "message",
        "summary": event.summary(),
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": CARD_VERSION,
                "body": body,
                "msteams": {"width": "Full"},
            },
        }],
    })
}

fn fact(title: &str, value: &str) -> Value {
    json!({"title": title, "value": value})
}

/// Adaptive Card text colours by severity.
fn color(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "Default",
        Severity::Good => "Good",
        Severity::Warning => "Warning",
        Severity::Attention => "Attention",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::fixtures;

    #[test]
    fn card_is_wrapped_in_the_workflows_envelope() {
        let message = render(&fixtures::applied());
        assert_eq!(message["type"], "message");
        let attachments = message["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1);
        assert_eq!(attachments[0]["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &attachments[0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
    }

    #[test]
    fn card_shows_title_facts_and_timestamp() {
        let message = render(&fixtures::applied());
        let body = message["attachments"][0]["content"]["body"].as_array().unwrap();
        assert_eq!(body[0]["text"], "Image update applied");
        assert_eq!(body[0]["color"], "Good");
        let facts: Vec<(&str, &str)> = body[1]["facts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["title"].as_str().unwrap(), f["value"].as_str().unwrap()))
            .collect();
        assert_eq!(
            facts,
            [
                ("Workload", "DaemonSet monitoring/node-exporter"),
                ("Container", "node-exporter"),
                ("Current image", "prom/node-exporter:v1.5.0"),
                ("New image", "prom/node-exporter:v1.6.0"),
                ("UpdateRequest", "node-exporter-v1-6-0"),
                ("Approved by", "admin@example.com"),
            ]
        );
        assert_eq!(body.last().unwrap()["text"], "everynode | update_applied | 2025-11-06T10:30:00Z");
    }

    #[test]
    fn card_has_no_actions_for_any_event() {
        for kind in EventKind::ALL {
            let message = render(&fixtures::with_kind(kind));
            let card = &message["attachments"][0]["content"];
            assert!(card.get("actions").is_none(), "{kind}");
            assert!(!message.to_string().contains("Action."), "{kind}");
        }
    }

    #[test]
    fn failure_is_coloured_attention_and_carries_the_message() {
        let mut event = fixtures::with_kind(EventKind::Failed);
        event.message = Some("image pull failed".into());
        let message = render(&event);
        let body = message["attachments"][0]["content"]["body"].as_array().unwrap();
        assert_eq!(body[0]["color"], "Attention");
        assert!(body.iter().any(|b| b["text"] == "image pull failed"));
    }
}
