//! Version numbers read from image tags (`v1.2.3`, `1.25`, `1.3.0-rc.1`, `1.2.3-alpine`), and their order.
//!
//! Image tags are not semver: they carry a `v` prefix or not, two or three numbers, pre-release
//! markers spelled `rc1`, `rc.1` or `RC-1`, and "variants" (`-alpine`, `-debian-12`) that name a
//! different build of the same version rather than an earlier one. Strict semver parsing rejects
//! most real tags (Headwind failed on `1.25`), and loose parsing lets `1.2.4-alpine` or
//! `1.2.4-rc1` pass as an upgrade of `1.2.3`. So a tag is read into a [`TagVersion`] whose parts
//! are kept apart, and the policy decides what may change.
//!
//! The grammar, in order: an optional `v`/`V`; two or three dot-separated decimal numbers; then
//! optionally `-` and a suffix; then optionally `+build` (ignored for ordering). The suffix is a
//! pre-release when its first `-`-separated identifier is one of the [`Channel`] words followed by
//! nothing or by dot-separated numbers (`rc`, `rc1`, `rc.1`, `beta.2`, or `rc-1`); what follows a
//! pre-release, or the whole suffix otherwise, is the variant (`1.2.3-rc1-alpine`: pre-release
//! `rc1`, variant `alpine`).
//!
//! What is deliberately *not* a version (`TagVersion::parse` returns `None`, and policies never
//! guess an order for it):
//! - names (`latest`, `stable`, `main`) and commit hashes: no order exists between them;
//! - one number (`7`): a moving alias for the newest `7.x.y`, not a release of its own;
//! - four numbers (`1.2.3.4`): the fourth number means a build, hotfix or packaging revision
//!   depending on the project; reading it as a variant would freeze updates, reading it as part
//!   of the version would compare it with three-part tags in ways nobody specified.

use std::cmp::Ordering;
use std::fmt;

/// A version read from an image tag, keeping the tag's spelling.
///
/// Equality is structural (`1.6` and `1.6.0` differ); the order of releases is
/// [`TagVersion::cmp_precedence`], under which they are equal. `Ord` is deliberately not
/// implemented, so the two notions cannot be confused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagVersion {
    /// The tag exactly as given.
    tag: String,
    prefix: Option<char>,
    major: u64,
    minor: u64,
    patch: u64,
    /// How many numbers the tag wrote: 2 or 3.
    parts: u8,
    pre: Option<PreRelease>,
    variant: Option<String>,
    build: Option<String>,
}

/// The pre-release channels recognised in tags, ordered from least to most mature.
///
/// Semver orders pre-release words alphabetically, which would make `1.3.0-snapshot` newer than
/// `1.3.0-rc.1` and `-dev` newer than `-beta`. Tags use a small vocabulary, so we order it by
/// maturity instead: the development channels (in an arbitrary but fixed order), then
/// alpha < beta < preview < pre < rc. Numbers after the word compare numerically, as in semver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// `-dev`: development builds.
    Dev,
    /// `-snapshot`: development builds (the Maven spelling).
    Snapshot,
    /// `-nightly`: scheduled development builds.
    Nightly,
    /// `-canary`: builds of the main branch, published for early adopters.
    Canary,
    /// `-alpha`.
    Alpha,
    /// `-beta`.
    Beta,
    /// `-preview`.
    Preview,
    /// `-pre`.
    Pre,
    /// `-rc`: release candidates.
    Rc,
}

