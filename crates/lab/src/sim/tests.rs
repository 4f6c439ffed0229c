use super::*;
use protocol::model::MAX_STANDBY_LAG_S;
use std::path::Path;

pub(super) fn sim_with(seed: u64, scenario: Option<Scenario>) -> Sim {
    Sim::new(
        Topology::embedded_default(),
        scenario,
        seed,
        DateTime::<Utc>::UNIX_EPOCH,
    )
}

pub(super) fn sim(seed: u64, shipped: Option<&str>) -> Sim {
    let topology = Topology::embedded_default();
    let scenario = shipped.map(|name| Scenario::load(Path::new(name), &topology).unwrap());
    sim_with(seed, scenario)
}

/// Runs until simulated second `t`.
pub(super) fn run_to(sim: &mut Sim, t: f64) -> FleetView {
    sim.tick(t - sim.elapsed_s());
    assert!((sim.elapsed_s() - t).abs() < 1e-9);
    sim.view()
}

pub(super) fn provider<'a>(view: &'a FleetView, id: &str) -> &'a Provider {
    view.providers.iter().find(|p| p.id == id).unwrap()
}

pub(super) fn region<'a>(view: &'a FleetView, id: &str) -> &'a Region {
    view.regions.iter().find(|r| r.id == id).unwrap()
}

pub(super) fn service<'a>(view: &'a FleetView, id: &str) -> &'a Service {
    view.services.iter().find(|s| s.id == id).unwrap()
}

pub(super) fn route_share(view: &FleetView, region: &str, service: &str, provider: &str) -> f64 {
    let gateway = view.gateways.iter().find(|g| g.region == region).unwrap();
    let route = gateway
        .routes
        .iter()
        .find(|r| r.service == service && r.provider == provider)
        .unwrap();
    route.share
}

pub(super) fn share_sum(view: &FleetView) -> f64 {
    view.regions.iter().map(|r| r.traffic_share).sum()
}

#[test]
fn same_seed_gives_the_same_fleet_and_another_seed_does_not() {
    let mut a = sim(42, Some("provider-outage"));
    let mut b = sim(42, Some("provider-outage"));
    let mut c = sim(43, Some("provider-outage"));
    for _ in 0..120 {
        a.tick(1.5);
        b.tick(1.5);
        c.tick(1.5);
    }
    assert_eq!(a.view(), b.view());
    assert_eq!(a.notices(), b.notices());
    assert_ne!(a.view(), c.view());
}

#[test]
fn long_ticks_play_out_like_short_ones() {
    let mut fast = sim(7, Some("region-down"));
    let mut slow = sim(7, Some("region-down"));
    for _ in 0..10 {
        fast.tick(3.0);
    }
    for _ in 0..120 {
        slow.tick(0.25);
    }
    assert_eq!(fast.view(), slow.view());
    assert_eq!(fast.notices(), slow.notices());
}

#[test]
fn without_a_scenario_the_fleet_stays_healthy() {
    let mut sim = sim(42, None);
    for t in (5..=600).step_by(5) {
        let view = run_to(&mut sim, t as f64);
        let unwell: Vec<String> = view
            .regions
            .iter()
            .map(|r| (&r.id, r.health))
            .chain(view.providers.iter().map(|p| (&p.id, p.health)))
            .chain(view.services.iter().map(|s| (&s.id, s.health)))
            .filter(|(_, health)| *health != Health::Ok)
            .map(|(id, health)| format!("{id} {}", health.word()))
            .collect();
        assert!(unwell.is_empty(), "t={t}: {unwell:?}");
        assert!((share_sum(&view) - 1.0).abs() < 1e-3);
        assert!(
            view.providers
                .iter()
                .all(|p| p.breaker.state == BreakerState::Closed)
        );
    }
    let notices: Vec<&str> = sim.notices().iter().map(|n| n.text.as_str()).collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].starts_with("lab started on topology default: Four regions"));
}

