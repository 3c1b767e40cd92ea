//! How a simulated node's pods behave: start, readiness and termination delays, and failures
//! injected by image (the "bad release" a user wants to rehearse).

use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::duration::serde_str;

/// Upstream's default start: images are usually cached and containers start within a second.
const DEFAULT_START_DELAY: Duration = Duration::from_secs(1);
/// Spread so pods of a DaemonSet do not all flip at the same instant.
const DEFAULT_START_JITTER: Duration = Duration::from_millis(500);
/// Time for a readiness probe to pass after the container starts.
const DEFAULT_READINESS_DELAY: Duration = Duration::from_secs(1);
/// Time for a container to exit after SIGTERM.
const DEFAULT_TERMINATION_DELAY: Duration = Duration::from_secs(1);

/// The behaviour of the pods of one node (a pool's, or the fleet default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Behaviour {
    /// From the kubelet accepting a pod to its containers running (`ContainerCreating` meanwhile).
    #[serde(with = "serde_str")]
    pub start_delay: Duration,
    /// Up to this much is added to `start_delay`, picked per pod from its uid.
    #[serde(with = "serde_str")]
    pub start_jitter: Duration,
    /// From containers running to the pod being Ready.
    #[serde(with = "serde_str")]
    pub readiness_delay: Duration,
    /// How long graceful deletion takes: min(this, the pod's grace period, 30 s).
    #[serde(with = "serde_str")]
    pub termination_delay: Duration,
    /// Multiplies the failure timings (crash-loop and image-pull back-offs, which upstream starts
    /// at 10 s and caps at 5 min, and the 1 s a crashing container runs): 0.1 rehearses ten times
    /// faster.
    pub backoff_scale: f64,
    /// Failures injected by image; the first matching rule applies to a container.
    pub failures: Vec<FailureRule>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            start_delay: DEFAULT_START_DELAY,
            start_jitter: DEFAULT_START_JITTER,
            readiness_delay: DEFAULT_READINESS_DELAY,
            termination_delay: DEFAULT_TERMINATION_DELAY,
            backoff_scale: 1.0,
            failures: Vec::new(),
        }
    }
}

impl Behaviour {
    /// Everything happens at once: pods are Running and Ready the moment they are bound, and
    /// deleted pods go at once (benchmarks).
    pub fn instant() -> Behaviour {
        Behaviour {
            start_delay: Duration::ZERO,
            start_jitter: Duration::ZERO,
            readiness_delay: Duration::ZERO,
            termination_delay: Duration::ZERO,
            backoff_scale: 1.0,
            failures: Vec::new(),
        }
    }
}

/// One injected failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailureRule {
    /// A glob (`*` matches any run of characters, `/` included) over the image reference as
    /// written in the pod (`nginx:2.1.3`) or normalized (`docker.io/library/nginx:2.1.3`).
    pub image: String,
    /// What goes wrong.
    pub mode: FailureMode,
}

/// The failures a container can be made to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureMode {
    /// Runs but its readiness probe never passes.
    NeverReady,
    /// Exits with code 1 shortly after each start; restarted with upstream's back-off
    /// (`CrashLoopBackOff`, restartCount growing).
    CrashLoop,
    /// The image cannot be pulled (`ErrImagePull`, then `ImagePullBackOff`).
    ImagePullBackOff,
}

/// A [`Behaviour`] with its failure globs compiled.
#[derive(Debug, Clone)]
pub struct CompiledBehaviour {
    behaviour: Behaviour,
    matcher: GlobSet,
}

/// A failure rule whose glob does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("failure rule {index}: invalid image glob {pattern:?}: {reason}")]
pub struct GlobError {
    /// The rule's position in `failures`.
    pub index: usize,
    /// The glob as written.
    pub pattern: String,
    /// What globset said.
    pub reason: String,
}

