use super::*;
use crate::annotations::UpdateConfig;
use crate::policy::{Candidate, Policy};
use crate::request::UpdateRequestStatus;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn config(approval: bool) -> UpdateConfig {
    let mut config = UpdateConfig::new(Policy::Minor);
    config.require_approval = approval;
    config
}

fn choice_for(current: &str, tags: &[&str]) -> Option<Choice> {
    let image = ImageRef::parse(current).unwrap();
    let candidates: Vec<Candidate> = tags.iter().map(|t| Candidate::new(*t)).collect();
    Policy::Minor.choose(image.tag_or_latest(), None, &candidates)
}

fn request(name: &str, new_image: &str, phase: Option<Phase>) -> UpdateRequest {
    let mut request = UpdateRequest::new(
        name,
        UpdateRequestSpec {
            target_ref: TargetRef {
                api_version: Some("apps/v1".into()),
                kind: "DaemonSet".into(),
                name: "node-exporter".into(),
                namespace: Some("monitoring".into()),
            },
            container_name: "node-exporter".into(),
            current_image: Some("prom/node-exporter:v1.5.0".into()),
            new_image: new_image.into(),
            policy: Some("minor".into()),
            reason: Some("because".into()),
            require_approval: Some(true),
            expires_at: Some(at(1000).to_string()),
        },
    );
    request.status = phase.map(|phase| UpdateRequestStatus {
        phase: Some(phase),
        approved_by: (phase == Phase::Approved).then(|| "alice@example.com".to_owned()),
        ..UpdateRequestStatus::default()
    });
    request
}

struct Case<'a> {
    config: UpdateConfig,
    requests: Vec<&'a UpdateRequest>,
    history: Vec<HistoryEntry>,
    last_update: Option<Timestamp>,
    now: Timestamp,
}

impl<'a> Case<'a> {
    fn new(approval: bool) -> Case<'a> {
        Case {
            config: config(approval),
            requests: Vec::new(),
            history: Vec::new(),
            last_update: None,
            now: at(0),
        }
    }

    fn decide(&self, tags: &[&str]) -> Vec<Action> {
        let current = "prom/node-exporter:v1.5.0";
        let situation = Situation {
            namespace: "monitoring",
            name: "node-exporter",
            config: &self.config,
            container: "node-exporter",
            current_image: current,
            requests: &self.requests,
            history: &self.history,
            last_update: self.last_update,
            request_ttl: Duration::from_secs(3600),
            now: self.now,
        };
        decide(&situation, &ImageRef::parse(current).unwrap(), choice_for(current, tags).as_ref())
    }
}

#[test]
fn no_candidate_means_nothing_to_do() {
    assert_eq!(Case::new(false).decide(&["v1.4.0", "v2.0.0"]), Vec::new());
}

#[test]
fn without_approval_the_highest_allowed_image_is_applied_in_the_users_spelling() {
    let actions = Case::new(false).decide(&["v1.6.0", "v1.7.1", "v2.0.0", "v1.7.0"]);
    let [Action::Apply(application)] = actions.as_slice() else { panic!("{actions:?}") };
    assert_eq!(application.new_image, "prom/node-exporter:v1.7.1");
    assert_eq!(application.current_image, "prom/node-exporter:v1.5.0");
    assert_eq!(application.approved_by, AUTO_APPROVER);
    assert_eq!(application.request, None);
}

#[test]
fn with_approval_a_request_is_proposed_with_an_expiry_and_a_valid_name() {
    let actions = Case::new(true).decide(&["v1.6.0"]);
    let [Action::Propose { name, spec, replaces_expired: false }] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    let request = UpdateRequest::new(name, (**spec).clone());
    assert_eq!(name, "node-exporter-update-v1-6-0");
    assert_eq!(request.spec.target_ref.namespace.as_deref(), Some("monitoring"));
    assert_eq!(request.spec.new_image, "prom/node-exporter:v1.6.0");
    assert_eq!(request.spec.current_image.as_deref(), Some("prom/node-exporter:v1.5.0"));
    assert_eq!(request.spec.policy.as_deref(), Some("minor"));
    assert_eq!(request.spec.target_ref.kind, "DaemonSet");
    assert_eq!(request.expires_at(), Some(at(3600)));
    assert_eq!(request.phase(), Phase::Pending);
}

#[test]
fn a_pending_request_for_the_same_image_is_not_proposed_again() {
    let pending = request("node-exporter-update-v1-6-0", "prom/node-exporter:v1.6.0", None);
    let mut case = Case::new(true);
    case.requests.push(&pending);
    assert_eq!(case.decide(&["v1.6.0"]), Vec::new());
}

#[test]
fn a_rejected_image_stays_rejected() {
    let rejected = request("node-exporter-update-v1-6-0", "prom/node-exporter:v1.6.0", Some(Phase::Rejected));
    for approval in [true, false] {
        let mut case = Case::new(approval);
        case.requests.push(&rejected);
        assert_eq!(case.decide(&["v1.6.0"]), Vec::new(), "approval {approval}");
    }
}

#[test]
fn a_newer_candidate_supersedes_a_pending_request() {
    let pending = request("node-exporter-update-v1-6-0", "prom/node-exporter:v1.6.0", None);
    let mut case = Case::new(true);
    case.requests.push(&pending);
    let actions = case.decide(&["v1.6.0", "v1.7.0"]);
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(
        actions[0],
        Action::SetPhase {
            request: "node-exporter-update-v1-6-0".into(),
            phase: Phase::Expired,
            message: "superseded by prom/node-exporter:v1.7.0".into()
        }
    );
    let Action::Propose { spec, .. } = &actions[1] else { panic!("{actions:?}") };
    assert_eq!(spec.new_image, "prom/node-exporter:v1.7.0");
}

