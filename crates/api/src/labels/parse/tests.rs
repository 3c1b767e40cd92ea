//! Tables ported from apimachinery `labels/selector_test.go`, plus upstream's error texts as
//! kubectl and client libraries have recorded them.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::super::{Labels, Operator, Requirement, Selector};
use super::{Lexer, Parser, Token, scan};
use crate::field::FieldPath;

/// `getRequirement`: values as `sets.NewString(...).List()` gives them (sorted, deduplicated).
fn req(key: &str, op: Operator, values: &[&str]) -> Requirement {
    let values: BTreeSet<String> = values.iter().map(|v| v.to_string()).collect();
    Requirement::new(key, op, values.into_iter().collect(), &FieldPath::default())
        .unwrap_or_else(|e| panic!("requirement {key} {op:?} {values:?}: {e:?}", values = values_of(&e)))
}

fn values_of(errs: &[crate::field::FieldError]) -> Vec<String> {
    errs.iter().map(|e| e.to_string()).collect()
}

fn set(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn parse_err(input: &str) -> String {
    match Selector::parse(input) {
        Ok(sel) => panic!("{input:?} parsed as {sel:?}, want an error"),
        Err(e) => e.message,
    }
}

#[test]
fn good_selectors_render_back_without_their_spaces() {
    for input in ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"] {
        let sel = Selector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(sel.to_string(), input.replace(' ', ""), "{input:?}");
    }
}

