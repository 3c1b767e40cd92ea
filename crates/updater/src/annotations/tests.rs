use super::*;
use proptest::prelude::*;

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn config(pairs: &[(&str, &str)]) -> UpdateConfig {
    match UpdateConfig::from_annotations(&annotations(pairs)) {
        Ok(Some(config)) => config,
        other => panic!("{pairs:?} should configure updates, got {other:?}"),
    }
}

fn errors(pairs: &[(&str, &str)]) -> Vec<String> {
    match UpdateConfig::from_annotations(&annotations(pairs)) {
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
        other => panic!("{pairs:?} should be rejected, got {other:?}"),
    }
}

fn image(s: &str) -> ImageRef {
    match ImageRef::parse(s) {
        Ok(image) => image,
        Err(err) => panic!("{s}: {err}"),
    }
}

fn ts(s: &str) -> Timestamp {
    match s.parse() {
        Ok(ts) => ts,
        Err(err) => panic!("{s}: {err}"),
    }
}

#[test]
fn annotation_keys_are_the_headwind_ones() {
    assert_eq!(POLICY, "headwind.sh/policy");
    assert_eq!(MIN_UPDATE_INTERVAL, "headwind.sh/min-update-interval");
    assert_eq!(UPDATE_HISTORY, "headwind.sh/update-history");
    assert!(KNOWN.iter().all(|key| key.starts_with(PREFIX)));
}

#[test]
fn no_policy_annotation_means_no_configuration() {
    assert_eq!(UpdateConfig::from_annotations(&annotations(&[("app", "x")])), Ok(None));
}

#[test]
fn policy_none_means_no_configuration_even_with_bad_other_values() {
    let pairs = [(POLICY, "none"), (MIN_UPDATE_INTERVAL, "abc")];
    assert_eq!(UpdateConfig::from_annotations(&annotations(&pairs)), Ok(None));
    assert_eq!(UpdateConfig::from_annotations(&annotations(&[(POLICY, "None")])), Ok(None));
}

#[test]
fn defaults_follow_the_seed_and_headwind() {
    let config = config(&[(POLICY, "minor")]);
    assert_eq!(config, UpdateConfig::new(Policy::Minor));
    assert!(config.require_approval);
    assert_eq!(config.min_update_interval, Duration::from_secs(300));
    assert_eq!(config.images, None);
    assert!(!config.auto_rollback);
    assert_eq!(config.rollback_timeout, Duration::from_secs(300));
    assert_eq!(config.health_check_retries.get(), 3);
    assert_eq!(config.event_source, EventSource::Webhook);
    assert_eq!(config.polling_interval, None);
}

#[test]
fn the_fluent_bit_example_of_the_seed_reads_as_written() {
    let config = config(&[
        (POLICY, "patch"),
        (REQUIRE_APPROVAL, "true"),
        (MIN_UPDATE_INTERVAL, "86400"),
        (AUTO_ROLLBACK, "true"),
        (ROLLBACK_TIMEOUT, "600"),
    ]);
    assert_eq!(config.policy, Policy::Patch);
    assert_eq!(config.min_update_interval, Duration::from_secs(86400));
    assert!(config.auto_rollback);
    assert_eq!(config.rollback_timeout, Duration::from_secs(600));
}

#[test]
fn the_falco_glob_example_of_the_seed_reads_as_written() {
    let config = config(&[(POLICY, "glob"), (PATTERN, "*-stable"), (MIN_UPDATE_INTERVAL, "259200")]);
    assert_eq!(config.policy.kind(), crate::policy::PolicyKind::Glob);
    assert_eq!(config.policy.to_string(), "glob \"*-stable\"");
}

#[test]
fn every_setting_is_read() {
    let config = config(&[
        (POLICY, "major"),
        (REQUIRE_APPROVAL, "FALSE"),
        (MIN_UPDATE_INTERVAL, "0"),
        (IMAGES, "nginx, prom/node-exporter"),
        (AUTO_ROLLBACK, "True"),
        (ROLLBACK_TIMEOUT, "1"),
        (HEALTH_CHECK_RETRIES, "1"),
        (EVENT_SOURCE, "Both"),
        (POLLING_INTERVAL, "10"),
    ]);
    assert!(!config.require_approval);
    assert_eq!(config.min_update_interval, Duration::ZERO);
    assert_eq!(config.images.as_ref().map(Vec::len), Some(2));
    assert!(config.auto_rollback);
    assert_eq!(config.rollback_timeout, Duration::from_secs(1));
    assert_eq!(config.health_check_retries.get(), 1);
    assert_eq!(config.event_source, EventSource::Both);
    assert_eq!(config.polling_interval, Some(Duration::from_secs(10)));
}

