//! The preflight against the lab's own numbers (`prediction`), and the command CLI
//! (`run_command`, in `command_cli`) against a real lab on 127.0.0.1.
//!
//! Each preflight test takes a snapshot, computes the preflight, sends the command, and
//! compares what the preflight predicted with the fleet the lab serves right after (the lab
//! applies a command at once, so nothing needs to settle but a promotion's operation).
//!
//! Tolerance, and why: the lab jitters every service's demand by up to ±2% at each simulation
//! step, and the command itself runs one; the snapshot and the fleet after are two such draws,
//! so a service's traffic may differ by up to 4% between what the preflight saw and what the
//! lab does. Demand also swells by 5% over 900 simulated seconds: at [`SPEED`] a test spends
//! well under a second (20 simulated seconds, at most 0.7% of swell). The snapshot rounds
//! loads to 0.1 rps. So a predicted load must be within 5% + 0.3 rps of the lab's, a share
//! (a ratio of two such loads) within 10% of itself + 0.005, and a headroom within the load's
//! tolerance over capacity. A verdict (ok / low / overload) is compared wherever the predicted
//! headroom is further than that tolerance from a threshold.

mod command_cli;
mod cost;
mod prediction;

use std::time::Duration;

use lab::{LabOptions, LabServer};
use protocol::{FleetSnapshot, Replica, Service};
use switchboard::sources::{Client, SourceSpec};

/// Simulated seconds per real second: a hot takeover (5 s) ends within a quarter second,
/// while demand barely swells during a test.
const SPEED: f64 = 20.0;
/// Bound of every wait; generous, only there to turn a hang into a failure.
const WAIT: Duration = Duration::from_secs(20);

async fn start_lab() -> LabServer {
    let options = LabOptions {
        speed: SPEED,
        ..LabOptions::default()
    };
    LabServer::start(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client(lab: &LabServer, who: &str) -> Client {
    Client::new(&lab.url(), lab.token_for(who).map(String::from)).unwrap()
}

fn spec(lab: &LabServer, who: &str) -> SourceSpec {
    SourceSpec {
        name: "lab".into(),
        url: lab.url(),
        token: lab.token_for(who).map(String::from),
    }
}

/// credit-decision, the default topology's active-passive service, and its standby.
fn credit_decision_and_standby(fleet: &FleetSnapshot) -> (&Service, &Replica) {
    let credit = fleet
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    let standby = credit
        .replicas
        .iter()
        .find(|r| r.role.is_standby())
        .unwrap();
    (credit, standby)
}

/// Operation `id` once it no longer runs (within [`WAIT`]).
async fn finished(alice: &Client, id: &str) -> protocol::commands::Operation {
    tokio::time::timeout(WAIT, async {
        loop {
            let now = alice.operation(id).await.unwrap();
            if now.state != protocol::commands::OperationState::Running {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap()
}
