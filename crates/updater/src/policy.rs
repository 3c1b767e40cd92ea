//! Update policies (`headwind.sh/policy`): which of a registry's tags, if any, an image moves to.
//!
//! Every rule here answers a defect of the tool we replace, where tags slipped through that no
//! user would accept:
//! - never a downgrade, under every policy (`all` allowed them);
//! - a pre-release is only a candidate when the running tag is a pre-release of the same
//!   major.minor.patch (`1.2.3 -> 1.2.4-rc1` passed `patch`);
//! - the variant never changes (`1.2.3 -> 1.2.4-alpine` passed `patch`);
//! - the highest eligible version wins, not the last tag in registry order;
//! - `v1.5.0`, `1.6.0` and two-part `1.25` compare as versions;
//! - a tag that is not a version is never given a guessed order;
//! - `glob` is a full glob (`{a,b}-*`, `1.2.*`), not a single `*`;
//! - `force` also notices a mutable tag that moved to a new digest.
//!
//! [`Policy::choose`] decides; [`Policy::judge`] explains a single candidate, for logs and tests.

use std::cmp::Ordering;
use std::fmt;

use crate::version::TagVersion;

/// Why a policy annotation cannot be used. None is retryable: the annotations must be fixed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyError {
    /// The policy name is not one of [`PolicyKind::ALL`].
    #[error("unknown policy {value:?}: expected one of none, patch, minor, major, all, glob, force")]
    Unknown {
        /// The policy as given.
        value: String,
    },
    /// `glob` without a (non-empty) pattern would match nothing, so it is refused, not ignored.
    #[error("the glob policy requires a pattern (headwind.sh/pattern), e.g. \"*-stable\"")]
    MissingPattern,
    /// The pattern is not a valid glob.
    #[error("invalid glob pattern {pattern:?}: {}", .source.kind())]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What globset found wrong.
        #[source]
        source: globset::Error,
    },
}

/// Results of this module.
pub type Result<T, E = PolicyError> = std::result::Result<T, E>;

/// The policy names, without the glob's pattern: for labels, messages and the UpdateRequest spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// `none`
    None,
    /// `patch`
    Patch,
    /// `minor`
    Minor,
    /// `major`
    Major,
    /// `all`
    All,
    /// `glob`
    Glob,
    /// `force`
    Force,
}

impl PolicyKind {
    /// Every policy, in the order the documentation lists them.
    pub const ALL: [PolicyKind; 7] = [
        PolicyKind::None,
        PolicyKind::Patch,
        PolicyKind::Minor,
        PolicyKind::Major,
        PolicyKind::All,
        PolicyKind::Glob,
        PolicyKind::Force,
    ];

