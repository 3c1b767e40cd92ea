use super::*;
use proptest::prelude::*;

fn v(tag: &str) -> TagVersion {
    match TagVersion::parse(tag) {
        Some(version) => version,
        None => panic!("{tag:?} should read as a version"),
    }
}

fn numbers(tag: &str) -> (u64, u64, u64) {
    let version = v(tag);
    (version.major(), version.minor(), version.patch())
}

#[test]
fn three_part_tags_read_as_versions() {
    assert_eq!(numbers("1.2.3"), (1, 2, 3));
    assert_eq!(v("1.2.3").parts(), 3);
}

#[test]
fn two_part_tags_read_with_patch_zero_and_remember_their_shape() {
    assert_eq!(numbers("1.25"), (1, 25, 0));
    assert_eq!(v("1.25").parts(), 2);
}

#[test]
fn a_v_prefix_in_either_case_is_remembered_but_not_compared() {
    assert_eq!(v("v1.5.0").prefix(), Some('v'));
    assert_eq!(v("V1.5.0").prefix(), Some('V'));
    assert_eq!(v("1.5.0").prefix(), None);
    assert_eq!(v("v1.5.0").cmp_precedence(&v("1.5.0")), Ordering::Equal);
    assert!(v("1.6.0").is_newer_than(&v("v1.5.0")));
}

#[test]
fn leading_zeros_are_read_as_decimal_numbers() {
    assert_eq!(numbers("515.48.07"), (515, 48, 7));
}

#[test]
fn names_hashes_and_single_numbers_are_not_versions() {
    for tag in [
        "latest",
        "stable",
        "main",
        "edge",
        "0123456789abcdef0123456789abcdef01234567",
        "a3f9c2e1b4d5a3f9c2e1b4d5a3f9c2e1b4d5a3f9",
        "7",
        "v7",
        "20240115",
        "",
        "v",
    ] {
        assert_eq!(TagVersion::parse(tag), None, "{tag:?}");
    }
}

#[test]
fn four_part_tags_are_not_versions() {
    assert_eq!(TagVersion::parse("1.2.3.4"), None);
    assert_eq!(TagVersion::parse("v1.2.3.4-alpine"), None);
}

#[test]
fn malformed_numbers_are_not_versions() {
    for tag in ["1..2", ".1.2", "1.2.", "1.2.3a", "1.x", "-1.2", "1.2.3_1", "1.2.99999999999999999999999"] {
        assert_eq!(TagVersion::parse(tag), None, "{tag:?}");
    }
}

#[test]
fn a_dangling_dash_or_plus_is_not_a_version() {
    for tag in ["1.2.3-", "1.2.3+", "1.2.3-rc1-", "1.2.3-rc-"] {
        assert_eq!(TagVersion::parse(tag), None, "{tag:?}");
    }
}

#[test]
fn pre_release_spellings_are_recognised() {
    for (tag, channel, nums) in [
        ("1.3.0-rc1", Channel::Rc, vec![1]),
        ("1.3.0-rc.1", Channel::Rc, vec![1]),
        ("1.3.0-RC1", Channel::Rc, vec![1]),
        ("1.3.0-rc-1", Channel::Rc, vec![1]),
        ("1.3.0-rc", Channel::Rc, vec![]),
        ("1.3.0-beta.2", Channel::Beta, vec![2]),
        ("1.3.0-alpha", Channel::Alpha, vec![]),
        ("1.3.0-alpha.1.2", Channel::Alpha, vec![1, 2]),
        ("1.3.0-pre1", Channel::Pre, vec![1]),
        ("1.3.0-preview", Channel::Preview, vec![]),
        ("1.3.0-preview.3", Channel::Preview, vec![3]),
        ("1.3.0-dev", Channel::Dev, vec![]),
        ("1.3.0-SNAPSHOT", Channel::Snapshot, vec![]),
        ("1.3.0-canary.4", Channel::Canary, vec![4]),
        ("1.3.0-nightly20240101", Channel::Nightly, vec![20240101]),
    ] {
        let version = v(tag);
        let pre = version.pre_release();
        assert_eq!(pre.map(PreRelease::channel), Some(channel), "{tag}");
        assert_eq!(pre.map(PreRelease::numbers), Some(nums.as_slice()), "{tag}");
        assert_eq!(version.variant(), None, "{tag}");
    }
}

#[test]
fn pre_release_keeps_its_spelling() {
    assert_eq!(v("1.3.0-RC-1").pre_release().map(PreRelease::as_str), Some("RC-1"));
    assert_eq!(v("1.3.0-rc.1").pre_release().map(PreRelease::as_str), Some("rc.1"));
}

#[test]
fn other_suffixes_are_variants() {
    for (tag, variant) in [
        ("1.2.3-alpine", "alpine"),
        ("1.2.3-debian-1", "debian-1"),
        ("0.34.0-stable", "stable"),
        ("1.2.3-alpine3.18", "alpine3.18"),
        ("1.2.3-developer", "developer"),
        ("1.2.3-prerelease", "prerelease"),
        ("1.2.3-rc..1", "rc..1"),
        ("1.2.3-1", "1"),
        ("1.2.3-r0", "r0"),
    ] {
        let version = v(tag);
        assert_eq!(version.variant(), Some(variant), "{tag}");
        assert!(!version.is_pre_release(), "{tag}");
    }
}

#[test]
fn a_pre_release_may_be_followed_by_a_variant() {
    let version = v("1.2.3-rc1-alpine");
    assert_eq!(version.pre_release().map(PreRelease::channel), Some(Channel::Rc));
    assert_eq!(version.variant(), Some("alpine"));
    let version = v("1.2.3-rc-2-alpine");
    assert_eq!(version.pre_release().map(PreRelease::numbers), Some(&[2][..]));
    assert_eq!(version.variant(), Some("alpine"));
}

