use super::*;
use proptest::prelude::*;

const OLD: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const NEW: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn policy(name: &str) -> Policy {
    match Policy::parse(name, None) {
        Ok(policy) => policy,
        Err(err) => panic!("{name}: {err}"),
    }
}

fn glob(pattern: &str) -> Policy {
    match Policy::parse("glob", Some(pattern)) {
        Ok(policy) => policy,
        Err(err) => panic!("{pattern}: {err}"),
    }
}

fn candidates(tags: &[&str]) -> Vec<Candidate> {
    tags.iter().map(|tag| Candidate::new(*tag)).collect()
}

/// The tag `policy` moves `current` to, given registry tags in this order.
fn pick(policy: &Policy, current: &str, tags: &[&str]) -> Option<String> {
    policy.choose(current, None, &candidates(tags)).map(|choice| choice.tag)
}

fn some(tag: &str) -> Option<String> {
    Some(tag.to_owned())
}

// Parsing.

#[test]
fn every_policy_name_parses_case_insensitively() {
    for kind in PolicyKind::ALL {
        let pattern = (kind == PolicyKind::Glob).then_some("*");
        for spelling in [kind.as_str().to_owned(), kind.as_str().to_uppercase()] {
            match Policy::parse(&spelling, pattern) {
                Ok(parsed) => assert_eq!(parsed.kind(), kind),
                Err(err) => panic!("{spelling}: {err}"),
            }
        }
    }
}

#[test]
fn an_unknown_policy_is_an_error_listing_the_valid_ones() {
    let err = Policy::parse("semver", None).map(|p| p.kind());
    assert!(matches!(err, Err(PolicyError::Unknown { ref value }) if value == "semver"));
    if let Err(err) = err {
        assert_eq!(
            err.to_string(),
            "unknown policy \"semver\": expected one of none, patch, minor, major, all, glob, force"
        );
    }
}

#[test]
fn glob_without_a_pattern_is_an_error() {
    assert!(matches!(Policy::parse("glob", None), Err(PolicyError::MissingPattern)));
    assert!(matches!(Policy::parse("glob", Some("")), Err(PolicyError::MissingPattern)));
    assert!(matches!(Policy::parse("glob", Some("  ")), Err(PolicyError::MissingPattern)));
}

#[test]
fn an_invalid_glob_is_an_error_at_parse_time() {
    let err = Policy::parse("glob", Some("{a,b")).map(|p| p.kind());
    assert!(matches!(err, Err(PolicyError::InvalidPattern { ref pattern, .. }) if pattern == "{a,b"));
    assert!(matches!(Policy::parse("glob", Some("[z-a]")), Err(PolicyError::InvalidPattern { .. })));
}

#[test]
fn a_pattern_given_to_another_policy_is_ignored() {
    assert_eq!(Policy::parse("minor", Some("*-stable")).map(|p| p.kind()).ok(), Some(PolicyKind::Minor));
}

#[test]
fn display_names_the_policy_and_the_glob_pattern() {
    assert_eq!(policy("minor").to_string(), "minor");
    assert_eq!(glob("*-stable").to_string(), "glob \"*-stable\"");
}

// The ranges of the semver policies.

#[test]
fn patch_policy_stays_within_major_and_minor() {
    let tags = ["1.2.2", "1.2.4", "1.2.10", "1.3.0", "2.0.0"];
    assert_eq!(pick(&policy("patch"), "1.2.3", &tags), some("1.2.10"));
}

#[test]
fn minor_policy_stays_within_major() {
    let tags = ["1.2.4", "1.3.0", "1.10.1", "2.0.0"];
    assert_eq!(pick(&policy("minor"), "1.2.3", &tags), some("1.10.1"));
}

#[test]
fn major_policy_takes_any_higher_version() {
    let tags = ["1.2.4", "1.3.0", "3.0.0", "2.9.9"];
    assert_eq!(pick(&policy("major"), "1.2.3", &tags), some("3.0.0"));
}

#[test]
fn all_policy_takes_any_newer_version() {
    let tags = ["1.2.4", "3.0.0", "2.0.0"];
    assert_eq!(pick(&policy("all"), "1.2.3", &tags), some("3.0.0"));
}

