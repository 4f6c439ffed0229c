//! The cost audit of the lab's default fleet, changed to hold a hidden SPOF and ghost spend,
//! with prices the source leaves out taken from the config.

use std::time::Duration;

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
    let report = CostReport::of(&troubled_fleet(), &CostConfig::default(), &[]);
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
    let report = CostReport::of(&default_fleet(), &CostConfig::default(), &[]);
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
    let unpriced = CostReport::of(&fleet, &CostConfig::default(), &[]);
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
    let priced = CostReport::of(&fleet, &config, &[]);
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

const THIRTY_DAYS: f64 = 30.0 * 86_400.0;

/// What a metrics source measured of `service` on a 99.9 % / 30 d SLO: a budget left and burn
/// rates by window, read at the Unix epoch.
fn measured(service: &str, budget_left: Option<f64>, burns: &[(BurnWindow, f64)]) -> ServiceFacts {
    measured_on(
        Slo {
            target: 0.999,
            window_s: THIRTY_DAYS,
        },
        service,
        budget_left,
        burns,
    )
}

fn measured_on(
    slo: Slo,
    service: &str,
    budget_left: Option<f64>,
    burns: &[(BurnWindow, f64)],
) -> ServiceFacts {
    use crate::domain::measured::{BurnThresholds, Fact};
    let at = DateTime::UNIX_EPOCH;
    ServiceFacts {
        service: service.into(),
        slo,
        window: "30d".into(),
        burn: (burns.iter())
            .map(|&(window, value)| (window, Fact { value, at }))
            .collect(),
        budget_left: budget_left.map(|value| Fact { value, at }),
        thresholds: BurnThresholds::default(),
    }
}

fn reads<'a>(source: &'a str, services: &'a [ServiceFacts], stale: bool) -> SloReads<'a> {
    SloReads {
        source,
        services,
        stale,
    }
}

/// credit-decision reports its budget (65 % left) but no burn: the burn measured on the same
/// 99 % SLO fills the gap and the report's own budget stays; spent at 2x, 65 % of 30 days lasts 0.65 × 2,592,000
/// / 2 = 842,400 s, inside the window: the budget finding fires. risk-scorer, whose budget
/// and burn the measurement would all change, keeps its own budget.
#[test]
fn measured_burn_fills_only_what_the_fleet_source_does_not_report() {
    use BurnWindow::*;
    let ninety_nine = Slo {
        target: 0.99,
        window_s: THIRTY_DAYS,
    };
    let facts = [
        measured_on(
            ninety_nine,
            "credit-decision",
            Some(0.5),
            &[(OneHour, 2.0), (SixHours, 1.5)],
        ),
        measured("risk-scorer", Some(0.1), &[(FiveMinutes, 30.0)]),
    ];
    let report = CostReport::of(
        &default_fleet(),
        &CostConfig::default(),
        &[reads("prom", &facts, false)],
    );
    let credit = report.service("credit-decision").unwrap();
    assert_eq!(credit.budget_left, Some(0.65), "the source's budget wins");
    assert_eq!(
        (credit.burn_rate_1h, credit.burn_rate_6h),
        (Some(2.0), Some(1.5))
    );
    assert_eq!(credit.slo.unwrap().target, 0.99, "the posture's SLO wins");
    assert!(close(credit.exhausted_in_s.unwrap(), 842_400.0));
    assert_eq!(
        credit.findings,
        [Finding::BudgetExhaustion {
            service: "credit-decision".into(),
            in_s: credit.exhausted_in_s.unwrap()
        }]
    );
    assert_eq!(
        credit.measured,
        Some(MeasuredBy {
            source: "prom".into(),
            figures: vec!["burn 1h".into(), "burn 6h".into()],
            read_at: Some(DateTime::UNIX_EPOCH),
            stale: false,
            converted_from: None,
        })
    );
    let scorer = report.service("risk-scorer").unwrap();
    assert_eq!(scorer.budget_left, Some(1.0));
    assert_eq!(scorer.burn_rate_1h, None, "only 5m was measured");
    assert_eq!(scorer.measured, None, "nothing measured was taken");
    assert!(scorer.findings.is_empty());
}

/// log-aggregator reports no posture and the config knows nothing of it: the measurement
/// gives its SLO too. Its burn of 20x on 99.9 % has overspent the budget 19 times: spent now.
#[test]
fn a_service_without_posture_takes_the_measured_slo() {
    use BurnWindow::*;
    let mut fleet = default_fleet();
    service(&mut fleet, "log-aggregator").posture = None;
    let facts = [measured(
        "log-aggregator",
        Some(-19.0),
        &[(OneHour, 20.0), (SixHours, 20.0)],
    )];
    let report = CostReport::of(
        &fleet,
        &CostConfig::default(),
        &[reads("prom", &facts, true)],
    );
    let logs = report.service("log-aggregator").unwrap();
    assert_eq!(logs.criticality, None);
    assert_eq!(logs.slo.unwrap().target, 0.999);
    assert_eq!(logs.exhausted_in_s, Some(0.0));
    let by = logs.measured.as_ref().unwrap();
    assert_eq!(by.figures, ["SLO", "budget", "burn 1h", "burn 6h"]);
    assert!(by.stale, "a late source's figures are said to be stale");
    assert_eq!(
        report.findings,
        [Finding::BudgetExhaustion {
            service: "log-aggregator".into(),
            in_s: 0.0
        }]
    );
}