#[test]
fn build_metadata_is_kept_but_ignored_for_ordering() {
    let version = v("1.2.3+build.5");
    assert_eq!(version.build(), Some("build.5"));
    assert_eq!(version.cmp_precedence(&v("1.2.3")), Ordering::Equal);
    assert_eq!(v("1.2.3-rc1+abc").pre_release().map(PreRelease::numbers), Some(&[1][..]));
}

#[test]
fn a_release_is_newer_than_its_pre_releases() {
    assert!(v("1.3.0").is_newer_than(&v("1.3.0-rc9")));
    assert!(v("1.3.0-rc9").is_newer_than(&v("1.2.9")));
}

#[test]
fn pre_release_numbers_compare_numerically() {
    assert!(v("1.3.0-rc10").is_newer_than(&v("1.3.0-rc2")));
    assert!(v("1.3.0-rc.10").is_newer_than(&v("1.3.0-rc2")));
    assert!(v("1.3.0-rc.1").is_newer_than(&v("1.3.0-rc")));
    assert!(v("1.3.0-rc.1.1").is_newer_than(&v("1.3.0-rc.1")));
    assert_eq!(v("1.3.0-rc1").cmp_precedence(&v("1.3.0-RC.1")), Ordering::Equal);
}

#[test]
fn pre_release_channels_compare_by_maturity_not_alphabetically() {
    let ordered =
        ["1.3.0-dev", "1.3.0-alpha.3", "1.3.0-beta.1", "1.3.0-preview", "1.3.0-pre.1", "1.3.0-rc.1"];
    for pair in ordered.windows(2) {
        assert!(v(pair[1]).is_newer_than(&v(pair[0])), "{} > {}", pair[1], pair[0]);
    }
    assert!(v("1.3.0-rc.1").is_newer_than(&v("1.3.0-snapshot")), "snapshot is not newer than rc");
}

#[test]
fn two_part_and_three_part_spellings_of_one_version_are_equal_in_precedence() {
    assert_eq!(v("1.6").cmp_precedence(&v("1.6.0")), Ordering::Equal);
    assert_eq!(v("1.6").cmp_precedence(&v("v1.6.0")), Ordering::Equal);
    assert_ne!(v("1.6"), v("1.6.0"), "structural equality keeps the spelling");
    assert!(v("1.26").is_newer_than(&v("1.25.9")));
}

#[test]
fn numbers_compare_numerically_not_as_text() {
    assert!(v("1.10.0").is_newer_than(&v("1.9.0")));
    assert!(v("10.0.0").is_newer_than(&v("9.99.99")));
}

#[test]
fn same_core_ignores_pre_release_and_variant() {
    assert!(v("1.3.0-rc1").same_core(&v("1.3.0")));
    assert!(v("1.3-alpine").same_core(&v("1.3.0")));
    assert!(!v("1.3.1").same_core(&v("1.3.0")));
}

#[test]
fn display_is_the_tag_as_written() {
    for tag in ["v1.5", "1.3.0-RC-1-alpine", "1.2.3+b"] {
        assert_eq!(v(tag).to_string(), tag);
        assert_eq!(v(tag).as_str(), tag);
    }
}

/// Tags that are also strict semver (no prefix, three parts, `rc.N`/`alpha.N` pre-releases).
fn semver_tag() -> impl Strategy<Value = String> {
    (0..4_u64, 0..4_u64, 0..4_u64, prop::option::of((prop_oneof![Just("alpha"), Just("rc")], 0..12_u64)))
        .prop_map(|(major, minor, patch, pre)| match pre {
            Some((word, n)) => format!("{major}.{minor}.{patch}-{word}.{n}"),
            None => format!("{major}.{minor}.{patch}"),
        })
}

fn tag_like() -> impl Strategy<Value = String> {
    "[vV]?[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(-[a-zA-Z0-9.]{0,8}){0,3}(\\+[a-z0-9]{0,3})?"
}

proptest! {
    #[test]
    fn precedence_agrees_with_semver_on_semver_tags(a in semver_tag(), b in semver_tag()) {
        let (Ok(sa), Ok(sb)) = (semver::Version::parse(&a), semver::Version::parse(&b)) else {
            return Err(TestCaseError::fail(format!("{a} and {b} are semver")));
        };
        prop_assert_eq!(v(&a).cmp_precedence(&v(&b)), sa.cmp(&sb), "{} vs {}", a, b);
    }

    #[test]
    fn precedence_is_a_total_order(a in tag_like(), b in tag_like(), c in tag_like()) {
        let (Some(a), Some(b), Some(c)) = (TagVersion::parse(&a), TagVersion::parse(&b), TagVersion::parse(&c))
        else {
            return Ok(());
        };
        prop_assert_eq!(a.cmp_precedence(&b), b.cmp_precedence(&a).reverse());
        if a.cmp_precedence(&b) != Ordering::Greater && b.cmp_precedence(&c) != Ordering::Greater {
            prop_assert_ne!(a.cmp_precedence(&c), Ordering::Greater);
        }
    }

    #[test]
    fn parsing_keeps_the_tag_verbatim(tag in tag_like()) {
        if let Some(version) = TagVersion::parse(&tag) {
            prop_assert_eq!(version.to_string(), tag);
        }
    }

    #[test]
    fn parsing_any_string_never_panics(tag in "\\PC{0,30}") {
        let _ = TagVersion::parse(&tag);
    }
}