#[test]
fn nothing_newer_within_the_policy_means_no_choice() {
    assert_eq!(pick(&policy("patch"), "1.2.3", &["1.3.0", "2.0.0", "1.2.3", "1.2.1"]), None);
    assert_eq!(pick(&policy("minor"), "1.2.3", &[]), None);
}

// Never a downgrade.

#[test]
fn all_policy_never_downgrades() {
    assert_eq!(pick(&policy("all"), "2.0.0", &["1.9.9", "0.1.0", "1.0.0"]), None);
}

#[test]
fn no_policy_ever_picks_an_equal_or_lower_version() {
    for name in ["patch", "minor", "major", "all"] {
        assert_eq!(pick(&policy(name), "1.2.3", &["1.2.3", "1.2.2", "v1.2.3", "1.0.0"]), None, "{name}");
    }
    assert_eq!(pick(&glob("*"), "1.2.3", &["1.2.3", "1.2.2", "1.0.0"]), None);
}

#[test]
fn a_release_is_not_downgraded_to_its_own_pre_release() {
    assert_eq!(pick(&policy("all"), "1.3.0", &["1.3.0-rc9"]), None);
}

// Pre-releases.

#[test]
fn patch_policy_never_picks_a_pre_release_of_the_next_patch() {
    assert_eq!(pick(&policy("patch"), "1.2.3", &["1.2.4-rc1"]), None);
    assert_eq!(pick(&policy("patch"), "1.2.3", &["1.2.4-rc1", "1.2.4"]), some("1.2.4"));
}

#[test]
fn a_release_never_moves_to_any_pre_release() {
    for name in ["patch", "minor", "major", "all"] {
        assert_eq!(
            pick(&policy(name), "1.2.3", &["1.2.4-rc1", "1.3.0-beta.1", "2.0.0-alpha"]),
            None,
            "{name}"
        );
    }
}

#[test]
fn a_pre_release_moves_to_a_later_pre_release_of_the_same_version() {
    assert_eq!(pick(&policy("patch"), "1.3.0-rc1", &["1.3.0-rc2"]), some("1.3.0-rc2"));
    assert_eq!(pick(&policy("patch"), "1.3.0-rc2", &["1.3.0-rc10", "1.3.0-rc3"]), some("1.3.0-rc10"));
    assert_eq!(pick(&policy("patch"), "1.3.0-beta.2", &["1.3.0-rc.1"]), some("1.3.0-rc.1"));
}

#[test]
fn a_pre_release_moves_to_its_release() {
    assert_eq!(pick(&policy("patch"), "1.3.0-rc1", &["1.3.0-rc2", "1.3.0"]), some("1.3.0"));
}

#[test]
fn a_pre_release_never_moves_to_a_pre_release_of_another_version() {
    assert_eq!(pick(&policy("major"), "1.3.0-rc1", &["1.4.0-rc1"]), None);
    assert_eq!(pick(&policy("patch"), "1.3.0-rc1", &["1.3.1-rc1"]), None);
}

#[test]
fn a_pre_release_may_move_to_a_newer_release_within_the_policy() {
    assert_eq!(pick(&policy("minor"), "1.3.0-rc1", &["1.4.0", "1.4.1-rc1"]), some("1.4.0"));
}

#[test]
fn an_older_pre_release_is_never_chosen() {
    assert_eq!(pick(&policy("patch"), "1.3.0-rc2", &["1.3.0-rc1", "1.3.0-beta.9"]), None);
}

#[test]
fn a_snapshot_is_not_an_upgrade_of_a_release_candidate() {
    assert_eq!(pick(&policy("patch"), "1.3.0-rc.1", &["1.3.0-snapshot", "1.3.0-dev.9"]), None);
}

// Variants.

#[test]
fn patch_policy_never_moves_a_plain_tag_to_a_variant() {
    assert_eq!(pick(&policy("patch"), "1.2.3", &["1.2.4-alpine"]), None);
}

#[test]
fn a_variant_moves_to_a_newer_version_of_the_same_variant() {
    let tags = ["1.2.4", "1.2.4-alpine", "1.2.5-debian", "1.2.5-alpine3.18"];
    assert_eq!(pick(&policy("patch"), "1.2.3-alpine", &tags), some("1.2.4-alpine"));
}

