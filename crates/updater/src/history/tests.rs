use super::*;
use proptest::prelude::*;

/// The example of the seed (`kubectl get daemonset node-exporter ... | jq`), compacted.
const SEED: &str = r#"[
  {
    "container": "node-exporter",
    "image": "prom/node-exporter:v1.5.0",
    "timestamp": "2025-11-06T10:30:00Z",
    "updateRequestName": "node-exporter-update-v1-5-0",
    "approvedBy": "webhook"
  },
  {
    "container": "node-exporter",
    "image": "prom/node-exporter:v1.4.0",
    "timestamp": "2025-10-20T14:15:00Z",
    "updateRequestName": "node-exporter-update-v1-4-0",
    "approvedBy": "admin@example.com"
  }
]"#;

fn ts(s: &str) -> Timestamp {
    match s.parse() {
        Ok(ts) => ts,
        Err(err) => panic!("{s}: {err}"),
    }
}

fn entry(image: &str, at: &str) -> HistoryEntry {
    HistoryEntry {
        container: "node-exporter".into(),
        image: image.into(),
        timestamp: ts(at),
        update_request_name: None,
        approved_by: None,
        kind: None,
    }
}

fn images(annotation: &str) -> Vec<String> {
    parse(annotation).into_iter().map(|e| e.image).collect()
}

#[test]
fn the_seed_example_reads_field_for_field() {
    let entries = parse(SEED);
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries[0],
        HistoryEntry {
            container: "node-exporter".into(),
            image: "prom/node-exporter:v1.5.0".into(),
            timestamp: ts("2025-11-06T10:30:00Z"),
            update_request_name: Some("node-exporter-update-v1-5-0".into()),
            approved_by: Some("webhook".into()),
            kind: None,
        }
    );
    assert_eq!(read(Some(SEED)).warning, None);
}

#[test]
fn the_seed_example_is_written_back_exactly_in_the_seeds_field_order() {
    let compact: String = SEED.lines().map(str::trim).collect::<Vec<_>>().join("").replace("\": ", "\":");
    assert_eq!(render(&parse(SEED)), compact);
}

#[test]
fn entries_omit_what_is_unknown() {
    let e = entry("nginx:1.26", "2025-11-06T10:30:00Z");
    assert_eq!(
        render(&[e]),
        r#"[{"container":"node-exporter","image":"nginx:1.26","timestamp":"2025-11-06T10:30:00Z"}]"#
    );
}

#[test]
fn a_rollback_entry_carries_its_kind_last() {
    let mut e = entry("nginx:1.25", "2025-11-06T10:30:00Z");
    e.approved_by = Some("auto-rollback".into());
    e.kind = Some(HistoryKind::Rollback);
    assert_eq!(
        render(&[e]),
        r#"[{"container":"node-exporter","image":"nginx:1.25","timestamp":"2025-11-06T10:30:00Z","approvedBy":"auto-rollback","kind":"rollback"}]"#
    );
}

#[test]
fn render_agrees_with_serde_serialisation() {
    let mut e = entry("we\"ird\n\u{1}image", "2025-11-06T10:30:00.5Z");
    e.update_request_name = Some("ur-ü".into());
    e.kind = Some(HistoryKind::Update);
    let entries = vec![e.clone(), entry("b", "2025-01-01T00:00:00Z")];
    assert_eq!(serde_json::to_string(&entries).ok(), Some(render(&entries)));
}

#[test]
fn null_optional_fields_read_as_absent() {
    let text = r#"[{"container":"c","image":"i:1","timestamp":"2025-01-01T00:00:00Z","updateRequestName":null,"approvedBy":null}]"#;
    let entries = parse(text);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].update_request_name, None);
}

#[test]
fn headwind_chrono_timestamps_are_read() {
    let text = r#"[{"container":"c","image":"i:1","timestamp":"2025-11-06T10:30:00.123456789+00:00"}]"#;
    assert_eq!(parse(text).first().map(|e| e.timestamp), Some(ts("2025-11-06T10:30:00.123456789Z")));
}

#[test]
fn push_puts_the_newest_entry_first() {
    let pushed = push(Some(SEED), entry("prom/node-exporter:v1.6.0", "2025-12-01T00:00:00Z"), HISTORY_LIMIT);
    assert_eq!(
        images(&pushed.annotation),
        ["prom/node-exporter:v1.6.0", "prom/node-exporter:v1.5.0", "prom/node-exporter:v1.4.0"]
    );
    assert_eq!(pushed.warning, None);
}

