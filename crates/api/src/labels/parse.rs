//! The label selector string syntax (`app=x,tier in (a,b),!canary`): apimachinery `labels.Parse`.
//!
//! A port of upstream's lexer and recursive-descent parser, kept close to its structure so that
//! the same input fails at the same token with the same message. The grammar:
//!
//! ```text
//! <selector-syntax>         ::= <requirement> | <requirement> "," <selector-syntax>
//! <requirement>             ::= [!] KEY [ <set-based-restriction> | <exact-match-restriction> ]
//! <set-based-restriction>   ::= "" | <inclusion-exclusion> <value-set>
//! <inclusion-exclusion>     ::= "in" | "notin"
//! <value-set>               ::= "(" <values> ")"
//! <values>                  ::= VALUE | VALUE "," <values>
//! <exact-match-restriction> ::= ["=" | "==" | "!=" | ">" | "<"] VALUE
//! ```
//!
//! Assumptions the port keeps from upstream, because they shape which inputs are accepted:
//! - The lexer works on bytes. Every delimiter is ASCII, so identifiers never split a UTF-8
//!   character; a NUL byte reads like the end of the input, as Go's `read()` returns 0 there.
//! - `in` and `notin` are keywords only where an operator may stand; as keys or values they are
//!   identifiers (`in in (notin)` is valid).
//! - Values of `in`/`notin` are a set: sorted and deduplicated. `()` and empty list items mean
//!   the empty string.
//! - Requirements are sorted by key; the sort is stable here, so equal keys keep input order.

use std::collections::BTreeSet;

use super::{Operator, Requirement, SelectorError, invalid_key};
use crate::field::FieldPath;

/// What upstream's `field.Path.String()` prints for the nil path `labels.Parse` validates keys
/// under; kubectl users see it in messages such as `unable to parse requirement: <nil>: ...`.
const NIL_PATH: &str = "<nil>";

/// The operators that take values, in upstream's order, for "expected: ..." messages.
const BINARY_OPERATORS: [Operator; 7] = [
    Operator::In,
    Operator::NotIn,
    Operator::Equals,
    Operator::DoubleEquals,
    Operator::NotEquals,
    Operator::GreaterThan,
    Operator::LessThan,
];

/// A lexer token (upstream `labels.Token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

/// Upstream's `string2token`: the literals that are tokens by themselves.
fn literal_token(literal: &[u8]) -> Option<Token> {
    Some(match literal {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(ch: u8) -> bool {
    matches!(ch, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// The bytes between delimiters, as text. Delimiters are ASCII, so the bytes are whole UTF-8
/// characters; the lossy conversion never replaces anything.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A token and its literal text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScannedItem {
    token: Token,
    literal: String,
}

impl ScannedItem {
    fn new(token: Token, literal: String) -> Self {
        ScannedItem { token, literal }
    }
}

/// Upstream `labels.Lexer`.
struct Lexer<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Lexer { input: input.as_bytes(), pos: 0 }
    }

    /// The next byte, or 0 past the end (without advancing).
    fn read(&mut self) -> u8 {
        match self.input.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    /// Steps back over the byte just read; only ever called after `read` returned a real byte.
    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// An identifier, or a keyword (`in`, `notin`) that the parser may demote back.
    fn scan_id_or_keyword(&mut self) -> ScannedItem {
        let mut buffer = Vec::new();
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special_symbol(ch) || is_whitespace(ch) {
                self.unread();
                break;
            }
            buffer.push(ch);
        }
        let token = literal_token(&buffer).unwrap_or(Token::Identifier);
        ScannedItem::new(token, text(&buffer))
    }

    /// The longest operator made of special symbols (`!=` rather than `!`).
    fn scan_special_symbol(&mut self) -> ScannedItem {
        let mut last: Option<ScannedItem> = None;
        let mut buffer = Vec::new();
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if !is_special_symbol(ch) {
                self.unread();
                break;
            }
            buffer.push(ch);
            if let Some(token) = literal_token(&buffer) {
                last = Some(ScannedItem::new(token, text(&buffer)));
            } else if last.is_some() {
                self.unread();
                break;
            }
        }
        last.unwrap_or_else(|| {
            ScannedItem::new(Token::Error, format!("error expected: keyword found '{}'", text(&buffer)))
        })
    }

    fn skip_whitespace(&mut self, mut ch: u8) -> u8 {
        while is_whitespace(ch) {
            ch = self.read();
        }
        ch
    }

    /// The next token (upstream `Lex`).
    fn lex(&mut self) -> ScannedItem {
        let first = self.read();
        let ch = self.skip_whitespace(first);
        if ch == 0 {
            return ScannedItem::new(Token::EndOfString, String::new());
        }
        self.unread();
        if is_special_symbol(ch) { self.scan_special_symbol() } else { self.scan_id_or_keyword() }
    }
}

/// Every token of `input`, ending with `EndOfString`.
fn scan(input: &str) -> Vec<ScannedItem> {
    let mut lexer = Lexer::new(input);
    let mut items = Vec::new();
    loop {
        let item = lexer.lex();
        let done = item.token == Token::EndOfString;
        items.push(item);
        if done {
            return items;
        }
    }
}

/// Where the parser stands: where values are expected, `in` and `notin` are identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

/// A syntax error message, or the validation errors of one requirement.
fn syntax(message: String) -> SelectorError {
    SelectorError::plain(message)
}

/// Upstream `labels.Parser`, over the scanned tokens.
struct Parser<'a> {
    items: &'a [ScannedItem],
    position: usize,
}

