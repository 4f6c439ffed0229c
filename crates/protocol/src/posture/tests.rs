//! The posture arithmetic on hand-computed cases, and the findings on services built to have a
//! hidden SPOF, ghost spend and a budget running out.

use super::*;

const DAY_S: f64 = 86_400.0;

fn slo_999_30d() -> Slo {
    Slo {
        target: 0.999,
        window_s: 30.0 * DAY_S,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

#[test]
fn burn_rate_is_the_error_rate_over_the_allowed_rate() {
    let slo = slo_999_30d();
    assert!(close(slo.allowed_error_rate(), 0.001));
    // 1.44% errors against 0.1% allowed: the standard fast-burn page, 14.4.
    assert!(close(slo.burn_rate(0.0144), 14.4));
    assert_eq!(slo.burn_rate(0.0), 0.0);
    let perfect = Slo {
        target: 1.0,
        window_s: DAY_S,
    };
    assert_eq!(perfect.burn_rate(0.01), f64::INFINITY, "no budget at all");
}

#[test]
fn budget_left_counts_failures_against_the_windows_allowance() {
    let slo = slo_999_30d();
    // 10 rps for 30 days = 25,920,000 requests; 0.1% of them = 25,920 may fail.
    let expected = 10.0 * 30.0 * DAY_S;
    assert!(close(slo.budget_left(0.0, expected), 1.0));
    assert!(close(slo.budget_left(6_480.0, expected), 0.75));
    assert!(close(slo.budget_left(25_920.0, expected), 0.0));
    assert!(
        close(slo.budget_left(51_840.0, expected), -1.0),
        "overspent twice"
    );
}

#[test]
fn the_budget_runs_out_in_what_is_left_times_the_window_over_the_burn() {
    let slo = slo_999_30d();
    // Half the budget left at burn 14.4: 0.5 × 30 d / 14.4 = 1.0417 days = 90,000 s.
    assert!(close(slo.exhausted_in_s(0.5, 14.4).unwrap(), 90_000.0));
    assert_eq!(slo.exhausted_in_s(0.5, 0.0), None, "not burning");
    assert_eq!(slo.exhausted_in_s(-0.2, 1.0), Some(0.0), "already spent");
}

#[test]
fn standbys_cost_by_how_ready_they_are() {
    let shares = StandbyShares::default();
    let active = 2.50;
    assert_eq!(shares.replica_per_hour(ReplicaRole::Active, active), 2.50);
    assert_eq!(
        shares.replica_per_hour(ReplicaRole::HotStandby, active),
        2.50
    );
    assert!(close(
        shares.replica_per_hour(ReplicaRole::WarmStandby, active),
        1.00
    ));
    assert!(close(
        shares.replica_per_hour(ReplicaRole::ColdStandby, active),
        0.125
    ));
}

#[test]
fn a_provider_path_costs_its_price_times_the_tokens_it_serves() {
    // $0.01 per 1k tokens, 800 tokens a request, 5 rps: 0.01/1000 × 800 × 5 × 3600 = $144/h.
    assert!(close(path_spend_per_hour(0.01, 800.0, 5.0), 144.0));
    assert_eq!(path_spend_per_hour(0.01, 800.0, 0.0), 0.0);
}

#[test]
fn the_roi_of_redundancy_is_the_loss_averted_over_the_extra_cost() {
    // One failure a month (1/720 per hour); a hot standby cuts 60 minutes of downtime to 1, at
    // $1,000 a minute: 59,000 / 720 = $81.94 averted per hour, for $2.50/h: ROI 32.8.
    let averted = loss_averted_per_hour(1.0 / 720.0, 60.0, 1.0, 1_000.0);
    assert!(close(averted, 59_000.0 / 720.0));
    let roi = redundancy_roi(averted, 2.50).unwrap();
    assert!(close(roi, 59_000.0 / 720.0 / 2.50));
    assert_eq!(redundancy_roi(averted, 0.0), None);
    assert_eq!(
        loss_averted_per_hour(1.0, 5.0, 10.0, 100.0),
        0.0,
        "a standby slower than none averts nothing"
    );
}

fn replica(region: &str, role: ReplicaRole, ready: bool) -> ReplicaPosture {
    ReplicaPosture {
        region: region.into(),
        role,
        ready,
    }
}

fn posture(criticality: Criticality, replicas: Vec<ReplicaPosture>) -> ServicePosture {
    ServicePosture {
        service: "risk-scorer".into(),
        criticality,
        replicas,
        provider_paths: 3,
        hot_standby_per_hour: 0.0,
        slo: None,
        budget_left: None,
        burn_rate: None,
        window_left_s: None,
    }
}

fn spof(posture: &ServicePosture) -> Option<String> {
    findings(posture).into_iter().find_map(|f| match f {
        Finding::HiddenSpof { why, .. } => Some(why),
        _ => None,
    })
}

#[test]
fn a_critical_service_one_failure_takes_down_is_a_hidden_spof() {
    let two_regions = vec![
        replica("us-east", ReplicaRole::Active, true),
        replica("us-west", ReplicaRole::HotStandby, true),
    ];
    assert_eq!(
        spof(&posture(Criticality::Critical, two_regions.clone())),
        None
    );
    let not_ready = vec![
        replica("us-east", ReplicaRole::Active, true),
        replica("us-west", ReplicaRole::ColdStandby, false),
    ];
    assert_eq!(
        spof(&posture(Criticality::Critical, not_ready.clone())).as_deref(),
        Some("one ready replica, in us-east")
    );
    let one_region = vec![
        replica("us-east", ReplicaRole::Active, true),
        replica("us-east", ReplicaRole::HotStandby, true),
    ];
    assert_eq!(
        spof(&posture(Criticality::Critical, one_region)).as_deref(),
        Some("every ready replica is in us-east")
    );
    let mut one_path = posture(Criticality::Critical, two_regions);
    one_path.provider_paths = 1;
    assert_eq!(spof(&one_path).as_deref(), Some("one provider path"));
    assert_eq!(
        spof(&posture(Criticality::Important, not_ready)),
        None,
        "only critical services must have no SPOF"
    );
}

#[test]
fn a_nice_to_have_service_with_hot_standbys_is_ghost_spend() {
    let mut calm = posture(
        Criticality::NiceToHave,
        vec![
            replica("us-east", ReplicaRole::Active, true),
            replica("us-west", ReplicaRole::HotStandby, true),
        ],
    );
    calm.hot_standby_per_hour = 2.50;
    assert_eq!(
        findings(&calm),
        [Finding::GhostSpend {
            service: "risk-scorer".into(),
            per_hour: 2.50
        }]
    );
    calm.criticality = Criticality::Important;
    assert!(findings(&calm).is_empty());
}

#[test]
fn a_budget_spent_before_its_window_ends_is_found_with_when() {
    let mut burning = posture(
        Criticality::Important,
        vec![
            replica("us-east", ReplicaRole::Active, true),
            replica("us-west", ReplicaRole::WarmStandby, true),
        ],
    );
    burning.slo = Some(slo_999_30d());
    burning.budget_left = Some(0.5);
    burning.burn_rate = Some(14.4);
    assert_eq!(
        findings(&burning),
        [Finding::BudgetExhaustion {
            service: "risk-scorer".into(),
            in_s: 90_000.0
        }]
    );
    // The window rolls over in 20 hours, before the 25 the budget lasts: nothing to say.
    burning.window_left_s = Some(20.0 * 3600.0);
    assert!(findings(&burning).is_empty());
    // Burning at exactly the sustainable rate with the whole budget lasts the window.
    burning.window_left_s = None;
    burning.budget_left = Some(1.0);
    burning.burn_rate = Some(1.0);
    assert!(findings(&burning).is_empty());
}
