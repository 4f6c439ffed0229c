use super::*;
use crate::sim::FleetView;
use crate::sim::control::tests::{apply, refused, role_of};
use crate::sim::tests::{run_to, service, sim};
use protocol::Replica;
use protocol::commands::OperationState;

pub(in crate::sim) fn standby(
    replica: &str,
    role: ReplicaRole,
    expires_in_s: Option<u64>,
) -> Command {
    Command::Standby {
        service: "credit-decision".into(),
        replica: replica.into(),
        role,
        expires_in_s,
    }
}

fn replica<'a>(view: &'a FleetView, id: &str) -> &'a Replica {
    let service = service(view, "credit-decision");
    service.replicas.iter().find(|r| r.id == id).unwrap()
}

const COLD: &str = "credit-decision@eu-west";
const HOT: &str = "credit-decision@us-west";

#[test]
fn warming_a_cold_standby_takes_the_topologys_step_time_and_it_is_not_ready_meanwhile() {
    let mut sim = sim(42, None);
    run_to(&mut sim, 10.0);
    let applied = apply(&mut sim, &standby(COLD, ReplicaRole::WarmStandby, None));
    let operation = applied.operation.unwrap();
    assert_eq!(
        (operation.kind.as_str(), operation.state),
        ("standby", OperationState::Running)
    );
    assert_eq!(operation.target, "credit-decision/credit-decision@eu-west");
    assert_eq!(
        operation.eta,
        Some(sim.time_at(310.0)),
        "cold to warm: 300 s"
    );
    assert_eq!(
        operation.message,
        "credit-decision@eu-west warms from cold standby to warm standby in ~5m"
    );
    let view = run_to(&mut sim, 309.75);
    assert_eq!(
        role_of(&view, "credit-decision", COLD),
        ReplicaRole::ColdStandby
    );
    assert!(!replica(&view, COLD).ready);
    let view = run_to(&mut sim, 310.25);
    assert_eq!(
        role_of(&view, "credit-decision", COLD),
        ReplicaRole::WarmStandby
    );
    assert!(replica(&view, COLD).ready);
    assert_eq!(view.operations[0].state, OperationState::Succeeded);
    assert_eq!(
        view.operations[0].message,
        "credit-decision@eu-west is a warm standby"
    );
    let records = sim.take_automatic_records();
    assert_eq!(
        (records[0].action.as_str(), records[0].outcome),
        ("standby warm", AuditOutcome::Succeeded)
    );

    // Warm to hot is the shorter step: 45 s.
    let operation = apply(&mut sim, &standby(COLD, ReplicaRole::HotStandby, None)).operation;
    assert_eq!(operation.unwrap().eta, Some(sim.time_at(310.25 + 45.0)));
}

#[test]
fn straight_to_hot_adds_up_the_steps_and_cooling_takes_a_step_each() {
    let mut sim = sim(42, None);
    let warm = apply(&mut sim, &standby(COLD, ReplicaRole::HotStandby, None));
    assert_eq!(warm.operation.unwrap().eta, Some(sim.time_at(345.0)));
    let view = run_to(&mut sim, 345.25);
    assert_eq!(
        role_of(&view, "credit-decision", COLD),
        ReplicaRole::HotStandby
    );
    let cool = apply(&mut sim, &standby(COLD, ReplicaRole::ColdStandby, None));
    assert_eq!(
        cool.operation.unwrap().eta,
        Some(sim.time_at(345.25 + 20.0))
    );
    let view = run_to(&mut sim, 365.5);
    assert_eq!(
        role_of(&view, "credit-decision", COLD),
        ReplicaRole::ColdStandby
    );
    assert!(!replica(&view, COLD).ready);
}

#[test]
fn a_standby_warmed_for_a_while_cools_back_by_itself() {
    let mut sim = sim(42, None);
    apply(
        &mut sim,
        &standby(COLD, ReplicaRole::WarmStandby, Some(3600)),
    );
    let view = run_to(&mut sim, 400.0);
    let held = replica(&view, COLD).timed_role.clone().unwrap();
    assert_eq!(held.reverts_to, ReplicaRole::ColdStandby);
    assert_eq!(held.control.expires_at, Some(sim.time_at(3600.0)));
    assert_eq!(held.control.set_by, "bob");
    sim.take_automatic_records();

    let view = run_to(&mut sim, 3600.25);
    assert!(replica(&view, COLD).timed_role.is_none());
    let back = view.operations.last().unwrap();
    assert_eq!(
        (back.id.as_str(), back.state),
        ("op-2", OperationState::Running)
    );
    let records = sim.take_automatic_records();
    assert_eq!(
        (
            records[0].actor.as_str(),
            records[0].action.as_str(),
            records[0].outcome
        ),
        ("system", "standby cold", AuditOutcome::Reverted)
    );
    assert!(
        records[0]
            .detail
            .as_deref()
            .unwrap()
            .ends_with("op-2 takes it back")
    );
    let view = run_to(&mut sim, 3611.0);
    assert_eq!(
        role_of(&view, "credit-decision", COLD),
        ReplicaRole::ColdStandby
    );
}

#[test]
fn cooling_the_last_ready_standby_warns_and_odd_changes_are_refused() {
    let mut sim = sim(42, None);
    let cooled = apply(&mut sim, &standby(HOT, ReplicaRole::ColdStandby, None));
    assert_eq!(
        cooled.warnings,
        ["credit-decision keeps no ready standby: a failover would wait for a cold start"]
    );
    assert_eq!(
        refused(&mut sim, &standby(COLD, ReplicaRole::WarmStandby, None)),
        "op-1 is already cooling credit-decision@us-west (started by bob)"
    );
    assert_eq!(
        refused(
            &mut sim,
            &standby("credit-decision@us-east", ReplicaRole::HotStandby, None)
        ),
        "credit-decision@us-east is active: standby changes a standby's role between cold, warm and hot (promote makes one active)"
    );
    run_to(&mut sim, 30.0);
    assert_eq!(
        refused(&mut sim, &standby(COLD, ReplicaRole::ColdStandby, None)),
        "credit-decision@eu-west is already a cold standby"
    );
    assert_eq!(
        refused(
            &mut sim,
            &standby(COLD, ReplicaRole::WarmStandby, Some(120))
        ),
        "credit-decision@eu-west takes ~5m to become a warm standby: hold it longer than that"
    );
}
