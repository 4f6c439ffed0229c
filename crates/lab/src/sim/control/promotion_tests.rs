use chrono::{DateTime, Utc};

use super::*;
use crate::scenario::Scenario;
use crate::sim::control::tests::{apply, promote, refused, replica_load, role_of};
use crate::sim::tests::{run_to, service, sim, sim_with};
use crate::topology::{DEFAULT_TOPOLOGY_TOML, Topology};

#[test]
fn promoting_a_cold_standby_takes_its_start_time() {
    let mut sim = sim(42, None);
    run_to(&mut sim, 10.0);
    let applied = apply(
        &mut sim,
        &promote("credit-decision", "credit-decision@eu-west"),
    );
    let operation = applied.operation.clone().unwrap();
    assert_eq!(
        (
            operation.id.as_str(),
            operation.kind.as_str(),
            operation.state
        ),
        ("op-1", "promote", OperationState::Running)
    );
    assert_eq!(operation.target, "credit-decision/credit-decision@eu-west");
    assert_eq!(operation.eta, Some(sim.time_at(310.0)));
    assert_eq!(operation.progress, 0.0);
    // A cold standby is as old as its last backup: half an hour at the start.
    assert!(
        applied
            .warnings
            .iter()
            .any(|w| w.starts_with("replication lag 30m") && w.ends_with("may be lost")),
        "{:?}",
        applied.warnings
    );
    assert_eq!(
        applied.control_revision, 1,
        "roles change when it completes"
    );

    let halfway = run_to(&mut sim, 160.0);
    assert_eq!(halfway.operations[0].progress, 0.5);
    let view = run_to(&mut sim, 309.75);
    assert_eq!(
        role_of(&view, "credit-decision", "credit-decision@eu-west"),
        ReplicaRole::ColdStandby
    );
    assert!(replica_load(&view, "credit-decision", "credit-decision@us-east") > 0.0);
    assert_eq!(view.operations[0].state, OperationState::Running);

    let view = run_to(&mut sim, 310.25);
    assert_eq!(
        role_of(&view, "credit-decision", "credit-decision@eu-west"),
        ReplicaRole::Active
    );
    assert_eq!(
        role_of(&view, "credit-decision", "credit-decision@us-east"),
        ReplicaRole::HotStandby
    );
    assert!(replica_load(&view, "credit-decision", "credit-decision@eu-west") > 0.0);
    assert_eq!(
        replica_load(&view, "credit-decision", "credit-decision@us-east"),
        0.0
    );
    assert_eq!(service(&view, "credit-decision").control_revision, 2);
    let done = &view.operations[0];
    assert_eq!(
        (done.state, done.progress, done.eta),
        (OperationState::Succeeded, 1.0, None)
    );
    assert_eq!(
        done.message,
        "credit-decision@eu-west is active; credit-decision@us-east is a hot standby"
    );
    assert_eq!(sim.operation("op-1").as_ref(), Some(done));
    let records = sim.take_automatic_records();
    assert_eq!(
        records
            .iter()
            .map(|r| (r.actor.as_str(), r.action.as_str(), r.outcome))
            .collect::<Vec<_>>(),
        [("system", "promote", AuditOutcome::Succeeded)]
    );
}

#[test]
fn a_hot_standby_takes_over_in_seconds_and_warns_of_its_lag() {
    let mut sim = sim(42, None);
    run_to(&mut sim, 10.0);
    let applied = apply(
        &mut sim,
        &promote("credit-decision", "credit-decision@us-west"),
    );
    let lag = applied
        .warnings
        .iter()
        .find(|w| w.starts_with("replication lag "))
        .unwrap();
    let seconds = lag
        .strip_prefix("replication lag ")
        .and_then(|rest| rest.split_once("s: writes from the last "))
        .map(|(seconds, _)| seconds.parse::<f64>().unwrap())
        .unwrap();
    assert!(seconds > 0.0 && seconds < 1.0, "{lag}");
    assert!(
        lag.ends_with(&format!("{seconds:.1}s may be lost")),
        "{lag}"
    );
    let view = run_to(&mut sim, 14.75);
    assert_eq!(
        role_of(&view, "credit-decision", "credit-decision@us-west"),
        ReplicaRole::HotStandby
    );
    let view = run_to(&mut sim, 15.25);
    assert_eq!(
        role_of(&view, "credit-decision", "credit-decision@us-west"),
        ReplicaRole::Active
    );
}

