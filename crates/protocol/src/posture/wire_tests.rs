//! What a service costs, who its outage hits and what its redundancy buys, on a service whose
//! figures are computed by hand below.

use super::*;
use crate::commands::TimedControl;
use crate::{DegradedMode, DegradedModeKind, Health, RedundancyTier, Replica, Route};
use chrono::Utc;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

fn replica(region: &str, role: ReplicaRole, ready: bool, capacity: f64, load: f64) -> Replica {
    Replica {
        id: format!("credit@{region}"),
        region: region.into(),
        role,
        ready,
        replication_lag_s: 0.0,
        capacity_rps: capacity,
        load_rps: load,
        takeover_s: None,
        timed_role: None,
        pool: None,
    }
}

fn posture(depends_on: &[&str], downtime_cost_per_min: Option<f64>) -> Posture {
    Posture {
        criticality: Criticality::Critical,
        slo: Slo {
            target: 0.99,
            window_s: 30.0 * 86_400.0,
        },
        budget_left: Some(0.5),
        burn_rate_1h: Some(2.0),
        burn_rate_6h: Some(1.0),
        downtime_cost_per_min,
        depends_on: depends_on.iter().map(|s| s.to_string()).collect(),
        replica_cost_per_hour: Some(4.50),
        tokens_per_request: Some(1500.0),
        incidents_per_month: 1.0,
        repair_min: 60.0,
    }
}

/// credit: active us-east (110 rps, serving 80), hot standby us-west, cold standby eu-west.
fn credit() -> Service {
    Service {
        id: "credit".into(),
        tier: RedundancyTier::ActivePassive,
        health: Health::Ok,
        demand_rps: 80.0,
        replicas: vec![
            replica("us-east", ReplicaRole::Active, true, 110.0, 80.0),
            replica("us-west", ReplicaRole::HotStandby, true, 110.0, 0.0),
            replica("eu-west", ReplicaRole::ColdStandby, false, 90.0, 0.0),
        ],
        degraded_modes: Vec::new(),
        region_weights: Default::default(),
        control_revision: 1,
        posture: Some(posture(&[], Some(1_000.0))),
    }
}

fn route(service: &str, provider: &str, share: f64) -> Route {
    Route {
        service: service.into(),
        provider: provider.into(),
        rank: 1,
        weight: 1.0,
        share,
    }
}

/// The gateway of us-east sends credit 3/4 to anthropic, 1/4 to openai; us-west's routes carry
/// nothing (its replica serves no traffic).
fn gateways() -> Vec<Gateway> {
    let gateway = |region: &str| Gateway {
        id: format!("gw-{region}"),
        region: region.into(),
        routes: vec![
            route("credit", &format!("anthropic@{region}"), 0.75),
            route("credit", &format!("openai@{region}"), 0.25),
        ],
        last_fallback: None,
    };
    vec![gateway("us-east"), gateway("us-west")]
}

fn prices(provider: &str) -> Option<f64> {
    match provider.split('@').next() {
        Some("anthropic") => Some(0.015),
        Some("openai") => Some(0.010),
        _ => None,
    }
}

#[test]
fn replicas_cost_by_role_and_paths_by_price_and_traffic() {
    let service = credit();
    let spend = spend(
        &service,
        service.posture.as_ref().unwrap(),
        &gateways(),
        &[],
        &StandbyShares::default(),
        prices,
    );
    // Active 4.50 + hot 4.50 + cold 0.05 × 4.50 = 0.225: 9.225 in all, 4.725 on standbys.
    assert!(close(spend.replicas_per_hour.unwrap(), 9.225));
    assert!(close(spend.standbys_per_hour.unwrap(), 4.725));
    assert!(close(spend.hot_standbys_per_hour.unwrap(), 4.50));
    // 60 rps × 1500 tokens at $0.015/1k = $1.35/s = $4,860/h; 20 rps at $0.010/1k = $1,080/h.
    assert!(close(spend.paths_per_hour.unwrap(), 5_940.0));
    assert!(close(spend.total_per_hour().unwrap(), 5_949.225));
}

#[test]
fn serving_from_cache_spares_model_calls_and_an_unknown_price_is_unknown_spend() {
    let mut service = credit();
    service.degraded_modes.push(DegradedMode {
        mode: DegradedModeKind::ServeCache,
        control: TimedControl {
            set_by: "alice".into(),
            reason: "provider outage".into(),
            since: Utc::now(),
            expires_at: None,
        },
    });
    let posture = service.posture.clone().unwrap();
    let cached = spend(
        &service,
        &posture,
        &gateways(),
        &[],
        &StandbyShares::default(),
        prices,
    );
    // 40 % of requests hit the cache: 5,940 × 0.6 = 3,564.
    assert!(close(cached.paths_per_hour.unwrap(), 3_564.0));
    let anthropic_unpriced = |p: &str| prices(p).filter(|_| !p.starts_with("anthropic"));
    let unknown = spend(
        &service,
        &posture,
        &gateways(),
        &[],
        &StandbyShares::default(),
        anthropic_unpriced,
    );
    assert_eq!(
        unknown.paths_per_hour, None,
        "a path carrying traffic has no price"
    );
    assert_eq!(unknown.total_per_hour(), None);
    assert!(
        unknown.replicas_per_hour.is_some(),
        "the replicas' part is still known"
    );
}