impl Channel {
    /// Every channel with its word, longest word first so `preview` is tried before `pre`.
    const BY_WORD_LENGTH: [(&'static str, Channel); 9] = [
        ("snapshot", Channel::Snapshot),
        ("preview", Channel::Preview),
        ("nightly", Channel::Nightly),
        ("canary", Channel::Canary),
        ("alpha", Channel::Alpha),
        ("beta", Channel::Beta),
        ("dev", Channel::Dev),
        ("pre", Channel::Pre),
        ("rc", Channel::Rc),
    ];

    /// The channel's word, lowercase.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Dev => "dev",
            Channel::Snapshot => "snapshot",
            Channel::Nightly => "nightly",
            Channel::Canary => "canary",
            Channel::Alpha => "alpha",
            Channel::Beta => "beta",
            Channel::Preview => "preview",
            Channel::Pre => "pre",
            Channel::Rc => "rc",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pre-release part of a tag: `rc1`, `rc.1`, `beta.2`, `alpha`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PreRelease {
    channel: Channel,
    /// The numbers after the word; empty for a bare `-rc`, which sorts before `-rc.0` (as in semver).
    numbers: Vec<u64>,
    /// As written in the tag, e.g. `RC-1`.
    spelled: String,
}

impl PreRelease {
    /// The channel word.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The numbers after the word (`rc.1.2` has `[1, 2]`).
    pub fn numbers(&self) -> &[u64] {
        &self.numbers
    }

    /// The pre-release as written in the tag.
    pub fn as_str(&self) -> &str {
        &self.spelled
    }
}

/// The release stage, ordered: any pre-release sorts before the release of the same numbers.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Stage<'a> {
    Pre(Channel, &'a [u64]),
    Release,
}

impl TagVersion {
    /// Reads a version from an image tag, or `None` when the tag is not a version (see the module
    /// documentation for what is deliberately refused).
    pub fn parse(tag: &str) -> Option<TagVersion> {
        let (main, build) = match tag.split_once('+') {
            Some((_, "")) => return None,
            Some((main, build)) => (main, Some(build.to_owned())),
            None => (tag, None),
        };
        let (prefix, rest) = match main.strip_prefix(['v', 'V']) {
            Some(rest) => (main.chars().next(), rest),
            None => (None, main),
        };
        let (core, suffix) = match rest.split_once('-') {
            Some((core, suffix)) => (core, Some(suffix)),
            None => (rest, None),
        };

        let numbers: Vec<&str> = core.split('.').collect();
        if !(2..=3).contains(&numbers.len()) {
            return None;
        }
        let mut parsed = [0_u64; 3];
        for (slot, text) in parsed.iter_mut().zip(&numbers) {
            *slot = parse_number(text)?;
        }
        let [major, minor, patch] = parsed;
        let (pre, variant) = match suffix {
            Some(suffix) => parse_suffix(suffix)?,
            None => (None, None),
        };
        Some(TagVersion {
            tag: tag.to_owned(),
            prefix,
            major,
            minor,
            patch,
            // `numbers.len()` was checked to be 2 or 3 above.
            parts: if numbers.len() == 2 { 2 } else { 3 },
            pre,
            variant,
            build,
        })
    }

    /// The tag this version was read from.
    pub fn as_str(&self) -> &str {
        &self.tag
    }

    /// The `v` or `V` the tag starts with, if any.
    pub fn prefix(&self) -> Option<char> {
        self.prefix
    }

    /// The major number.
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor number.
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch number; 0 for a two-part tag (`1.25` reads as 1.25.0).
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// How many numbers the tag wrote (2 or 3); spelling only, it does not affect the order.
    pub fn parts(&self) -> u8 {
        self.parts
    }

    /// The pre-release part, if any.
    pub fn pre_release(&self) -> Option<&PreRelease> {
        self.pre.as_ref()
    }

    /// Whether this is a pre-release (`1.3.0-rc1`).
    pub fn is_pre_release(&self) -> bool {
        self.pre.is_some()
    }

    /// The variant (`alpine` in `1.2.3-alpine`), compared verbatim: variants name different
    /// builds, so a policy must never move between them.
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// The build metadata after `+`, ignored for ordering.
    pub fn build(&self) -> Option<&str> {
        self.build.as_deref()
    }

    /// Whether both have the same major, minor and patch numbers (ignoring pre-release and variant).
    pub fn same_core(&self, other: &TagVersion) -> bool {
        (self.major, self.minor, self.patch) == (other.major, other.minor, other.patch)
    }

    /// The release order: numbers first, then a pre-release before the release, pre-releases by
    /// [`Channel`] then numerically (`rc2 < rc10`). Prefix, number of parts, variant and build
    /// metadata are spelling and do not count: `v1.6`, `1.6` and `1.6.0` are equal here.
    pub fn cmp_precedence(&self, other: &TagVersion) -> Ordering {
        (self.major, self.minor, self.patch, self.stage()).cmp(&(
            other.major,
            other.minor,
            other.patch,
            other.stage(),
        ))
    }

    /// Whether this version is strictly newer than `other` under [`TagVersion::cmp_precedence`].
    pub fn is_newer_than(&self, other: &TagVersion) -> bool {
        self.cmp_precedence(other) == Ordering::Greater
    }

    fn stage(&self) -> Stage<'_> {
        match &self.pre {
            Some(pre) => Stage::Pre(pre.channel, &pre.numbers),
            None => Stage::Release,
        }
    }
}

impl fmt::Display for TagVersion {
    /// The tag as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag)
    }
}

/// A decimal number; leading zeros are allowed because tags use them (`515.48.07`).
fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Splits what follows the first `-` into pre-release and variant; `None` when malformed.
fn parse_suffix(suffix: &str) -> Option<(Option<PreRelease>, Option<String>)> {
    if suffix.is_empty() {
        return None;
    }
    let (first, mut rest) = match suffix.split_once('-') {
        Some((first, rest)) => (first, Some(rest)),
        None => (suffix, None),
    };
    let Some((channel, mut numbers)) = parse_pre_release(first)? else {
        return Some((None, Some(suffix.to_owned())));
    };
    let mut spelled = first.to_owned();
    // `rc-1` is a spelling of `rc.1`, not the pre-release `rc` of a variant `1`.
    if numbers.is_empty()
        && let Some(after) = rest
    {
        let (number, after_number) = match after.split_once('-') {
            Some((number, after_number)) => (number, Some(after_number)),
            None => (after, None),
        };
        if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
            numbers.push(parse_number(number)?);
            spelled = format!("{first}-{number}");
            rest = after_number;
        }
    }
    let variant = match rest {
        Some("") => return None,
        Some(variant) => Some(variant.to_owned()),
        None => None,
    };
    Some((Some(PreRelease { channel, numbers, spelled }), variant))
}

/// Reads `word[.]N[.N...]` case-insensitively. `Some(None)`: not a pre-release (so the identifier
/// belongs to the variant); `None`: shaped like a pre-release but a number does not fit in u64.
fn parse_pre_release(identifier: &str) -> Option<Option<(Channel, Vec<u64>)>> {
    let lower = identifier.to_ascii_lowercase();
    for (word, channel) in Channel::BY_WORD_LENGTH {
        let Some(rest) = lower.strip_prefix(word) else {
            continue;
        };
        if rest.is_empty() {
            return Some(Some((channel, Vec::new())));
        }
        let rest = rest.strip_prefix('.').unwrap_or(rest);
        let pieces: Vec<&str> = rest.split('.').collect();
        if pieces.iter().all(|piece| !piece.is_empty() && piece.bytes().all(|b| b.is_ascii_digit())) {
            let numbers = pieces.iter().map(|piece| parse_number(piece)).collect::<Option<Vec<u64>>>()?;
            return Some(Some((channel, numbers)));
        }
    }
    Some(None)
}

#[cfg(test)]
mod tests;
