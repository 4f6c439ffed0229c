//! The lab's commands over real HTTP on 127.0.0.1: each command end to end, idempotent
//! replays, stale revisions, roles, timed reverts, operations by SSE, the audit log, and two
//! consoles watching each other. Requests are built by the console's own `Command` type, and
//! every request and answer is checked against `docs/openapi.yaml`.

mod adaptive;
mod approvals;
mod controls;
mod guards;
#[path = "../lab_support/mod.rs"]
mod lab_support;
mod operations_and_audit;

use std::collections::BTreeMap;
use std::time::Duration;

use eventsource_stream::Event;
use futures::Stream;
use lab::LabServer;
use protocol::PROBLEM_JSON;
use protocol::commands::{
    AuditEntry, AuditOutcome, AuditPage, BreakerAction, CommandAccepted, IDEMPOTENCY_KEY, IF_MATCH,
    Operation, OperationState, WeightScope,
};
use protocol::escalations::IDEMPOTENT_REPLAYED;
use protocol::{
    BreakerState, DegradedModeKind, FleetDelta, FleetSnapshot, Region, ReplicaRole, event_name,
};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use switchboard::domain::command::Command;

use lab_support::{
    SPEC, WAIT, client, event_data, expect_problem, get, get_json, get_json_as, next_event,
    open_events, send, start_lab,
};

/// Speed of most labs here: a sim-minute per real second.
const SPEED: f64 = 60.0;

/// The path of a command's endpoint as the spec writes it.
fn spec_path(command: &Command) -> &'static str {
    match command {
        Command::Promote { .. } => "/v1/services/{id}/promote",
        Command::Drain { .. } => "/v1/regions/{id}/drain",
        Command::Undrain { .. } => "/v1/regions/{id}/undrain",
        Command::Breaker { .. } => "/v1/providers/{id}/breaker",
        Command::Degrade { .. } => "/v1/services/{id}/degraded-modes",
        Command::Weights { .. } => "/v1/services/{id}/weights",
        Command::Standby { .. } => "/v1/services/{id}/standby",
        Command::Borrow { .. } => "/v1/services/{id}/borrow",
        Command::Return { .. } => "/v1/services/{id}/return",
    }
}

/// Sends `body` to `command`'s endpoint as `name`, with the headers given.
async fn post(
    lab: &LabServer,
    name: &str,
    command: &Command,
    body: &Value,
    key: Option<&str>,
    if_match: Option<u64>,
) -> reqwest::Response {
    let mut request = client()
        .post(format!("{}{}", lab.url(), command.path()))
        .bearer_auth(lab.token_for(name).unwrap())
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header(IDEMPOTENCY_KEY, key);
    }
    if let Some(revision) = if_match {
        // Quoted, as the console sends it.
        request = request.header(IF_MATCH, format!("\"{revision}\""));
    }
    send(request).await
}

/// Sends `command` as the console builds it, after checking its body against the spec.
async fn send_command(
    lab: &LabServer,
    name: &str,
    command: &Command,
    key: Option<&str>,
    if_match: Option<u64>,
) -> reqwest::Response {
    let body = command.body("drill");
    SPEC.assert_valid(
        SPEC.request("post", spec_path(command)),
        &body,
        "the request",
    );
    post(lab, name, command, &body, key, if_match).await
}

/// An accepted answer: its raw body and what it says, checked against the spec.
async fn accepted(
    response: reqwest::Response,
    command: &Command,
    status: StatusCode,
) -> (CommandAccepted, Vec<u8>) {
    assert_eq!(response.status(), status, "{command}");
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let bytes = response.bytes().await.unwrap().to_vec();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    SPEC.assert_valid(
        SPEC.response(
            "post",
            spec_path(command),
            status.as_u16(),
            "application/json",
        ),
        &body,
        &command.to_string(),
    );
    (serde_json::from_value(body).unwrap(), bytes)
}

fn fresh_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn fleet(lab: &LabServer) -> FleetSnapshot {
    get_json(lab, "/v1/fleet", lab.token_for("victor").unwrap()).await
}

/// Runs `command` as `name` on the target's current control revision, with a fresh key.
async fn run(lab: &LabServer, name: &str, command: &Command) -> CommandAccepted {
    let revision = command.control_revision(&fleet(lab).await).unwrap();
    let response = send_command(lab, name, command, Some(&fresh_key()), Some(revision)).await;
    let status = if matches!(
        command,
        Command::Promote { .. } | Command::Standby { .. } | Command::Borrow { .. }
    ) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    accepted(response, command, status).await.0
}

/// Polls the snapshot until `done` holds.
async fn wait_for_fleet(
    lab: &LabServer,
    what: &str,
    done: impl Fn(&FleetSnapshot) -> bool,
) -> FleetSnapshot {
    tokio::time::timeout(WAIT, async {
        loop {
            let snapshot = fleet(lab).await;
            if done(&snapshot) {
                return snapshot;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} in time"))
}

/// Reads events until `pick` returns something.
async fn wait_for_event<T>(
    events: &mut (impl Stream<Item = Event> + Unpin),
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = next_event(events).await;
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} in time"))
}

fn region<'a>(snapshot: &'a FleetSnapshot, id: &str) -> &'a Region {
    snapshot.regions.iter().find(|r| r.id == id).unwrap()
}

fn drain(region: &str, expires_in_s: Option<u64>) -> Command {
    Command::Drain {
        region: region.into(),
        expires_in_s,
    }
}

fn undrain(region: &str) -> Command {
    Command::Undrain {
        region: region.into(),
    }
}

fn breaker(provider: &str, action: BreakerAction, expires_in_s: Option<u64>) -> Command {
    Command::Breaker {
        provider: provider.into(),
        action,
        expires_in_s,
    }
}

fn degrade(
    service: &str,
    mode: DegradedModeKind,
    enabled: bool,
    expires_in_s: Option<u64>,
) -> Command {
    Command::Degrade {
        service: service.into(),
        mode,
        enabled,
        expires_in_s,
    }
}

async fn audit_page(lab: &LabServer, query: &str) -> AuditPage {
    get_json_as(
        lab,
        &format!("/v1/audit{query}"),
        "/v1/audit",
        lab.token_for("victor").unwrap(),
    )
    .await
}