#[test]
fn a_variant_never_moves_to_the_plain_tag() {
    assert_eq!(pick(&policy("patch"), "1.2.3-alpine", &["1.2.4"]), None);
}

#[test]
fn a_pre_release_variant_keeps_its_variant() {
    let tags = ["1.2.3", "1.2.3-alpine", "1.2.3-rc2"];
    assert_eq!(pick(&policy("patch"), "1.2.3-rc1-alpine", &tags), some("1.2.3-alpine"));
}

// Prefixes and two-part tags.

#[test]
fn a_v_prefix_compares_with_unprefixed_tags() {
    assert_eq!(pick(&policy("minor"), "v1.5.0", &["1.6.0"]), some("1.6.0"));
    assert_eq!(pick(&policy("minor"), "1.5.0", &["v1.6.0"]), some("v1.6.0"));
}

#[test]
fn two_part_tags_are_versions() {
    assert_eq!(pick(&policy("minor"), "1.25", &["1.26", "1.24", "2.0"]), some("1.26"));
    assert_eq!(pick(&policy("patch"), "1.25", &["1.25.1", "1.26"]), some("1.25.1"));
}

#[test]
fn node_exporter_moves_from_v1_5_0_to_v1_6_0_under_minor() {
    let tags = ["v1.4.0", "v1.5.0", "v1.6.0", "v1.6.1-rc.0", "v2.0.0", "latest", "master"];
    assert_eq!(pick(&policy("minor"), "v1.5.0", &tags), some("v1.6.0"));
}

// Highest, not last.

#[test]
fn the_highest_version_wins_not_the_last_in_registry_order() {
    let tags = ["1.10.0", "1.9.0", "1.2.4"];
    assert_eq!(pick(&policy("minor"), "1.2.3", &tags), some("1.10.0"));
    assert_eq!(pick(&policy("all"), "1.2.3", &tags), some("1.10.0"));
    assert_eq!(pick(&glob("1.*"), "1.2.3", &tags), some("1.10.0"));
}

#[test]
fn equal_versions_prefer_the_spelling_of_the_current_tag() {
    let tags = ["1.6", "1.6.0", "v1.6.0", "v1.6"];
    assert_eq!(pick(&policy("minor"), "1.5.0", &tags), some("1.6.0"));
    assert_eq!(pick(&policy("minor"), "1.5", &tags), some("1.6"));
    assert_eq!(pick(&policy("minor"), "v1.5.0", &tags), some("v1.6.0"));
    assert_eq!(pick(&policy("minor"), "v1.5", &tags), some("v1.6"));
}

#[test]
fn the_prefix_matters_more_than_the_number_of_parts() {
    assert_eq!(pick(&policy("minor"), "v1.5", &["1.6", "v1.6.0"]), some("v1.6.0"));
}

#[test]
fn ties_in_spelling_are_broken_alphabetically() {
    assert_eq!(pick(&policy("minor"), "1.5.0", &["1.6.0+b", "1.6.0+a"]), some("1.6.0+a"));
    assert_eq!(pick(&policy("patch"), "1.3.0-rc1", &["1.3.0-rc.2", "1.3.0-rc2"]), some("1.3.0-rc.2"));
}

#[test]
fn a_newer_version_wins_over_a_closer_spelling() {
    assert_eq!(pick(&policy("minor"), "1.5.0", &["1.6.0", "v1.7"]), some("v1.7"));
}

#[test]
fn the_chosen_candidate_carries_its_digest() {
    let tags = [Candidate::new("1.2.4").with_digest(NEW), Candidate::new("1.2.5")];
    let choice = policy("patch").choose("1.2.3", None, &tags[..1]);
    assert_eq!(choice.and_then(|c| c.digest), Some(NEW.to_owned()));
    let choice = policy("patch").choose("1.2.3", None, &tags);
    assert_eq!(choice.map(|c| (c.tag, c.digest)), Some(("1.2.5".to_owned(), None)));
}

// Tags that are not versions.

