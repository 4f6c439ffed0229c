//! Issue 15: the preflight's cost effect against the lab's own spend after the command: a
//! promotion's replica spend exactly, traffic forced off a provider onto others within the
//! load tolerance of the crate's doc, and a drain that leaves traffic without a path naming
//! the budget it would burn.

use protocol::FleetSnapshot;
use protocol::commands::BreakerAction;
use switchboard::domain::command::Command;
use switchboard::domain::cost::CostReport;
use switchboard::domain::preflight::{add_cost_effect, preflight};
use switchboard::domain::prices::CostConfig;

use crate::{client, credit_decision_and_standby, finished, start_lab};

fn spend(
    snapshot: &FleetSnapshot,
    part: fn(&switchboard::domain::cost::ServiceCost) -> Option<f64>,
) -> f64 {
    let report = CostReport::of(snapshot, &CostConfig::default(), &[]);
    report.services.iter().map(|s| part(s).unwrap()).sum()
}

fn priced(
    command: &Command,
    snapshot: &FleetSnapshot,
) -> switchboard::domain::preflight::Preflight {
    let mut check = preflight(command, snapshot);
    add_cost_effect(&mut check, command, snapshot, &CostConfig::default(), &[]);
    check
}

#[tokio::test]
async fn a_promotions_replica_spend_is_what_the_lab_prices_after_it() {
    let lab = start_lab().await;
    let alice = client(&lab, "alice");
    let before = alice.fleet().await.unwrap();
    let (credit, standby) = credit_decision_and_standby(&before);
    let promote = Command::Promote {
        service: credit.id.clone(),
        replica: standby.id.clone(),
    };
    let check = priced(&promote, &before);
    let change = check
        .cost_changes
        .iter()
        .find(|c| c.what.contains("runs as active"))
        .unwrap();
    let key = uuid::Uuid::new_v4().to_string();
    let accepted = alice
        .command(&promote, "cost test", None, &key, credit.control_revision)
        .await
        .unwrap();
    let operation = accepted.operation.unwrap();
    finished(&alice, &operation.id).await;
    let after = alice.fleet().await.unwrap();
    let lab_delta = spend(&after, |s| s.spend.replicas_per_hour)
        - spend(&before, |s| s.spend.replicas_per_hour);
    assert!(
        (change.per_hour.unwrap() - lab_delta).abs() < 1e-9,
        "preflight {:?}, lab {lab_delta}",
        change.per_hour
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn traffic_forced_off_a_provider_costs_what_the_lab_spends_after() {
    let lab = start_lab().await;
    let alice = client(&lab, "alice");
    let before = alice.fleet().await.unwrap();
    // risk-scorer's us-east traffic goes from openai to anthropic and google (rank 2).
    let force_open = Command::Breaker {
        provider: "openai@us-east".into(),
        action: BreakerAction::ForceOpen,
        expires_in_s: None,
    };
    let check = priced(&force_open, &before);
    let predicted = check
        .cost_per_hour
        .expect("every provider of the default fleet is priced");
    let key = uuid::Uuid::new_v4().to_string();
    let revision = force_open.control_revision(&before).unwrap();
    alice
        .command(&force_open, "cost test", None, &key, revision)
        .await
        .unwrap();
    let after = alice.fleet().await.unwrap();
    let paths = |s: &FleetSnapshot| spend(s, |c| c.spend.paths_per_hour);
    let lab_delta = paths(&after) - paths(&before);
    // Demand wobbles a few percent between the two reads: the tolerance of the loads.
    let tolerance = 0.05 * paths(&before) + 1.0;
    assert!(
        (predicted - lab_delta).abs() <= tolerance,
        "preflight {predicted:.0} $/h, lab {lab_delta:.0} $/h (± {tolerance:.0})\n{:#?}",
        check.cost_changes
    );
    assert!(
        check
            .cost_changes
            .iter()
            .any(|c| c.what.starts_with("openai@us-east -")),
        "{:#?}",
        check.cost_changes
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn a_drain_that_leaves_a_service_without_a_path_names_the_budget_it_burns() {
    let lab = start_lab().await;
    let before = client(&lab, "alice").fleet().await.unwrap();
    // ap-south holds log-aggregator's only replica.
    let drain = Command::Drain {
        region: "ap-south".into(),
        expires_in_s: None,
    };
    let check = priced(&drain, &before);
    let risk = check
        .budget_risks
        .iter()
        .find(|r| r.service == "log-aggregator")
        .unwrap_or_else(|| panic!("{:#?}", check.budget_risks));
    assert_eq!(risk.failing, 1.0);
    // 95 % SLO: everything failing burns 1 / 0.05 = 20x; the whole budget over 30 days / 20.
    assert!((risk.burn_rate.unwrap() - 20.0).abs() < 1e-9);
    let in_s = risk.exhausted_in_s.unwrap();
    assert!((in_s - risk.budget_left.unwrap() * 30.0 * 86_400.0 / 20.0).abs() < 1.0);
    let lines = switchboard::format::cost_effect_lines(&check);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("budget log-aggregator: 100% of requests would fail, burn 20x")),
        "{lines:#?}"
    );
    lab.shutdown().await;
}
