//! Where a simulated container is in its life at a given moment: a pure function of when it
//! could first run, its failure mode and the time, so any instant can be answered without
//! remembering what happened before (and again after a restart).
//!
//! Crash loops follow the kubelet: the first restart is immediate, then the back-off starts at
//! 10 s and doubles up to 5 min (`backOffPeriod`, `MaxContainerBackOff`). Image pulls back off
//! the same way, starting at 10 s after the first failure. All failure timings are multiplied by
//! the behaviour's `backoffScale`.

use std::time::Duration;

use jiff::Timestamp;

use crate::clock::{after, scaled, until};
use crate::fleet::FailureMode;

/// The kubelet's initial container restart and image pull back-off.
const INITIAL_BACKOFF: Duration = Duration::from_secs(10);
/// The kubelet's back-off cap (`MaxContainerBackOff`).
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a crash-looping container runs before it exits.
const CRASH_RUN_TIME: Duration = Duration::from_secs(1);
/// How long `ErrImagePull` shows before `ImagePullBackOff` (the next pod sync).
const PULL_FAILURE_SHOWN: Duration = Duration::from_secs(1);
/// Scaled timings never go below this, so a tiny scale cannot make a loop spin in place.
const MIN_STEP: Duration = Duration::from_millis(1);
/// Cycles walked one by one before the back-off is capped and cycles are skipped in bulk.
const MAX_WALKED_CYCLES: u32 = 64;

/// The exit code of a crash-looping container.
pub const CRASH_EXIT_CODE: i32 = 1;

/// When a container's life events happen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// When the container first runs (or its image pull first fails).
    pub run_at: Timestamp,
    /// From running to ready.
    pub readiness_delay: Duration,
    /// Multiplies failure timings.
    pub backoff_scale: f64,
}

impl Timing {
    /// When a healthy container becomes ready.
    pub fn ready_at(&self) -> Timestamp {
        after(self.run_at, self.readiness_delay)
    }

    fn scaled(&self, d: Duration) -> Duration {
        scaled(d, self.backoff_scale).max(MIN_STEP)
    }

    /// The back-off after failure number `n` (from 1).
    fn backoff(&self, n: u32) -> Duration {
        let doubled = INITIAL_BACKOFF.saturating_mul(1u32 << n.saturating_sub(1).min(16));
        self.scaled(doubled.min(MAX_BACKOFF))
    }
}

/// One finished run of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// When it started.
    pub started_at: Timestamp,
    /// When it exited.
    pub finished_at: Timestamp,
    /// Its exit code.
    pub exit_code: i32,
}

/// A container's state at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerPhase {
    /// Its image is being pulled and the container created (`ContainerCreating`).
    Creating,
    /// Running since `started_at`, after `restarts` restarts.
    Running {
        /// Start of this run.
        started_at: Timestamp,
        /// How many times it was restarted.
        restarts: u32,
        /// Whether its readiness probe passes.
        ready: bool,
        /// The previous run, if any.
        last_exit: Option<Exit>,
    },
    /// Crashed; waiting `backoff` before the next restart (`CrashLoopBackOff`).
    CrashBackOff {
        /// Restarts so far.
        restarts: u32,
        /// The run that crashed.
        last_exit: Exit,
        /// The back-off being waited out.
        backoff: Duration,
    },
    /// Exited and will not be restarted (`restartPolicy: Never`).
    Exited {
        /// Restarts so far.
        restarts: u32,
        /// The last run.
        exit: Exit,
    },
    /// Pull attempt number `attempt` (from 0) just failed (`ErrImagePull`).
    PullFailed {
        /// Which attempt.
        attempt: u32,
    },
    /// Waiting before the next pull attempt (`ImagePullBackOff`).
    PullBackOff {
        /// The attempt that failed last.
        attempt: u32,
    },
}

/// A container's state and when it next changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The state now.
    pub phase: ContainerPhase,
    /// When it changes next, if it ever does.
    pub next: Option<Timestamp>,
}

/// Where a container with `failure` is at `now`. `restarts` says whether the restart policy
/// restarts failed containers (`Always`, `OnFailure`).
pub fn container_at(
    failure: Option<FailureMode>,
    timing: &Timing,
    restarts: bool,
    now: Timestamp,
) -> Position {
    if now < timing.run_at {
        return Position { phase: ContainerPhase::Creating, next: Some(timing.run_at) };
    }
    match failure {
        None => {
            let ready_at = timing.ready_at();
            let ready = now >= ready_at;
            Position {
                phase: ContainerPhase::Running {
                    started_at: timing.run_at,
                    restarts: 0,
                    ready,
                    last_exit: None,
                },
                next: (!ready).then_some(ready_at),
            }
        }
        Some(FailureMode::NeverReady) => {
            let ready_at = timing.ready_at();
            Position {
                phase: ContainerPhase::Running {
                    started_at: timing.run_at,
                    restarts: 0,
                    ready: false,
                    last_exit: None,
                },
                // Woken once more when the probe would have passed, to report it failing.
                next: (now < ready_at).then_some(ready_at),
            }
        }
        Some(FailureMode::CrashLoop) => crash_loop_at(timing, restarts, now),
        Some(FailureMode::ImagePullBackOff) => pull_at(timing, now),
    }
}