#[test]
fn a_current_tag_that_is_not_a_version_is_never_updated_by_semver_policies() {
    for name in ["patch", "minor", "major", "all"] {
        assert_eq!(pick(&policy(name), "latest", &["1.0.0", "2.0.0"]), None, "{name}");
        assert_eq!(pick(&policy(name), "1.2.3.4", &["1.2.3.5", "1.2.4"]), None, "{name}");
    }
}

#[test]
fn candidates_that_are_not_versions_are_ignored() {
    let tags = ["latest", "main", "1.2.4", "a3f9c2e1b4d5a3f9c2e1b4d5a3f9c2e1b4d5a3f9", "1.2.5.1", "edge"];
    assert_eq!(pick(&policy("patch"), "1.2.3", &tags), some("1.2.4"));
}

// Glob.

#[test]
fn glob_policy_picks_the_highest_matching_newer_version() {
    let tags = ["0.35.0-stable", "0.36.0", "0.34.1-stable", "0.33.0-stable", "0.36.0-rc1-stable"];
    assert_eq!(pick(&glob("*-stable"), "0.34.0-stable", &tags), some("0.35.0-stable"));
}

#[test]
fn glob_policy_supports_more_than_one_star() {
    let tags = ["v1.2.0-stable-amd64", "v1.3.0-stable-amd64", "v1.3.0-stable-arm64"];
    assert_eq!(pick(&glob("v1.*-stable-*"), "v1.1.0-stable-amd64", &tags), some("v1.3.0-stable-amd64"));
}

#[test]
fn glob_policy_supports_alternatives_and_classes() {
    assert_eq!(pick(&glob("1.2.*"), "1.2.3", &["1.2.4", "1.2.9", "1.3.0"]), some("1.2.9"));
    assert_eq!(pick(&glob("{1.2,1.3}.*"), "1.2.3", &["1.2.4", "1.3.1", "1.4.0"]), some("1.3.1"));
    assert_eq!(pick(&glob("1.2.[0-5]"), "1.2.3", &["1.2.4", "1.2.9"]), some("1.2.4"));
    assert_eq!(pick(&glob("1.2.?"), "1.2.3", &["1.2.4", "1.2.10"]), some("1.2.4"));
}

#[test]
fn glob_policy_still_refuses_downgrades_variants_and_pre_releases() {
    let policy = glob("*");
    assert_eq!(pick(&policy, "2.0.0", &["1.0.0"]), None);
    assert_eq!(pick(&policy, "2.0.0", &["2.0.1-alpine"]), None);
    assert_eq!(pick(&policy, "2.0.0", &["2.0.1-rc1"]), None);
}

#[test]
fn glob_policy_chooses_nothing_when_the_current_tag_is_not_a_version() {
    assert_eq!(pick(&glob("*-stable"), "stable", &["1.0.0-stable", "latest-stable"]), None);
}

#[test]
fn the_current_tag_need_not_match_the_glob() {
    assert_eq!(pick(&glob("*-stable"), "0.34.0", &["0.35.0-stable", "0.35.0"]), None, "variant differs");
    assert_eq!(pick(&glob("1.3.*"), "1.2.3", &["1.2.4", "1.3.0"]), some("1.3.0"));
}

// Force.

#[test]
fn force_policy_takes_the_last_tag_in_registry_order() {
    assert_eq!(pick(&policy("force"), "1.0.0", &["3.0.0", "0.1.0"]), some("0.1.0"));
    assert_eq!(pick(&policy("force"), "latest", &["nightly"]), some("nightly"));
}

#[test]
fn force_policy_does_nothing_without_candidates_or_a_change() {
    assert_eq!(pick(&policy("force"), "1.0.0", &[]), None);
    assert_eq!(pick(&policy("force"), "1.0.0", &["0.9.0", "1.0.0"]), None);
}

#[test]
fn force_policy_follows_a_mutable_tag_to_its_new_digest() {
    let tags = [Candidate::new("latest").with_digest(NEW)];
    let choice = policy("force").choose("latest", Some(OLD), &tags);
    assert_eq!(
        choice,
        Some(Choice {
            tag: "latest".into(),
            digest: Some(NEW.into()),
            reason: ChoiceReason::DigestMoved { tag: "latest".into(), from: OLD.into(), to: NEW.into() },
        })
    );
}