    /// The annotation value naming this policy.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::None => "none",
            PolicyKind::Patch => "patch",
            PolicyKind::Minor => "minor",
            PolicyKind::Major => "major",
            PolicyKind::All => "all",
            PolicyKind::Glob => "glob",
            PolicyKind::Force => "force",
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled glob over tags, kept with its source text for messages and equality.
#[derive(Debug, Clone)]
pub struct TagPattern {
    pattern: String,
    matcher: globset::GlobMatcher,
}

impl TagPattern {
    /// Compiles `pattern` with globset's full syntax (`*`, `?`, `[a-z]`, `{a,b}`).
    pub fn new(pattern: &str) -> Result<TagPattern> {
        if pattern.trim().is_empty() {
            return Err(PolicyError::MissingPattern);
        }
        let glob = globset::Glob::new(pattern)
            .map_err(|source| PolicyError::InvalidPattern { pattern: pattern.to_owned(), source })?;
        Ok(TagPattern { pattern: pattern.to_owned(), matcher: glob.compile_matcher() })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the whole tag matches the pattern.
    pub fn is_match(&self, tag: &str) -> bool {
        self.matcher.is_match(tag)
    }
}

impl PartialEq for TagPattern {
    fn eq(&self, other: &TagPattern) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for TagPattern {}

/// An update policy, as configured by `headwind.sh/policy` (and `headwind.sh/pattern`).
///
/// The semver policies (`patch`, `minor`, `major`, `all`) and `glob` only ever move to a strictly
/// newer version with the same variant; pre-releases only within the same major.minor.patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Never update.
    None,
    /// Same major.minor, newer patch (`1.2.3 -> 1.2.4`).
    Patch,
    /// Same major, newer minor or patch (`1.2.3 -> 1.3.0`).
    Minor,
    /// Any newer version (`1.2.3 -> 2.0.0`).
    Major,
    /// Any newer version. Identical to `major` here: Headwind documents it as "any new version",
    /// and the only reading that differs from `major` (allowing downgrades, pre-releases or other
    /// variants) is exactly the set of defects we refuse to repeat.
    All,
    /// A newer version whose tag matches the pattern.
    Glob(TagPattern),
    /// The newest tag in registry order, whatever it is, or the current tag when its digest moved.
    Force,
}

impl Policy {
    /// Reads the policy annotation (case-insensitive) and, for `glob`, its pattern.
    ///
    /// The pattern is compiled here so a bad glob is reported when the annotations are read, not
    /// at every registry event. A pattern given with another policy is ignored.
    pub fn parse(policy: &str, pattern: Option<&str>) -> Result<Policy> {
        match policy.to_ascii_lowercase().as_str() {
            "none" => Ok(Policy::None),
            "patch" => Ok(Policy::Patch),
            "minor" => Ok(Policy::Minor),
            "major" => Ok(Policy::Major),
            "all" => Ok(Policy::All),
            "force" => Ok(Policy::Force),
            "glob" => match pattern {
                Some(pattern) => Ok(Policy::Glob(TagPattern::new(pattern)?)),
                None => Err(PolicyError::MissingPattern),
            },
            _ => Err(PolicyError::Unknown { value: policy.to_owned() }),
        }
    }

    /// The policy's name.
    pub fn kind(&self) -> PolicyKind {
        match self {
            Policy::None => PolicyKind::None,
            Policy::Patch => PolicyKind::Patch,
            Policy::Minor => PolicyKind::Minor,
            Policy::Major => PolicyKind::Major,
            Policy::All => PolicyKind::All,
            Policy::Glob(_) => PolicyKind::Glob,
            Policy::Force => PolicyKind::Force,
        }
    }

    /// Whether `candidate_tag` may replace `current_tag`, and if not, why.
    ///
    /// For `force` every other tag is [`Verdict::Eligible`]; [`Policy::choose`] then takes the
    /// newest by registry order. Digests are not judged here (see [`Policy::choose`]).
    pub fn judge(&self, current_tag: &str, candidate_tag: &str) -> Verdict {
        match self {
            Policy::None => Verdict::Disabled,
            Policy::Force if candidate_tag == current_tag => Verdict::Unchanged,
            Policy::Force => Verdict::Eligible,
            _ => match TagVersion::parse(current_tag) {
                None => Verdict::CurrentNotAVersion,
                Some(current) => match self.judge_version(&current, candidate_tag) {
                    Ok(_) => Verdict::Eligible,
                    Err(verdict) => verdict,
                },
            },
        }
    }

    /// Picks the tag to move to, or `None` to stay.
    ///
    /// `candidates` are the registry's tags in registry order (only `force` uses the order).
    /// Under the version policies the highest eligible version wins; among equal versions spelled
    /// differently (`1.6`, `1.6.0`, `v1.6.0`) the spelling closest to the current tag (same
    /// prefix first, then same number of parts), then the alphabetically first tag, then the
    /// smallest digest, so the choice never depends on the order of `candidates`.
    ///
    /// When the current tag is not a version (`latest`), the version policies and `glob` choose
    /// nothing: there is no order in which another tag would be newer.
    pub fn choose(
        &self,
        current_tag: &str,
        current_digest: Option<&str>,
        candidates: &[Candidate],
    ) -> Option<Choice> {
        match self {
            Policy::None => None,
            Policy::Force => choose_force(current_tag, current_digest, candidates),
            _ => {
                let current = TagVersion::parse(current_tag)?;
                let (best, version) = candidates
                    .iter()
                    .filter_map(|candidate| {
                        self.judge_version(&current, &candidate.tag).ok().map(|version| (candidate, version))
                    })
                    .max_by(|a, b| prefer(&current, a, b))?;
                Some(Choice {
                    tag: best.tag.clone(),
                    digest: best.digest.clone(),
                    reason: ChoiceReason::NewerVersion {
                        policy: self.kind(),
                        from: current_tag.to_owned(),
                        to: version.as_str().to_owned(),
                    },
                })
            }
        }
    }

