use super::*;
use proptest::prelude::*;

const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn image(s: &str) -> ImageRef {
    match ImageRef::parse(s) {
        Ok(image) => image,
        Err(err) => panic!("{s:?} should parse: {err}"),
    }
}

fn parts(s: &str) -> (String, String, Option<String>, Option<String>) {
    let i = image(s);
    (
        i.registry().to_owned(),
        i.repository().to_owned(),
        i.tag().map(str::to_owned),
        i.digest().map(str::to_owned),
    )
}

#[test]
fn a_bare_name_is_an_official_docker_hub_image() {
    assert_eq!(parts("nginx"), ("docker.io".into(), "library/nginx".into(), None, None));
}

#[test]
fn a_two_component_name_without_a_dot_is_a_docker_hub_namespace() {
    assert_eq!(
        parts("prom/node-exporter:v1.5.0"),
        ("docker.io".into(), "prom/node-exporter".into(), Some("v1.5.0".into()), None)
    );
}

#[test]
fn docker_hub_aliases_normalise_to_docker_io() {
    for spelling in [
        "nginx:1.25",
        "library/nginx:1.25",
        "docker.io/nginx:1.25",
        "docker.io/library/nginx:1.25",
        "index.docker.io/nginx:1.25",
        "registry-1.docker.io/library/nginx:1.25",
    ] {
        assert_eq!(image(spelling).repository_key(), "docker.io/library/nginx", "{spelling}");
    }
}

#[test]
fn a_first_component_with_a_dot_is_a_registry_host() {
    assert_eq!(parts("ghcr.io/org/app:2.0"), ("ghcr.io".into(), "org/app".into(), Some("2.0".into()), None));
}

#[test]
fn a_one_component_path_on_another_registry_gets_no_library_prefix() {
    assert_eq!(image("quay.io/app:1").repository(), "app");
}

#[test]
fn localhost_is_a_registry_host() {
    assert_eq!(parts("localhost/app:1.0"), ("localhost".into(), "app".into(), Some("1.0".into()), None));
}

#[test]
fn a_registry_with_a_port_is_not_mistaken_for_a_tag() {
    assert_eq!(
        parts("127.0.0.1:5000/app:1.0"),
        ("127.0.0.1:5000".into(), "app".into(), Some("1.0".into()), None)
    );
    assert_eq!(parts("localhost:5000/team/app"), ("localhost:5000".into(), "team/app".into(), None, None));
}

#[test]
fn an_ipv6_registry_in_brackets_is_a_host() {
    assert_eq!(parts("[::1]:5000/app:1.0"), ("[::1]:5000".into(), "app".into(), Some("1.0".into()), None));
}

#[test]
fn registry_hosts_compare_case_insensitively() {
    assert!(image("GHCR.io/org/app").same_repository(&image("ghcr.io/org/app:1")));
}

#[test]
fn a_digest_is_parsed_with_or_without_a_tag() {
    assert_eq!(
        parts(&format!("nginx@{SHA}")),
        ("docker.io".into(), "library/nginx".into(), None, Some(SHA.into()))
    );
    assert_eq!(
        parts(&format!("nginx:1.25@{SHA}")),
        ("docker.io".into(), "library/nginx".into(), Some("1.25".into()), Some(SHA.into()))
    );
}

#[test]
fn tag_or_latest_defaults_to_latest() {
    assert_eq!(image("nginx").tag_or_latest(), "latest");
    assert_eq!(image(&format!("nginx@{SHA}")).tag_or_latest(), "latest");
    assert_eq!(image("nginx:1.25").tag_or_latest(), "1.25");
}

#[test]
fn same_repository_ignores_tag_digest_and_spelling() {
    assert!(image("nginx:1.24").same_repository(&image(&format!("docker.io/library/nginx:1.25@{SHA}"))));
    assert!(!image("nginx").same_repository(&image("ghcr.io/library/nginx")));
    assert!(!image("prom/node-exporter").same_repository(&image("node-exporter")));
}

#[test]
fn with_tag_keeps_the_users_spelling() {
    assert_eq!(image("prom/node-exporter:v1.5.0").with_tag("v1.6.0", None), "prom/node-exporter:v1.6.0");
    assert_eq!(image("nginx:1.25").with_tag("1.26", None), "nginx:1.26");
    assert_eq!(image("127.0.0.1:5000/app:1.0").with_tag("1.1", None), "127.0.0.1:5000/app:1.1");
    assert_eq!(image("index.docker.io/nginx").with_tag("1.26", None), "index.docker.io/nginx:1.26");
}

#[test]
fn with_tag_drops_the_old_digest_and_appends_a_new_one() {
    let pinned = image(&format!("nginx:1.25@{SHA}"));
    assert_eq!(pinned.with_tag("1.26", None), "nginx:1.26");
    let new = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    assert_eq!(pinned.with_tag("1.26", Some(new)), format!("nginx:1.26@{new}"));
}

#[test]
fn display_renders_the_reference_as_written() {
    for s in ["nginx", "prom/node-exporter:v1.5.0", "127.0.0.1:5000/app:1.0", &format!("nginx:1@{SHA}")] {
        assert_eq!(image(s).to_string(), s);
    }
}

#[test]
fn from_str_is_parse() {
    assert_eq!("nginx:1".parse::<ImageRef>(), ImageRef::parse("nginx:1"));
}