#[test]
fn an_invalid_interval_names_the_annotation_and_the_value() {
    assert_eq!(
        errors(&[(POLICY, "minor"), (MIN_UPDATE_INTERVAL, "abc")]),
        ["headwind.sh/min-update-interval: invalid value \"abc\": must be a whole number of seconds"]
    );
}

#[test]
fn every_invalid_value_is_reported_not_just_the_first() {
    let found = errors(&[
        (POLICY, "semver"),
        (REQUIRE_APPROVAL, "yes"),
        (MIN_UPDATE_INTERVAL, "5m"),
        (IMAGES, "nginx, Bad Image, ok/app, UPPER"),
        (AUTO_ROLLBACK, "1"),
        (ROLLBACK_TIMEOUT, "-5"),
        (HEALTH_CHECK_RETRIES, "0"),
        (EVENT_SOURCE, "push"),
        (POLLING_INTERVAL, "5"),
    ]);
    assert_eq!(found.len(), 10, "{found:#?}");
    let annotations_at_fault: Vec<&str> = found.iter().filter_map(|e| e.split(':').next()).collect();
    assert_eq!(
        annotations_at_fault,
        [
            POLICY,
            REQUIRE_APPROVAL,
            MIN_UPDATE_INTERVAL,
            IMAGES,
            IMAGES,
            AUTO_ROLLBACK,
            ROLLBACK_TIMEOUT,
            HEALTH_CHECK_RETRIES,
            EVENT_SOURCE,
            POLLING_INTERVAL
        ]
    );
}

#[test]
fn an_unknown_policy_lists_the_valid_ones() {
    assert_eq!(
        errors(&[(POLICY, "semver")]),
        [
            "headwind.sh/policy: invalid value \"semver\": must be one of none, patch, minor, major, all, glob, force"
        ]
    );
}

#[test]
fn glob_without_a_pattern_blames_the_pattern_annotation() {
    assert_eq!(
        errors(&[(POLICY, "glob")]),
        ["headwind.sh/pattern: the \"glob\" policy requires a glob pattern over tags, e.g. \"*-stable\""]
    );
    assert_eq!(errors(&[(POLICY, "glob"), (PATTERN, "")]).len(), 1);
}

#[test]
fn an_invalid_glob_is_reported_with_its_pattern() {
    let found = errors(&[(POLICY, "glob"), (PATTERN, "{a,b")]);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("headwind.sh/pattern: invalid value \"{a,b\": not a valid glob: "),
        "{found:?}"
    );
}

#[test]
fn booleans_accept_exactly_true_or_false_in_any_case() {
    for (value, want) in [("true", true), ("TRUE", true), ("False", false), ("false", false)] {
        assert_eq!(config(&[(POLICY, "patch"), (AUTO_ROLLBACK, value)]).auto_rollback, want, "{value}");
    }
    for value in ["yes", "1", "on", " true", "", "t"] {
        assert_eq!(
            errors(&[(POLICY, "patch"), (REQUIRE_APPROVAL, value)]),
            [format!("headwind.sh/require-approval: invalid value {value:?}: must be true or false")]
        );
    }
}

#[test]
fn integers_are_plain_non_negative_decimals() {
    for value in ["+5", "-1", "1e3", "5s", " 5", "5 ", "", "0x10", "1.5", "99999999999999999999999"] {
        assert_eq!(errors(&[(POLICY, "patch"), (MIN_UPDATE_INTERVAL, value)]).len(), 1, "{value:?}");
    }
    assert_eq!(config(&[(POLICY, "patch"), (MIN_UPDATE_INTERVAL, "0042")]).min_update_interval.as_secs(), 42);
}

#[test]
fn health_check_retries_must_be_at_least_one() {
    assert_eq!(
        errors(&[(POLICY, "patch"), (HEALTH_CHECK_RETRIES, "0")]),
        ["headwind.sh/health-check-retries: invalid value \"0\": must be at least 1"]
    );
    assert_eq!(errors(&[(POLICY, "patch"), (HEALTH_CHECK_RETRIES, "4294967296")]).len(), 1);
}

#[test]
fn rollback_timeout_must_be_at_least_one_second() {
    assert_eq!(
        errors(&[(POLICY, "patch"), (ROLLBACK_TIMEOUT, "0")]),
        ["headwind.sh/rollback-timeout: invalid value \"0\": must be at least 1 second"]
    );
}

