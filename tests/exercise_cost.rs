//! The after-action report's error budget and the cost of the actions taken (issue 15), from a
//! real drill: the lab plays provider-outage on its priced default fleet over HTTP on
//! 127.0.0.1, a player warms credit-decision's cold standby in eu-west, the facilitator ends
//! it, and the report (the lab's `GET /v1/exercise/report`, and again from the recording)
//! charges the warming exactly what warm costs over cold.

use std::time::Duration;

use lab::{LabOptions, LabServer};
use protocol::exercise::report::ExerciseReport;
use protocol::exercise::{Control, ControlRequest};
use protocol::{FleetSnapshot, ReplicaRole};
use switchboard::domain::command::Command;
use switchboard::sources::Client;

const SPEED: f64 = 60.0;
const WAIT: Duration = Duration::from_secs(30);
/// credit-decision's replica price in the default topology, and the standby shares.
const REPLICA_PER_HOUR: f64 = 4.50;
const WARM_SHARE: f64 = 0.4;
const COLD_SHARE: f64 = 0.05;

async fn control(facilitator: &Client, control: Control, key: &str) {
    let request = ControlRequest {
        control,
        reason: String::new(),
    };
    facilitator.exercise_control(&request, key).await.unwrap();
}

/// Polls the fleet until `done` holds of it.
async fn until(
    client: &Client,
    what: &str,
    done: impl Fn(&FleetSnapshot) -> bool,
) -> FleetSnapshot {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let fleet = client.fleet().await.unwrap();
        if done(&fleet) {
            return fleet;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn role_of(fleet: &FleetSnapshot, replica: &str) -> Option<ReplicaRole> {
    (fleet.services.iter())
        .flat_map(|s| &s.replicas)
        .find(|r| r.id == replica)
        .map(|r| r.role)
}

#[tokio::test]
async fn the_report_charges_warming_a_standby_what_warm_costs_over_cold() {
    let records = tempfile::tempdir().unwrap();
    let options = LabOptions {
        speed: SPEED,
        exercise: Some("provider-outage".into()),
        record_dir: Some(records.path().to_path_buf()),
        ..LabOptions::default()
    };
    let lab = LabServer::start(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let as_user =
        |name: &str| Client::new(&lab.url(), lab.token_for(name).map(str::to_string)).unwrap();
    let (facilitator, bob) = (as_user("facilitator"), as_user("bob"));
    control(&facilitator, Control::Start, "start-1").await;
    // After the outage has fired (T+10 s), so that its inject does not cut the reading.
    let deadline = tokio::time::Instant::now() + WAIT;
    while bob
        .exercise()
        .await
        .unwrap()
        .unwrap()
        .injects
        .iter()
        .all(|i| i.fired_at_s.is_none())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outage never fired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let standby = "credit-decision@eu-west";
    let fleet = bob.fleet().await.unwrap();
    assert_eq!(role_of(&fleet, standby), Some(ReplicaRole::ColdStandby));
    let warm = Command::Standby {
        service: "credit-decision".into(),
        replica: standby.into(),
        role: ReplicaRole::WarmStandby,
        expires_in_s: None,
    };
    let if_match = warm.control_revision(&fleet).unwrap();
    bob.command(&warm, "storm warning", None, "warm-1", if_match)
        .await
        .unwrap();
    // Warm after the lab's 5 simulated minutes; then two more samples (5 s apart) at least.
    until(&bob, "the standby warm", |f| {
        role_of(f, standby) == Some(ReplicaRole::WarmStandby)
    })
    .await;
    let warmed_at = bob.exercise().await.unwrap().unwrap().clock_s;
    let deadline = tokio::time::Instant::now() + WAIT;
    while bob.exercise().await.unwrap().unwrap().clock_s < warmed_at + 12.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the drill clock stopped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    control(&facilitator, Control::End, "end-1").await;

    let report = bob.exercise_report().await.unwrap();
    assert!(report.ended);
    check_budgets(&report);
    let cost = report.cost.as_ref().expect("the default fleet is priced");
    assert!(cost.unpriced.is_empty(), "{:?}", cost.unpriced);
    let [action] = &cost.actions[..] else {
        panic!("one fleet command: {:?}", cost.actions)
    };
    assert_eq!(
        (
            action.actor.as_str(),
            action.action.as_str(),
            action.target.as_str()
        ),
        (
            "bob",
            "standby warm",
            "credit-decision/credit-decision@eu-west"
        )
    );
    let after = action.after.expect("a sample after the warming");
    assert!(
        after.at_s >= warmed_at,
        "read at {} before warm at {warmed_at}",
        after.at_s
    );
    let (replicas, _calls) = action.delta().unwrap();
    let expected = (WARM_SHARE - COLD_SHARE) * REPLICA_PER_HOUR;
    assert!(
        (replicas - expected).abs() < 1e-9,
        "{replicas} != {expected}"
    );
    assert!(
        cost.total > 0.0 && cost.peak_per_hour >= cost.start_per_hour,
        "{cost:?}"
    );

    // The recording gives the same report: the same figures for everyone who reads the run.
    let recording = std::fs::read_dir(records.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .expect("the lab recorded the drill");
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["exercise", "report", "--json"])
        .arg(&recording)
        .output()
        .unwrap();
    assert!(again.status.success(), "{again:?}");
    let replayed: ExerciseReport = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        (replayed.budgets, replayed.cost),
        (report.budgets.clone(), report.cost.clone())
    );
    let markdown = std::fs::read_to_string(recording.with_extension("report.md")).unwrap();
    assert!(markdown.contains("## Error budget spent"), "{markdown}");
    assert!(
        markdown.contains("| bob | standby warm credit-decision/credit-decision@eu-west |"),
        "{markdown}"
    );
    lab.shutdown().await;
}

/// Every service of the fleet, its budget never growing back over a drill that burns it.
fn check_budgets(report: &ExerciseReport) {
    let services: Vec<&str> = report.budgets.iter().map(|b| b.service.as_str()).collect();
    assert_eq!(services.len(), 5, "{services:?}");
    for budget in &report.budgets {
        let (start, end) = (budget.left_at_start.unwrap(), budget.left_at_end.unwrap());
        assert!(end <= start, "{}: {start} -> {end}", budget.service);
        let spent = budget.spent.unwrap();
        assert!(
            (spent - (start - end)).abs() < 1e-12,
            "{}: {spent}",
            budget.service
        );
    }
}
