use super::*;
use crate::testing::{default_fleet, small_fleet};
use protocol::model::ModeEffect;
use protocol::{Breaker, BreakerState, DegradedMode, DegradedModeKind, Health};

/// The fixture's loads are rounded to 0.1 rps: sums and splits of them drift by that much.
const EPS: f64 = 0.05;

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < EPS
}

fn region<'p>(preflight: &'p Preflight, id: &str) -> &'p RegionShift {
    preflight
        .regions
        .iter()
        .find(|r| r.region == id)
        .unwrap_or_else(|| panic!("no shift of {id}: {:#?}", preflight.regions))
}

fn provider<'p>(preflight: &'p Preflight, id: &str) -> &'p ProviderShift {
    preflight
        .providers
        .iter()
        .find(|p| p.provider == id)
        .unwrap_or_else(|| panic!("no shift of {id}: {:#?}", preflight.providers))
}

fn drain(region: &str) -> Command {
    Command::Drain {
        region: region.into(),
        expires_in_s: None,
    }
}

fn breaker(provider: &str, action: BreakerAction) -> Command {
    Command::Breaker {
        provider: provider.into(),
        action,
        expires_in_s: None,
    }
}

fn weights(service: &str, scope: WeightScope, pairs: &[(&str, f64)]) -> Command {
    Command::Weights {
        service: service.into(),
        scope,
        weights: pairs.iter().map(|(k, w)| (k.to_string(), *w)).collect(),
    }
}

fn open(snapshot: &mut FleetSnapshot, id: &str) {
    let provider = snapshot.providers.iter_mut().find(|p| p.id == id).unwrap();
    provider.breaker = Breaker {
        state: BreakerState::Open,
        reason: Some("test".into()),
        until: None,
    };
    provider.load_rps = 0.0;
}

#[test]
fn draining_us_east_spreads_its_traffic_by_capacity_and_overloads_eu_west() {
    let check = preflight(&drain("us-east"), &default_fleet());
    // risk-scorer (240.9 rps) goes to us-west 90, eu-west 80, ap-south 40 of capacity;
    // feature-store (94.3) to us-west and eu-west, 45 each; credit-decision has nowhere.
    let east = region(&check, "us-east");
    assert!(close(east.load_after_rps, 0.0) && close(east.share_after, 0.0));
    let west = region(&check, "us-west");
    assert!(close(
        west.load_after_rps,
        97.1 + 240.9 * 90.0 / 210.0 - 65.7 + 94.3 / 2.0 - 31.4
    ));
    assert_eq!(west.verdict, Verdict::Low);
    let eu = region(&check, "eu-west");
    assert!(close(
        eu.load_after_rps,
        110.2 + 240.9 * 80.0 / 210.0 - 58.4 + 94.3 / 2.0 - 31.4
    ));
    assert_eq!(eu.verdict, Verdict::Overload);
    assert!(
        eu.headroom_after < -0.13 && eu.headroom_after > -0.14,
        "{eu:?}"
    );
    let ap = region(&check, "ap-south");
    assert!(close(ap.load_after_rps, 57.5 + 240.9 * 40.0 / 210.0 - 29.2));
    let total: f64 = check.regions.iter().map(|r| r.share_after).sum();
    assert!(close(total, 1.0), "shares add up: {total}");
    assert!(close(
        ap.share_after,
        ap.load_after_rps / (west.load_after_rps + eu.load_after_rps + ap.load_after_rps)
    ));

    assert_eq!(check.no_path.len(), 1, "{:#?}", check.no_path);
    let lost = &check.no_path[0];
    assert_eq!(
        (lost.service.as_str(), lost.region.as_deref()),
        ("credit-decision", None)
    );
    assert!(
        lost.why
            .contains("credit-decision@us-east (its region drained)"),
        "{}",
        lost.why
    );
    assert!(
        lost.why
            .contains("promote a standby first (credit-decision@us-west)"),
        "{}",
        lost.why
    );
    assert!(check.blocks());
    let reasons = check.blocking_reasons().join("\n");
    assert!(
        reasons.contains("region eu-west at 114% of capacity (159 of 140 rps)"),
        "{reasons}"
    );
    assert!(
        reasons.contains("replica feature-store@eu-west at 105% of capacity"),
        "{reasons}"
    );
    assert!(
        !check.overloads.iter().any(|o| o.contains("us-east")),
        "losing load never overloads: {reasons}"
    );
}