#[test]
fn provider_outage_trips_the_breaker_and_traffic_fails_over_to_the_next_rank() {
    let mut sim = sim(42, Some("provider-outage"));
    let before = run_to(&mut sim, 9.75);
    assert_eq!(provider(&before, "openai@us-east").health, Health::Ok);
    assert_eq!(
        route_share(&before, "us-east", "risk-scorer", "openai@us-east"),
        1.0
    );
    assert_eq!(
        route_share(&before, "us-east", "risk-scorer", "anthropic@us-east"),
        0.0
    );

    // The outage shows at once; the breaker waits for trip_after_s.
    let failing = run_to(&mut sim, 10.0);
    let openai = provider(&failing, "openai@us-east");
    assert!(openai.error_rate > 0.5, "{}", openai.error_rate);
    assert_eq!(openai.health, Health::Down);
    assert_eq!(openai.breaker.state, BreakerState::Closed);
    assert_eq!(region(&failing, "us-east").health, Health::Degraded);
    let waiting = run_to(&mut sim, 14.5);
    assert_eq!(
        provider(&waiting, "openai@us-east").breaker.state,
        BreakerState::Closed
    );

    let tripped = run_to(&mut sim, 15.5);
    let openai = provider(&tripped, "openai@us-east");
    assert_eq!(openai.breaker.state, BreakerState::Open);
    assert!(
        openai
            .breaker
            .reason
            .as_deref()
            .unwrap()
            .contains("> 50% for 5s")
    );
    assert!(openai.breaker.until.unwrap() > sim.now());
    assert_eq!(openai.load_rps, 0.0);
    assert_eq!(
        route_share(&tripped, "us-east", "risk-scorer", "openai@us-east"),
        0.0
    );
    assert_eq!(
        route_share(&tripped, "us-east", "risk-scorer", "anthropic@us-east"),
        0.6
    );
    assert_eq!(
        route_share(&tripped, "us-east", "risk-scorer", "google@us-east"),
        0.4
    );
    assert!(provider(&tripped, "google@us-east").load_rps > 20.0);
    let gateway = tripped
        .gateways
        .iter()
        .find(|g| g.region == "us-east")
        .unwrap();
    let fallback = gateway.last_fallback.as_ref().unwrap();
    assert_eq!(
        (
            fallback.service.as_str(),
            fallback.from.as_str(),
            fallback.to.as_str()
        ),
        (
            "risk-scorer",
            "openai@us-east",
            "anthropic@us-east, google@us-east"
        )
    );
    assert!(
        fallback
            .reason
            .starts_with("breaker open on openai@us-east"),
        "{}",
        fallback.reason
    );
    assert!(
        sim.notices()
            .iter()
            .any(|n| n.text.contains("breaker open: openai@us-east"))
    );
    // Other regions are untouched.
    assert_eq!(
        route_share(&tripped, "us-west", "risk-scorer", "openai@us-west"),
        1.0
    );

    // The outage ends at 4m10s; a probe after the next cooldown closes the breaker.
    let recovered = run_to(&mut sim, 300.0);
    assert_eq!(
        provider(&recovered, "openai@us-east").breaker.state,
        BreakerState::Closed
    );
    assert_eq!(
        route_share(&recovered, "us-east", "risk-scorer", "openai@us-east"),
        1.0
    );
    assert!(
        sim.notices()
            .iter()
            .any(|n| n.text.contains("breaker closed: openai@us-east"))
    );
}

#[test]
fn region_down_moves_its_traffic_share_to_the_other_regions() {
    let mut sim = sim(42, Some("region-down"));
    let before = run_to(&mut sim, 14.75);
    assert!(region(&before, "us-east").traffic_share > 0.3);
    assert_eq!(service(&before, "credit-decision").health, Health::Ok);

    let after = run_to(&mut sim, 20.0);
    let east = region(&after, "us-east");
    assert_eq!(
        (east.health, east.load_rps, east.traffic_share),
        (Health::Down, 0.0, 0.0)
    );
    assert!(
        (share_sum(&after) - 1.0).abs() < 1e-3,
        "shares sum to {}",
        share_sum(&after)
    );
    for id in ["us-west", "eu-west", "ap-south"] {
        assert!(
            region(&after, id).traffic_share > region(&before, id).traffic_share,
            "{id}"
        );
    }
    // eu-west cannot absorb its new share: it sheds with 429s.
    let eu = region(&after, "eu-west");
    assert!(eu.headroom() < 0.0 && eu.rate_limited_rate > 0.05, "{eu:?}");
    let risk = service(&after, "risk-scorer");
    let served: f64 = risk.replicas.iter().map(|r| r.load_rps).sum();
    assert!(
        (served - risk.demand_rps).abs() < 0.5,
        "all demand served elsewhere"
    );
    assert_eq!(risk.health, Health::Degraded);
    // Active-passive: nothing serves credit-decision until its standby is promoted.
    assert_eq!(service(&after, "credit-decision").health, Health::Down);

    let back = run_to(&mut sim, 620.0);
    assert_eq!(region(&back, "us-east").health, Health::Ok);
    assert!(region(&back, "us-east").traffic_share > 0.3);
}

#[test]
fn rate_limit_storm_raises_429s_across_regions() {
    let mut sim = sim(42, Some("rate-limit-storm"));
    let before = run_to(&mut sim, 14.75);
    let storm = run_to(&mut sim, 20.0);
    for region_id in ["us-east", "us-west", "eu-west"] {
        let id = format!("openai@{region_id}");
        assert_eq!(provider(&before, &id).rate_limited_rate, 0.0, "{id}");
        assert!(provider(&storm, &id).rate_limited_rate > 0.2, "{id}");
        assert_eq!(provider(&storm, &id).rate_limit_headroom, 0.0, "{id}");
        assert!(
            region(&storm, region_id).rate_limited_rate > 0.1,
            "{region_id}"
        );
        assert_eq!(region(&storm, region_id).health, Health::Degraded);
    }
    assert_eq!(provider(&storm, "google@eu-west").rate_limited_rate, 0.0);
    // 429s are not errors: no breaker opens.
    assert!(
        storm
            .providers
            .iter()
            .all(|p| p.breaker.state == BreakerState::Closed)
    );
    let after = run_to(&mut sim, 200.0);
    assert_eq!(provider(&after, "openai@us-east").rate_limited_rate, 0.0);
}

