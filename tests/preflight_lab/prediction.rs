//! Each preflight against what the lab does with the command right after (tolerances: see
//! the crate's doc).

use std::collections::BTreeMap;

use lab::LabServer;
use protocol::commands::{BreakerAction, OperationState, WeightScope};
use protocol::{FleetSnapshot, Region};
use switchboard::domain::command::Command;
use switchboard::domain::preflight::{LOW_HEADROOM, Preflight, Verdict, preflight};

use crate::{client, credit_decision_and_standby, finished, start_lab};

fn load_tolerance(rps: f64) -> f64 {
    0.05 * rps.abs() + 0.3
}

fn assert_load(what: &str, predicted: f64, actual: f64) {
    assert!(
        (predicted - actual).abs() <= load_tolerance(predicted.max(actual)),
        "{what}: predicted {predicted:.1} rps, the lab has {actual:.1}"
    );
}

fn region<'s>(snapshot: &'s FleetSnapshot, id: &str) -> &'s Region {
    snapshot.regions.iter().find(|r| r.id == id).unwrap()
}

/// Sends `command` as alice with the target's revision from `seen`.
async fn send(lab: &LabServer, command: &Command, seen: &FleetSnapshot) -> Vec<String> {
    let key = uuid::Uuid::new_v4().to_string();
    let revision = command.control_revision(seen).unwrap();
    client(lab, "alice")
        .command(command, "preflight test", None, &key, revision)
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"))
        .warnings
}

/// Every region, replica and provider the preflight predicted against the fleet after; and
/// every region it did not list kept its load.
fn assert_prediction(check: &Preflight, before: &FleetSnapshot, after: &FleetSnapshot) {
    for shift in &check.regions {
        let actual = region(after, &shift.region);
        let what = format!("region {}", shift.region);
        assert_load(&what, shift.load_after_rps, actual.load_rps);
        let share_tolerance = 0.1 * shift.share_after + 0.005;
        assert!(
            (shift.share_after - actual.traffic_share).abs() <= share_tolerance,
            "{what}: predicted share {:.3}, the lab has {:.3}",
            shift.share_after,
            actual.traffic_share
        );
        let headroom_tolerance = load_tolerance(shift.load_after_rps) / shift.capacity_rps;
        assert!(
            (shift.headroom_after - actual.headroom()).abs() <= headroom_tolerance,
            "{what}: predicted headroom {:.3}, the lab has {:.3}",
            shift.headroom_after,
            actual.headroom()
        );
        let clear_of_thresholds = [0.0, LOW_HEADROOM]
            .iter()
            .all(|t| (shift.headroom_after - t).abs() > headroom_tolerance);
        if clear_of_thresholds {
            assert_eq!(shift.verdict, Verdict::of(actual.headroom()), "{what}");
        }
    }
    for region_before in &before.regions {
        if !check.regions.iter().any(|s| s.region == region_before.id) {
            let what = format!("region {} (untouched)", region_before.id);
            assert_load(
                &what,
                region_before.load_rps,
                region(after, &region_before.id).load_rps,
            );
        }
    }
    for shift in &check.replicas {
        let service = after
            .services
            .iter()
            .find(|s| s.id == shift.service)
            .unwrap();
        let actual = service
            .replicas
            .iter()
            .find(|r| r.id == shift.replica)
            .unwrap();
        assert_load(
            &format!("replica {}", shift.replica),
            shift.load_after_rps,
            actual.load_rps,
        );
    }
    for shift in &check.providers {
        let actual = after
            .providers
            .iter()
            .find(|p| p.id == shift.provider)
            .unwrap();
        assert_load(
            &format!("provider {}", shift.provider),
            shift.load_after_rps,
            actual.load_rps,
        );
    }
}

/// The lab's own warnings about what a command overloaded or left unserved are all in the
/// preflight's blocking reasons.
fn assert_lab_warnings_foreseen(check: &Preflight, lab_warnings: &[String]) {
    for warning in lab_warnings {
        let subject = warning.split_whitespace().next().unwrap();
        let foreseen = if warning.contains("is over capacity") {
            check
                .overloads
                .iter()
                .any(|o| o.starts_with(&format!("region {subject} ")))
        } else if warning.contains(" gets ") && warning.contains("of capacity") {
            check
                .overloads
                .iter()
                .any(|o| o.starts_with(&format!("replica {subject} ")))
        } else if warning.contains("has no replica taking traffic") {
            check
                .no_path
                .iter()
                .any(|n| n.service == subject && n.region.is_none())
        } else {
            continue;
        };
        assert!(
            foreseen,
            "the lab warned {warning:?}; the preflight said {check:#?}"
        );
    }
}