impl<'a> Parser<'a> {
    fn item(&self, position: usize, context: Context) -> (Token, &'a str) {
        let items: &'a [ScannedItem] = self.items;
        // `scan` always ends with EndOfString and the parser stops there, so reading past the
        // end cannot happen; answering EndOfString keeps it harmless if it did.
        let Some(item) = items.get(position) else {
            return (Token::EndOfString, "");
        };
        let token = match (context, item.token) {
            (Context::Values, Token::In | Token::NotIn) => Token::Identifier,
            (_, token) => token,
        };
        (token, item.literal.as_str())
    }

    fn lookahead(&self, context: Context) -> (Token, &'a str) {
        self.item(self.position, context)
    }

    fn consume(&mut self, context: Context) -> (Token, &'a str) {
        self.position += 1;
        self.item(self.position - 1, context)
    }

    /// The whole selector, requirements in input order.
    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement = self.parse_requirement().map_err(|err| SelectorError {
                        message: format!("unable to parse requirement: {}", err.message),
                        errors: err.errors,
                    })?;
                    requirements.push(requirement);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (next, next_literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(syntax(format!(
                                    "found '{next_literal}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(syntax(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            )));
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(syntax(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, SelectorError> {
        let root = FieldPath::default();
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(op) = inferred {
            return Requirement::new(key, op, Vec::new(), &root).map_err(SelectorError::from_errors);
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(key, op, values.into_iter().collect(), &root).map_err(SelectorError::from_errors)
    }

    /// The key, and `Exists`/`DoesNotExist` when no binary operator follows. A `!key` keeps
    /// `DoesNotExist` even when something follows, which then fails as "expected: ','".
    fn parse_key_and_infer_operator(&mut self) -> Result<(&'a str, Option<Operator>), SelectorError> {
        let mut operator = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(syntax(format!("found '{literal}', expected: identifier")));
        }
        if let Some(err) = invalid_key(literal, &FieldPath::new(NIL_PATH)) {
            return Err(SelectorError::from_errors(vec![err]));
        }
        let (next, _) = self.lookahead(Context::Values);
        if matches!(next, Token::EndOfString | Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, SelectorError> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                let names: Vec<&str> = BINARY_OPERATORS.iter().map(|op| op.name()).collect();
                return Err(syntax(format!("found '{literal}', expected: {}", names.join(", "))));
            }
        })
    }

    /// `(a,b,c)`.
    fn parse_values(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(syntax(format!("found '{literal}' expected: '('")));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                // Upstream names the token that opened the list here, not the one found.
                if self.consume(Context::Values).0 != Token::ClosedPar {
                    return Err(syntax(format!("found '{literal}', expected: ')'")));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(syntax(format!("found '{literal}', expected: ',', ')' or identifier"))),
        }
    }

    /// A possibly empty list of possibly empty identifiers, up to (not including) `)`.
    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal.to_string());
                    let (next, next_literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(syntax(format!("found '{next_literal}', expected: ',' or ')'"))),
                    }
                }
                Token::Comma => {
                    // "(," and ",," and ",)" each stand for an empty value.
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            values.insert(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            values.insert(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(syntax(format!("found '{literal}', expected: ',', or identifier"))),
            }
        }
    }

    /// The single value after `=`, `==`, `!=`, `>` or `<`; nothing there means the empty string.
    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        if matches!(self.lookahead(Context::Values).0, Token::EndOfString | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(BTreeSet::from([literal.to_string()]))
        } else {
            Err(syntax(format!("found '{literal}', expected: identifier")))
        }
    }
}

/// Parses `input` into requirements sorted by key (stable).
pub(super) fn parse(input: &str) -> Result<Vec<Requirement>, SelectorError> {
    let items = scan(input);
    let mut requirements = Parser { items: &items, position: 0 }.parse()?;
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(requirements)
}

#[cfg(test)]
mod tests;