    /// The version rules, for every policy but `none` and `force`. The order of the checks is
    /// the order of the verdicts a reader would expect: a non-matching or non-version tag is
    /// reported as such before any comparison.
    fn judge_version(&self, current: &TagVersion, candidate_tag: &str) -> Result<TagVersion, Verdict> {
        if let Policy::Glob(pattern) = self
            && !pattern.is_match(candidate_tag)
        {
            return Err(Verdict::NoMatch);
        }
        let candidate = TagVersion::parse(candidate_tag).ok_or(Verdict::NotAVersion)?;
        if candidate.variant() != current.variant() {
            return Err(Verdict::DifferentVariant);
        }
        if !candidate.is_newer_than(current) {
            return Err(Verdict::NotNewer);
        }
        if candidate.is_pre_release() && !(current.is_pre_release() && current.same_core(&candidate)) {
            return Err(Verdict::PreRelease);
        }
        let within = match self {
            Policy::Patch => candidate.major() == current.major() && candidate.minor() == current.minor(),
            Policy::Minor => candidate.major() == current.major(),
            Policy::Major | Policy::All | Policy::Glob(_) => true,
            // Handled by the caller; listed so a new policy has to decide here.
            Policy::None | Policy::Force => false,
        };
        if within { Ok(candidate) } else { Err(Verdict::OutsidePolicy) }
    }
}

impl fmt::Display for Policy {
    /// The policy name, with the pattern for `glob` (`glob "*-stable"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::Glob(pattern) => write!(f, "glob {:?}", pattern.as_str()),
            other => f.write_str(other.kind().as_str()),
        }
    }
}

/// Orders eligible candidates so that `max_by` yields the one to choose (see [`Policy::choose`]).
fn prefer(current: &TagVersion, a: &(&Candidate, TagVersion), b: &(&Candidate, TagVersion)) -> Ordering {
    let affinity =
        |version: &TagVersion| (version.prefix() == current.prefix(), version.parts() == current.parts());
    a.1.cmp_precedence(&b.1)
        .then_with(|| affinity(&a.1).cmp(&affinity(&b.1)))
        // Reversed: the smaller tag and digest are preferred.
        .then_with(|| b.0.tag.cmp(&a.0.tag))
        .then_with(|| b.0.digest.cmp(&a.0.digest))
}

/// `force`: the last tag if it differs from the current one; otherwise the current tag again when
/// the registry's digest for it differs from the running one (a mutable tag such as `latest` or
/// `stable` was pushed again). Both digests must be known: an unknown digest is never a change.
///
/// Registry tag lists are usually sorted alphabetically, not by push time, so callers should pass
/// candidates newest last (a webhook's pushed tag, for example).
fn choose_force(current_tag: &str, current_digest: Option<&str>, candidates: &[Candidate]) -> Option<Choice> {
    let newest = candidates.last()?;
    if newest.tag != current_tag {
        return Some(Choice {
            tag: newest.tag.clone(),
            digest: newest.digest.clone(),
            reason: ChoiceReason::NewestTag { from: current_tag.to_owned(), to: newest.tag.clone() },
        });
    }
    match (current_digest, newest.digest.as_deref()) {
        (Some(running), Some(published)) if running != published => Some(Choice {
            tag: newest.tag.clone(),
            digest: Some(published.to_owned()),
            reason: ChoiceReason::DigestMoved {
                tag: newest.tag.clone(),
                from: running.to_owned(),
                to: published.to_owned(),
            },
        }),
        _ => None,
    }
}

