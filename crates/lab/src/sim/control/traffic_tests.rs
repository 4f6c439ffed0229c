use super::*;
use crate::sim::FleetView;
use crate::sim::control::tests::{apply, breaker, degrade, drain, refused, replica_load, weights};
use crate::sim::tests::{provider, region, route_share, run_to, service, share_sum, sim};
use protocol::Health;
use protocol::command::Command;
use protocol::commands::AuditOutcome;

#[test]
fn draining_us_east_moves_its_share_to_the_other_regions() {
    let mut sim = sim(42, None);
    let before = run_to(&mut sim, 10.0);
    assert!(region(&before, "us-east").traffic_share > 0.3);
    let applied = apply(&mut sim, &drain("us-east", None));
    assert_eq!(applied.control_revision, 2);
    let drained = sim.view();
    let east = region(&drained, "us-east");
    assert_eq!((east.traffic_share, east.load_rps), (0.0, 0.0));
    let control = east.drain.as_ref().unwrap();
    assert_eq!(
        (control.set_by.as_str(), control.reason.as_str()),
        ("bob", "drill")
    );
    assert_eq!(control.expires_at, None);
    assert!(
        (share_sum(&drained) - 1.0).abs() < 1e-3,
        "{}",
        share_sum(&drained)
    );
    for id in ["us-west", "eu-west", "ap-south"] {
        assert!(
            region(&drained, id).traffic_share > region(&before, id).traffic_share,
            "{id}"
        );
    }
    // Consequences: eu-west cannot absorb its share, and credit-decision had its only
    // active replica in us-east.
    let warned = |needle: &str| applied.warnings.iter().any(|w| w.contains(needle));
    assert!(warned("eu-west is over capacity"), "{:?}", applied.warnings);
    assert!(
        warned("credit-decision has no replica taking traffic"),
        "{:?}",
        applied.warnings
    );
    assert!(
        sim.notices()
            .iter()
            .any(|n| n.text.ends_with("bob: drain us-east — drill"))
    );

    let later = run_to(&mut sim, 60.0);
    assert_eq!(region(&later, "us-east").traffic_share, 0.0);
    assert_eq!(region(&later, "eu-west").health, Health::Degraded);
    assert_eq!(
        apply(
            &mut sim,
            &Command::Undrain {
                region: "us-east".into()
            }
        )
        .control_revision,
        3
    );
    let back = run_to(&mut sim, 70.0);
    assert!(region(&back, "us-east").traffic_share > 0.3);
    assert_eq!(region(&back, "us-east").drain, None);
}

#[test]
fn a_quarantine_holds_the_breaker_open_despite_low_errors_until_it_expires() {
    let mut sim = sim(42, None);
    run_to(&mut sim, 10.0);
    let openai = "openai@us-east";
    apply(
        &mut sim,
        &breaker(openai, BreakerAction::ForceOpen, Some(120)),
    );
    let view = run_to(&mut sim, 129.75);
    let held = provider(&view, openai);
    assert!(held.error_rate < 0.05, "a healthy provider");
    assert_eq!(held.breaker.state, BreakerState::Open);
    assert_eq!(
        held.breaker.reason.as_deref(),
        Some("quarantined by bob: drill")
    );
    assert_eq!(held.breaker.until, Some(sim.time_at(130.0)));
    assert_eq!(
        held.quarantine.as_ref().unwrap().expires_at,
        Some(sim.time_at(130.0))
    );
    assert_eq!(held.load_rps, 0.0);
    assert_eq!(
        route_share(&view, "us-east", "risk-scorer", "anthropic@us-east"),
        0.6
    );

    let view = run_to(&mut sim, 130.25);
    let released = provider(&view, openai);
    assert_eq!(released.quarantine, None);
    assert_eq!(released.breaker.state, BreakerState::HalfOpen);
    let records = sim.take_automatic_records();
    assert_eq!(records[0].action, "breaker force-open");
    assert_eq!(records[0].outcome, AuditOutcome::Reverted);
    let view = run_to(&mut sim, 140.0);
    assert_eq!(provider(&view, openai).breaker.state, BreakerState::Closed);
    assert_eq!(route_share(&view, "us-east", "risk-scorer", openai), 1.0);
}

#[test]
fn close_lifts_a_quarantine_at_once() {
    let mut sim = sim(42, None);
    run_to(&mut sim, 10.0);
    let openai = "openai@us-east";
    assert_eq!(
        refused(&mut sim, &breaker(openai, BreakerAction::Close, None)),
        "the breaker of openai@us-east is already closed"
    );
    apply(&mut sim, &breaker(openai, BreakerAction::ForceOpen, None));
    let applied = apply(&mut sim, &breaker(openai, BreakerAction::Close, None));
    assert_eq!(applied.control_revision, 3);
    let view = sim.view();
    let closed = provider(&view, openai);
    assert_eq!(
        (closed.breaker.state, closed.quarantine.is_none()),
        (BreakerState::Closed, true)
    );
    assert_eq!(route_share(&view, "us-east", "risk-scorer", openai), 1.0);
    assert!(
        refused(&mut sim, &breaker(openai, BreakerAction::Close, Some(60)))
            .contains("applies to force-open and pin")
    );
}

