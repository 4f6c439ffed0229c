//! Error budgets on hand-computed cases, and spent by the simulation's own failures.

use super::*;
use crate::sim::tests::{run_to, service, sim};
use protocol::posture::{Criticality, Slo};

fn spec(budget_spent: f64) -> PostureSpec {
    PostureSpec {
        criticality: Criticality::Critical,
        slo: Slo {
            target: 0.99,
            window_s: 30.0 * 86_400.0,
        },
        budget_spent,
        ..PostureSpec::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn failures_spend_the_budget_and_the_windows_give_the_burn_rates() {
    let mut ledger = BudgetLedger::default();
    // Ten minutes at 100 rps with 1 failing (1 %, burn 1), then ten with 3 failing (burn 3).
    for second in 1..=1200 {
        let failing = if second <= 600 { 1.0 } else { 3.0 };
        ledger.record(second as f64, 1.0, failing, 100.0);
    }
    let posture = ledger.posture(&spec(0.0), 100.0, 1200.0);
    // Window: 100 rps × 30 days = 259.2 M requests, 1 % = 2.592 M may fail; 600 + 1800 failed:
    // 0.999074 left, published to 4 decimals.
    assert!(close(posture.budget_left.unwrap(), 0.9991));
    // The last hour holds all twenty minutes: 2,400 failed of 120,000 = 2 % = burn 2.
    assert!(close(posture.burn_rate_1h.unwrap(), 2.0), "{posture:?}");
    assert!(close(posture.burn_rate_6h.unwrap(), 2.0));
    // Seven hours on at burn 0: the 1 h window is clean, the 6 h window has forgotten them.
    for second in 1201..=1200 + 7 * 3600 {
        ledger.record(second as f64, 1.0, 0.0, 100.0);
    }
    let later = ledger.posture(&spec(0.0), 100.0, (1200 + 7 * 3600) as f64);
    assert_eq!(later.burn_rate_1h, Some(0.0));
    assert_eq!(later.burn_rate_6h, Some(0.0));
    assert!(ledger.minutes.len() <= MINUTES_KEPT + 1);
    // The minute under way is not read: a step of errors now moves no rate until it is whole.
    ledger.record(26_401.0, 1.0, 100.0, 100.0);
    let now = ledger.posture(&spec(0.0), 100.0, 26_401.0);
    assert_eq!(now.burn_rate_1h, Some(0.0));
    assert!(
        close(later.budget_left.unwrap(), posture.budget_left.unwrap()),
        "what was spent stays spent"
    );
}

#[test]
fn a_budget_partly_spent_before_the_lab_started_starts_lower_and_unknown_burn_is_absent() {
    let ledger = BudgetLedger::default();
    let posture = ledger.posture(&spec(0.35), 80.0, 0.0);
    assert!(close(posture.budget_left.unwrap(), 0.65));
    assert_eq!(posture.burn_rate_1h, None, "no whole minute yet: no rate");
}

#[test]
fn an_outage_burns_the_budget_of_the_service_it_hits_faster() {
    let mut quiet = sim(42, None);
    let mut outage = sim(42, Some("provider-outage"));
    let calm = run_to(&mut quiet, 120.0);
    let hit = run_to(&mut outage, 120.0);
    let posture =
        |view: &crate::sim::FleetView| service(view, "risk-scorer").posture.clone().unwrap();
    let (calm, hit) = (posture(&calm), posture(&hit));
    assert!(
        hit.burn_rate_1h.unwrap() > 2.0 * calm.burn_rate_1h.unwrap(),
        "calm {calm:?}, outage {hit:?}"
    );
    assert!(hit.budget_left.unwrap() < calm.budget_left.unwrap());
    assert_eq!(hit.criticality, Criticality::Critical);
    assert_eq!(hit.replica_cost_per_hour, Some(3.20));
}