fn crash_loop_at(timing: &Timing, restarts_allowed: bool, now: Timestamp) -> Position {
    let run_time = timing.scaled(CRASH_RUN_TIME);
    let capped = timing.backoff(u32::MAX);
    let mut start = timing.run_at;
    let mut restarts: u32 = 0;
    let mut last_exit: Option<Exit> = None;
    loop {
        let end = after(start, run_time);
        if now < end {
            let phase = ContainerPhase::Running { started_at: start, restarts, ready: false, last_exit };
            return Position { phase, next: Some(end) };
        }
        let exit = Exit { started_at: start, finished_at: end, exit_code: CRASH_EXIT_CODE };
        if !restarts_allowed {
            return Position { phase: ContainerPhase::Exited { restarts, exit }, next: None };
        }
        // The kubelet restarts a container that crashed for the first time at once.
        let backoff = if restarts == 0 { Duration::ZERO } else { timing.backoff(restarts) };
        let next_start = after(end, backoff);
        if now < next_start {
            let phase = ContainerPhase::CrashBackOff { restarts, last_exit: exit, backoff };
            return Position { phase, next: Some(next_start) };
        }
        start = next_start;
        restarts = restarts.saturating_add(1);
        last_exit = Some(exit);
        // Once the back-off is capped every cycle is alike: skip whole cycles at once.
        if restarts >= MAX_WALKED_CYCLES || timing.backoff(restarts) == capped {
            let period = run_time + capped;
            let cycles = whole_periods(until(start, now), period);
            if cycles > 0 {
                start = after(start, period.saturating_mul(cycles));
                restarts = restarts.saturating_add(cycles);
                let previous = start.checked_sub(period).unwrap_or(start);
                last_exit = Some(Exit {
                    started_at: previous,
                    finished_at: after(previous, run_time),
                    exit_code: CRASH_EXIT_CODE,
                });
            }
        }
    }
}

fn pull_at(timing: &Timing, now: Timestamp) -> Position {
    let capped = timing.backoff(u32::MAX);
    let mut attempt_at = timing.run_at;
    let mut attempt: u32 = 0;
    loop {
        let backoff = timing.backoff(attempt.saturating_add(1));
        let shown = timing.scaled(PULL_FAILURE_SHOWN).min(backoff / 2);
        let backoff_from = after(attempt_at, shown);
        if now < backoff_from {
            return Position { phase: ContainerPhase::PullFailed { attempt }, next: Some(backoff_from) };
        }
        let next_attempt = after(attempt_at, backoff);
        if now < next_attempt {
            return Position { phase: ContainerPhase::PullBackOff { attempt }, next: Some(next_attempt) };
        }
        attempt_at = next_attempt;
        attempt = attempt.saturating_add(1);
        if attempt >= MAX_WALKED_CYCLES || backoff == capped {
            let cycles = whole_periods(until(attempt_at, now), capped);
            attempt_at = after(attempt_at, capped.saturating_mul(cycles));
            attempt = attempt.saturating_add(cycles);
        }
    }
}