#[test]
fn polling_interval_below_ten_seconds_is_rejected() {
    assert_eq!(
        errors(&[(POLICY, "patch"), (POLLING_INTERVAL, "9")]),
        ["headwind.sh/polling-interval: invalid value \"9\": must be at least 10 seconds"]
    );
    assert_eq!(
        config(&[(POLICY, "patch"), (POLLING_INTERVAL, "600")]).polling_interval,
        Some(Duration::from_secs(600))
    );
}

#[test]
fn event_sources_are_read_case_insensitively() {
    for (value, want) in [
        ("webhook", EventSource::Webhook),
        ("polling", EventSource::Polling),
        ("BOTH", EventSource::Both),
        ("none", EventSource::None),
    ] {
        assert_eq!(config(&[(POLICY, "patch"), (EVENT_SOURCE, value)]).event_source, want);
    }
}

#[test]
fn event_sources_say_what_they_accept() {
    assert!(EventSource::Webhook.accepts_webhooks() && !EventSource::Webhook.polls());
    assert!(EventSource::Polling.polls() && !EventSource::Polling.accepts_webhooks());
    assert!(EventSource::Both.polls() && EventSource::Both.accepts_webhooks());
    assert!(!EventSource::None.polls() && !EventSource::None.accepts_webhooks());
}

#[test]
fn images_are_trimmed_normalised_and_tolerate_a_trailing_comma() {
    let config = config(&[(POLICY, "patch"), (IMAGES, " nginx ,prom/node-exporter:v1.5.0,, ")]);
    let keys: Option<Vec<String>> =
        config.images.map(|images| images.iter().map(ImageRef::repository_key).collect());
    assert_eq!(
        keys,
        Some(vec!["docker.io/library/nginx".to_owned(), "docker.io/prom/node-exporter".to_owned()])
    );
}

#[test]
fn an_empty_images_annotation_tracks_everything_as_headwind_documents() {
    assert_eq!(config(&[(POLICY, "patch"), (IMAGES, "")]).images, None);
    assert_eq!(config(&[(POLICY, "patch"), (IMAGES, " , ")]).images, None);
}

#[test]
fn each_invalid_image_is_its_own_error() {
    let found = errors(&[(POLICY, "patch"), (IMAGES, "nginx,MyApp,a b")]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("headwind.sh/images: invalid value \"MyApp\": "), "{found:?}");
}

// Which containers are tracked (Headwind compared the list with container NAMES, and ignored it
// for DaemonSets).

#[test]
fn without_images_every_regular_container_is_tracked_but_no_init_container() {
    let config = UpdateConfig::new(Policy::Patch);
    assert!(config.tracks(&image("anything/at-all:1"), false));
    assert!(!config.tracks(&image("busybox:1.36"), true));
}

#[test]
fn with_images_only_listed_repositories_are_tracked_whatever_the_spelling() {
    let config = config(&[(POLICY, "patch"), (IMAGES, "nginx, ghcr.io/org/agent")]);
    for tracked in [
        "nginx:1.25",
        "library/nginx",
        "docker.io/library/nginx:1",
        "index.docker.io/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        assert!(config.tracks(&image(tracked), false), "{tracked}");
    }
    for untracked in ["nginx-exporter", "ghcr.io/library/nginx", "org/agent", "redis"] {
        assert!(!config.tracks(&image(untracked), false), "{untracked}");
    }
}

#[test]
fn the_images_list_compares_images_not_container_names() {
    // A container named "nginx" running another image is not tracked by `images: nginx`.
    let config = config(&[(POLICY, "patch"), (IMAGES, "nginx")]);
    assert!(!config.tracks(&image("bitnami/nginx:1.25"), false));
}

#[test]
fn listed_init_containers_are_tracked() {
    let config = config(&[(POLICY, "patch"), (IMAGES, "busybox")]);
    assert!(config.tracks(&image("busybox:1.36"), true));
    assert!(!config.tracks(&image("alpine:3"), true));
}

#[test]
fn unknown_keys_under_our_prefix_are_reported() {
    let found = annotations(&[(POLICY, "patch"), ("headwind.sh/polcy", "x"), ("other.io/policy", "y")]);
    assert_eq!(unknown_keys(&found), ["headwind.sh/polcy"]);
}

// The last update (Headwind wrote "<ts> (approved by X)" and then failed to read it back,
// silently skipping the interval).