fn error(s: &str) -> ImageError {
    match ImageRef::parse(s) {
        Ok(image) => panic!("{s:?} should not parse, got {image:?}"),
        Err(err) => err,
    }
}

#[test]
fn an_empty_reference_is_rejected() {
    assert_eq!(error(""), ImageError::Empty);
}

#[test]
fn whitespace_and_other_stray_characters_are_rejected_by_name() {
    assert_eq!(error(" nginx"), ImageError::InvalidCharacter { image: " nginx".into(), character: ' ' });
    assert!(matches!(error("nginx:1#2"), ImageError::InvalidCharacter { character: '#', .. }));
    assert!(matches!(error("ngïnx"), ImageError::InvalidCharacter { character: 'ï', .. }));
}

#[test]
fn an_uppercase_repository_is_rejected_not_lowercased() {
    assert!(matches!(error("MyApp:1.0"), ImageError::UppercaseRepository { .. }));
    assert!(matches!(error("ghcr.io/Org/app"), ImageError::UppercaseRepository { .. }));
}

#[test]
fn malformed_repository_paths_are_rejected() {
    for s in ["a//b", "-a", "a-", "a..b", "a___b", "/a", "a/", ":1.0", "ghcr.io/", "a.-b"] {
        assert!(matches!(error(s), ImageError::InvalidRepository { .. }), "{s}: {:?}", ImageRef::parse(s));
    }
}

#[test]
fn legal_separators_inside_path_components_are_accepted() {
    for s in ["a.b", "a_b", "a__b", "a-b", "a---b", "my-org/my_app.v2"] {
        image(s);
    }
}

#[test]
fn invalid_tags_are_rejected() {
    for s in ["nginx:", "nginx:.1", "nginx:-1", "nginx:1:2", &format!("nginx:{}", "a".repeat(129))] {
        assert!(matches!(error(s), ImageError::InvalidTag { .. }), "{s}: {:?}", ImageRef::parse(s));
    }
    image(&format!("nginx:{}", "a".repeat(128)));
    image("nginx:_private");
}

#[test]
fn invalid_hosts_are_rejected() {
    for s in [
        "my-.registry/app",
        "registry.io:/app",
        "registry.io:port/app",
        "[::1/app",
        "[zz]:5000/app",
        "[::1]x/app",
    ] {
        assert!(matches!(error(s), ImageError::InvalidHost { .. }), "{s}: {:?}", ImageRef::parse(s));
    }
}

#[test]
fn bad_digests_are_rejected() {
    for s in [
        "nginx@",
        "nginx@sha256",
        "nginx@sha256:abc",
        "nginx@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "nginx@SHA256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "nginx@sha512:abcd",
        "nginx@:abcd",
        "nginx@sha256:@",
    ] {
        assert!(matches!(error(s), ImageError::InvalidDigest { .. }), "{s}: {:?}", ImageRef::parse(s));
    }
    image("nginx@sha384+b64:abc_DEF=");
}

#[test]
fn an_overlong_name_is_rejected() {
    let s = format!("registry.io/{}", "a".repeat(250));
    assert!(matches!(error(&s), ImageError::NameTooLong { .. }));
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(
        error("nginx@sha256:abc").to_string(),
        "image \"nginx@sha256:abc\": invalid digest \"sha256:abc\": a sha256 digest is 64 lowercase hex digits"
    );
    assert_eq!(error("MyApp").to_string(), "image \"MyApp\": the repository \"MyApp\" must be lowercase");
}

fn component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}([._-][a-z0-9]{1,6}){0,2}"
}

fn reference() -> impl Strategy<Value = String> {
    (
        prop::option::of(prop_oneof![
            Just("docker.io".to_owned()),
            Just("localhost:5000".to_owned()),
            "[a-z]{1,8}\\.(io|com)",
        ]),
        // A first component with a dot would be read as a host, as Docker does.
        "[a-z0-9]{1,6}([_-][a-z0-9]{1,6}){0,2}",
        prop::collection::vec(component(), 0..3),
        prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}"),
    )
        .prop_map(|(host, first, rest, tag)| {
            let mut s = host.map(|h| format!("{h}/")).unwrap_or_default();
            s.push_str(&first);
            for component in rest {
                s.push('/');
                s.push_str(&component);
            }
            if let Some(tag) = tag {
                s.push(':');
                s.push_str(&tag);
            }
            s
        })
}

proptest! {
    #[test]
    fn parsing_any_string_never_panics(s in "\\PC{0,40}") {
        let _ = ImageRef::parse(&s);
    }

    #[test]
    fn valid_references_round_trip_through_display(s in reference()) {
        let parsed = ImageRef::parse(&s);
        prop_assert!(parsed.is_ok(), "{s}: {parsed:?}");
        if let Ok(parsed) = parsed {
            prop_assert_eq!(parsed.to_string(), s);
        }
    }

    #[test]
    fn with_tag_yields_the_same_repository_with_the_new_tag(
        s in reference(),
        tag in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}",
    ) {
        let Ok(old) = ImageRef::parse(&s) else { return Err(TestCaseError::fail(format!("{s} should parse"))) };
        let rendered = old.with_tag(&tag, None);
        let new = ImageRef::parse(&rendered);
        prop_assert!(new.is_ok(), "{rendered}: {new:?}");
        if let Ok(new) = new {
            prop_assert!(new.same_repository(&old));
            prop_assert_eq!(new.tag(), Some(tag.as_str()));
            prop_assert_eq!(new.name(), old.name());
        }
    }
}
