use super::*;
use crate::sim::FleetView;
use crate::sim::tests::{region, run_to, service, sim};
use protocol::ReplicaRole;
use protocol::commands::{AuditOutcome, BreakerAction, WeightScope};

pub(super) fn drain(region: &str, expires_in_s: Option<u64>) -> Command {
    Command::Drain {
        region: region.into(),
        expires_in_s,
    }
}

pub(super) fn breaker(provider: &str, action: BreakerAction, expires_in_s: Option<u64>) -> Command {
    Command::Breaker {
        provider: provider.into(),
        action,
        expires_in_s,
    }
}

pub(super) fn degrade(
    service: &str,
    mode: DegradedModeKind,
    enabled: bool,
    expires: Option<u64>,
) -> Command {
    Command::Degrade {
        service: service.into(),
        mode,
        enabled,
        expires_in_s: expires,
    }
}

pub(super) fn promote(service: &str, replica: &str) -> Command {
    Command::Promote {
        service: service.into(),
        replica: replica.into(),
    }
}

pub(super) fn weights(service: &str, scope: WeightScope, weights: &[(&str, f64)]) -> Command {
    Command::Weights {
        service: service.into(),
        scope,
        weights: weights.iter().map(|(k, w)| (k.to_string(), *w)).collect(),
    }
}

pub(super) fn apply(sim: &mut Sim, command: &Command) -> Applied {
    sim.apply(command, "bob", "drill").unwrap()
}

pub(super) fn refused(sim: &mut Sim, command: &Command) -> String {
    match sim.apply(command, "bob", "drill") {
        Err(Refusal::Invalid(detail)) => detail,
        other => panic!("{command} should be invalid, got {other:?}"),
    }
}

pub(super) fn role_of(view: &FleetView, service_id: &str, replica: &str) -> ReplicaRole {
    service(view, service_id)
        .replicas
        .iter()
        .find(|r| r.id == replica)
        .unwrap()
        .role
}

pub(super) fn replica_load(view: &FleetView, service_id: &str, replica: &str) -> f64 {
    service(view, service_id)
        .replicas
        .iter()
        .find(|r| r.id == replica)
        .unwrap()
        .load_rps
}

#[test]
fn a_timed_drain_reverts_by_itself_with_a_notice_and_an_audit_record() {
    let mut sim = sim(42, None);
    run_to(&mut sim, 10.0);
    let applied = apply(&mut sim, &drain("us-east", Some(60)));
    assert_eq!(applied.detail.as_deref(), Some("reverts at 00:01:10"));
    let view = run_to(&mut sim, 69.75);
    let control = region(&view, "us-east").drain.clone().unwrap();
    assert_eq!(control.expires_at, Some(sim.time_at(70.0)));
    assert!(sim.take_automatic_records().is_empty());

    let view = run_to(&mut sim, 70.25);
    let east = region(&view, "us-east");
    assert_eq!((east.drain.is_none(), east.control_revision), (true, 3));
    assert!(east.traffic_share > 0.3);
    let records = sim.take_automatic_records();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(
        (
            record.actor.as_str(),
            record.action.as_str(),
            record.target.as_str(),
            record.outcome
        ),
        ("system", "drain", "us-east", AuditOutcome::Reverted)
    );
    assert_eq!(
        record.detail.as_deref(),
        Some("set by bob at 00:00:10: drill")
    );
    assert!(sim.notices().iter().any(|n| {
        n.text
            .contains("expired: drain us-east for 1m00s (set by bob")
    }));
}

#[test]
fn control_revisions_move_with_control_state_not_with_metrics() {
    let mut sim = sim(42, None);
    let first = run_to(&mut sim, 1.0);
    let later = run_to(&mut sim, 120.0);
    assert_ne!(first.regions, later.regions, "metrics move");
    let revisions = |view: &FleetView| -> Vec<u64> {
        view.regions
            .iter()
            .map(|r| r.control_revision)
            .chain(view.providers.iter().map(|p| p.control_revision))
            .chain(view.services.iter().map(|s| s.control_revision))
            .collect()
    };
    assert!(revisions(&later).iter().all(|r| *r == 1));
    apply(
        &mut sim,
        &degrade("risk-scorer", DegradedModeKind::ReadOnly, true, None),
    );
    let view = sim.view();
    assert_eq!(service(&view, "risk-scorer").control_revision, 2);
    assert_eq!(revisions(&view).iter().filter(|r| **r != 1).count(), 1);
}

#[test]
fn bad_weights_and_bad_controls_are_refused_with_reasons() {
    let mut sim = sim(42, None);
    run_to(&mut sim, 5.0);
    let risk = "risk-scorer";
    let cases = [
        (weights(risk, WeightScope::Regions, &[]), "at least one"),
        (
            weights(risk, WeightScope::Regions, &[("us-east", -1.0)]),
            "must be a number >= 0",
        ),
        (
            weights(risk, WeightScope::Regions, &[("mars", 1.0)]),
            "has no replica in \"mars\"; its regions: us-east, us-west, eu-west, ap-south",
        ),
        (
            weights(
                risk,
                WeightScope::Regions,
                &[
                    ("us-east", 0.0),
                    ("us-west", 0.0),
                    ("eu-west", 0.0),
                    ("ap-south", 0.0),
                ],
            ),
            "without traffic",
        ),
        (
            weights("credit-decision", WeightScope::Regions, &[("us-east", 0.0)]),
            "without traffic",
        ),
        (
            weights(
                risk,
                WeightScope::Providers {
                    region: "us-east".into(),
                },
                &[("openai@us-west", 1.0)],
            ),
            "routes at us-east go to openai@us-east, anthropic@us-east, google@us-east, self-hosted@us-east",
        ),
        (
            weights(
                "email-notifier",
                WeightScope::Providers {
                    region: "us-east".into(),
                },
                &[("openai@us-east", 1.0)],
            ),
            "email-notifier has no replica in us-east",
        ),
        (
            Command::Undrain {
                region: "us-east".into(),
            },
            "us-east is not drained",
        ),
        (drain("us-east", Some(0)), "expires_in_s must be from 1"),
        (
            degrade(risk, DegradedModeKind::ReadOnly, false, Some(5)),
            "when setting a mode",
        ),
    ];
    for (command, expected) in cases {
        let detail = refused(&mut sim, &command);
        assert!(detail.contains(expected), "{command}: {detail}");
    }
    for id in ["us-east", "us-west", "eu-west"] {
        apply(&mut sim, &drain(id, None));
    }
    assert_eq!(
        refused(&mut sim, &drain("ap-south", None)),
        "cannot drain ap-south: no other region would take its traffic"
    );
    let view = sim.view();
    assert_eq!(
        service(&view, risk).control_revision,
        1,
        "refusals change nothing"
    );
}