#[test]
fn a_pending_request_past_its_expiry_is_expired_not_applied() {
    let pending = request("node-exporter-update-v1-6-0", "prom/node-exporter:v1.6.0", None);
    let mut case = Case::new(true);
    case.requests.push(&pending);
    case.now = at(1000);
    let actions = case.decide(&["v1.6.0"]);
    assert_eq!(
        actions,
        vec![Action::SetPhase {
            request: "node-exporter-update-v1-6-0".into(),
            phase: Phase::Expired,
            message: "not approved before it expired".into()
        }]
    );
}

#[test]
fn an_expired_request_is_proposed_again_when_its_image_is_still_the_best() {
    let expired = request("node-exporter-update-v1-6-0", "prom/node-exporter:v1.6.0", Some(Phase::Expired));
    let mut case = Case::new(true);
    case.requests.push(&expired);
    let actions = case.decide(&["v1.6.0"]);
    assert!(matches!(actions.as_slice(), [Action::Propose { replaces_expired: true, .. }]), "{actions:?}");
}

#[test]
fn the_minimum_interval_holds_a_second_update_back() {
    let mut case = Case::new(false);
    case.last_update = Some(at(-100));
    assert_eq!(case.decide(&["v1.6.0"]), vec![Action::WaitUntil(at(200))]);
    case.now = at(200);
    assert!(matches!(case.decide(&["v1.6.0"]).as_slice(), [Action::Apply(_)]));
}

#[test]
fn the_minimum_interval_also_holds_back_the_request() {
    let mut case = Case::new(true);
    case.last_update = Some(at(0));
    assert_eq!(case.decide(&["v1.6.0"]), vec![Action::WaitUntil(at(300))]);
}

#[test]
fn an_image_that_was_rolled_back_is_not_applied_again() {
    let mut case = Case::new(false);
    let entry = |image: &str, kind, seconds| HistoryEntry {
        container: "node-exporter".into(),
        image: image.into(),
        timestamp: at(seconds),
        update_request_name: None,
        approved_by: Some(AUTO_APPROVER.into()),
        kind,
    };
    case.history = vec![
        entry("prom/node-exporter:v1.5.0", Some(HistoryKind::Rollback), -10),
        entry("prom/node-exporter:v1.6.0", None, -400),
    ];
    assert_eq!(case.decide(&["v1.6.0"]), Vec::new());
    // A newer release is a new chance.
    assert!(
        matches!(case.decide(&["v1.6.0", "v1.6.1"]).as_slice(), [Action::Apply(a)] if a.new_image.ends_with("v1.6.1"))
    );
}

#[test]
fn a_moved_tag_under_force_is_pinned_to_its_digest() {
    let current = ImageRef::parse("falcosecurity/falco:latest").unwrap();
    let choice = Policy::Force
        .choose("latest", Some("sha256:aaa"), &[Candidate::new("latest").with_digest("sha256:bbb")])
        .unwrap();
    assert_eq!(new_image(&current, &choice), "falcosecurity/falco:latest@sha256:bbb");
}

#[test]
fn an_approved_request_is_applied_with_its_approver() {
    let approved = request("r", "prom/node-exporter:v1.6.0", Some(Phase::Approved));
    let actions = reconcile_request(&approved, Some("prom/node-exporter:v1.5.0"), at(0));
    let [Action::Apply(application)] = actions.as_slice() else { panic!("{actions:?}") };
    assert_eq!(application.approved_by, "alice@example.com");
    assert_eq!(application.request.as_deref(), Some("r"));
    assert_eq!(application.new_image, "prom/node-exporter:v1.6.0");
}

#[test]
fn an_approved_request_fails_when_the_container_changed_meanwhile() {
    let approved = request("r", "prom/node-exporter:v1.6.0", Some(Phase::Approved));
    let actions = reconcile_request(&approved, Some("prom/node-exporter:v1.5.1"), at(0));
    assert!(matches!(actions.as_slice(), [Action::SetPhase { phase: Phase::Failed, .. }]), "{actions:?}");
    let actions = reconcile_request(&approved, None, at(0));
    assert!(matches!(actions.as_slice(), [Action::SetPhase { phase: Phase::Failed, .. }]), "{actions:?}");
}

#[test]
fn an_approved_request_already_running_completes() {
    let approved = request("r", "prom/node-exporter:v1.6.0", Some(Phase::Approved));
    let actions = reconcile_request(&approved, Some("prom/node-exporter:v1.6.0"), at(0));
    assert!(matches!(actions.as_slice(), [Action::SetPhase { phase: Phase::Completed, .. }]), "{actions:?}");
}

#[test]
fn pending_requests_expire_on_their_own_and_final_ones_are_left_alone() {
    let pending = request("r", "prom/node-exporter:v1.6.0", None);
    assert_eq!(reconcile_request(&pending, Some("prom/node-exporter:v1.5.0"), at(999)), Vec::new());
    let actions = reconcile_request(&pending, Some("prom/node-exporter:v1.5.0"), at(1000));
    assert!(matches!(actions.as_slice(), [Action::SetPhase { phase: Phase::Expired, .. }]), "{actions:?}");
    for phase in [Phase::Rejected, Phase::Completed, Phase::Failed, Phase::Expired] {
        let done = request("r", "prom/node-exporter:v1.6.0", Some(phase));
        assert_eq!(
            reconcile_request(&done, Some("prom/node-exporter:v1.5.0"), at(5000)),
            Vec::new(),
            "{phase}"
        );
    }
}
