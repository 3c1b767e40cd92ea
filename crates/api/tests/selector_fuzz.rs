//! A fixed-budget, stable-toolchain stand-in for the cargo-fuzz targets in `crates/api/fuzz`:
//! arbitrary selector-ish strings must never panic the label or field selector parsers, and
//! whatever parses must render to text that parses back to the same selector.

use everynode_api::fields::FieldSelector;
use everynode_api::labels::Selector;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestRunner};

/// Cases per property: enough to reach every parser branch, small enough for CI (well under a
/// second each in release, a few seconds in debug).
const CASES: u32 = 5_000;

/// Characters the selector grammars care about, plus ordinary ones and a few that only
/// exercise byte handling (multi-byte UTF-8, NUL, which upstream's lexer reads as the end).
const ALPHABET: &[char] = &[
    'a', 'b', 'c', 'x', 'y', 'z', 'A', 'Z', '0', '1', '7', '9', '.', '-', '_', '/', '=', '!', ',', '(', ')',
    ' ', '<', '>', '\\', '\t', '\n', '\0', 'é', '漢', '🦀',
];

/// Pieces that make well-formed selectors likely, so the round trip is checked on many valid
/// inputs and not only on rejections.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    "a", "b", "x", "app", "tier", "example.com/app", "k8s.io/x-y", "in", "notin", "1", "42", "007",
    "v1.2", "=", "==", "!=", "!", ">", "<", "(", ")", ",", " ", "", "\\,", "\\=", "\\\\",
    "spec.nodeName", "é",
];

fn selector_chars() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..40).prop_map(|cs| cs.into_iter().collect())
}

fn selector_tokens() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..16).prop_map(|ts| ts.concat())
}

/// Comma-joined terms, mostly well formed for one kind of selector or both, some near misses:
/// so that the round trip is checked on many accepted inputs, not only on rejections.
fn selector_terms() -> impl Strategy<Value = String> {
    const KEYS: &[&str] = &["a", "x", "tier", "example.com/app", "in", "notin", "spec.nodeName"];
    const EXACT: &[&str] = &["=", "==", "!="];
    const VALUES: &[&str] = &["", "v", "42", "007", "in", "a.b-c_d"];
    const SETS: &[&str] = &["(a,b)", "(in, ,notin)", "()", "( x )", "(,a,)"];
    const JUNK: &[&str] = &["", " ", "!a", "a b", "=!", "(x", "a\\,b", "\\", "é", "-1", ">", "<", "in"];
    const SET_OPS: &[&str] = &[" in ", " notin ", " in", "\tnotin"];
    const NUMERIC_OPS: &[&str] = &[">", "<"];
    const UNARY: &[&str] = &["", "!", " "];
    let key = || prop::sample::select(KEYS);
    let join = |(a, b, c): (&str, &str, &str)| format!("{a}{b}{c}");
    let exact = (key(), prop::sample::select(EXACT), prop::sample::select(VALUES)).prop_map(join);
    let set = (key(), prop::sample::select(SET_OPS), prop::sample::select(SETS)).prop_map(join);
    let numeric =
        (key(), prop::sample::select(NUMERIC_OPS), 0u8..100).prop_map(|(k, op, n)| format!("{k}{op}{n}"));
    let unary = (prop::sample::select(UNARY), key(), Just("")).prop_map(join);
    let junk = (prop::sample::select(JUNK), prop::sample::select(JUNK), Just("")).prop_map(join);
    let term = prop_oneof![3 => exact, 2 => set, 1 => numeric, 1 => unary, 1 => junk];
    prop::collection::vec(term, 0..4).prop_map(|terms| terms.join(","))
}

fn selector_input() -> impl Strategy<Value = String> {
    prop_oneof![selector_chars(), selector_tokens(), selector_terms()]
}

fn label_round_trip(input: &str) -> Result<(), TestCaseError> {
    let Ok(selector) = Selector::parse(input) else { return Ok(()) };
    let text = selector.to_string();
    let again = Selector::parse(&text)
        .map_err(|e| TestCaseError::fail(format!("{input:?} rendered as {text:?}, which fails: {e}")))?;
    prop_assert_eq!(&again, &selector, "{:?} rendered as {:?}", input, text);
    prop_assert_eq!(again.to_string(), text);
    Ok(())
}

fn field_round_trip(input: &str) -> Result<(), TestCaseError> {
    let Ok(selector) = FieldSelector::parse(input) else { return Ok(()) };
    let text = selector.to_string();
    let again = FieldSelector::parse(&text)
        .map_err(|e| TestCaseError::fail(format!("{input:?} rendered as {text:?}, which fails: {e}")))?;
    prop_assert_eq!(&again, &selector, "{:?} rendered as {:?}", input, text);
    prop_assert_eq!(again.to_string(), text);
    Ok(())
}

proptest! {
    // Failures print the shrunk input; integration tests have no lib.rs to keep regressions beside.
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn label_selectors_never_panic_and_round_trip(input in selector_input()) {
        label_round_trip(&input)?;
    }

    #[test]
    fn field_selectors_never_panic_and_round_trip(input in selector_input()) {
        field_round_trip(&input)?;
    }
}

#[test]
fn generators_reach_valid_selectors_of_both_kinds() {
    // Guards the generators: if they stopped producing parseable input, the properties above
    // would pass vacuously. Deterministic, so the counts are stable.
    let mut runner = TestRunner::deterministic();
    let strategy = selector_input();
    let (mut labels, mut fields, mut nonempty) = (0, 0, 0);
    for _ in 0..1_000 {
        let input = strategy.new_tree(&mut runner).expect("strategy generates").current();
        if let Ok(selector) = Selector::parse(&input) {
            labels += 1;
            nonempty += usize::from(!selector.requirements().is_empty());
        }
        fields += usize::from(FieldSelector::parse(&input).is_ok());
    }
    eprintln!("of 1000 inputs: {labels} label selectors ({nonempty} non-empty), {fields} field selectors");
    assert!(labels >= 150 && nonempty >= 100 && fields >= 150, "{labels} {nonempty} {fields}");
}