#[test]
fn draining_a_quiet_region_moves_little_and_passes() {
    let mut fleet = default_fleet();
    // Without log-aggregator (its only replica is there), ap-south can go.
    fleet.services.retain(|s| s.id != "log-aggregator");
    let check = preflight(&drain("ap-south"), &fleet);
    assert!(check.no_path.is_empty(), "{:#?}", check.no_path);
    assert!(!check.blocks(), "{:#?}", check);
    let ap = region(&check, "ap-south");
    assert!(close(ap.load_after_rps, 57.5 - 29.2));
    let moved: f64 = check
        .regions
        .iter()
        .map(|r| r.load_after_rps - r.load_before_rps)
        .sum();
    assert!(close(moved, 0.0), "nothing lost: {moved}");
}

#[test]
fn forcing_open_a_rank_one_provider_moves_its_lanes_to_rank_two() {
    let check = preflight(
        &breaker("openai@us-east", BreakerAction::ForceOpen),
        &default_fleet(),
    );
    assert!(check.regions.is_empty(), "traffic stays in us-east");
    let openai = provider(&check, "openai@us-east");
    assert!(close(openai.load_after_rps, 0.0));
    let anthropic = provider(&check, "anthropic@us-east");
    assert!(close(anthropic.load_after_rps, 84.5 + 87.6 * 0.6));
    // Its rate limit shows through its load and headroom: 84.5 / (1 - 0.437).
    assert!(close(anthropic.rate_limit_rps.unwrap(), 150.09));
    assert_eq!(anthropic.verdict, Some(Verdict::Low));
    let google = provider(&check, "google@us-east");
    assert!(close(google.load_after_rps, 87.6 * 0.4));
    assert_eq!(
        (google.rate_limit_rps, google.verdict),
        (None, None),
        "idle"
    );
    assert!(check.no_path.is_empty() && !check.blocks(), "{check:#?}");
}

#[test]
fn forcing_open_the_last_healthy_provider_leaves_no_path() {
    let mut fleet = default_fleet();
    open(&mut fleet, "self-hosted@ap-south");
    let check = preflight(
        &breaker("google@ap-south", BreakerAction::ForceOpen),
        &fleet,
    );
    let lost: Vec<(&str, Option<&str>)> = check
        .no_path
        .iter()
        .map(|n| (n.service.as_str(), n.region.as_deref()))
        .collect();
    assert_eq!(
        lost,
        [
            ("log-aggregator", None),
            ("log-aggregator", Some("ap-south"))
        ]
    );
    assert!(
        check.no_path[0]
            .why
            .contains("no usable provider at its gateway")
    );
    assert!(check.blocks());
    // risk-scorer keeps anthropic@ap-south, which takes google's part.
    let anthropic = provider(&check, "anthropic@ap-south");
    assert!(close(anthropic.load_after_rps, 29.2), "{anthropic:?}");

    // A failing survivor is no healthy path either.
    let mut fleet = default_fleet();
    let google = fleet
        .providers
        .iter_mut()
        .find(|p| p.id == "google@ap-south")
        .unwrap();
    google.health = Health::Down;
    google.error_rate = 0.9;
    let check = preflight(
        &breaker("self-hosted@ap-south", BreakerAction::ForceOpen),
        &fleet,
    );
    assert_eq!(check.no_path.len(), 1, "{:#?}", check.no_path);
    assert_eq!(check.no_path[0].region.as_deref(), Some("ap-south"));
    assert!(check.no_path[0].why.contains("only failing providers"));
}

#[test]
fn region_weights_start_from_capacity_and_zero_acts_like_a_drain_for_one_service() {
    let check = preflight(
        &weights("risk-scorer", WeightScope::Regions, &[("us-east", 0.0)]),
        &default_fleet(),
    );
    let east = region(&check, "us-east");
    assert!(close(east.load_after_rps, 203.5 - 87.6));
    let eu = region(&check, "eu-west");
    assert!(close(
        eu.load_after_rps,
        110.2 + 240.9 * 80.0 / 210.0 - 58.4
    ));
    assert_eq!(eu.verdict, Verdict::Overload);
    assert!(check.blocks());

    // More pull for us-east: weight 180 against 90 + 80 + 40 for the others.
    let check = preflight(
        &weights("risk-scorer", WeightScope::Regions, &[("us-east", 180.0)]),
        &default_fleet(),
    );
    let east = region(&check, "us-east");
    assert!(close(
        east.load_after_rps,
        203.5 - 87.6 + 240.9 * 180.0 / 390.0
    ));
    assert_eq!(east.verdict, Verdict::Low);
    assert!(!check.blocks(), "{check:#?}");

    let check = preflight(
        &weights("risk-scorer", WeightScope::Regions, &[("mars", 1.0)]),
        &default_fleet(),
    );
    assert!(check.errors[0].starts_with("risk-scorer has no replica in mars"));
    assert!(check.blocks());
    let check = preflight(
        &weights("credit-decision", WeightScope::Regions, &[("us-east", 0.0)]),
        &default_fleet(),
    );
    assert!(
        check.errors[0].contains("without traffic"),
        "{:?}",
        check.errors
    );
}

