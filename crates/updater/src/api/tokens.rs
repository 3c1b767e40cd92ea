//! The bearer tokens the approval API accepts, each naming the identity recorded as approver.
//!
//! The file format is Kubernetes' static token file (`--token-auth-file`): one CSV line per token,
//! `token,user,uid,"group1,group2"`, of which we read the token and the user; uid and groups may be
//! omitted. Blank lines and `#` comments are skipped. So one file can serve both the API server and
//! the approval API.
//!
//! Only SHA-256 digests of the tokens are kept, and a presented token is compared with every digest
//! without stopping early: how long a check takes says nothing about which token almost matched,
//! and whatever a timing difference could reveal is about a digest, which does not help in forging
//! a token. Neither `Debug` nor any error ever shows a token.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Result alias for loading tokens.
pub type Result<T, E = TokensError> = std::result::Result<T, E>;

/// A digest of a token.
type TokenDigest = [u8; 32];

/// The accepted tokens. An empty set refuses everyone: the API never runs unauthenticated.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    digest: TokenDigest,
    identity: String,
}

impl Tokens {
    /// Loads a static token file (see the module docs for the format).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Tokens> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| TokensError::Read { path: path.to_owned(), source })?;
        Tokens::parse(&text)
    }

    /// Parses the text of a static token file.
    pub fn parse(text: &str) -> Result<Tokens> {
        let mut tokens = Tokens::default();
        for (index, line) in text.lines().enumerate() {
            let line_number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The groups field is quoted and may hold commas; only the first two fields matter.
            let mut fields = line.splitn(3, ',').map(|field| field.trim().trim_matches('"').trim());
            let token = fields.next().unwrap_or_default();
            let user = fields.next().unwrap_or_default();
            if token.is_empty() {
                return Err(TokensError::MissingToken { line: line_number });
            }
            if user.is_empty() {
                return Err(TokensError::MissingUser { line: line_number });
            }
            tokens
                .insert(token, user)
                .map_err(|first| TokensError::Duplicate { line: line_number, first })?;
        }
        Ok(tokens)
    }

    /// Tokens from `(token, identity)` pairs, e.g. from flags or a Secret. Empty tokens are skipped
    /// (an empty bearer token must never authenticate); a repeated token keeps its first identity.
    pub fn from_pairs<T, I>(pairs: impl IntoIterator<Item = (T, I)>) -> Tokens
    where
        T: AsRef<str>,
        I: Into<String>,
    {
        let mut tokens = Tokens::default();
        for (token, identity) in pairs {
            if !token.as_ref().is_empty() {
                let _ = tokens.insert(token.as_ref(), identity);
            }
        }
        tokens
    }

    /// Adds a token; a repeated token is refused with the position of its first occurrence.
    fn insert(&mut self, token: &str, identity: impl Into<String>) -> std::result::Result<(), usize> {
        let digest = digest(token);
        if let Some(first) = self.entries.iter().position(|entry| entry.digest == digest) {
            return Err(first + 1);
        }
        self.entries.push(Entry { digest, identity: identity.into() });
        Ok(())
    }

    /// How many tokens are accepted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is accepted (then every request is refused).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The identity `token` belongs to, if it is one of ours. Takes the same time for every token
    /// of a given length, matching or not.
    pub fn identify(&self, token: &str) -> Option<&str> {
        if token.is_empty() {
            return None;
        }
        let presented = digest(token);
        let mut found = None;
        // No early exit: every entry is compared.
        for entry in &self.entries {
            if same_digest(&entry.digest, &presented) {
                found = Some(entry.identity.as_str());
            }
        }
        found
    }
}

impl fmt::Debug for Tokens {
    /// Identities only; tokens (even their digests) stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let identities: Vec<&str> = self.entries.iter().map(|entry| entry.identity.as_str()).collect();
        f.debug_struct("Tokens").field("identities", &identities).finish_non_exhaustive()
    }
}

fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two digests, looking at every byte whatever the first difference.
fn same_digest(a: &TokenDigest, b: &TokenDigest) -> bool {
    a.iter().zip(b).fold(0u8, |difference, (x, y)| difference | (x ^ y)) == 0
}

/// Why a token file could not be loaded. Messages name lines, never tokens. Not retryable: the
/// file must be fixed.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    /// The file could not be read.
    #[error("reading the token file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line has no token before its first comma.
    #[error("token file line {line}: no token (expected `token,user[,uid,\"groups\"]`)")]
    MissingToken {
        /// 1-based line number.
        line: usize,
    },
    /// A line has a token but no user.
    #[error("token file line {line}: no user after the token (expected `token,user[,uid,\"groups\"]`)")]
    MissingUser {
        /// 1-based line number.
        line: usize,
    },
    /// Two lines hold the same token, so it would be ambiguous who approved with it.
    #[error("token file line {line}: the token repeats the one of entry {first}")]
    Duplicate {
        /// 1-based line number.
        line: usize,
        /// 1-based position of the first occurrence among the tokens.
        first: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_static_token_files_are_read() {
        let tokens = Tokens::parse(
            "# approvers\n\
             \n\
             s3cret-alice,alice@example.com,1001,\"system:masters,approvers\"\n\
             s3cret-bob,bob\n\
             \"quoted-token\",\"carol\",1003\n",
        )
        .unwrap();
        assert_eq!(tokens.len(), 3);
        assert_eq!(tokens.identify("s3cret-alice"), Some("alice@example.com"));
        assert_eq!(tokens.identify("s3cret-bob"), Some("bob"));
        assert_eq!(tokens.identify("quoted-token"), Some("carol"));
        assert_eq!(tokens.identify("s3cret-ali"), None);
        assert_eq!(tokens.identify(""), None);
    }

    #[test]
    fn malformed_lines_are_refused_by_line_number_without_showing_the_token() {
        let error = Tokens::parse("good,alice\nlonely-s3cret\n").unwrap_err();
        assert!(matches!(error, TokensError::MissingUser { line: 2 }), "{error:?}");
        assert!(!error.to_string().contains("lonely-s3cret"));
        let error = Tokens::parse(",alice\n").unwrap_err();
        assert!(matches!(error, TokensError::MissingToken { line: 1 }), "{error:?}");
        let error = Tokens::parse("t,alice\nt,mallory\n").unwrap_err();
        assert!(matches!(error, TokensError::Duplicate { line: 2, first: 1 }), "{error:?}");
    }

    #[test]
    fn pairs_skip_empty_tokens() {
        let tokens = Tokens::from_pairs([("", "nobody"), ("t1", "alice")]);
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens.identify(""), None);
        assert_eq!(tokens.identify("t1"), Some("alice"));
    }

    #[test]
    fn debug_shows_identities_but_never_tokens() {
        let tokens = Tokens::from_pairs([("very-s3cret-token", "alice")]);
        let shown = format!("{tokens:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn no_tokens_means_nobody_is_identified() {
        assert!(Tokens::default().is_empty());
        assert_eq!(Tokens::default().identify("anything"), None);
    }

    #[test]
    fn a_missing_file_is_reported_with_its_path() {
        let error = Tokens::from_file("/nonexistent/everynode-tokens.csv").unwrap_err();
        assert!(error.to_string().contains("/nonexistent/everynode-tokens.csv"), "{error}");
    }
}