#[test]
fn a_pin_keeps_the_breaker_closed_through_an_outage() {
    let mut sim = sim(42, Some("provider-outage"));
    run_to(&mut sim, 5.0);
    let openai = "openai@us-east";
    apply(&mut sim, &breaker(openai, BreakerAction::Pin, None));
    let view = run_to(&mut sim, 60.0);
    let pinned = provider(&view, openai);
    assert!(pinned.error_rate > 0.5);
    assert_eq!(pinned.breaker.state, BreakerState::Closed);
    assert_eq!(pinned.control_revision, 2, "no automatic trip");
    assert_eq!(route_share(&view, "us-east", "risk-scorer", openai), 1.0);

    apply(&mut sim, &breaker(openai, BreakerAction::Unpin, None));
    let view = run_to(&mut sim, 66.0);
    let tripped = provider(&view, openai);
    assert_eq!(tripped.breaker.state, BreakerState::Open);
    assert_eq!(
        tripped.control_revision, 4,
        "unpin, then the automatic trip"
    );
    assert_eq!(
        refused(&mut sim, &breaker(openai, BreakerAction::Unpin, None)),
        "openai@us-east is not pinned"
    );
}

#[test]
fn a_timed_pin_reverts_and_the_breaker_trips_again() {
    let mut sim = sim(42, Some("provider-outage"));
    run_to(&mut sim, 5.0);
    let openai = "openai@us-east";
    apply(&mut sim, &breaker(openai, BreakerAction::Pin, Some(30)));
    let view = run_to(&mut sim, 34.75);
    assert_eq!(provider(&view, openai).breaker.state, BreakerState::Closed);
    let view = run_to(&mut sim, 41.0);
    assert_eq!(provider(&view, openai).pinned, None);
    assert_eq!(provider(&view, openai).breaker.state, BreakerState::Open);
    assert_eq!(sim.take_automatic_records()[0].action, "breaker pin");
}

#[test]
fn degraded_modes_change_the_numbers_and_expire() {
    let mut sim = sim(42, None);
    let before = run_to(&mut sim, 10.0);
    let openai = "openai@us-east";
    let risk = "risk-scorer";

    apply(
        &mut sim,
        &degrade(risk, DegradedModeKind::ServeCache, true, Some(60)),
    );
    let cached = sim.view();
    let ratio = provider(&cached, openai).load_rps / provider(&before, openai).load_rps;
    assert!(
        (ratio - (1.0 - protocol::model::CACHE_HIT_SHARE)).abs() < 0.05,
        "{ratio}"
    );
    let served = |view: &FleetView| -> f64 {
        service(view, risk)
            .replicas
            .iter()
            .map(|r| r.load_rps)
            .sum()
    };
    assert!((served(&cached) - service(&cached, risk).demand_rps).abs() < 0.5);
    let mode = &service(&cached, risk).degraded_modes[0];
    assert_eq!(
        (
            mode.mode,
            mode.control.set_by.as_str(),
            mode.control.expires_at
        ),
        (DegradedModeKind::ServeCache, "bob", Some(sim.time_at(70.0)))
    );
    assert_eq!(service(&cached, risk).health, Health::Degraded);

    let view = run_to(&mut sim, 70.25);
    assert!(service(&view, risk).degraded_modes.is_empty());
    assert_eq!(
        sim.take_automatic_records()[0].action,
        "degrade serve-cache on"
    );
    assert_eq!(service(&view, risk).health, Health::Ok);

    apply(
        &mut sim,
        &degrade(risk, DegradedModeKind::QueueNonUrgent, true, None),
    );
    let queued = sim.view();
    let share = served(&queued) / service(&queued, risk).demand_rps;
    assert!(
        (share - (1.0 - protocol::model::NON_URGENT_SHARE)).abs() < 0.01,
        "{share}"
    );
    assert_eq!(
        service(&queued, risk).health,
        Health::Degraded,
        "held back, not failing"
    );
    apply(
        &mut sim,
        &degrade(risk, DegradedModeKind::QueueNonUrgent, false, None),
    );
    assert_eq!(
        refused(
            &mut sim,
            &degrade(risk, DegradedModeKind::QueueNonUrgent, false, None)
        ),
        "queue-non-urgent is not set on risk-scorer"
    );

    let normal = sim.view();
    apply(
        &mut sim,
        &degrade(risk, DegradedModeKind::FallbackModel, true, None),
    );
    let fallback = sim.view();
    assert_eq!(
        route_share(&fallback, "us-east", risk, "self-hosted@us-east"),
        1.0
    );
    assert_eq!(
        route_share(&fallback, "eu-west", risk, "google@eu-west"),
        1.0
    );
    // The small model answers faster where it has room (in us-east it is nearly full).
    let p50 = |view: &FleetView| region(view, "eu-west").latency.p50_ms;
    assert!(
        p50(&fallback) < 0.9 * p50(&normal),
        "{} {}",
        p50(&fallback),
        p50(&normal)
    );

    apply(
        &mut sim,
        &degrade("credit-decision", DegradedModeKind::HumanOnly, true, None),
    );
    let human = sim.view();
    assert!(
        (served(&human) - service(&human, risk).demand_rps).abs() < 0.5,
        "other services are untouched"
    );
    let credit: f64 = service(&human, "credit-decision")
        .replicas
        .iter()
        .map(|r| r.load_rps)
        .sum();
    assert_eq!(credit, 0.0, "every request waits for a person");
    assert_eq!(service(&human, "credit-decision").health, Health::Degraded);

    apply(
        &mut sim,
        &degrade("email-notifier", DegradedModeKind::ReadOnly, true, None),
    );
    let read_only = sim.view();
    let email = service(&read_only, "email-notifier");
    let share = email.replicas[0].load_rps / email.demand_rps;
    assert!(
        (share - (1.0 - protocol::model::WRITE_SHARE)).abs() < 0.01,
        "{share}"
    );
}

