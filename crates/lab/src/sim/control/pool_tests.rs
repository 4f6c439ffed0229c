use super::*;
use crate::sim::control::readiness::tests::standby;
use crate::sim::control::tests::{apply, promote, refused, role_of};
use crate::sim::tests::{run_to, service, sim};
use protocol::command::Command;
use protocol::commands::OperationState;

fn borrow(service: &str, role: ReplicaRole) -> Command {
    Command::Borrow {
        service: service.into(),
        pool: "shared-us-west".into(),
        role,
    }
}

fn give_back(service: &str, replica: &str) -> Command {
    Command::Return {
        service: service.into(),
        replica: replica.into(),
    }
}

const BORROWED: &str = "credit-decision@shared-us-west-1";

#[test]
fn a_borrowed_replica_joins_after_the_lend_time_and_counts_against_the_pool() {
    let mut sim = sim(42, None);
    run_to(&mut sim, 10.0);
    let applied = apply(
        &mut sim,
        &borrow("credit-decision", ReplicaRole::WarmStandby),
    );
    let operation = applied.operation.unwrap();
    assert_eq!(
        (operation.kind.as_str(), operation.eta),
        ("borrow", Some(sim.time_at(100.0)))
    );
    assert_eq!(
        operation.message,
        "credit-decision@shared-us-west-1 (60 rps) joins credit-decision as a warm standby in ~1m30s"
    );
    let view = run_to(&mut sim, 99.75);
    let pool = &view.pools[0];
    assert_eq!(
        (pool.size, pool.free(), pool.loans[0].replica.as_str()),
        (2, 1, BORROWED)
    );
    let joining = service(&view, "credit-decision")
        .replicas
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (
            joining.id.as_str(),
            joining.role,
            joining.ready,
            joining.pool.as_deref()
        ),
        (
            BORROWED,
            ReplicaRole::WarmStandby,
            false,
            Some("shared-us-west")
        )
    );
    let view = run_to(&mut sim, 100.25);
    let joined = service(&view, "credit-decision").replicas.last().unwrap();
    assert!(joined.ready);
    assert_eq!(
        view.operations[0].message,
        "credit-decision@shared-us-west-1 joined credit-decision as a warm standby"
    );

    // The second replica goes to another service; then the pool is empty.
    apply(&mut sim, &borrow("risk-scorer", ReplicaRole::ColdStandby));
    assert_eq!(
        refused(&mut sim, &borrow("feature-store", ReplicaRole::WarmStandby)),
        "shared-us-west has no replica left: all 2 are lent (credit-decision@shared-us-west-1, risk-scorer@shared-us-west-1)"
    );
}

#[test]
fn giving_a_replica_back_frees_its_pool_slot_and_a_new_loan_takes_it_again() {
    let mut sim = sim(42, None);
    apply(
        &mut sim,
        &borrow("credit-decision", ReplicaRole::WarmStandby),
    );
    run_to(&mut sim, 91.0);
    let before = service(&sim.view(), "credit-decision").control_revision;
    let given = apply(&mut sim, &give_back("credit-decision", BORROWED));
    assert!(given.operation.is_none());
    let view = sim.view();
    let service_now = service(&view, "credit-decision");
    assert!(service_now.replicas.iter().all(|r| r.id != BORROWED));
    assert_eq!(service_now.control_revision, before + 1);
    assert_eq!(view.pools[0].free(), 2);
    apply(
        &mut sim,
        &borrow("credit-decision", ReplicaRole::HotStandby),
    );
    let view = sim.view();
    let again = service(&view, "credit-decision").replicas.last().unwrap();
    assert_eq!(
        (again.id.as_str(), again.role),
        (BORROWED, ReplicaRole::HotStandby)
    );
    assert_eq!(service(&view, "credit-decision").replicas.len(), 4);
}

#[test]
fn the_active_the_last_ready_and_a_services_own_replica_are_not_given_back() {
    let mut sim = sim(42, Some("region-down"));
    assert_eq!(
        refused(
            &mut sim,
            &give_back("credit-decision", "credit-decision@us-west")
        ),
        "credit-decision@us-west is credit-decision's own replica: only one borrowed from a pool can be given back"
    );
    apply(
        &mut sim,
        &borrow("credit-decision", ReplicaRole::HotStandby),
    );
    run_to(&mut sim, 91.0);
    // us-east is down since 15 s; with us-west cooled, the borrowed one is the last ready.
    apply(
        &mut sim,
        &standby("credit-decision@us-west", ReplicaRole::ColdStandby, None),
    );
    run_to(&mut sim, 112.0);
    assert_eq!(
        refused(&mut sim, &give_back("credit-decision", BORROWED)),
        "credit-decision@shared-us-west-1 is credit-decision's last ready replica: it would be left with none"
    );
    apply(&mut sim, &promote("credit-decision", BORROWED));
    let view = run_to(&mut sim, 130.0);
    assert_eq!(
        role_of(&view, "credit-decision", BORROWED),
        ReplicaRole::Active
    );
    assert_eq!(
        view.operations.last().unwrap().state,
        OperationState::Succeeded
    );
    assert_eq!(
        refused(&mut sim, &give_back("credit-decision", BORROWED)),
        "credit-decision@shared-us-west-1 is credit-decision's active replica: promote another before giving it back"
    );
    assert_eq!(
        refused(
            &mut sim,
            &Command::Borrow {
                service: "credit-decision".into(),
                pool: "spare".into(),
                role: ReplicaRole::WarmStandby
            }
        ),
        "no pool \"spare\"; pools: shared-us-west"
    );
}
