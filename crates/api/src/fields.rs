//! Field selectors (`?fieldSelector=spec.nodeName=n1`): apimachinery `fields.ParseSelector`.
//!
//! The syntax is a comma-separated AND of `field=value`, `field==value` and `field!=value`
//! terms. Only values are escaped: `\,`, `\=` and `\\` stand for `,`, `=` and `\`, and a bare `,`
//! or `=` in a value is an error. Field names are not validated here; each resource declares
//! which fields it supports ([`FieldSelector::check_supported`]), as upstream's field label
//! conversion functions do. A field the object does not have compares as the empty string.

use std::fmt;

/// Why a field selector was rejected. Every variant is the client's mistake (the API server
/// answers 400 Bad Request); none is worth retrying unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldSelectorError {
    /// A term has no `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    CannotUnderstand {
        /// The whole selector, as given.
        selector: String,
        /// The term that has no operator.
        term: String,
    },
    /// A backslash in a value is followed by something other than `\`, `,` or `=`, or by nothing.
    #[error("invalid field selector: invalid escape sequence: {sequence}")]
    InvalidEscapeSequence {
        /// The backslash and the character after it, or a lone backslash at the end.
        sequence: String,
    },
    /// A value contains a `,` or `=` without a backslash. Upstream prints the character with
    /// Go's `%v` of a rune, that is its code point (`61` for `=`), and so does this message.
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*character))]
    UnescapedCharacter {
        /// The offending character.
        character: char,
    },
    /// The selector names a field the resource cannot be selected by.
    #[error("field label not supported: {field}")]
    UnsupportedField {
        /// The field, as written in the selector.
        field: String,
    },
}

/// How a term compares the field with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `=` or `==`: the field equals the value.
    Equals,
    /// `!=`: the field differs from the value (an absent field is the empty string).
    NotEquals,
}

impl FieldOperator {
    /// The operator as written in the canonical form.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        }
    }
}

/// One `field op value` term; the value is unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    field: String,
    operator: FieldOperator,
    value: String,
}

impl FieldRequirement {
    /// The field path, such as `spec.nodeName`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The comparison.
    pub fn operator(&self) -> FieldOperator {
        self.operator
    }

    /// The value, with escapes resolved.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the object's value of the field (`""` when it has none) satisfies this term.
    pub fn matches(&self, actual: &str) -> bool {
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.field, self.operator.as_str(), escape_value(&self.value))
    }
}

/// A parsed field selector: the AND of its requirements; none selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// `==` before `=`, so that `a==b` does not leave `=b` as the value; `!=` before both.
const TERM_OPERATORS: [(&str, FieldOperator); 3] =
    [("!=", FieldOperator::NotEquals), ("==", FieldOperator::Equals), ("=", FieldOperator::Equals)];

impl FieldSelector {
    /// A selector that matches everything.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// Parses the `fieldSelector` syntax (`fields.ParseSelector`).
    ///
    /// As upstream: terms are split on unescaped commas, sorted as strings, and checked in that
    /// order, so the first bad term in sorted order is the one reported; empty terms are skipped;
    /// a term with neither field nor value (`=`, `!=`) is dropped; spaces are not trimmed. The
    /// requirements are then ordered by their canonical text (where upstream keeps the input's
    /// sorted order, which differs only for `==`), so that `Display` output parses back to an
    /// equal selector.
    pub fn parse(selector: &str) -> Result<Self, FieldSelectorError> {
        let mut terms = split_terms(selector);
        terms.sort_unstable();
        let mut requirements = Vec::new();
        for term in terms {
            if term.is_empty() {
                continue;
            }
            let Some((field, operator, raw_value)) = split_term(term) else {
                return Err(FieldSelectorError::CannotUnderstand {
                    selector: selector.to_string(),
                    term: term.to_string(),
                });
            };
            let value = unescape_value(raw_value)?;
            if field.is_empty() && value.is_empty() {
                continue;
            }
            requirements.push(FieldRequirement { field: field.to_string(), operator, value });
        }
        requirements.sort_by_cached_key(|r| r.to_string());
        Ok(FieldSelector { requirements })
    }

    /// Whether the selector restricts nothing.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, in canonical order.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether an object matches, given a way to read its fields; `None` (no such field, or
    /// no value) compares as the empty string, like upstream's `fields.Set.Get`.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| r.matches(get(&r.field).as_deref().unwrap_or("")))
    }

    /// The value `field` must equal, if an `=` term names it (`RequiresExactMatch`), so callers
    /// can look an object up by `metadata.name` instead of scanning.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.operator == FieldOperator::Equals && r.field == field)
            .map(|r| r.value.as_str())
    }

    /// Rejects a selector naming a field outside `supported`, with upstream's message for the
    /// first such field (`field label not supported: spec.foo`).
    pub fn check_supported(&self, supported: &[&str]) -> Result<(), FieldSelectorError> {
        match self.requirements.iter().find(|r| !supported.contains(&r.field.as_str())) {
            Some(r) => Err(FieldSelectorError::UnsupportedField { field: r.field.clone() }),
            None => Ok(()),
        }
    }
}

