//! The error budget and the cost of the actions taken, hand-computed: one priced service
//! (an active replica at $10/h and a standby), its budget falling through an outage, and the
//! commands that change what it spends.

use super::tests::{audit, end, fired, fleet, run};
use super::*;
use crate::commands::AuditOutcome;
use crate::exercise::InjectState;
use crate::exercise::report::{ActionCost, RunCost, SpendAt};
use crate::posture::{Criticality, Posture, Slo};
use crate::{Replica, ReplicaRole};

const REPLICA_PER_HOUR: f64 = 10.0;
const THIRTY_DAYS_S: f64 = 30.0 * 86_400.0;

fn replica(id: &str, role: ReplicaRole) -> Replica {
    Replica {
        id: id.into(),
        region: "us-east".into(),
        role,
        ready: true,
        replication_lag_s: 0.0,
        capacity_rps: 100.0,
        load_rps: 0.0,
        takeover_s: None,
        timed_role: None,
        pool: None,
    }
}

/// A calm sample where credit-decision (critical, 99.9%/30d, $100 a minute down) keeps its
/// standby in `standby` role with `budget_left` and a 1 h burn of `burn`, beside fraud-check
/// that nobody prices.
pub(crate) fn priced(t_s: f64, standby: ReplicaRole, budget_left: f64, burn: f64) -> RunRecord {
    let mut record = fleet(t_s, (0.5, 0.004, 60.0), 0.6);
    let RunRecord::Fleet { snapshot, .. } = &mut record else {
        unreachable!("fleet() makes a fleet sample")
    };
    let mut unpriced = snapshot.services[0].clone();
    unpriced.id = "fraud-check".into();
    let service = &mut snapshot.services[0];
    service.replicas = vec![
        replica("cd-1", ReplicaRole::Active),
        replica("cd-2", standby),
    ];
    service.posture = Some(Posture {
        criticality: Criticality::Critical,
        slo: Slo {
            target: 0.999,
            window_s: THIRTY_DAYS_S,
        },
        budget_left: Some(budget_left),
        burn_rate_1h: Some(burn),
        burn_rate_6h: None,
        downtime_cost_per_min: Some(100.0),
        depends_on: Vec::new(),
        replica_cost_per_hour: Some(REPLICA_PER_HOUR),
        tokens_per_request: Some(1000.0),
        incidents_per_month: 1.0,
        repair_min: 60.0,
    });
    snapshot.services.push(unpriced);
    record
}

fn accepted(t_s: f64, action: &str) -> RunRecord {
    audit(
        t_s,
        "alice",
        action,
        "credit-decision",
        AuditOutcome::Accepted,
    )
}

/// A drill of one minute: calm, the outage at T+10 burns budget, alice makes the warm standby
/// hot at T+33 (it is hot from T+40), the end at T+60.
pub(crate) fn priced_drill() -> Vec<RunRecord> {
    let mut records = vec![
        priced(0.0, ReplicaRole::WarmStandby, 0.9, 0.5),
        priced(5.0, ReplicaRole::WarmStandby, 0.9, 0.5),
        fired(10.0, "outage"),
    ];
    for (t, left) in [(15.0, 0.899), (20.0, 0.898), (25.0, 0.897), (30.0, 0.896)] {
        records.push(priced(t, ReplicaRole::WarmStandby, left, 20.0));
    }
    records.push(accepted(33.0, "standby hot"));
    records.push(priced(35.0, ReplicaRole::WarmStandby, 0.8955, 20.0));
    for t in [40.0, 45.0, 50.0, 55.0, 60.0] {
        records.push(priced(t, ReplicaRole::HotStandby, 0.895, 14.0));
    }
    records.push(end(60.0));
    records
}

/// A fault the facilitator adds at `t_s`.
fn second_fault(t_s: f64) -> RunRecord {
    let inject = InjectState {
        id: "second".into(),
        kind: "provider-outage".into(),
        target: "anthropic@us-east".into(),
        at_s: t_s,
        duration_s: 60.0,
        summary: "second".into(),
        narrative: String::new(),
        fired_at_s: None,
        facilitator_note: None,
    };
    RunRecord::Inject { t_s, inject }
}

/// When and at what spend per hour a command's effect was read.
fn after(action: &ActionCost) -> Option<(f64, f64)> {
    action.after.map(|a| (a.at_s, a.per_hour()))
}

fn cost_of(records: &[RunRecord]) -> RunCost {
    run(Vec::new(), records)
        .report()
        .cost
        .expect("the drill prices credit-decision")
}

#[test]
fn the_budget_spent_is_the_budget_left_at_the_start_less_at_the_end() {
    let report = run(Vec::new(), &priced_drill()).report();
    let [budget] = &report.budgets[..] else {
        panic!("one service has a posture: {:?}", report.budgets)
    };
    assert_eq!(budget.service, "credit-decision");
    assert_eq!(
        (budget.left_at_start, budget.left_at_end),
        (Some(0.9), Some(0.895))
    );
    assert_eq!(budget.spent, Some(0.005));
    // 0.5% of a 99.9% budget over 30 days: 0.005 x 0.001 x 2,592,000 s = 12.96 s of outage,
    // at $100 a minute $21.60.
    assert_eq!(
        (budget.outage_equivalent_s, budget.downtime_cost),
        (Some(12.96), Some(21.6))
    );
    assert_eq!(budget.peak_burn_rate_1h, Some(20.0));
}

