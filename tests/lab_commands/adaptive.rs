//! Adaptive redundancy over HTTP: warming and cooling a standby (timed, at the lab's speed),
//! borrowing a replica from a shared pool and giving it back, with their refusals.

use super::*;

const COLD: &str = "credit-decision@eu-west";

fn standby(role: ReplicaRole, expires_in_s: Option<u64>) -> Command {
    Command::Standby {
        service: "credit-decision".into(),
        replica: COLD.into(),
        role,
        expires_in_s,
    }
}

fn role_in(snapshot: &FleetSnapshot, replica: &str) -> Option<ReplicaRole> {
    let credit = snapshot
        .services
        .iter()
        .find(|s| s.id == "credit-decision")?;
    Some(credit.replicas.iter().find(|r| r.id == replica)?.role)
}

#[tokio::test]
async fn warming_a_cold_standby_takes_its_step_time_in_sim_seconds_and_a_stale_revision_is_409() {
    // Cold to warm takes 300 sim-seconds: 1.25 s at this speed.
    let lab = start_lab(240.0, None).await;
    let before = fleet(&lab).await;
    assert_eq!(before.readiness.unwrap().cold_to_warm_s, 300.0);
    let command = standby(ReplicaRole::WarmStandby, None);
    let stale = command.control_revision(&before).unwrap();
    let started = run(&lab, "bob", &command).await.operation.unwrap();
    assert_eq!(
        (started.kind.as_str(), started.state),
        ("standby", OperationState::Running)
    );
    let takes = started.eta.unwrap() - started.started_at;
    assert_eq!(takes.num_seconds(), 300);

    let again = standby(ReplicaRole::HotStandby, None);
    let response = send_command(&lab, "bob", &again, Some(&fresh_key()), Some(stale)).await;
    expect_problem(response, StatusCode::CONFLICT).await;

    let warm = wait_for_fleet(&lab, "eu-west to be warm", |s| {
        role_in(s, COLD) == Some(ReplicaRole::WarmStandby)
    })
    .await;
    let done = warm.operations.iter().find(|o| o.id == started.id).unwrap();
    assert_eq!(done.state, OperationState::Succeeded);
    let audit = audit_page(&lab, "?limit=5").await;
    let actions: Vec<(&str, &str, AuditOutcome)> = audit
        .entries
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.outcome))
        .collect();
    assert!(
        actions.contains(&("bob", "standby warm", AuditOutcome::Accepted)),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("system", "standby warm", AuditOutcome::Succeeded)),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("bob", "standby hot", AuditOutcome::Rejected)),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_standby_kept_hot_for_a_while_cools_back_by_itself() {
    let lab = start_lab(1000.0, None).await;
    // Cold to hot takes 345 sim-seconds; held half an hour (1.8 s here), then back to cold in 20.
    run(&lab, "bob", &standby(ReplicaRole::HotStandby, Some(1800))).await;
    let hot = wait_for_fleet(&lab, "eu-west to be hot", |s| {
        role_in(s, COLD) == Some(ReplicaRole::HotStandby)
    })
    .await;
    let credit = hot
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    let held = credit.replicas.iter().find(|r| r.id == COLD).unwrap();
    assert_eq!(
        held.timed_role.as_ref().unwrap().reverts_to,
        ReplicaRole::ColdStandby
    );
    let back = wait_for_fleet(&lab, "eu-west to be cold again", |s| {
        role_in(s, COLD) == Some(ReplicaRole::ColdStandby)
    })
    .await;
    let credit = back
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    assert!(credit.replicas.iter().all(|r| r.timed_role.is_none()));
    let audit = audit_page(&lab, "?limit=10").await;
    assert!(audit.entries.iter().any(|e| {
        e.actor == "system" && e.action == "standby cold" && e.outcome == AuditOutcome::Reverted
    }));
}

#[tokio::test]
async fn a_borrowed_replica_joins_from_the_pool_and_goes_back_to_it() {
    let lab = start_lab(240.0, None).await;
    let pool = fleet(&lab).await.pools[0].clone();
    assert_eq!((pool.id.as_str(), pool.free()), ("shared-us-west", 2));
    let borrow = Command::Borrow {
        service: "credit-decision".into(),
        pool: pool.id.clone(),
        role: ReplicaRole::WarmStandby,
    };
    let started = run(&lab, "bob", &borrow).await.operation.unwrap();
    assert_eq!(started.kind, "borrow");
    let borrowed = "credit-decision@shared-us-west-1";
    let joined = wait_for_fleet(&lab, "the borrowed replica to join", |s| {
        let credit = s
            .services
            .iter()
            .find(|s| s.id == "credit-decision")
            .unwrap();
        credit.replicas.iter().any(|r| r.id == borrowed && r.ready)
    })
    .await;
    assert_eq!(joined.pools[0].free(), 1);
    assert_eq!(joined.pools[0].loans[0].service, "credit-decision");

    let own = Command::Return {
        service: "credit-decision".into(),
        replica: "credit-decision@us-west".into(),
    };
    let revision = own.control_revision(&joined).unwrap();
    let response = send_command(&lab, "bob", &own, Some(&fresh_key()), Some(revision)).await;
    let (problem, _) = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        problem
            .detail
            .unwrap()
            .contains("only one borrowed from a pool")
    );

    let give_back = Command::Return {
        service: "credit-decision".into(),
        replica: borrowed.into(),
    };
    let answer = run(&lab, "bob", &give_back).await;
    assert!(answer.operation.is_none());
    let after = fleet(&lab).await;
    assert_eq!(after.pools[0].free(), 2);
    assert_eq!(role_in(&after, borrowed), None);
}
