//! The cost audit of the lab's default fleet, changed to hold a hidden SPOF and ghost spend,
//! with prices the source leaves out taken from the config.

use super::*;
use crate::domain::prices::ServicePrices;
use crate::testing::default_fleet;
use protocol::{Replica, ReplicaRole};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

fn service<'a>(snapshot: &'a mut FleetSnapshot, id: &str) -> &'a mut Service {
    snapshot.services.iter_mut().find(|s| s.id == id).unwrap()
}

/// credit-decision's hot standby stops replicating (one ready replica left: a hidden SPOF
/// on a critical service); email-notifier, nice-to-have, gains a hot standby (ghost spend).
fn troubled_fleet() -> FleetSnapshot {
    let mut fleet = default_fleet();
    let credit = service(&mut fleet, "credit-decision");
    credit.replicas[1].ready = false;
    let email = service(&mut fleet, "email-notifier");
    email.replicas.push(Replica {
        id: "email-notifier@us-east".into(),
        region: "us-east".into(),
        role: ReplicaRole::HotStandby,
        ready: true,
        replication_lag_s: 0.5,
        capacity_rps: 40.0,
        load_rps: 0.0,
        takeover_s: Some(5.0),
        timed_role: None,
        pool: None,
    });
    fleet
}

#[test]
fn findings_name_the_hidden_spof_and_the_ghost_spend_and_standbys_are_idle_spend() {
    let report = CostReport::of(&troubled_fleet(), &CostConfig::default());
    assert_eq!(
        report.findings,
        [
            Finding::HiddenSpof {
                service: "credit-decision".into(),
                why: "one ready replica, in us-east".into()
            },
            Finding::GhostSpend {
                service: "email-notifier".into(),
                per_hour: 0.60
            },
        ]
    );
    let credit = report.service("credit-decision").unwrap();
    // Active 4.50 + hot standby 4.50 (the fixture's credit-decision has no cold standby).
    assert!(close(credit.spend.replicas_per_hour.unwrap(), 9.0));
    // Idle: credit's hot standby 4.50 and email's 0.60.
    assert!(close(report.idle_standby_per_hour.unwrap(), 5.10));
    assert_eq!(credit.budget_left, Some(0.65));
    assert_eq!(credit.criticality, Some(Criticality::Critical));
    assert!(credit.from_config.is_empty());
}

#[test]
fn the_blast_radius_of_a_service_reaches_what_depends_on_it_through_others() {
    let report = CostReport::of(&default_fleet(), &CostConfig::default());
    let scorer = report.service("risk-scorer").unwrap();
    // credit-decision depends on it, email-notifier on credit-decision: 800 + 1200 + 20.
    assert_eq!(scorer.dependents, ["credit-decision", "email-notifier"]);
    assert!(close(scorer.blast_cost_per_min, 2_020.0));
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let total: f64 = (report.services.iter())
        .map(|s| s.spend.total_per_hour().unwrap())
        .sum();
    assert!(close(report.total_per_hour.unwrap(), total));
    let by_tier: f64 = report.by_tier.iter().map(|t| t.per_hour.unwrap()).sum();
    assert!(close(by_tier, total));
}

#[test]
fn the_config_fills_what_the_source_does_not_report_and_says_so() {
    let mut fleet = default_fleet();
    for provider in &mut fleet.providers {
        if provider.vendor == "self-hosted" {
            provider.price_per_1k_tokens = None;
        }
    }
    let credit = service(&mut fleet, "credit-decision");
    if let Some(posture) = credit.posture.as_mut() {
        posture.downtime_cost_per_min = None;
    }
    let logs = service(&mut fleet, "log-aggregator");
    logs.posture = None;
    let unpriced = CostReport::of(&fleet, &CostConfig::default());
    let logs = unpriced.service("log-aggregator").unwrap();
    assert_eq!(
        (logs.criticality, logs.spend.total_per_hour()),
        (None, None)
    );
    assert_eq!(
        unpriced.total_per_hour, None,
        "one unknown makes the total unknown"
    );
    assert_eq!(unpriced.service("credit-decision").unwrap().roi, None);

    let config = CostConfig {
        prices_per_1k_tokens: [("self-hosted".to_string(), 0.002)].into(),
        services: [
            (
                "credit-decision".to_string(),
                ServicePrices {
                    downtime_cost_per_min: Some(900.0),
                    replica_cost_per_hour: Some(99.0),
                    ..ServicePrices::default()
                },
            ),
            (
                "log-aggregator".to_string(),
                ServicePrices {
                    criticality: Some(Criticality::NiceToHave),
                    replica_cost_per_hour: Some(0.80),
                    tokens_per_request: Some(2_000.0),
                    ..ServicePrices::default()
                },
            ),
        ]
        .into(),
    };
    let priced = CostReport::of(&fleet, &config);
    let credit = priced.service("credit-decision").unwrap();
    assert_eq!(credit.downtime_cost_per_min, Some(900.0));
    assert!(
        close(credit.spend.replicas_per_hour.unwrap(), 9.0),
        "the source's replica cost wins over the config's"
    );
    assert!(credit.from_config.contains(&"downtime cost".to_string()));
    let logs = priced.service("log-aggregator").unwrap();
    assert_eq!(logs.criticality, Some(Criticality::NiceToHave));
    assert_eq!(logs.slo, None, "no source knows its SLO");
    assert!(logs.spend.total_per_hour().is_some());
    assert!(
        logs.from_config
            .iter()
            .any(|f| f == "price of self-hosted@ap-south"),
        "{:?}",
        logs.from_config
    );
    assert!(priced.total_per_hour.is_some());
}
