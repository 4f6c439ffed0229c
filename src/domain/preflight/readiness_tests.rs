use super::*;
use crate::domain::preflight::preflight;
use crate::testing::lab_fleet;

fn standby(replica: &str, role: ReplicaRole, expires_in_s: Option<u64>) -> Command {
    Command::Standby {
        service: "credit-decision".into(),
        replica: replica.into(),
        role,
        expires_in_s,
    }
}

#[test]
fn warming_a_cold_standby_says_how_long_it_is_not_ready_and_moves_no_traffic() {
    let check = preflight(
        &standby(
            "credit-decision@eu-west",
            ReplicaRole::WarmStandby,
            Some(7200),
        ),
        &lab_fleet(),
    );
    assert!(
        check.errors.is_empty() && check.warnings.is_empty(),
        "{check:#?}"
    );
    assert!(!check.moves_traffic && !check.blocks());
    let change = check.readiness.unwrap();
    assert_eq!(
        (
            change.role_before,
            change.role_after,
            change.takes_s,
            change.takes_assumed
        ),
        (
            Some(ReplicaRole::ColdStandby),
            Some(ReplicaRole::WarmStandby),
            300.0,
            false
        )
    );
    assert_eq!(
        (change.takeover_before_s, change.takeover_after_s),
        (Some(5.0), Some(5.0))
    );
    assert_eq!(change.reverts_after_s, Some(7200));
    assert_eq!(
        change.describe(),
        [
            "credit-decision@eu-west: cold standby -> warm standby",
            "not ready at its new role for ~5m",
            "spend $0.23/h -> $1.80/h (+1.57 $/h)",
            "fastest takeover 5s -> 5s",
            "goes back to cold standby after 2h",
        ]
    );
}

#[test]
fn cooling_the_only_ready_standby_warns_that_a_failover_would_wait_for_a_cold_start() {
    let check = preflight(
        &standby("credit-decision@us-west", ReplicaRole::ColdStandby, None),
        &lab_fleet(),
    );
    assert_eq!(
        check.warnings,
        [
            "credit-decision, a critical service, keeps no ready standby (a failover takes 5s now): it would wait for a cold start"
        ]
    );
    let change = check.readiness.unwrap();
    assert_eq!((change.takes_s, change.takeover_after_s), (20.0, None));
}

#[test]
fn borrowing_says_the_pool_left_the_spend_added_and_the_replica_gained() {
    let command = Command::Borrow {
        service: "credit-decision".into(),
        pool: "shared-us-west".into(),
        role: ReplicaRole::WarmStandby,
    };
    let change = preflight(&command, &lab_fleet()).readiness.unwrap();
    assert_eq!(change.replica, "credit-decision@shared-us-west-1");
    assert_eq!((change.pool_left, change.takes_s), (Some(1), 90.0));
    // A warm standby costs 0.4 of the pool's 12/h.
    assert!((change.spend_change_per_hour().unwrap() - 4.8).abs() < 1e-9);
    assert_eq!(change.describe()[2], "spend $0.00/h -> $4.80/h (+4.80 $/h)");
}

#[test]
fn odd_adaptive_commands_are_errors_before_anything_is_sent() {
    let fleet = lab_fleet();
    let errors = |command: &Command| preflight(command, &fleet).errors;
    assert_eq!(
        errors(&Command::Return {
            service: "credit-decision".into(),
            replica: "credit-decision@us-west".into(),
        }),
        [
            "credit-decision@us-west is credit-decision's own replica: only one borrowed from a pool can be given back"
        ]
    );
    assert_eq!(
        errors(&Command::Borrow {
            service: "credit-decision".into(),
            pool: "spare".into(),
            role: ReplicaRole::WarmStandby,
        }),
        ["no pool spare; pools: shared-us-west"]
    );
    assert_eq!(
        errors(&standby(
            "credit-decision@eu-west",
            ReplicaRole::WarmStandby,
            Some(60)
        )),
        ["credit-decision@eu-west takes ~300s to become a warm standby: hold it longer than that"]
    );
    assert_eq!(
        errors(&standby(
            "credit-decision@us-east",
            ReplicaRole::HotStandby,
            None
        )),
        [
            "credit-decision@us-east is active: only a standby warms or cools (promote makes one active)"
        ]
    );
}