#[test]
fn push_keeps_at_most_the_cap() {
    let mut annotation: Option<String> = None;
    for i in 0..15 {
        let pushed =
            push(annotation.as_deref(), entry(&format!("app:1.{i}"), "2025-01-01T00:00:00Z"), HISTORY_LIMIT);
        annotation = Some(pushed.annotation);
    }
    let kept = images(annotation.as_deref().unwrap_or_default());
    assert_eq!(kept.len(), HISTORY_LIMIT);
    assert_eq!(kept.first().map(String::as_str), Some("app:1.14"));
    assert_eq!(kept.last().map(String::as_str), Some("app:1.5"));
}

#[test]
fn a_cap_of_zero_still_keeps_the_new_entry() {
    let pushed = push(Some(SEED), entry("app:2", "2025-01-01T00:00:00Z"), 0);
    assert_eq!(images(&pushed.annotation), ["app:2"]);
}

#[test]
fn push_starts_a_history_when_there_is_none() {
    for existing in [None, Some(""), Some("  \n")] {
        let pushed = push(existing, entry("app:1", "2025-01-01T00:00:00Z"), HISTORY_LIMIT);
        assert_eq!(images(&pushed.annotation), ["app:1"], "{existing:?}");
        assert_eq!(pushed.warning, None, "{existing:?}");
    }
}

#[test]
fn corrupt_history_is_replaced_with_a_warning() {
    for existing in ["not json", "{\"container\":\"x\"}", "null", "[1, 2", "42"] {
        let pushed = push(Some(existing), entry("app:1", "2025-01-01T00:00:00Z"), HISTORY_LIMIT);
        assert_eq!(images(&pushed.annotation), ["app:1"], "{existing}");
        assert!(
            matches!(pushed.warning, Some(HistoryWarning::Corrupt { .. })),
            "{existing}: {:?}",
            pushed.warning
        );
    }
}

#[test]
fn unreadable_entries_are_dropped_and_the_others_kept() {
    let existing = r#"[
        {"container":"c","image":"app:3","timestamp":"2025-01-03T00:00:00Z"},
        {"container":"c","image":"app:2","timestamp":"the day before"},
        "garbage",
        {"image":"app:1"},
        {"container":"c","image":"app:0","timestamp":"2025-01-01T00:00:00Z","extra":true}
    ]"#;
    let pushed = push(Some(existing), entry("app:4", "2025-01-04T00:00:00Z"), HISTORY_LIMIT);
    assert_eq!(images(&pushed.annotation), ["app:4", "app:3", "app:0"]);
    assert_eq!(pushed.warning, Some(HistoryWarning::DroppedEntries { count: 3 }));
    assert_eq!(
        pushed.warning.map(|w| w.to_string()).as_deref(),
        Some("3 unreadable update history entries were dropped")
    );
}

fn arbitrary_entry() -> impl Strategy<Value = HistoryEntry> {
    (
        "[a-z-]{1,8}",
        "\\PC{0,16}",
        0_i64..4_000_000_000,
        prop::option::of("\\PC{0,8}"),
        prop::option::of("\\PC{0,8}"),
        prop::option::of(prop_oneof![Just(HistoryKind::Update), Just(HistoryKind::Rollback)]),
    )
        .prop_map(|(container, image, secs, update_request_name, approved_by, kind)| HistoryEntry {
            container,
            image,
            timestamp: Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH),
            update_request_name,
            approved_by,
            kind,
        })
}

proptest! {
    #[test]
    fn rendered_history_reads_back_identically(entries in prop::collection::vec(arbitrary_entry(), 0..5)) {
        let parsed = read(Some(&render(&entries)));
        prop_assert_eq!(parsed.entries, entries);
        prop_assert_eq!(parsed.warning, None);
    }

    #[test]
    fn push_never_exceeds_the_cap_and_keeps_the_new_entry_first(
        old in prop::collection::vec(arbitrary_entry(), 0..15),
        new in arbitrary_entry(),
        cap in 0_usize..12,
    ) {
        let pushed = push(Some(&render(&old)), new.clone(), cap);
        let entries = parse(&pushed.annotation);
        prop_assert_eq!(entries.len(), (old.len() + 1).min(cap.max(1)));
        prop_assert_eq!(entries.first(), Some(&new));
        prop_assert_eq!(&entries[1..], &old[..entries.len() - 1]);
    }

    #[test]
    fn push_accepts_any_existing_text(existing in "\\PC{0,40}", new in arbitrary_entry()) {
        let pushed = push(Some(&existing), new.clone(), HISTORY_LIMIT);
        let entries = parse(&pushed.annotation);
        prop_assert_eq!(entries.first(), Some(&new));
    }
}