/// A tag the registry offers, with its digest when known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// The tag.
    pub tag: String,
    /// The manifest digest (`sha256:...`) the tag points at, if the source reported it.
    pub digest: Option<String>,
}

impl Candidate {
    /// A candidate whose digest is unknown.
    pub fn new(tag: impl Into<String>) -> Candidate {
        Candidate { tag: tag.into(), digest: None }
    }

    /// The same candidate with a known digest.
    pub fn with_digest(self, digest: impl Into<String>) -> Candidate {
        Candidate { digest: Some(digest.into()), ..self }
    }
}

/// The tag a policy chose, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The tag to move to.
    pub tag: String,
    /// Its digest when the registry reported one, to pin the update to what was judged.
    pub digest: Option<String>,
    /// Why this tag was chosen; its `Display` is meant for the UpdateRequest `reason`.
    pub reason: ChoiceReason,
}

/// Why a [`Choice`] was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChoiceReason {
    /// The highest version the policy allows.
    NewerVersion {
        /// The policy that allowed it.
        policy: PolicyKind,
        /// The current tag.
        from: String,
        /// The chosen tag.
        to: String,
    },
    /// `force`: the newest tag in registry order.
    NewestTag {
        /// The current tag.
        from: String,
        /// The chosen tag.
        to: String,
    },
    /// `force`: the current tag now points at another digest.
    DigestMoved {
        /// The tag, unchanged.
        tag: String,
        /// The digest running now.
        from: String,
        /// The digest the registry reports.
        to: String,
    },
}

impl fmt::Display for ChoiceReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChoiceReason::NewerVersion { policy, from, to } => {
                write!(f, "{from} -> {to}: the newest version the {policy} policy allows")
            }
            ChoiceReason::NewestTag { from, to } => {
                write!(f, "{from} -> {to}: the newest tag (force policy)")
            }
            ChoiceReason::DigestMoved { tag, from, to } => {
                write!(f, "{tag} was pushed again: {from} -> {to} (force policy)")
            }
        }
    }
}

/// What a policy thinks of one candidate tag ([`Policy::judge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The candidate may replace the current tag.
    Eligible,
    /// The policy is `none`.
    Disabled,
    /// `force`: the candidate is the current tag (only a digest change could matter).
    Unchanged,
    /// The current tag is not a version, so no other tag can be called newer.
    CurrentNotAVersion,
    /// The candidate is not a version.
    NotAVersion,
    /// `glob`: the candidate does not match the pattern.
    NoMatch,
    /// The candidate's variant (`-alpine`, none, ...) differs from the current one.
    DifferentVariant,
    /// The candidate is the same version or older: never a downgrade.
    NotNewer,
    /// The candidate is a pre-release, and the current tag is not a pre-release of the same
    /// major.minor.patch.
    PreRelease,
    /// The candidate is newer but outside the policy (a new minor under `patch`, ...).
    OutsidePolicy,
}

impl Verdict {
    /// Whether the candidate may replace the current tag.
    pub fn is_eligible(self) -> bool {
        self == Verdict::Eligible
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Eligible => "eligible",
            Verdict::Disabled => "the policy is none",
            Verdict::Unchanged => "it is the current tag",
            Verdict::CurrentNotAVersion => "the current tag is not a version",
            Verdict::NotAVersion => "the tag is not a version",
            Verdict::NoMatch => "the tag does not match the pattern",
            Verdict::DifferentVariant => "the tag is another variant",
            Verdict::NotNewer => "the tag is not newer (never a downgrade)",
            Verdict::PreRelease => "the tag is a pre-release of another version",
            Verdict::OutsidePolicy => "the version is outside the policy",
        })
    }
}

#[cfg(test)]
mod tests;