impl CompiledBehaviour {
    /// Compiles the failure globs.
    pub fn new(behaviour: Behaviour) -> Result<CompiledBehaviour, GlobError> {
        let mut builder = GlobSetBuilder::new();
        for (index, rule) in behaviour.failures.iter().enumerate() {
            let glob = Glob::new(&rule.image).map_err(|e| GlobError {
                index,
                pattern: rule.image.clone(),
                reason: e.kind().to_string(),
            })?;
            builder.add(glob);
        }
        let matcher = builder.build().map_err(|e| GlobError {
            index: 0,
            pattern: String::new(),
            reason: e.to_string(),
        })?;
        Ok(CompiledBehaviour { behaviour, matcher })
    }

    /// The plain behaviour.
    pub fn behaviour(&self) -> &Behaviour {
        &self.behaviour
    }

    /// The failure of a container running `image`, if a rule matches: the first matching rule
    /// in file order wins, so specific rules can precede catch-alls.
    pub fn failure_for(&self, image: &str) -> Option<FailureMode> {
        if self.behaviour.failures.is_empty() {
            return None;
        }
        let normalized = crate::kubelet::image::normalize(image);
        let first = self.matcher.matches(image).into_iter().chain(self.matcher.matches(&normalized)).min()?;
        self.behaviour.failures.get(first).map(|rule| rule.mode)
    }
}

impl Default for CompiledBehaviour {
    fn default() -> Self {
        CompiledBehaviour { behaviour: Behaviour::default(), matcher: GlobSet::empty() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_rules(rules: &[(&str, FailureMode)]) -> CompiledBehaviour {
        let failures = rules
            .iter()
            .map(|(image, mode)| FailureRule { image: (*image).to_owned(), mode: *mode })
            .collect();
        CompiledBehaviour::new(Behaviour { failures, ..Behaviour::default() }).unwrap()
    }

    #[test]
    fn images_match_globs_on_the_written_or_normalized_reference() {
        let b = with_rules(&[("*:2.1.*", FailureMode::NeverReady)]);
        assert_eq!(b.failure_for("nginx:2.1.3"), Some(FailureMode::NeverReady));
        assert_eq!(b.failure_for("registry.example/team/app:2.1.0"), Some(FailureMode::NeverReady));
        assert_eq!(b.failure_for("nginx:2.2.0"), None);
        let b = with_rules(&[("docker.io/library/nginx:*", FailureMode::CrashLoop)]);
        assert_eq!(b.failure_for("nginx:1.27"), Some(FailureMode::CrashLoop));
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let b = with_rules(&[
            ("app:2.1.1", FailureMode::CrashLoop),
            ("app:2.1.*", FailureMode::ImagePullBackOff),
        ]);
        assert_eq!(b.failure_for("app:2.1.1"), Some(FailureMode::CrashLoop));
        assert_eq!(b.failure_for("app:2.1.2"), Some(FailureMode::ImagePullBackOff));
    }

    #[test]
    fn bad_globs_name_the_rule() {
        let error = CompiledBehaviour::new(Behaviour {
            failures: vec![
                FailureRule { image: "ok".into(), mode: FailureMode::CrashLoop },
                FailureRule { image: "[".into(), mode: FailureMode::CrashLoop },
            ],
            ..Behaviour::default()
        })
        .unwrap_err();
        assert_eq!(error.index, 1);
        assert!(error.to_string().contains("invalid image glob \"[\""), "{error}");
    }

    #[test]
    fn behaviours_round_trip_through_json_with_duration_strings() {
        let b = Behaviour {
            start_delay: Duration::from_millis(1500),
            failures: vec![FailureRule { image: "*:bad".into(), mode: FailureMode::ImagePullBackOff }],
            ..Behaviour::default()
        };
        let text = serde_json::to_string(&b).unwrap();
        assert!(text.contains("\"startDelay\":\"1.5s\""), "{text}");
        assert_eq!(serde_json::from_str::<Behaviour>(&text).unwrap(), b);
    }
}