#[test]
fn provider_weights_move_traffic_within_one_gateway() {
    let scope = WeightScope::Providers {
        region: "us-east".into(),
    };
    let check = preflight(
        &weights("risk-scorer", scope.clone(), &[("openai@us-east", 0.0)]),
        &default_fleet(),
    );
    let forced = preflight(
        &breaker("openai@us-east", BreakerAction::ForceOpen),
        &default_fleet(),
    );
    assert_eq!(check.providers, forced.providers);
    let check = preflight(
        &weights("risk-scorer", scope, &[("openai@eu-west", 1.0)]),
        &default_fleet(),
    );
    assert!(
        check.errors[0].contains("go to openai@us-east, anthropic@us-east"),
        "{:?}",
        check.errors
    );
}

#[test]
fn a_promotion_takes_the_time_its_source_reports_not_a_default() {
    let command = Command::Promote {
        service: "credit-decision".into(),
        replica: "credit-decision@us-west".into(),
    };
    let mut fleet = default_fleet();
    fleet.services[1].replicas[1].takeover_s = Some(42.0);
    let check = preflight(&command, &fleet);
    assert_eq!(check.takeover.as_ref().unwrap().expected_takeover_s, 42.0);
}

#[test]
fn promoting_the_hot_standby_moves_credit_decision_into_us_west() {
    let command = Command::Promote {
        service: "credit-decision".into(),
        replica: "credit-decision@us-west".into(),
    };
    let check = preflight(&command, &default_fleet());
    let takeover = check.takeover.as_ref().unwrap();
    assert_eq!(takeover.expected_takeover_s, 5.0);
    assert_eq!(takeover.replaces, ["credit-decision@us-east"]);
    assert_eq!(
        check.warnings,
        ["replication lag 0.4s: recent writes may be lost"]
    );
    let west = region(&check, "us-west");
    assert!(close(west.load_after_rps, 97.1 + 84.5));
    assert_eq!(west.verdict, Verdict::Overload);
    assert!(close(
        region(&check, "us-east").load_after_rps,
        203.5 - 84.5
    ));
    // us-west sheds what exceeds its 160 rps: every provider there gets its admitted part.
    let admitted = 160.0 / (97.1 + 84.5);
    assert!(close(
        provider(&check, "anthropic@us-west").load_after_rps,
        84.5 * admitted
    ));
    assert!(close(
        provider(&check, "openai@us-west").load_after_rps,
        65.7 * admitted
    ));
    assert!(check.blocks());

    let mut fleet = default_fleet();
    let standby = &mut fleet.services[1].replicas[1];
    standby.ready = false;
    standby.replication_lag_s = 45.0;
    let check = preflight(&command, &fleet);
    assert_eq!(check.takeover.as_ref().unwrap().expected_takeover_s, 300.0);
    assert!(
        check.warnings[0].contains("more than 30s"),
        "{:?}",
        check.warnings
    );
    assert!(
        check.warnings[1].contains("not ready: a cold start"),
        "{:?}",
        check.warnings
    );

    let active = Command::Promote {
        service: "credit-decision".into(),
        replica: "credit-decision@us-east".into(),
    };
    assert_eq!(
        preflight(&active, &default_fleet()).errors,
        ["credit-decision@us-east is already active"]
    );
}

#[test]
fn fallback_model_sends_a_lane_to_its_fastest_usable_provider() {
    let mut fleet = default_fleet();
    fleet.services[3].degraded_modes.push(DegradedMode {
        mode: DegradedModeKind::FallbackModel,
        control: protocol::commands::TimedControl {
            set_by: "bob".into(),
            reason: "slow".into(),
            since: crate::testing::fixture_wall(),
            expires_at: None,
        },
    });
    let check = preflight(&breaker("google@eu-west", BreakerAction::ForceOpen), &fleet);
    // email-notifier: anthropic (p95 1089) is faster than openai (1175); feature-store
    // falls from google (rank 2) to openai (rank 3).
    assert!(close(
        provider(&check, "anthropic@eu-west").load_after_rps,
        20.3
    ));
    assert!(close(
        provider(&check, "openai@eu-west").load_after_rps,
        68.6 - 10.15 + 31.4
    ));
    assert!(close(
        provider(&check, "google@eu-west").load_after_rps,
        41.6 - 10.15 - 31.4
    ));
}