impl fmt::Display for FieldSelector {
    /// The canonical form (`a=x,b!=y\,z`), values escaped; the empty string for everything.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Escapes `\`, `,` and `=` so that any string can stand as a value (`fields.EscapeValue`).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Resolves the escapes of a value (`fields.UnescapeValue`).
pub fn unescape_value(value: &str) -> Result<String, FieldSelectorError> {
    let mut out = String::with_capacity(value.len());
    let mut in_slash = false;
    for c in value.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(FieldSelectorError::InvalidEscapeSequence { sequence: format!("\\{c}") });
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => return Err(FieldSelectorError::UnescapedCharacter { character: c }),
            c => out.push(c),
        }
    }
    if in_slash {
        return Err(FieldSelectorError::InvalidEscapeSequence { sequence: "\\".to_string() });
    }
    Ok(out)
}

/// The comma-separated terms, escaped commas kept inside their term with the backslash.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// The field, operator and raw value of a term, split at the first operator: fields have no
/// escaping, so a field can never contain `=`.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (text, op) in TERM_OPERATORS {
            if let Some(value) = rest.strip_prefix(text) {
                return Some((&term[..i], op, value));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn matches(selector: &str, set: &BTreeMap<String, String>) -> bool {
        let sel = FieldSelector::parse(selector).unwrap_or_else(|e| panic!("{selector:?}: {e}"));
        sel.matches(|f| set.get(f).cloned())
    }

    #[test]
    fn split_terms_keeps_escaped_commas() {
        let cases: &[(&str, &[&str])] = &[
            ("a", &["a"]),
            ("a=avalue", &["a=avalue"]),
            ("a=avalue,b=bvalue", &["a=avalue", "b=bvalue"]),
            ("a=avalue,b==bvalue,c!=cvalue", &["a=avalue", "b==bvalue", "c!=cvalue"]),
            ("", &[]),
            ("a=a,", &["a=a", ""]),
            (",a=a", &["", "a=a"]),
            (r"k=\,,k2=v2", &[r"k=\,", "k2=v2"]),
            (r"k=\\,k2=v2", &[r"k=\\", "k2=v2"]),
            (r"k=\\\,,k2=v2", &[r"k=\\\,", "k2=v2"]),
            (r"k=\a\b\", &[r"k=\a\b\"]),
            (r"k=\", &[r"k=\"]),
            ("함=수,목=록", &["함=수", "목=록"]),
        ];
        for (input, want) in cases {
            assert_eq!(split_terms(input), *want, "{input:?}");
        }
    }

    #[test]
    fn split_term_cuts_at_the_first_operator() {
        use FieldOperator::*;
        type Split<'a> = Option<(&'a str, FieldOperator, &'a str)>;
        let cases: &[(&str, Split)] = &[
            ("a=value", Some(("a", Equals, "value"))),
            ("b==value", Some(("b", Equals, "value"))),
            ("c!=value", Some(("c", NotEquals, "value"))),
            ("", None),
            ("a", None),
            (r"k=\,", Some(("k", Equals, r"\,"))),
            (r"k=\=", Some(("k", Equals, r"\="))),
            (r"k=\\\a\b\=\,\", Some(("k", Equals, r"\\\a\b\=\,\"))),
            ("함=수", Some(("함", Equals, "수"))),
        ];
        for (input, want) in cases {
            assert_eq!(split_term(input), *want, "{input:?}");
        }
    }

    #[test]
    fn escape_and_unescape_are_inverse() {
        let cases =
            [("", ""), ("a", "a"), ("=", r"\="), (",", r"\,"), (r"\", r"\\"), (r"\=\,\", r"\\\=\\\,\\")];
        for (raw, escaped) in cases {
            assert_eq!(escape_value(raw), escaped);
            assert_eq!(unescape_value(escaped).unwrap(), raw);
        }
    }

    #[test]
    fn bad_escapes_and_bare_specials_are_errors_with_upstream_text() {
        let cases = [
            (r"\", r"invalid field selector: invalid escape sequence: \"),
            (r"\\\", r"invalid field selector: invalid escape sequence: \"),
            (r"\a", r"invalid field selector: invalid escape sequence: \a"),
            ("a=b", "invalid field selector: unescaped character in value: 61"),
            ("a,b", "invalid field selector: unescaped character in value: 44"),
        ];
        for (value, want) in cases {
            assert_eq!(unescape_value(value).unwrap_err().to_string(), want, "{value:?}");
        }
    }

    #[test]
    fn good_selectors_render_back_unchanged() {
        for input in ["x=a,y=b,z=c", "", "x!=a,y=b", r"x=a||y\=b", r"x=a\=\=b"] {
            let sel = FieldSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(sel.to_string(), input);
        }
    }

    #[test]
    fn bad_selectors_fail_with_upstream_messages() {
        let cases = [
            ("x=a||y=b", "invalid field selector: unescaped character in value: 61"),
            ("x==a==b", "invalid field selector: unescaped character in value: 61"),
            ("x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'"),
            ("x in (a)", "invalid selector: 'x in (a)'; can't understand 'x in (a)'"),
            // Terms are sorted before they are checked, so `b` is reported first.
            ("x in (a,b,c)", "invalid selector: 'x in (a,b,c)'; can't understand 'b'"),
            ("x", "invalid selector: 'x'; can't understand 'x'"),
            (r"k=\a", r"invalid field selector: invalid escape sequence: \a"),
        ];
        for (input, want) in cases {
            assert_eq!(FieldSelector::parse(input).unwrap_err().to_string(), want, "{input:?}");
        }
    }

    #[test]
    fn parse_is_deterministic_whatever_the_input_order() {
        let a = FieldSelector::parse("x=a,a=x").unwrap();
        let b = FieldSelector::parse("a=x,x=a").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "a=x,x=a");
    }

    #[test]
    fn double_equals_renders_as_equals_in_canonical_order() {
        let sel = FieldSelector::parse("a==x,a=b").unwrap();
        assert_eq!(sel.to_string(), "a=b,a=x");
        assert_eq!(FieldSelector::parse(&sel.to_string()).unwrap(), sel);
    }

    #[test]
    fn terms_without_field_or_value_are_dropped_and_spaces_kept() {
        assert!(FieldSelector::parse("=").unwrap().is_empty());
        assert!(FieldSelector::parse("!=,,").unwrap().is_empty());
        assert_eq!(FieldSelector::parse("=,a=b").unwrap().to_string(), "a=b");
        assert_eq!(FieldSelector::parse("=v").unwrap().requirements()[0].value(), "v");
        let spaced = FieldSelector::parse(" a = b").unwrap();
        assert_eq!(spaced.requirements()[0].field(), " a ");
        assert_eq!(spaced.requirements()[0].value(), " b");
    }

    #[test]
    fn selector_matches() {
        let xy = fields(&[("x", "y")]);
        assert!(matches("", &xy));
        assert!(matches("x=y", &xy));
        assert!(matches("x=y,z=w", &fields(&[("x", "y"), ("z", "w")])));
        assert!(matches("x!=y,z!=w", &fields(&[("x", "z"), ("z", "a")])));
        assert!(matches("notin=in", &fields(&[("notin", "in")])));
        assert!(!matches("x=y", &fields(&[("x", "z")])));
        assert!(!matches("x=y,z=w", &fields(&[("x", "w"), ("z", "w")])));
        assert!(!matches("x!=y,z!=w", &fields(&[("x", "z"), ("z", "w")])));

        let set = fields(&[("foo", "bar"), ("baz", "blah"), ("complex", r"=value\,\")]);
        assert!(matches("foo=bar", &set));
        assert!(matches("baz=blah", &set));
        assert!(matches("foo=bar,baz=blah", &set));
        assert!(matches(r"foo=bar,baz=blah,complex=\=value\\\,\\", &set));
        assert!(!matches("foo=blah", &set));
        assert!(!matches("baz=bar", &set));
        assert!(!matches("foo=bar,foobar=bar,baz=blah", &set));
    }

    #[test]
    fn an_absent_field_compares_as_the_empty_string() {
        let none = fields(&[]);
        assert!(matches("spec.nodeName=", &none));
        assert!(matches("spec.nodeName!=n1", &none));
        assert!(!matches("spec.nodeName=n1", &none));
        assert!(!matches("spec.nodeName!=", &none));
    }

    #[test]
    fn requires_exact_match_finds_the_first_equals_term() {
        let sel = FieldSelector::parse("a!=b,test=b,x=y").unwrap();
        assert_eq!(sel.requires_exact_match("test"), Some("b"));
        assert_eq!(sel.requires_exact_match("a"), None);
        assert_eq!(sel.requires_exact_match("missing"), None);
        assert_eq!(FieldSelector::parse("test=").unwrap().requires_exact_match("test"), Some(""));
        assert_eq!(FieldSelector::everything().requires_exact_match("test"), None);
    }

    #[test]
    fn unsupported_fields_are_rejected_with_upstream_message() {
        let supported = ["metadata.name", "metadata.namespace", "spec.nodeName"];
        let sel = FieldSelector::parse("spec.nodeName=n1,metadata.name=p").unwrap();
        assert_eq!(sel.check_supported(&supported), Ok(()));
        let sel = FieldSelector::parse("spec.nodeName=n1,spec.foo=x,status.bar=y").unwrap();
        assert_eq!(
            sel.check_supported(&supported).unwrap_err().to_string(),
            "field label not supported: spec.foo"
        );
        assert_eq!(FieldSelector::everything().check_supported(&[]), Ok(()));
    }
}