fn fleet_source(snapshot: FleetSnapshot, now: Instant) -> SourceData {
    let mut source = SourceData::new("lab", "http://127.0.0.1:1");
    source.apply_snapshot(snapshot, now);
    source.connection = crate::domain::fleet::Connection::Live;
    source
}

fn metrics_source(name: &str, services: Vec<ServiceFacts>, read: Instant) -> SourceData {
    let mut source = SourceData::metrics(name, "http://127.0.0.1:2", Duration::from_secs(15));
    source.measured.as_mut().unwrap().services = services;
    source.connection = crate::domain::fleet::Connection::Live;
    source.received_at = Some(read);
    source
}

/// checkout, which only Prometheus measures, gets a row under it with what the config says
/// (critical, $50/min down) and the rest unknown; credit-decision, which the lab reports, is
/// not repeated there. A second metrics source measuring checkout again adds nothing; a
/// fresh source's figures are preferred to a stale one's.
#[test]
fn a_service_only_a_metrics_source_knows_gets_a_row_of_its_own() {
    use BurnWindow::*;
    let now = Instant::now();
    let burning = |name| measured(name, Some(0.5), &[(OneHour, 15.0), (SixHours, 6.0)]);
    let sources = [
        metrics_source(
            "late",
            vec![burning("credit-decision")],
            now - Duration::from_secs(600),
        ),
        fleet_source(default_fleet(), now),
        metrics_source(
            "prom",
            vec![burning("checkout"), burning("credit-decision")],
            now,
        ),
        metrics_source("again", vec![burning("checkout")], now),
    ];
    let config = CostConfig {
        services: [(
            "checkout".to_string(),
            ServicePrices {
                criticality: Some(Criticality::Critical),
                downtime_cost_per_min: Some(50.0),
                ..ServicePrices::default()
            },
        )]
        .into(),
        ..CostConfig::default()
    };
    let audits = context_audit(&sources, now, &config);
    assert_eq!(
        audits.iter().map(|(index, _)| *index).collect::<Vec<_>>(),
        [1, 2],
        "the late source's service is the lab's; the second's checkout was audited"
    );
    let credit = audits[0].1.service("credit-decision").unwrap();
    assert_eq!(
        credit.measured.as_ref().unwrap().source,
        "prom",
        "fresh first"
    );
    let only = &audits[1].1;
    assert_eq!(only.services.len(), 1);
    let checkout = &only.services[0];
    assert_eq!(
        (checkout.tier, checkout.criticality),
        (None, Some(Criticality::Critical))
    );
    assert_eq!(checkout.from_config, ["downtime cost", "criticality"]);
    assert_eq!(checkout.blast_cost_per_min, 50.0);
    assert_eq!(checkout.spend, Spend::default(), "no replicas known");
    // Half of a 30-day budget at 15x: 0.5 × 2,592,000 / 15 = 86,400 s.
    assert!(close(checkout.exhausted_in_s.unwrap(), 86_400.0));
    assert_eq!(
        only.findings,
        [Finding::BudgetExhaustion {
            service: "checkout".into(),
            in_s: checkout.exhausted_in_s.unwrap()
        }]
    );
    assert_eq!(
        only.by_tier,
        [TierSpend {
            tier: None,
            per_hour: None
        }]
    );
    assert_eq!(only.total_per_hour, None);
}

/// Prometheus measures credit-decision against 99.9 % while the lab's posture says 99 %: the
/// figures are restated against 99 %. Burn 20x of 0.1 % is a 2 % error ratio, 2x of 1 %; 5x is
/// 0.5x. Budget -19 over 30 days is 20 × 0.1 % = 2 % failed, 1 - 2 % / 1 % = -1 of the 99 %
/// budget: spent. Measured over 7 days instead, the budget cannot be restated and stays
/// unknown while the burn still is.
#[test]
fn figures_measured_against_another_slo_are_restated_against_the_postures() {
    use BurnWindow::*;
    let mut fleet = default_fleet();
    let credit = service(&mut fleet, "credit-decision");
    credit.posture.as_mut().unwrap().budget_left = None;
    let burns = [(OneHour, 20.0), (SixHours, 5.0)];
    let facts = [measured("credit-decision", Some(-19.0), &burns)];
    let report = CostReport::of(
        &fleet,
        &CostConfig::default(),
        &[reads("prom", &facts, false)],
    );
    let credit = report.service("credit-decision").unwrap();
    assert_eq!(credit.slo.unwrap().target, 0.99);
    assert!(close(credit.burn_rate_1h.unwrap(), 2.0));
    assert!(close(credit.burn_rate_6h.unwrap(), 0.5));
    assert!(close(credit.budget_left.unwrap(), -1.0));
    assert_eq!(credit.exhausted_in_s, Some(0.0));
    let by = credit.measured.as_ref().unwrap();
    assert_eq!(by.figures, ["budget", "burn 1h", "burn 6h"]);
    assert_eq!(by.converted_from, Some(facts[0].slo));

    let weekly = Slo {
        target: 0.999,
        window_s: 7.0 * 86_400.0,
    };
    let facts = [measured_on(weekly, "credit-decision", Some(-19.0), &burns)];
    let report = CostReport::of(
        &fleet,
        &CostConfig::default(),
        &[reads("prom", &facts, false)],
    );
    let credit = report.service("credit-decision").unwrap();
    assert_eq!(credit.budget_left, None, "another window: not restated");
    assert!(close(credit.burn_rate_1h.unwrap(), 2.0));
    assert_eq!(
        credit.measured.as_ref().unwrap().figures,
        ["burn 1h", "burn 6h"]
    );
}