#[test]
fn region_weights_move_a_services_traffic_between_regions() {
    let mut sim = sim(42, None);
    let before = run_to(&mut sim, 10.0);
    let risk = "risk-scorer";
    apply(
        &mut sim,
        &weights(risk, WeightScope::Regions, &[("us-east", 0.0)]),
    );
    let view = sim.view();
    assert_eq!(replica_load(&view, risk, "risk-scorer@us-east"), 0.0);
    for replica in [
        "risk-scorer@us-west",
        "risk-scorer@eu-west",
        "risk-scorer@ap-south",
    ] {
        assert!(replica_load(&view, risk, replica) > replica_load(&before, risk, replica));
    }
    // Regions left out keep their weight: their replica's capacity.
    let expected: BTreeMap<String, f64> = [
        ("ap-south", 44.0),
        ("eu-west", 88.0),
        ("us-east", 0.0),
        ("us-west", 99.0),
    ]
    .iter()
    .map(|(k, w)| (k.to_string(), *w))
    .collect();
    assert_eq!(service(&view, risk).region_weights, expected);
    assert!(region(&view, "us-east").traffic_share < region(&before, "us-east").traffic_share);

    // An equal split overloads the small region.
    let applied = apply(
        &mut sim,
        &weights(
            risk,
            WeightScope::Regions,
            &[
                ("us-east", 1.0),
                ("us-west", 1.0),
                ("eu-west", 1.0),
                ("ap-south", 1.0),
            ],
        ),
    );
    assert!(
        applied
            .warnings
            .iter()
            .any(|w| w.starts_with("ap-south is over capacity")),
        "{:?}",
        applied.warnings
    );
    let view = sim.view();
    let east = replica_load(&view, risk, "risk-scorer@us-east");
    let south = replica_load(&view, risk, "risk-scorer@ap-south");
    assert!((east - south).abs() < 0.5, "{east} {south}");

    // Weights are preferences: draining every weighted region spills traffic by capacity.
    apply(
        &mut sim,
        &weights(
            risk,
            WeightScope::Regions,
            &[("us-west", 0.0), ("eu-west", 0.0), ("ap-south", 0.0)],
        ),
    );
    apply(&mut sim, &drain("us-east", None));
    let view = sim.view();
    assert!(replica_load(&view, risk, "risk-scorer@us-west") > 0.0);
}

#[test]
fn provider_weights_move_a_services_traffic_within_a_gateway() {
    let mut sim = sim(42, None);
    run_to(&mut sim, 10.0);
    let risk = "risk-scorer";
    let scope = || WeightScope::Providers {
        region: "us-east".into(),
    };
    apply(
        &mut sim,
        &weights(
            risk,
            scope(),
            &[("openai@us-east", 0.0), ("google@us-east", 0.6)],
        ),
    );
    let view = sim.view();
    assert_eq!(route_share(&view, "us-east", risk, "openai@us-east"), 0.0);
    assert_eq!(
        route_share(&view, "us-east", risk, "anthropic@us-east"),
        0.5
    );
    assert_eq!(route_share(&view, "us-east", risk, "google@us-east"), 0.5);
    assert_eq!(
        route_share(&view, "us-west", risk, "openai@us-west"),
        1.0,
        "other gateways keep theirs"
    );
    assert_eq!(service(&view, risk).control_revision, 2);
}
