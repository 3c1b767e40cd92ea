//! `Revision`: the store's global, monotonically increasing write counter.

use std::fmt;
use std::str::FromStr;

/// A point in the store's history. Every acknowledged write gets the next revision, which becomes
/// the object's `metadata.resourceVersion` (written as a decimal string).
///
/// Revision 0 is the empty store before its first write; no object ever carries it, so it never
/// collides with the Kubernetes meaning of `resourceVersion=0` ("any") in list and watch requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision(u64);

impl Revision {
    /// The revision of an empty store.
    pub const ZERO: Revision = Revision(0);

    /// Wraps a raw revision number.
    pub const fn new(value: u64) -> Self {
        Revision(value)
    }

    /// The raw revision number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The revision after this one.
    pub(crate) const fn next(self) -> Self {
        Revision(self.0 + 1)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A `resourceVersion` string that is not a decimal revision of this store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resource version {0:?}: expected a decimal number")]
pub struct ParseRevisionError(pub String);

impl FromStr for Revision {
    type Err = ParseRevisionError;

    /// Parses a `resourceVersion`. Only plain decimal digits are accepted (no sign, no spaces), so
    /// every revision has exactly one spelling.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseRevisionError(s.to_owned()));
        }
        s.parse::<u64>().map(Revision).map_err(|_| ParseRevisionError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_round_trip_through_their_decimal_spelling() {
        let rev: Revision = "1234".parse().unwrap();
        assert_eq!(rev, Revision::new(1234));
        assert_eq!(rev.to_string(), "1234");
    }

    #[test]
    fn only_plain_decimal_strings_parse() {
        for bad in ["", "-1", "+1", " 1", "1a", "99999999999999999999999"] {
            assert!(bad.parse::<Revision>().is_err(), "{bad:?} should not parse");
        }
    }
}