#[test]
fn region_brownout_slows_the_region_and_its_errors_rise() {
    let mut sim = sim(42, Some("region-brownout"));
    let before = run_to(&mut sim, 9.75);
    let early = run_to(&mut sim, 15.0);
    assert!(
        region(&early, "eu-west").latency.p95_ms > 3.0 * region(&before, "eu-west").latency.p95_ms
    );
    assert_eq!(region(&early, "eu-west").health, Health::Degraded);
    assert_eq!(region(&early, "us-east").health, Health::Ok);
    let late = run_to(&mut sim, 280.0);
    assert!(region(&late, "eu-west").error_rate > region(&early, "eu-west").error_rate + 0.1);
    assert_eq!(service(&late, "email-notifier").health, Health::Degraded);
}

#[test]
fn a_standby_that_is_not_warm_is_not_ready_and_falls_behind() {
    let mut sim = sim(42, Some("standby-not-warm"));
    let standby = |view: &FleetView| service(view, "credit-decision").replicas[1].clone();
    let before = run_to(&mut sim, 4.75);
    assert!(standby(&before).ready && standby(&before).replication_lag_s < 2.0);
    let stale = run_to(&mut sim, 50.0);
    assert!(!standby(&stale).ready);
    assert!(standby(&stale).replication_lag_s > MAX_STANDBY_LAG_S);
    assert_eq!(service(&stale, "credit-decision").health, Health::Degraded);
    let down = run_to(&mut sim, 70.0);
    assert_eq!(service(&down, "credit-decision").health, Health::Down);
}

#[test]
fn injects_start_and_end_on_time() {
    let topology = Topology::embedded_default();
    let text = "name = \"blip\"\n[[inject]]\nat = \"10s\"\nkind = \"provider-outage\"\n\
                    target = \"google@ap-south\"\nduration = \"20s\"\nnarrative = \"blip\"\n";
    let scenario = Scenario::parse("blip.toml", text, &topology).unwrap();
    let mut sim = sim_with(1, Some(scenario));
    let mut failing_at = Vec::new();
    while sim.elapsed_s() < 40.0 {
        sim.tick(0.25);
        let failing = provider(&sim.view(), "google@ap-south").error_rate > 0.5;
        if failing != failing_at.len().is_multiple_of(2) {
            continue;
        }
        failing_at.push(sim.elapsed_s());
    }
    assert_eq!(failing_at, [10.0, 30.0], "start and end");
    // The time is in `at` only: a text that repeats it shows it twice on the timeline.
    let notices: Vec<(i64, &str)> = sim
        .notices()
        .iter()
        .map(|n| (n.at.timestamp(), n.text.as_str()))
        .collect();
    assert_eq!(notices[1], (0, "scenario blip started"));
    assert_eq!(
        notices[2],
        (
            10,
            "inject: google@ap-south outage (503s, 90% errors) for 20s — blip"
        )
    );
    assert!(
        notices.contains(&(
            30,
            "inject ended: google@ap-south outage (503s, 90% errors)"
        )),
        "{notices:?}"
    );
}

#[test]
fn fresh_notices_are_handed_out_once() {
    let mut sim = sim(42, Some("provider-outage"));
    let started = sim.take_fresh_notices();
    assert_eq!(started.len(), 2);
    assert!(
        started[1]
            .text
            .starts_with("scenario provider-outage started: openai@us-east answers")
    );
    sim.tick(11.0);
    let fresh = sim.take_fresh_notices();
    assert_eq!(fresh.len(), 1);
    assert!(fresh[0].text.starts_with("inject: openai@us-east outage"));
    assert!(sim.take_fresh_notices().is_empty());
    assert_eq!(sim.notices(), [started, fresh].concat().as_slice());
}

#[test]
fn replicas_report_the_takeover_time_of_the_topologys_failover_policy() {
    let mut topology = Topology::embedded_default();
    topology.failover.hot_takeover_s = 12.0;
    topology.failover.cold_takeover_s = 900.0;
    let expected = topology.failover;
    let mut sim = Sim::new(topology, None, 1, DateTime::<Utc>::UNIX_EPOCH);
    let view = run_to(&mut sim, 1.0);
    let replicas: Vec<&protocol::Replica> =
        view.services.iter().flat_map(|s| &s.replicas).collect();
    assert!(replicas.iter().any(|r| r.role == ReplicaRole::HotStandby));
    for replica in replicas {
        assert_eq!(
            replica.takeover_s,
            Some(expected.expected_s(replica.role, replica.ready)),
            "{}",
            replica.id
        );
    }
}