#[test]
fn last_update_reads_rfc_3339() {
    let found = annotations(&[(LAST_UPDATE, "2025-11-06T10:30:00Z")]);
    assert_eq!(last_update(&found), Ok(Some(ts("2025-11-06T10:30:00Z"))));
    let found = annotations(&[(LAST_UPDATE, "2025-11-06T12:30:00.5+02:00")]);
    assert_eq!(last_update(&found), Ok(Some(ts("2025-11-06T10:30:00.5Z"))));
}

#[test]
fn last_update_reads_the_legacy_headwind_form() {
    let found = annotations(&[(LAST_UPDATE, "2025-11-06T10:30:00+00:00 (approved by admin@example.com)")]);
    assert_eq!(last_update(&found), Ok(Some(ts("2025-11-06T10:30:00Z"))));
}

#[test]
fn an_absent_last_update_is_none() {
    assert_eq!(last_update(&annotations(&[])), Ok(None));
}

#[test]
fn an_unreadable_last_update_is_an_error_not_a_skipped_interval() {
    for value in ["", "yesterday", "2025-11-06", " 2025-11-06T10:30:00Z", "(approved by x)"] {
        let found = last_update(&annotations(&[(LAST_UPDATE, value)]));
        assert!(matches!(found, Err(ConfigError { annotation: LAST_UPDATE, .. })), "{value:?}: {found:?}");
    }
}

#[test]
fn the_written_last_update_reads_back() {
    let at = ts("2025-11-06T10:30:00Z");
    assert_eq!(last_update_value(at), "2025-11-06T10:30:00Z");
    assert_eq!(last_update(&annotations(&[(LAST_UPDATE, &last_update_value(at))])), Ok(Some(at)));
}

#[test]
fn the_interval_has_elapsed_without_a_previous_update() {
    assert!(interval_elapsed(None, ts("2025-01-01T00:00:00Z"), Duration::from_secs(300)));
}

#[test]
fn the_interval_counts_from_the_last_update() {
    let last = Some(ts("2025-01-01T00:00:00Z"));
    let min = Duration::from_secs(300);
    assert!(!interval_elapsed(last, ts("2025-01-01T00:04:59Z"), min));
    assert_eq!(interval_remaining(last, ts("2025-01-01T00:04:59Z"), min), Duration::from_secs(1));
    assert!(interval_elapsed(last, ts("2025-01-01T00:05:00Z"), min));
    assert!(interval_elapsed(last, ts("2025-01-02T00:00:00Z"), min));
    assert!(interval_elapsed(last, ts("2025-01-01T00:00:00Z"), Duration::ZERO));
}

#[test]
fn a_last_update_in_the_future_is_waited_out() {
    let last = Some(ts("2025-01-01T01:00:00Z"));
    let remaining = interval_remaining(last, ts("2025-01-01T00:00:00Z"), Duration::from_secs(300));
    assert_eq!(remaining, Duration::from_secs(3600 + 300));
}

#[test]
fn an_enormous_interval_never_elapses_and_does_not_overflow() {
    let last = Some(ts("2025-01-01T00:00:00Z"));
    assert!(!interval_elapsed(last, Timestamp::MAX, Duration::MAX));
}

#[test]
fn config_errors_without_a_value_omit_it() {
    let err = ConfigError { annotation: PATTERN, value: None, message: "required".into() };
    assert_eq!(err.to_string(), "headwind.sh/pattern: required");
}

proptest! {
    #[test]
    fn reading_arbitrary_annotation_values_never_panics(
        values in prop::collection::vec("\\PC{0,12}", KNOWN.len()),
    ) {
        let found: BTreeMap<String, String> =
            KNOWN.iter().zip(values).map(|(k, v)| ((*k).to_owned(), v)).collect();
        let _ = UpdateConfig::from_annotations(&found);
        let _ = last_update(&found);
    }

    #[test]
    fn every_error_names_a_known_annotation(
        policy in prop_oneof![Just("patch"), Just("glob"), Just("bogus")],
        value in "[a-z0-9 -]{0,6}",
    ) {
        let found = annotations(&[
            (POLICY, policy),
            (MIN_UPDATE_INTERVAL, &value),
            (HEALTH_CHECK_RETRIES, &value),
            (REQUIRE_APPROVAL, &value),
        ]);
        if let Err(errors) = UpdateConfig::from_annotations(&found) {
            prop_assert!(!errors.is_empty());
            for error in errors {
                prop_assert!(KNOWN.contains(&error.annotation));
            }
        }
    }
}