#[test]
fn bad_selectors_fail_with_upstream_messages() {
    let label_value_regex = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    let cases = [
        (
            "x=a||y=b",
            format!(r#"unable to parse requirement: values[0][x]: Invalid value: "a||y": {label_value_regex}"#),
        ),
        ("x==a==b", "found '==', expected: ',' or 'end of string'".to_string()),
        ("!x=a", "found '=', expected: ',' or 'end of string'".to_string()),
        (
            "x<a",
            r#"unable to parse requirement: values[0]: Invalid value: "a": for 'Gt', 'Lt' operators, the value must be an integer"#
                .to_string(),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_err(input), want, "{input:?}");
    }
}

#[test]
fn invalid_keys_are_reported_at_the_nil_path_like_kubectl_shows() {
    // Messages as recorded from real API servers and upstream client tests.
    let name_part = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    assert_eq!(
        parse_err("app:monolith"),
        format!(r#"unable to parse requirement: <nil>: Invalid value: "app:monolith": {name_part}"#)
    );
    assert_eq!(
        parse_err("*bar"),
        format!(r#"unable to parse requirement: <nil>: Invalid value: "*bar": {name_part}"#)
    );
    assert_eq!(
        parse_err("a/b/c ?=? def"),
        "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    );
    let err = Selector::parse("app.kubernetes_io/name=x").unwrap_err();
    assert!(
        err.message.starts_with(
            r#"unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": prefix part a lowercase RFC 1123 subdomain"#
        ),
        "{}",
        err.message
    );
    assert_eq!(err.errors.len(), 1);
    assert_eq!(err.errors[0].field, "<nil>");
}

#[test]
fn every_problem_with_one_value_is_one_error_joined_with_semicolons() {
    let long = format!("{}.", "z".repeat(64));
    let msg = parse_err(&format!("good-key={long}"));
    assert!(
        msg.starts_with(&format!(
            r#"unable to parse requirement: values[0][good-key]: Invalid value: "{long}": must be no more than 63 characters; a valid label"#
        )),
        "{msg}"
    );
    // Gt with a non-integer that is also a bad label value: two errors, aggregated in brackets.
    let msg = parse_err("x>a.");
    assert!(msg.starts_with(r#"unable to parse requirement: [values[0]: Invalid value: "a.": for 'Gt', 'Lt' operators, the value must be an integer, values[0][x]: Invalid value: "a.": a valid label"#), "{msg}");
}

#[test]
fn syntax_errors_name_the_offending_token() {
    let cases = [
        ("x,,y", "found ',', expected: identifier after ','"),
        (",x,y", "found ',', expected: !, identifier, or 'end of string'"),
        (
            "x nott in (y)",
            "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt",
        ),
        ("a in (xyz),", "found '', expected: identifier after ','"),
        ("a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'"),
        ("a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'"),
        ("a notin(", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("a (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
        ("(", "found '(', expected: !, identifier, or 'end of string'"),
        ("a in x", "unable to parse requirement: found 'x' expected: '('"),
        ("a in (x,", "unable to parse requirement: found '', expected: ',', or identifier"),
        ("a=(", "unable to parse requirement: found '(', expected: identifier"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("!=a", "found '!=', expected: !, identifier, or 'end of string'"),
    ];
    for (input, want) in cases {
        assert_eq!(parse_err(input), want, "{input:?}");
    }
}

#[test]
fn parse_is_deterministic_whatever_the_input_order() {
    let a = Selector::parse("x=a,a=x").unwrap();
    let b = Selector::parse("a=x,x=a").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_string(), "a=x,x=a");
}

#[test]
fn selector_matches() {
    let matching: &[(&str, &[(&str, &str)])] = &[
        ("", &[("x", "y")]),
        ("x=y", &[("x", "y")]),
        ("x=y,z=w", &[("x", "y"), ("z", "w")]),
        ("x!=y,z!=w", &[("x", "z"), ("z", "a")]),
        ("notin=in", &[("notin", "in")]),
        ("x", &[("x", "z")]),
        ("!x", &[("y", "z")]),
        ("x>1", &[("x", "2")]),
        ("x<1", &[("x", "0")]),
        ("x==y", &[("x", "y")]),
        ("foo=bar", &[("foo", "bar"), ("baz", "blah")]),
        ("baz=blah", &[("foo", "bar"), ("baz", "blah")]),
        ("foo=bar,baz=blah", &[("foo", "bar"), ("baz", "blah")]),
    ];
    for (input, labels) in matching {
        assert!(Selector::parse(input).unwrap().matches(&set(labels)), "{input:?} should match {labels:?}");
    }
    let not_matching: &[(&str, &[(&str, &str)])] = &[
        ("x=z", &[]),
        ("x=y", &[("x", "z")]),
        ("x=y,z=w", &[("x", "w"), ("z", "w")]),
        ("x!=y,z!=w", &[("x", "z"), ("z", "w")]),
        ("x", &[("y", "z")]),
        ("!x", &[("x", "z")]),
        ("x>1", &[("x", "0")]),
        ("x<1", &[("x", "2")]),
        ("foo=blah", &[("foo", "bar"), ("baz", "blah")]),
        ("baz=bar", &[("foo", "bar"), ("baz", "blah")]),
        ("foo=bar,foobar=bar,baz=blah", &[("foo", "bar"), ("baz", "blah")]),
    ];
    for (input, labels) in not_matching {
        assert!(
            !Selector::parse(input).unwrap().matches(&set(labels)),
            "{input:?} should not match {labels:?}"
        );
    }
}

#[test]
fn lexer_returns_the_longest_token() {
    let cases = [
        ("", Token::EndOfString),
        (",", Token::Comma),
        ("notin", Token::NotIn),
        ("in", Token::In),
        ("=", Token::Equals),
        ("==", Token::DoubleEquals),
        (">", Token::GreaterThan),
        ("<", Token::LessThan),
        ("!", Token::DoesNotExist),
        ("!=", Token::NotEquals),
        ("(", Token::OpenPar),
        (")", Token::ClosedPar),
        // Non-special characters are part of an identifier.
        ("~", Token::Identifier),
        ("||", Token::Identifier),
    ];
    for (input, want) in cases {
        let item = Lexer::new(input).lex();
        assert_eq!(item.token, want, "{input:?}");
        assert_eq!(item.literal, input, "{input:?}");
    }
}

#[test]
fn lexer_sequences_and_parser_lookahead() {
    use Token::*;
    let cases: &[(&str, &[Token])] = &[
        ("key in ( value )", &[Identifier, In, OpenPar, Identifier, ClosedPar]),
        ("key notin ( value )", &[Identifier, NotIn, OpenPar, Identifier, ClosedPar]),
        ("key in ( value1, value2 )", &[Identifier, In, OpenPar, Identifier, Comma, Identifier, ClosedPar]),
        ("key", &[Identifier]),
        ("!key", &[DoesNotExist, Identifier]),
        ("()", &[OpenPar, ClosedPar]),
        ("", &[]),
        ("x in (),y", &[Identifier, In, OpenPar, ClosedPar, Comma, Identifier]),
        ("== != (), = notin", &[DoubleEquals, NotEquals, OpenPar, ClosedPar, Comma, Equals, NotIn]),
        ("key>2", &[Identifier, GreaterThan, Identifier]),
        ("key<1", &[Identifier, LessThan, Identifier]),
    ];
    for (input, want) in cases {
        let items = scan(input);
        let mut want = want.to_vec();
        want.push(EndOfString);
        let tokens: Vec<Token> = items.iter().map(|i| i.token).collect();
        assert_eq!(tokens, want, "{input:?}");

        let mut parser = Parser { items: &items, position: 0 };
        loop {
            let ahead = parser.lookahead(super::Context::KeyAndOperator);
            let consumed = parser.consume(super::Context::KeyAndOperator);
            assert_eq!(ahead, consumed, "{input:?}");
            if ahead.0 == EndOfString {
                break;
            }
        }
    }
}

#[test]
fn a_nul_byte_reads_like_the_end_as_in_go() {
    // Upstream's `read()` returns 0 both at the end and for a NUL byte: a NUL right after a
    // token is swallowed as its terminator, one where a token should start ends the input.
    assert_eq!(
        Selector::parse("a\0").unwrap(),
        Selector::Requirements(vec![req("a", Operator::Exists, &[])])
    );
    assert_eq!(Selector::parse("a,\0b").unwrap().to_string(), "a,b");
    assert_eq!(Selector::parse("a, \0b").unwrap_err().message, "found '', expected: identifier after ','");
    assert_eq!(Selector::parse("\0garbage(").unwrap(), Selector::everything());
}

#[test]
fn set_selector_parser() {
    use Operator::*;
    let cases: Vec<(&str, Vec<Requirement>)> = vec![
        ("", vec![]),
        ("\rx", vec![req("x", Exists, &[])]),
        (
            "this-is-a-dns.domain.com/key-with-dash",
            vec![req("this-is-a-dns.domain.com/key-with-dash", Exists, &[])],
        ),
        (
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
            vec![req("this-is-another-dns.domain.com/key-with-dash", In, &["so", "what"])],
        ),
        (
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            vec![req("0.1.2.domain/99", NotIn, &["10.10.100.1", "tick.tack.clock"])],
        ),
        ("foo  in\t (abc)", vec![req("foo", In, &["abc"])]),
        ("x notin\n (abc)", vec![req("x", NotIn, &["abc"])]),
        ("x  notin\t\t\t(abc,def)", vec![req("x", NotIn, &["abc", "def"])]),
        ("x in (abc,def)", vec![req("x", In, &["abc", "def"])]),
        ("x in (abc,)", vec![req("x", In, &["abc", ""])]),
        ("x in ()", vec![req("x", In, &[""])]),
        (
            "x notin (abc,,def),bar,z in (),w",
            vec![
                req("bar", Exists, &[]),
                req("w", Exists, &[]),
                req("x", NotIn, &["abc", "", "def"]),
                req("z", In, &[""]),
            ],
        ),
        // Upstream does not compare this one (its expectation is unsorted); sorted by key here.
        ("x,y in (a)", vec![req("x", Exists, &[]), req("y", In, &["a"])]),
        ("x=a", vec![req("x", Equals, &["a"])]),
        ("x>1", vec![req("x", GreaterThan, &["1"])]),
        ("x<7", vec![req("x", LessThan, &["7"])]),
        ("x=a,y!=b", vec![req("x", Equals, &["a"]), req("y", NotEquals, &["b"])]),
        (
            "x=a,y!=b,z in (h,i,j)",
            vec![req("x", Equals, &["a"]), req("y", NotEquals, &["b"]), req("z", In, &["h", "i", "j"])],
        ),
        ("x notin ( )", vec![req("x", NotIn, &[""])]),
        ("x notin (, a)", vec![req("x", NotIn, &["", "a"])]),
        ("a ", vec![req("a", Exists, &[])]),
        // `in` and `notin` are identifiers inside a value list.
        ("a in (x,y,notin, z,in)", vec![req("a", In, &["in", "notin", "x", "y", "z"])]),
        ("x==a", vec![req("x", DoubleEquals, &["a"])]),
        ("in in (notin)", vec![req("in", In, &["notin"])]),
    ];
    for (input, want) in cases {
        let got = Selector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(got, Selector::Requirements(want), "{input:?}");
    }
    for input in ["x=a||y=b", "x,,y", ",x,y", "x nott in (y)", "a in (xyz),", "a in (xyz)b notin ()"] {
        assert!(Selector::parse(input).is_err(), "{input:?} should not parse");
    }
    for input in ["a in (xyz abc)", "a notin(", "a (", "("] {
        assert!(Selector::parse(input).is_err(), "{input:?} should not parse");
    }
}

#[test]
fn to_string_renders_upstream_canonical_form() {
    use Operator::*;
    let cases: Vec<(Vec<Requirement>, &str)> = vec![
        (
            vec![req("x", In, &["abc", "def"]), req("y", NotIn, &["jkl"]), req("z", Exists, &[])],
            "x in (abc,def),y notin (jkl),z",
        ),
        (
            vec![
                req("x", NotIn, &["abc", "def"]),
                req("y", NotEquals, &["jkl"]),
                req("z", DoesNotExist, &[]),
            ],
            "x notin (abc,def),y!=jkl,!z",
        ),
        (
            vec![req("x", NotIn, &["abc"]), req("y", In, &["jkl", "mno"]), req("z", NotIn, &[""])],
            "x notin (abc),y in (jkl,mno),z notin ()",
        ),
        (
            vec![
                req("x", Equals, &["abc"]),
                req("y", DoubleEquals, &["jkl"]),
                req("z", NotEquals, &["a"]),
                req("z", Exists, &[]),
            ],
            "x=abc,y==jkl,z!=a,z",
        ),
        (vec![req("x", GreaterThan, &["2"]), req("y", LessThan, &["8"]), req("z", Exists, &[])], "x>2,y<8,z"),
    ];
    for (reqs, want) in cases {
        let sel = Selector::Requirements(reqs);
        assert_eq!(sel.to_string(), want);
        assert_eq!(Selector::parse(want).unwrap(), sel, "{want:?}");
    }
}

#[test]
fn display_sorts_by_key_and_values_without_mutating() {
    let root = FieldPath::default();
    let unsorted = Requirement::new("b", Operator::In, vec!["y".into(), "x".into()], &root).unwrap();
    let sel = Selector::Requirements(vec![unsorted.clone(), req("a", Operator::Exists, &[])]);
    assert_eq!(sel.to_string(), "a,b in (x,y)");
    assert_eq!(unsorted.values(), ["y", "x"]);
    assert_eq!(Selector::Nothing.to_string(), "");
}

#[test]
fn requirement_constructor_validates_like_new_requirement() {
    use Operator::*;
    let cases: &[(&str, Operator, &[&str], bool)] = &[
        ("x", In, &[], false),
        ("x", NotIn, &[], false),
        ("x", In, &["foo"], true),
        ("x", NotIn, &["foo"], true),
        ("x", Exists, &[], true),
        ("x", DoesNotExist, &[], true),
        ("1foo", In, &["bar"], true),
        ("1234", In, &["bar"], true),
        ("y", GreaterThan, &["1"], true),
        ("z", LessThan, &["6"], true),
        ("foo", GreaterThan, &["bar"], false),
        ("barz", LessThan, &["blah"], false),
        ("x", DoubleEquals, &["a", "b"], false),
    ];
    let root = FieldPath::default();
    for (key, op, values, ok) in cases {
        let values = values.iter().map(|v| v.to_string()).collect();
        assert_eq!(Requirement::new(key, *op, values, &root).is_ok(), *ok, "{key} {op:?}");
    }
    // Breaks the DNS rule that a key is at most 253 characters.
    assert!(Requirement::new(&"a".repeat(254), Exists, vec![], &root).is_err());
    // One error per key, at `key`, as a client's NewRequirement reports it.
    let errs = Requirement::new("bad key", Equals, vec!["v".into()], &root).unwrap_err();
    assert_eq!(
        crate::field::aggregate_message(&errs),
        r#"key: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"#
    );
    let errs = Requirement::new("good-key", Equals, vec!["z".repeat(64)], &root).unwrap_err();
    assert_eq!(
        crate::field::aggregate_message(&errs),
        format!(
            r#"values[0][good-key]: Invalid value: "{}": must be no more than 63 characters"#,
            "z".repeat(64)
        )
    );
}

fn key_strategy() -> impl Strategy<Value = String> {
    let name = "[A-Za-z0-9]([-A-Za-z0-9_.]{0,6}[A-Za-z0-9])?";
    prop_oneof![
        3 => name.prop_map(String::from),
        1 => ("[a-z0-9]{1,5}(\\.[a-z0-9]{1,5}){0,2}", name).prop_map(|(p, n)| format!("{p}/{n}")),
        1 => prop::sample::select(vec!["in".to_string(), "notin".to_string()]),
    ]
}

fn value_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "([A-Za-z0-9]([-A-Za-z0-9_.]{0,6}[A-Za-z0-9])?)?".prop_map(String::from),
        Just("in".to_string()),
        Just("notin".to_string()),
    ]
}

fn requirement_strategy() -> impl Strategy<Value = Requirement> {
    use Operator::*;
    let exact =
        (key_strategy(), prop::sample::select(vec![Equals, DoubleEquals, NotEquals]), value_strategy())
            .prop_map(|(k, op, v)| (k, op, vec![v]));
    let set = (
        key_strategy(),
        prop::sample::select(vec![In, NotIn]),
        prop::collection::vec(value_strategy(), 1..4),
    )
        .prop_map(|(k, op, vs)| (k, op, vs));
    let unary = (key_strategy(), prop::sample::select(vec![Exists, DoesNotExist]))
        .prop_map(|(k, op)| (k, op, vec![]));
    let numeric = (key_strategy(), prop::sample::select(vec![GreaterThan, LessThan]), 0u32..100_000)
        .prop_map(|(k, op, n)| (k, op, vec![n.to_string()]));
    prop_oneof![exact, set, unary, numeric].prop_map(|(key, op, values)| {
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        req(&key, op, &refs)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn parse_of_display_gives_back_the_same_selector(
        mut reqs in prop::collection::vec(requirement_strategy(), 0..6)
    ) {
        // Canonical form: sorted by key, as `Selector::parse` returns selectors.
        reqs.sort_by(|a, b| a.key().cmp(b.key()));
        let sel = Selector::Requirements(reqs);
        let text = sel.to_string();
        let parsed = Selector::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&parsed, &sel, "{}", text);
        prop_assert_eq!(parsed.to_string(), text);
    }
}