#[test]
fn a_command_costs_the_spend_it_changed_once_it_took_effect() {
    let cost = cost_of(&priced_drill());
    // Active $10 + warm 0.4 x $10 = $14/h; with the standby hot $20/h.
    assert_eq!(
        (cost.start_per_hour, cost.end_per_hour, cost.peak_per_hour),
        (14.0, 20.0, 20.0)
    );
    // Samples every 5 s: eight at $14 (T+0..T+35) and four at $20 (T+40..T+55) each stand
    // for the 5 s after them: (8 x 14 + 4 x 20) x 5 / 3600 = $0.2667; keeping $14 for the
    // 60 s would have cost $0.2333 ($0.0333 less); written to a hundredth of a cent.
    assert_eq!((cost.total, cost.above_start), (0.2667, 0.0333));
    assert_eq!(cost.unpriced, ["fraud-check"]);
    let at = |at_s, replicas_per_hour| SpendAt {
        at_s,
        replicas_per_hour,
        paths_per_hour: 0.0,
    };
    assert_eq!(
        cost.actions,
        [ActionCost {
            at_s: 33.0,
            actor: "alice".into(),
            action: "standby hot".into(),
            target: "credit-decision".into(),
            before: Some(at(30.0, 14.0)),
            after: Some(at(60.0, 20.0)),
        }]
    );
    assert_eq!(cost.actions[0].delta(), Some((6.0, 0.0)));
}

#[test]
fn the_next_change_to_the_fleet_ends_what_a_command_is_charged_with() {
    // A second fault at T+38, before the standby is hot: what follows is not the command's.
    let mut records = priced_drill();
    let at = records.iter().position(|r| r.t_s() == 40.0).unwrap();
    records.insert(at, second_fault(38.0));
    let action = &cost_of(&records).actions[0];
    assert_eq!(
        (after(action), action.delta()),
        (Some((35.0, 14.0)), Some((0.0, 0.0)))
    );
    // A message is talk, not a change: it does not cut the reading.
    let mut records = priced_drill();
    records.insert(at, fired(38.0, "call"));
    assert_eq!(after(&cost_of(&records).actions[0]), Some((60.0, 20.0)));
    // A second command does, and is charged from there.
    let mut records = priced_drill();
    records.insert(at, accepted(38.0, "standby cold"));
    let actions = cost_of(&records).actions;
    assert_eq!(
        actions.iter().map(after).collect::<Vec<_>>(),
        [Some((35.0, 14.0)), Some((60.0, 20.0))]
    );
    // A command with no sample since the last change has no spend before it of its own.
    let mut records = priced_drill();
    let at = records.iter().position(|r| r.t_s() == 33.0).unwrap();
    records.insert(at, second_fault(31.0));
    let mut second = records.clone();
    second.insert(at + 2, accepted(34.0, "standby cold"));
    assert_eq!(cost_of(&records).actions[0].before, None);
    let actions = cost_of(&second).actions;
    assert_eq!(
        (
            actions[0].before,
            actions[0].after,
            actions[1].before.is_some()
        ),
        (None, None, false)
    );
}

#[test]
fn a_command_is_charged_for_its_settling_time_and_no_longer() {
    let mut records = vec![priced(0.0, ReplicaRole::ColdStandby, 1.0, 0.0)];
    records.push(accepted(10.0, "standby warm"));
    // Warm from T+310 (the lab's 5 min), then hot by some other hand at T+380: past the
    // 6 min a command is read for.
    records.push(priced(305.0, ReplicaRole::ColdStandby, 1.0, 0.0));
    records.push(priced(310.0, ReplicaRole::WarmStandby, 1.0, 0.0));
    records.push(priced(370.0, ReplicaRole::WarmStandby, 1.0, 0.0));
    records.push(priced(375.0, ReplicaRole::HotStandby, 1.0, 0.0));
    let action = &cost_of(&records).actions[0];
    // Cold 0.05 x $10 = $0.50 extra before; warm $4 extra after.
    let before = action.before.map(|b| (b.at_s, b.per_hour()));
    assert_eq!(
        (before, after(action)),
        (Some((0.0, 10.5)), Some((370.0, 14.0)))
    );
}

#[test]
fn only_accepted_fleet_commands_are_charged_and_nothing_priced_means_no_cost() {
    let mut records = priced_drill();
    records.insert(
        3,
        audit(12.0, "bob", "drain", "us-east", AuditOutcome::Held),
    );
    records.insert(
        3,
        audit(
            11.0,
            "bob",
            "resolve approve",
            "esc-1",
            AuditOutcome::Accepted,
        ),
    );
    let actions = cost_of(&records).actions;
    assert_eq!(
        actions
            .iter()
            .map(|a| a.action.as_str())
            .collect::<Vec<_>>(),
        ["standby hot"]
    );
    let unpriced = run(Vec::new(), &[fleet(0.0, (0.5, 0.0, 50.0), 0.6), end(5.0)]).report();
    assert_eq!((unpriced.cost, unpriced.budgets.len()), (None, 0));
}

#[test]
fn warming_a_standby_is_a_mitigation_and_meets_an_objective_naming_it() {
    let warmed = crate::exercise::tracker::tests::objective(
        "warm",
        1,
        Some("outage"),
        None,
        ObjectiveCondition::Action {
            action: "standby".into(),
            target: Some("credit-decision".into()),
        },
    );
    let tracker = run(vec![warmed], &priced_drill());
    let report = tracker.report();
    assert_eq!(report.measures[0].mitigate_s, Some(23.0));
    assert_eq!(
        report.objectives[0].status,
        ObjectiveStatus::Met { at_s: 33.0 }
    );
}