#[test]
fn force_policy_ignores_an_unchanged_or_unknown_digest() {
    let same = [Candidate::new("latest").with_digest(OLD)];
    assert_eq!(policy("force").choose("latest", Some(OLD), &same), None);
    assert_eq!(policy("force").choose("latest", None, &same), None);
    assert_eq!(policy("force").choose("latest", Some(OLD), &candidates(&["latest"])), None);
}

#[test]
fn force_policy_prefers_a_newer_tag_over_a_moved_digest() {
    let tags = [Candidate::new("latest").with_digest(NEW), Candidate::new("v2").with_digest(NEW)];
    let choice = policy("force").choose("latest", Some(OLD), &tags);
    assert_eq!(
        choice.map(|c| c.reason),
        Some(ChoiceReason::NewestTag { from: "latest".into(), to: "v2".into() })
    );
}

#[test]
fn digest_changes_do_not_trigger_version_policies() {
    let tags = [Candidate::new("1.2.3").with_digest(NEW)];
    assert_eq!(policy("patch").choose("1.2.3", Some(OLD), &tags), None);
}

// None.

#[test]
fn none_policy_never_chooses() {
    let tags = [Candidate::new("9.9.9"), Candidate::new("latest").with_digest(NEW)];
    assert_eq!(policy("none").choose("latest", Some(OLD), &tags), None);
    assert_eq!(policy("none").choose("1.0.0", None, &tags), None);
}

// Verdicts.

#[test]
fn judge_names_the_reason_a_candidate_is_rejected() {
    let cases = [
        (policy("none"), "1.2.3", "1.2.4", Verdict::Disabled),
        (policy("patch"), "1.2.3", "1.2.4", Verdict::Eligible),
        (policy("patch"), "latest", "1.2.4", Verdict::CurrentNotAVersion),
        (policy("patch"), "1.2.3", "latest", Verdict::NotAVersion),
        (policy("patch"), "1.2.3", "1.2.3", Verdict::NotNewer),
        (policy("all"), "1.2.3", "1.2.2", Verdict::NotNewer),
        (policy("patch"), "1.2.3", "1.2.4-rc1", Verdict::PreRelease),
        (policy("major"), "1.3.0-rc1", "1.4.0-rc1", Verdict::PreRelease),
        (policy("patch"), "1.2.3", "1.2.4-alpine", Verdict::DifferentVariant),
        (policy("patch"), "1.2.3-alpine", "1.2.4", Verdict::DifferentVariant),
        (policy("patch"), "1.2.3", "1.3.0", Verdict::OutsidePolicy),
        (policy("minor"), "1.2.3", "2.0.0", Verdict::OutsidePolicy),
        (glob("*-stable"), "1.2.3-stable", "1.2.4", Verdict::NoMatch),
        (glob("*-stable"), "1.2.3-stable", "1.2.4-stable", Verdict::Eligible),
        (policy("force"), "latest", "latest", Verdict::Unchanged),
        (policy("force"), "2.0.0", "1.0.0", Verdict::Eligible),
    ];
    for (policy, current, candidate, want) in cases {
        assert_eq!(policy.judge(current, candidate), want, "{policy}: {current} -> {candidate}");
    }
}

#[test]
fn choice_reasons_read_as_sentences() {
    let choice = policy("minor").choose("1.2.3", None, &candidates(&["1.3.0"]));
    assert_eq!(
        choice.map(|c| c.reason.to_string()),
        some("1.2.3 -> 1.3.0: the newest version the minor policy allows")
    );
    assert_eq!(Verdict::NotNewer.to_string(), "the tag is not newer (never a downgrade)");
}

// Properties.

fn version_tag() -> impl Strategy<Value = String> {
    (
        prop::option::of(Just("v")),
        0..3_u64,
        0..3_u64,
        prop::option::of(0..3_u64),
        prop::option::of(prop_oneof![Just("-rc1"), Just("-rc.2"), Just("-beta"), Just("-rc10")]),
        prop::option::of(prop_oneof![Just("-alpine"), Just("-stable")]),
    )
        .prop_map(|(prefix, major, minor, patch, pre, variant)| {
            let mut tag = format!("{}{major}.{minor}", prefix.unwrap_or(""));
            if let Some(patch) = patch {
                tag.push_str(&format!(".{patch}"));
            }
            tag.push_str(pre.unwrap_or(""));
            tag.push_str(variant.unwrap_or(""));
            tag
        })
}

