use super::*;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

const RETRIES: NonZeroU32 = NonZeroU32::MIN.saturating_add(1); // 2
const TIMEOUT: Duration = Duration::from_secs(300);

fn watch() -> Watch {
    Watch {
        container: "agent".into(),
        previous_image: "agent:1.0.0".into(),
        new_image: "agent:1.1.0".into(),
        started_at: at(0),
        generation: 2,
        failed_checks: 0,
        last_progress: None,
        last_restarts: 0,
        request: None,
    }
}

fn seen(observed: i64, updated: i64, available: i64, pods: Vec<PodHealth>) -> Observation {
    Observation {
        generation: 2,
        observed_generation: observed,
        desired: 5,
        progress: Progress { updated, available, ready: available },
        on_delete: false,
        new_pods: pods,
    }
}

fn pod(name: &str, ready: bool, reason: Option<&str>, restarts: u64) -> PodHealth {
    PodHealth { name: name.into(), ready, waiting_reason: reason.map(str::to_owned), restarts }
}

fn continued(step: Step) -> (Watch, Option<String>) {
    match step {
        Step::Continue { watch, failure } => (watch, failure),
        other => panic!("expected Continue, got {other:?}"),
    }
}

#[test]
fn nothing_is_judged_before_the_controller_observes_the_update() {
    // The old pods crash-loop, but the status still describes the old template.
    let old = seen(1, 0, 0, vec![pod("old", false, Some("CrashLoopBackOff"), 9)]);
    assert_eq!(check(&watch(), &old, RETRIES, TIMEOUT, at(10)), Step::NotObserved);
    assert!(matches!(check(&watch(), &old, RETRIES, TIMEOUT, at(300)), Step::Ended { .. }));
}

#[test]
fn a_complete_rollout_succeeds() {
    let done = seen(2, 5, 5, vec![pod("a", true, None, 0)]);
    assert_eq!(check(&watch(), &done, RETRIES, TIMEOUT, at(10)), Step::Succeeded);
}

#[test]
fn crash_looping_new_pods_roll_back_after_the_configured_retries() {
    let bad = seen(2, 1, 4, vec![pod("a", false, Some("CrashLoopBackOff"), 0)]);
    let (first, failure) = continued(check(&watch(), &bad, RETRIES, TIMEOUT, at(10)));
    assert_eq!(first.failed_checks, 1);
    assert!(failure.unwrap().contains("CrashLoopBackOff"));
    let Step::RollBack { reason } = check(&first, &bad, RETRIES, TIMEOUT, at(20)) else { panic!() };
    assert!(
        reason.contains("a in CrashLoopBackOff") && reason.contains("2 failed health checks"),
        "{reason}"
    );
}

#[test]
fn image_pull_failures_count_as_failed_checks() {
    for reason in ["ImagePullBackOff", "ErrImagePull"] {
        let bad = seen(2, 1, 4, vec![pod("a", false, Some(reason), 0)]);
        let (_, failure) = continued(check(&watch(), &bad, RETRIES, TIMEOUT, at(10)));
        assert!(failure.is_some(), "{reason}");
    }
}

#[test]
fn growing_restarts_fail_a_check_and_a_passing_check_resets_the_count() {
    let restarting = seen(2, 2, 4, vec![pod("a", true, None, 1)]);
    let (after_one, failure) = continued(check(&watch(), &restarting, RETRIES, TIMEOUT, at(10)));
    assert!(failure.unwrap().contains("restarted 1 more"));
    assert_eq!(after_one.last_restarts, 1);
    // Same restarts and progress made: a passing check.
    let better = seen(2, 3, 4, vec![pod("a", true, None, 1), pod("b", true, None, 0)]);
    let (reset, failure) = continued(check(&after_one, &better, RETRIES, TIMEOUT, at(20)));
    assert_eq!(failure, None);
    assert_eq!(reset.failed_checks, 0);
}

#[test]
fn a_stall_on_unready_new_pods_fails_but_a_slow_healthy_rollout_does_not() {
    let never_ready = seen(2, 1, 4, vec![pod("a", false, None, 0)]);
    let (first, failure) = continued(check(&watch(), &never_ready, RETRIES, TIMEOUT, at(10)));
    assert_eq!(failure, None, "the first look has nothing to compare with");
    let (second, failure) = continued(check(&first, &never_ready, RETRIES, TIMEOUT, at(20)));
    assert!(failure.unwrap().contains("no progress"));
    assert!(matches!(check(&second, &never_ready, RETRIES, TIMEOUT, at(30)), Step::RollBack { .. }));

    // Held back by maxUnavailable with every new pod ready (minReadySeconds): not a failure.
    let waiting = seen(2, 1, 4, vec![pod("a", true, None, 0)]);
    let (first, _) = continued(check(&watch(), &waiting, RETRIES, TIMEOUT, at(10)));
    let (_, failure) = continued(check(&first, &waiting, RETRIES, TIMEOUT, at(20)));
    assert_eq!(failure, None);
}

#[test]
fn old_pods_failing_are_not_the_new_images_fault() {
    // Only new-revision pods are passed in; an old pod's crash loop makes the rollout slow,
    // which alone is no failure while new pods are healthy.
    let observation = seen(2, 2, 3, vec![pod("new-a", true, None, 0), pod("new-b", true, None, 0)]);
    let (_, failure) = continued(check(&watch(), &observation, RETRIES, TIMEOUT, at(10)));
    assert_eq!(failure, None);
}

#[test]
fn at_the_deadline_a_healthy_incomplete_rollout_ends_without_rollback() {
    let slow = seen(2, 3, 5, vec![pod("a", true, None, 0)]);
    let Step::Ended { message } = check(&watch(), &slow, RETRIES, TIMEOUT, at(300)) else { panic!() };
    assert!(message.contains("healthy but incomplete"), "{message}");
}

#[test]
fn on_delete_rollouts_end_at_the_deadline_and_still_roll_back_failing_pods() {
    let mut quiet = seen(2, 0, 5, vec![]);
    quiet.on_delete = true;
    let (first, failure) = continued(check(&watch(), &quiet, RETRIES, TIMEOUT, at(10)));
    assert_eq!(failure, None);
    let (_, failure) = continued(check(&first, &quiet, RETRIES, TIMEOUT, at(20)));
    assert_eq!(failure, None, "OnDelete makes no progress by itself");
    assert!(matches!(check(&first, &quiet, RETRIES, TIMEOUT, at(300)), Step::Ended { .. }));

    let mut deleted_one = seen(2, 1, 4, vec![pod("a", false, Some("CrashLoopBackOff"), 3)]);
    deleted_one.on_delete = true;
    let (first, _) = continued(check(&watch(), &deleted_one, RETRIES, TIMEOUT, at(10)));
    assert!(matches!(check(&first, &deleted_one, RETRIES, TIMEOUT, at(20)), Step::RollBack { .. }));
}

#[test]
fn a_newer_change_to_the_daemonset_ends_the_watch() {
    let mut changed = seen(3, 0, 5, vec![]);
    changed.generation = 3;
    assert!(matches!(check(&watch(), &changed, RETRIES, TIMEOUT, at(10)), Step::Ended { .. }));
}

#[test]
fn watches_round_trip_through_the_annotation() {
    let mut w = watch();
    w.last_progress = Some(Progress { updated: 1, available: 2, ready: 3 });
    let text = render_watches(std::slice::from_ref(&w)).unwrap();
    assert_eq!(read_watches(Some(&text)).unwrap(), vec![w]);
    assert_eq!(render_watches(&[]), None);
    assert!(read_watches(Some("not json")).is_err());
}