/// How many whole `period`s fit into `span`.
fn whole_periods(span: Duration, period: Duration) -> u32 {
    if period.is_zero() {
        return 0;
    }
    u32::try_from(span.as_nanos() / period.as_nanos()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: f64) -> Timestamp {
        Timestamp::from_millisecond((seconds * 1000.0) as i64).unwrap()
    }

    fn timing() -> Timing {
        Timing { run_at: t(100.0), readiness_delay: Duration::from_secs(2), backoff_scale: 1.0 }
    }

    fn at(failure: Option<FailureMode>, now: f64) -> Position {
        container_at(failure, &timing(), true, t(now))
    }

    #[test]
    fn a_healthy_container_is_created_then_runs_then_is_ready() {
        assert_eq!(at(None, 99.0), Position { phase: ContainerPhase::Creating, next: Some(t(100.0)) });
        let running = at(None, 101.0);
        assert_eq!(
            running.phase,
            ContainerPhase::Running { started_at: t(100.0), restarts: 0, ready: false, last_exit: None }
        );
        assert_eq!(running.next, Some(t(102.0)));
        let ready = at(None, 102.0);
        assert!(matches!(ready.phase, ContainerPhase::Running { ready: true, .. }));
        assert_eq!(ready.next, None);
    }

    #[test]
    fn a_never_ready_container_runs_unready_forever() {
        let early = at(Some(FailureMode::NeverReady), 100.5);
        assert!(matches!(early.phase, ContainerPhase::Running { ready: false, .. }));
        assert_eq!(early.next, Some(t(102.0)));
        let late = at(Some(FailureMode::NeverReady), 10_000.0);
        assert!(matches!(late.phase, ContainerPhase::Running { ready: false, restarts: 0, .. }));
        assert_eq!(late.next, None);
    }

    #[test]
    fn a_crash_loop_restarts_at_once_then_backs_off_doubling() {
        let crash = Some(FailureMode::CrashLoop);
        // Run 0: 100..101, restarted at once: run 1 101..102, then 10 s back-off.
        assert!(matches!(at(crash, 100.5).phase, ContainerPhase::Running { restarts: 0, .. }));
        let second = at(crash, 101.5);
        let ContainerPhase::Running { restarts: 1, started_at, last_exit: Some(exit), .. } = second.phase
        else {
            panic!("{second:?}")
        };
        assert_eq!((started_at, exit.finished_at, exit.exit_code), (t(101.0), t(101.0), 1));
        let backoff = at(crash, 105.0);
        assert_eq!(
            backoff.phase,
            ContainerPhase::CrashBackOff {
                restarts: 1,
                last_exit: Exit { started_at: t(101.0), finished_at: t(102.0), exit_code: 1 },
                backoff: Duration::from_secs(10)
            }
        );
        assert_eq!(backoff.next, Some(t(112.0)));
        // Run 2: 112..113, back-off 20 s until 133.
        assert!(matches!(at(crash, 112.5).phase, ContainerPhase::Running { restarts: 2, .. }));
        let ContainerPhase::CrashBackOff { restarts: 2, backoff, .. } = at(crash, 120.0).phase else {
            panic!()
        };
        assert_eq!(backoff, Duration::from_secs(20));
    }

    #[test]
    fn a_long_crash_loop_is_capped_at_five_minutes_and_computed_without_walking() {
        let crash = Some(FailureMode::CrashLoop);
        // A week later: restarts grow by one per 301 s once capped.
        let position = at(crash, 100.0 + 7.0 * 86_400.0);
        let restarts = match position.phase {
            ContainerPhase::Running { restarts, .. } | ContainerPhase::CrashBackOff { restarts, .. } => {
                restarts
            }
            other => panic!("{other:?}"),
        };
        assert!((2000..2020).contains(&restarts), "{restarts}");
        if let ContainerPhase::CrashBackOff { backoff, last_exit, .. } = position.phase {
            assert_eq!(backoff, Duration::from_secs(300));
            assert_eq!(until(last_exit.started_at, last_exit.finished_at), Duration::from_secs(1));
        }
        // Consecutive instants agree with each other (the shortcut matches the walk).
        let mut previous = 0;
        for s in (0..5000).step_by(7) {
            let phase = at(crash, 100.0 + f64::from(s)).phase;
            let r = match phase {
                ContainerPhase::Running { restarts, .. } | ContainerPhase::CrashBackOff { restarts, .. } => {
                    restarts
                }
                other => panic!("{other:?}"),
            };
            assert!(r >= previous, "restarts went back at {s}");
            previous = r;
        }
    }

    #[test]
    fn the_backoff_scale_speeds_failures_up() {
        let fast = Timing { backoff_scale: 0.01, ..timing() };
        let crash = Some(FailureMode::CrashLoop);
        // Runs last 10 ms; back-offs 100 ms, 200 ms, ...
        let p = container_at(crash, &fast, true, t(100.025));
        assert_eq!(
            p.phase,
            ContainerPhase::CrashBackOff {
                restarts: 1,
                last_exit: Exit { started_at: t(100.01), finished_at: t(100.02), exit_code: 1 },
                backoff: Duration::from_millis(100)
            }
        );
    }

    #[test]
    fn without_restarts_a_crashing_container_stays_exited() {
        let p = container_at(Some(FailureMode::CrashLoop), &timing(), false, t(500.0));
        assert!(matches!(p.phase, ContainerPhase::Exited { restarts: 0, exit } if exit.exit_code == 1));
        assert_eq!(p.next, None);
    }

    #[test]
    fn image_pulls_fail_then_back_off_and_retry() {
        let pull = Some(FailureMode::ImagePullBackOff);
        assert_eq!(
            at(pull, 100.5),
            Position { phase: ContainerPhase::PullFailed { attempt: 0 }, next: Some(t(101.0)) }
        );
        assert_eq!(
            at(pull, 105.0),
            Position { phase: ContainerPhase::PullBackOff { attempt: 0 }, next: Some(t(110.0)) }
        );
        assert_eq!(at(pull, 110.2).phase, ContainerPhase::PullFailed { attempt: 1 });
        assert_eq!(at(pull, 115.0).next, Some(t(130.0)));
        let late = at(pull, 100.0 + 86_400.0);
        assert!(
            matches!(late.phase, ContainerPhase::PullBackOff { attempt } | ContainerPhase::PullFailed { attempt } if attempt > 250)
        );
    }
}