#[test]
fn degraded_modes_hold_back_demand_and_spare_model_calls() {
    let effect = ModeEffect::of([DegradedModeKind::ServeCache, DegradedModeKind::ReadOnly]);
    assert!(close(effect.served, 0.8) && close(effect.model_calls, 0.6));
    assert_eq!(ModeEffect::of([DegradedModeKind::HumanOnly]).served, 0.0);

    // feature-store under serve-cache: its replicas' moves reach the gateways at 60%.
    let mut fleet = default_fleet();
    fleet.services[2].degraded_modes.push(DegradedMode {
        mode: DegradedModeKind::ServeCache,
        control: protocol::commands::TimedControl {
            set_by: "bob".into(),
            reason: "slow".into(),
            since: crate::testing::fixture_wall(),
            expires_at: None,
        },
    });
    let check = preflight(&drain("us-west"), &fleet);
    let east = region(&check, "us-east");
    let risk_moved = 240.9 * 120.0 / 240.0 - 87.6;
    let feature_moved = 94.3 / 2.0 - 31.4;
    assert!(close(
        east.load_after_rps,
        203.5 + risk_moved + 0.6 * feature_moved
    ));
}

#[test]
fn commands_that_move_no_traffic_say_what_they_change_and_never_block_on_it() {
    let fleet = small_fleet();
    let pin = preflight(&breaker("openai@eu-west", BreakerAction::Pin), &fleet);
    assert_eq!(
        pin.summary,
        "breaker pin openai@eu-west: the automatic breaker will not trip it"
    );
    assert!(
        pin.warnings[0].contains("a pin only stops new trips"),
        "{:?}",
        pin.warnings
    );
    assert!(!pin.blocks());
    let unpin = preflight(&breaker("openai@eu-west", BreakerAction::Unpin), &fleet);
    assert_eq!(unpin.errors, ["openai@eu-west is not pinned"]);
    let degrade = |enabled| Command::Degrade {
        service: "credit-decision".into(),
        mode: DegradedModeKind::ServeCache,
        enabled,
        expires_in_s: Some(1800),
    };
    let on = preflight(&degrade(true), &fleet);
    assert!(
        on.summary
            .starts_with("degrade serve-cache on credit-decision for 30m"),
        "{}",
        on.summary
    );
    assert_eq!(
        on.warnings,
        ["serve-cache is already on for credit-decision: this renews it"]
    );
    assert!(!on.blocks());
    let undrain = preflight(
        &Command::Undrain {
            region: "us-east".into(),
        },
        &fleet,
    );
    assert_eq!(undrain.errors, ["us-east is not drained"]);
    // Closing an open breaker brings traffic back, which is shown but blocks nothing.
    let close_it = preflight(&breaker("openai@eu-west", BreakerAction::Close), &fleet);
    assert!(
        close_it.errors.is_empty() && !close_it.blocks(),
        "{close_it:#?}"
    );
    assert!(
        close_it.warnings[0].contains("fails 71% of requests"),
        "{:?}",
        close_it.warnings
    );
}

#[test]
fn unknown_targets_are_errors_not_panics() {
    let fleet = small_fleet();
    for (command, error) in [
        (drain("mars"), "no region mars in this fleet"),
        (
            breaker("x@y", BreakerAction::ForceOpen),
            "no provider x@y in this fleet",
        ),
        (
            Command::Promote {
                service: "nope".into(),
                replica: "r".into(),
            },
            "no service nope in this fleet",
        ),
    ] {
        let check = preflight(&command, &fleet);
        assert_eq!(check.errors, [error]);
        assert!(check.blocks());
    }
}

/// An idle provider reveals no rate limit through its load: traffic sent to it cannot be
/// judged, and the preflight never calls its headroom kept; once the source reports the
/// limit on the wire, it is judged.
#[test]
fn traffic_to_a_provider_of_unknown_rate_limit_is_never_judged_ok() {
    let fleet = default_fleet();
    let unjudged = fleet.providers.iter().find_map(|quarantined| {
        let command = Command::Breaker {
            provider: quarantined.id.clone(),
            action: BreakerAction::ForceOpen,
            expires_in_s: None,
        };
        let check = preflight(&command, &fleet);
        let idle = check.unjudged_providers().first()?.to_string();
        Some((command, idle, check))
    });
    let (command, idle, check) = unjudged.expect("a failover onto an idle provider");
    let shift = check.providers.iter().find(|p| p.provider == idle).unwrap();
    assert_eq!((shift.rate_limit_rps, shift.verdict), (None, None));
    assert!(shift.load_after_rps > shift.load_before_rps);

    let mut known = fleet.clone();
    let provider = known.providers.iter_mut().find(|p| p.id == idle).unwrap();
    provider.rate_limit_rps = Some(10_000.0);
    let check = preflight(&command, &known);
    let shift = check.providers.iter().find(|p| p.provider == idle).unwrap();
    assert_eq!(shift.rate_limit_rps, Some(10_000.0));
    assert_eq!(shift.verdict, Some(Verdict::Ok));
    assert!(!check.unjudged_providers().contains(&idle.as_str()));
}