#[tokio::test]
async fn a_drain_lands_where_the_preflight_said() {
    let lab = start_lab().await;
    let alice = client(&lab, "alice");
    let before = alice.fleet().await.unwrap();
    let drain = Command::Drain {
        region: "us-east".into(),
        expires_in_s: None,
    };
    let check = preflight(&drain, &before);
    // us-east is the big region: eu-west cannot absorb its share, and credit-decision's only
    // active replica is there.
    assert!(check.blocks());
    assert_eq!(region_verdict(&check, "eu-west"), Verdict::Overload);
    assert!(check.no_path.iter().any(|n| n.service == "credit-decision"));

    let warnings = send(&lab, &drain, &before).await;
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);
    assert_lab_warnings_foreseen(&check, &warnings);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("eu-west is over capacity")),
        "{warnings:?}"
    );
    let credit = after
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    assert!(
        credit.replicas.iter().all(|r| r.load_rps == 0.0),
        "no path, as foretold"
    );
    lab.shutdown().await;
}

fn region_verdict(check: &Preflight, id: &str) -> Verdict {
    check
        .regions
        .iter()
        .find(|r| r.region == id)
        .unwrap()
        .verdict
}

#[tokio::test]
async fn weights_land_where_the_preflight_said() {
    let lab = start_lab().await;
    let alice = client(&lab, "alice");
    let before = alice.fleet().await.unwrap();
    // Regions start from their capacity (us-east 120 of 330): 180 pulls more to us-east.
    let regions = Command::Weights {
        service: "risk-scorer".into(),
        scope: WeightScope::Regions,
        weights: BTreeMap::from([("us-east".to_string(), 180.0)]),
    };
    let check = preflight(&regions, &before);
    assert!(!check.blocks(), "{check:#?}");
    assert!(!check.regions.is_empty());
    send(&lab, &regions, &before).await;
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);

    // Within us-east's gateway: openai weighted 0 sends risk-scorer to rank 2.
    let providers = Command::Weights {
        service: "risk-scorer".into(),
        scope: WeightScope::Providers {
            region: "us-east".into(),
        },
        weights: BTreeMap::from([("openai@us-east".to_string(), 0.0)]),
    };
    let before = after;
    let check = preflight(&providers, &before);
    assert!(
        check
            .providers
            .iter()
            .any(|p| p.provider == "google@us-east")
    );
    send(&lab, &providers, &before).await;
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);
    lab.shutdown().await;
}

#[tokio::test]
async fn forcing_breakers_open_lands_where_the_preflight_said() {
    let lab = start_lab().await;
    let alice = client(&lab, "alice");
    let force_open = |provider: &str| Command::Breaker {
        provider: provider.into(),
        action: BreakerAction::ForceOpen,
        expires_in_s: None,
    };
    let before = alice.fleet().await.unwrap();
    let first = force_open("self-hosted@ap-south");
    let check = preflight(&first, &before);
    assert!(
        !check.blocks(),
        "google@ap-south takes log-aggregator: {check:#?}"
    );
    send(&lab, &first, &before).await;
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);

    // Now google@ap-south is log-aggregator's last provider.
    let before = after;
    let last = force_open("google@ap-south");
    let check = preflight(&last, &before);
    assert!(check.blocks());
    assert!(
        check
            .no_path
            .iter()
            .any(|n| n.service == "log-aggregator" && n.region.as_deref() == Some("ap-south")),
        "{:#?}",
        check.no_path
    );
    let warnings = send(&lab, &last, &before).await;
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);
    assert_lab_warnings_foreseen(&check, &warnings);
    let logs = after
        .services
        .iter()
        .find(|s| s.id == "log-aggregator")
        .unwrap();
    assert_eq!(logs.replicas[0].load_rps, 0.0, "no path, as foretold");
    lab.shutdown().await;
}

#[tokio::test]
async fn a_promotion_takes_the_time_and_lands_where_the_preflight_said() {
    let lab = start_lab().await;
    let alice = client(&lab, "alice");
    let before = alice.fleet().await.unwrap();
    let (credit, standby) = credit_decision_and_standby(&before);
    let promote = Command::Promote {
        service: credit.id.clone(),
        replica: standby.id.clone(),
    };
    let check = preflight(&promote, &before);
    let takeover = check.takeover.clone().unwrap();
    let key = uuid::Uuid::new_v4().to_string();
    let accepted = alice
        .command(
            &promote,
            "preflight test",
            None,
            &key,
            credit.control_revision,
        )
        .await
        .unwrap();
    let operation = accepted.operation.unwrap();
    let planned = (operation.eta.unwrap() - operation.started_at).as_seconds_f64();
    assert!(
        (planned - takeover.expected_takeover_s).abs() < 0.01,
        "the lab plans {planned}s, the preflight said {}s",
        takeover.expected_takeover_s
    );
    let finished = finished(&alice, &operation.id).await;
    assert_eq!(finished.state, OperationState::Succeeded, "{finished:?}");
    let after = alice.fleet().await.unwrap();
    assert_prediction(&check, &before, &after);
    lab.shutdown().await;
}