#[test]
fn a_warm_standby_warms_up_and_one_that_is_not_ready_needs_a_cold_start() {
    let text = DEFAULT_TOPOLOGY_TOML.replace("role = \"hot-standby\"", "role = \"warm-standby\"");
    let topology = Topology::parse("warm.toml", &text).unwrap();
    let mut warm = Sim::new(topology, None, 42, DateTime::<Utc>::UNIX_EPOCH);
    run_to(&mut warm, 10.0);
    let applied = apply(
        &mut warm,
        &promote("credit-decision", "credit-decision@us-west"),
    );
    assert_eq!(applied.operation.unwrap().eta, Some(warm.time_at(70.0)));

    // The standby stops replicating at 5s: promoting it is a cold start.
    let mut stale = sim(42, Some("standby-not-warm"));
    run_to(&mut stale, 20.0);
    let applied = apply(
        &mut stale,
        &promote("credit-decision", "credit-decision@us-west"),
    );
    let operation = applied.operation.unwrap();
    assert_eq!(operation.eta, Some(stale.time_at(320.0)));
    assert!(
        operation.message.contains("not ready"),
        "{}",
        operation.message
    );
}

#[test]
fn a_promotion_fails_when_the_standby_region_goes_down() {
    let topology = Topology::embedded_default();
    let text = "name = \"x\"\n[[inject]]\nat = \"1m\"\nkind = \"region-down\"\n\
                    target = \"eu-west\"\nduration = \"10m\"\n";
    let scenario = Scenario::parse("x.toml", text, &topology).unwrap();
    let mut sim = sim_with(42, Some(scenario));
    run_to(&mut sim, 10.0);
    apply(
        &mut sim,
        &promote("credit-decision", "credit-decision@eu-west"),
    );
    let view = run_to(&mut sim, 61.0);
    let operation = &view.operations[0];
    assert_eq!(operation.state, OperationState::Failed);
    assert_eq!(
        operation.message,
        "eu-west went down during the takeover; credit-decision@us-east stays active"
    );
    assert!(
        operation.progress > 0.16 && operation.progress < 0.18,
        "{}",
        operation.progress
    );
    assert_eq!(
        role_of(&view, "credit-decision", "credit-decision@us-east"),
        ReplicaRole::Active
    );
    assert_eq!(service(&view, "credit-decision").control_revision, 1);
    let records = sim.take_automatic_records();
    assert_eq!(records[0].outcome, AuditOutcome::Failed);
    // A down region cannot take a promotion at all.
    assert!(
        refused(
            &mut sim,
            &promote("credit-decision", "credit-decision@eu-west")
        )
        .contains("eu-west is down")
    );
}

#[test]
fn promotions_refuse_what_cannot_be_promoted() {
    let mut sim = sim(42, None);
    run_to(&mut sim, 5.0);
    assert_eq!(
        refused(
            &mut sim,
            &promote("credit-decision", "credit-decision@us-east")
        ),
        "credit-decision@us-east is already active"
    );
    assert!(
        refused(&mut sim, &promote("credit-decision", "nowhere"))
            .contains("its replicas: credit-decision@us-east, credit-decision@us-west")
    );
    assert!(
        refused(&mut sim, &promote("risk-scorer", "risk-scorer@us-east"))
            .contains("already active")
    );
    apply(
        &mut sim,
        &promote("credit-decision", "credit-decision@eu-west"),
    );
    assert_eq!(
        refused(
            &mut sim,
            &promote("credit-decision", "credit-decision@us-west")
        ),
        "op-1 is already promoting credit-decision@eu-west (started by bob)"
    );
    assert_eq!(
        sim.apply(&promote("nope", "x"), "bob", "drill"),
        Err(Refusal::UnknownTarget(
            "no service \"nope\" in this fleet".into()
        ))
    );
}