#[test]
fn the_blast_radius_follows_dependencies_through_and_names_what_has_no_price() {
    let mut scorer = credit();
    scorer.id = "scorer".into();
    scorer.posture = Some(posture(&[], Some(500.0)));
    let mut credit = credit();
    credit.posture = Some(posture(&["scorer"], Some(1_000.0)));
    let mut notifier = credit.clone();
    notifier.id = "notifier".into();
    notifier.posture = Some(posture(&["credit"], None));
    let services = [scorer, credit, notifier];
    let radius = blast_radius("scorer", &services);
    assert_eq!(radius.dependents, ["credit", "notifier"]);
    assert!(close(radius.cost_per_min, 1_500.0));
    assert_eq!(radius.unpriced, ["notifier"]);
    let leaf = blast_radius("notifier", &services);
    assert!(leaf.dependents.is_empty());
    assert_eq!(leaf.unpriced, ["notifier"]);
}

#[test]
fn the_roi_weighs_the_downtime_a_ready_standby_saves_against_what_it_costs_beyond_need() {
    let service = credit();
    let posture = service.posture.clone().unwrap();
    let spend = spend(
        &service,
        &posture,
        &gateways(),
        &[],
        &StandbyShares::default(),
        prices,
    );
    // One incident a month (1/730 per hour) cut from a 60-minute repair to the hot standby's
    // 5 s takeover at $1,000/min: 1/730 × (60 - 5/60) × 1000 = $82.078 averted per hour. One
    // active replica carries the 80 rps, so the extra is the standbys' 4.725 $/h.
    let averted = (60.0 - 5.0 / 60.0) * 1_000.0 / 730.0;
    let roi = roi(
        &service,
        &posture,
        &spend,
        1_000.0,
        &TakeoverTimes::default(),
    )
    .unwrap();
    assert!(close(roi, averted / 4.725), "{roi}");
    // Without its hot standby only the cold one remains, not ready: it averts nothing.
    let mut bare = service.clone();
    bare.replicas.remove(1);
    let bare_spend = spend_of(&bare);
    assert_eq!(roi_of(&bare, &bare_spend), Some(0.0));
}

#[test]
fn active_active_redundancy_is_what_runs_beyond_the_replicas_the_demand_needs() {
    let mut service = credit();
    service.tier = RedundancyTier::ActiveActive;
    service.demand_rps = 150.0;
    service.replicas = vec![
        replica("us-east", ReplicaRole::Active, true, 100.0, 75.0),
        replica("us-west", ReplicaRole::Active, true, 100.0, 75.0),
        replica("eu-west", ReplicaRole::Active, true, 60.0, 0.0),
    ];
    let spend = spend_of(&service);
    // Two replicas carry 150 rps; the third (4.50/h) is the redundancy. Another active replica
    // carries on in an outage: 60 minutes averted, 1/730 × 60 × 1000 = 82.19 per hour.
    let roi = roi_of(&service, &spend).unwrap();
    assert!(close(roi, 60.0 * 1_000.0 / 730.0 / 4.50), "{roi}");
    service.demand_rps = 500.0;
    assert_eq!(
        roi_of(&service, &spend),
        None,
        "no replica count carries the demand"
    );
}

fn spend_of(service: &Service) -> Spend {
    spend(
        service,
        service.posture.as_ref().unwrap(),
        &gateways(),
        &[],
        &StandbyShares::default(),
        prices,
    )
}

fn roi_of(service: &Service, spend: &Spend) -> Option<f64> {
    roi(
        service,
        service.posture.as_ref().unwrap(),
        spend,
        1_000.0,
        &TakeoverTimes::default(),
    )
}

#[test]
fn a_borrowed_replica_costs_its_pools_price_and_an_unknown_pool_is_unknown_spend() {
    let mut service = credit();
    let mut borrowed = replica("us-west", ReplicaRole::WarmStandby, true, 50.0, 0.0);
    borrowed.pool = Some("shared-us-west".into());
    service.replicas.push(borrowed);
    let pool = crate::readiness::Pool {
        id: "shared-us-west".into(),
        region: "us-west".into(),
        size: 2,
        cost_per_hour: 2.00,
        lend_s: 60.0,
        capacity_rps: 50.0,
        loans: Vec::new(),
    };
    let posture = service.posture.clone().unwrap();
    let shares = StandbyShares::default();
    let priced = spend(&service, &posture, &gateways(), &[pool], &shares, prices);
    // 9.225 as before, and the borrowed warm replica: 0.4 × the pool's $2.00.
    assert!(close(priced.replicas_per_hour.unwrap(), 9.225 + 0.80));
    let unknown = spend(&service, &posture, &gateways(), &[], &shares, prices);
    assert_eq!(
        unknown.replicas_per_hour, None,
        "its pool is not in the snapshot"
    );
}