fn any_tag() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => version_tag(),
        1 => prop_oneof![Just("latest".to_owned()), Just("1.2.3.4".to_owned()), Just("main".to_owned())],
    ]
}

fn version_policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::Patch),
        Just(Policy::Minor),
        Just(Policy::Major),
        Just(Policy::All),
        Just(glob("*")),
        Just(glob("*-stable")),
        Just(glob("v*")),
    ]
}

proptest! {
    #[test]
    fn a_chosen_tag_is_strictly_newer_and_satisfies_the_policy(
        policy in version_policy(),
        current in any_tag(),
        tags in prop::collection::vec(any_tag(), 0..12),
    ) {
        let candidates = candidates(&tags.iter().map(String::as_str).collect::<Vec<_>>());
        if let Some(choice) = policy.choose(&current, None, &candidates) {
            let (Some(from), Some(to)) = (TagVersion::parse(&current), TagVersion::parse(&choice.tag)) else {
                return Err(TestCaseError::fail(format!("{current} -> {} are both versions", choice.tag)));
            };
            prop_assert!(to.is_newer_than(&from), "{} -> {}", current, choice.tag);
            prop_assert_eq!(to.variant(), from.variant());
            if to.is_pre_release() {
                prop_assert!(from.is_pre_release() && from.same_core(&to), "{} -> {}", current, choice.tag);
            }
            match &policy {
                Policy::Patch => prop_assert!((to.major(), to.minor()) == (from.major(), from.minor())),
                Policy::Minor => prop_assert_eq!(to.major(), from.major()),
                Policy::Glob(pattern) => prop_assert!(pattern.is_match(&choice.tag)),
                _ => {}
            }
            prop_assert_eq!(policy.judge(&current, &choice.tag), Verdict::Eligible);
        }
    }

    #[test]
    fn the_choice_is_the_highest_eligible_version(
        policy in version_policy(),
        current in version_tag(),
        tags in prop::collection::vec(any_tag(), 0..12),
    ) {
        let candidates = candidates(&tags.iter().map(String::as_str).collect::<Vec<_>>());
        let choice = policy.choose(&current, None, &candidates);
        let eligible: Vec<&String> = tags.iter().filter(|tag| policy.judge(&current, tag).is_eligible()).collect();
        prop_assert_eq!(choice.is_some(), !eligible.is_empty());
        if let Some(chosen) = choice.as_ref().and_then(|c| TagVersion::parse(&c.tag)) {
            for tag in eligible {
                if let Some(other) = TagVersion::parse(tag) {
                    prop_assert!(!other.is_newer_than(&chosen), "{} beats {}", tag, chosen);
                }
            }
        }
    }

    #[test]
    fn the_choice_does_not_depend_on_candidate_order(
        policy in version_policy(),
        current in version_tag(),
        tags in prop::collection::vec(any_tag(), 0..12),
        seed in any::<u64>(),
    ) {
        let forward = candidates(&tags.iter().map(String::as_str).collect::<Vec<_>>());
        let mut shuffled = forward.clone();
        // A deterministic permutation driven by the seed (Fisher-Yates with an LCG).
        let mut state = seed;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = usize::try_from(state >> 33).unwrap_or(0) % (i + 1);
            shuffled.swap(i, j);
        }
        let mut reversed = forward.clone();
        reversed.reverse();
        let want = policy.choose(&current, None, &forward);
        prop_assert_eq!(&policy.choose(&current, None, &shuffled), &want);
        prop_assert_eq!(&policy.choose(&current, None, &reversed), &want);
    }

    #[test]
    fn none_never_chooses_and_force_only_changes_something(
        current in any_tag(),
        tags in prop::collection::vec(any_tag(), 0..6),
    ) {
        let candidates = candidates(&tags.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(Policy::None.choose(&current, None, &candidates), None);
        if let Some(choice) = Policy::Force.choose(&current, None, &candidates) {
            prop_assert_ne!(choice.tag, current);
        }
    }
}
