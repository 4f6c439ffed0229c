//! The lab's commands over real HTTP on 127.0.0.1: each command end to end, idempotent
//! replays, stale revisions, roles, timed reverts, operations by SSE, the audit log, and two
//! consoles watching each other. Requests are built by the console's own `Command` type, and
//! every request and answer is checked against `docs/openapi.yaml`.

mod lab_support;

use std::collections::BTreeMap;
use std::time::Duration;

use eventsource_stream::Event;
use futures::Stream;
use lab::LabServer;
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
    let status = if matches!(command, Command::Promote { .. }) {
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

#[tokio::test]
async fn a_drain_moves_traffic_and_another_console_sees_it_live() {
    let lab = start_lab(SPEED, None).await;
    let before = fleet(&lab).await;
    let start = Some(before.revision.to_string());
    let mut alice = open_events(&lab, lab.token_for("alice").unwrap(), start.clone()).await;
    let mut bob = open_events(&lab, lab.token_for("bob").unwrap(), start).await;

    let command = drain("us-east", None);
    let answer = run(&lab, "bob", &command).await;
    assert_eq!(
        answer.control_revision,
        region(&before, "us-east").control_revision + 1
    );
    assert!(
        answer
            .warnings
            .iter()
            .any(|w| w.contains("eu-west is over capacity")),
        "{:?}",
        answer.warnings
    );
    assert!(
        answer
            .warnings
            .iter()
            .any(|w| w.contains("credit-decision has no replica taking traffic"))
    );

    // Both consoles see the drain in the revision the answer names, then its audit entry.
    for (who, events) in [("alice", &mut alice), ("bob", &mut bob)] {
        let delta = wait_for_event(events, "the drain", |event| {
            (event.event == event_name::FLEET_DELTA)
                .then(|| event_data::<FleetDelta>(event, "FleetDelta"))
                .filter(|delta| delta.revision == answer.revision)
        })
        .await;
        let east = delta.regions.iter().find(|r| r.id == "us-east").unwrap();
        assert_eq!(east.drain.as_ref().unwrap().set_by, "bob", "{who}");
        assert_eq!(
            (east.traffic_share, east.control_revision),
            (0.0, answer.control_revision)
        );
        for other in delta.regions.iter().filter(|r| r.id != "us-east") {
            assert!(
                other.traffic_share > region(&before, &other.id).traffic_share,
                "{who}: {}",
                other.id
            );
        }
        let entry = wait_for_event(events, "the audit entry", |event| {
            (event.event == event_name::AUDIT)
                .then(|| event_data::<AuditEntry>(event, "AuditEntry"))
        })
        .await;
        assert_eq!(entry.id, answer.audit_id);
        assert_eq!(
            (
                entry.actor.as_str(),
                entry.action.as_str(),
                entry.target.as_str(),
                entry.outcome
            ),
            ("bob", "drain", "us-east", AuditOutcome::Accepted)
        );
    }

    run(&lab, "alice", &undrain("us-east")).await;
    let after = fleet(&lab).await;
    assert_eq!(region(&after, "us-east").drain, None);
    assert!(region(&after, "us-east").traffic_share > 0.3);
    lab.shutdown().await;
}

#[tokio::test]
async fn a_replayed_command_returns_the_first_answer_and_acts_once() {
    let lab = start_lab(SPEED, None).await;
    let command = drain("ap-south", Some(3600));
    let revision = command.control_revision(&fleet(&lab).await).unwrap();
    let key = fresh_key();
    let first = send_command(&lab, "bob", &command, Some(&key), Some(revision)).await;
    assert!(first.headers().get(IDEMPOTENT_REPLAYED).is_none());
    let (answer, first_bytes) = accepted(first, &command, StatusCode::OK).await;
    // A retry (the answer was lost, say): same key, same request, now-stale If-Match.
    let replay = send_command(&lab, "bob", &command, Some(&key), Some(revision)).await;
    assert_eq!(replay.headers()[IDEMPOTENT_REPLAYED], "true");
    let (_, replay_bytes) = accepted(replay, &command, StatusCode::OK).await;
    assert_eq!(first_bytes, replay_bytes, "the exact first answer");

    let snapshot = fleet(&lab).await;
    assert_eq!(
        region(&snapshot, "ap-south").control_revision,
        revision + 1,
        "one effect"
    );
    let audited = audit_page(&lab, &format!("?idempotency_key={key}")).await;
    assert_eq!(audited.entries.len(), 1, "{:?}", audited.entries);
    assert_eq!(audited.entries[0].id, answer.audit_id);

    // The same key for another request is refused, and that is audited.
    let other = post(
        &lab,
        "bob",
        &command,
        &command.body("another reason"),
        Some(&key),
        Some(revision + 1),
    )
    .await;
    let (problem, _) = expect_problem(other, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(problem.detail.unwrap().contains("different request"));
    let audited = audit_page(&lab, &format!("?idempotency_key={key}")).await;
    let outcomes: Vec<AuditOutcome> = audited.entries.iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, [AuditOutcome::Rejected, AuditOutcome::Accepted]);
    // Keys belong to their caller: alice's same key is a new command.
    let alice = send_command(
        &lab,
        "alice",
        &undrain("ap-south"),
        Some(&key),
        Some(revision + 1),
    )
    .await;
    accepted(alice, &undrain("ap-south"), StatusCode::OK).await;
    lab.shutdown().await;
}

#[tokio::test]
async fn guards_answer_with_problems_and_rejections_are_audited() {
    let lab = start_lab(SPEED, None).await;
    let command = drain("us-east", None);
    let revision = command.control_revision(&fleet(&lab).await).unwrap();
    let expect = |response, status| async move { expect_problem(response, status).await.0 };

    let missing_key = send_command(&lab, "bob", &command, None, Some(revision)).await;
    let problem = expect(missing_key, StatusCode::BAD_REQUEST).await;
    assert!(problem.detail.unwrap().contains(IDEMPOTENCY_KEY));

    let missing_revision = send_command(&lab, "bob", &command, Some(&fresh_key()), None).await;
    expect(missing_revision, StatusCode::PRECONDITION_REQUIRED).await;

    // Someone else drained it first: bob's view is stale.
    run(&lab, "alice", &command).await;
    let stale = send_command(&lab, "bob", &command, Some(&fresh_key()), Some(revision)).await;
    let problem = expect(stale, StatusCode::CONFLICT).await;
    let current: Region = serde_json::from_value(problem.extensions["current"].clone()).unwrap();
    assert_eq!(current.drain.as_ref().unwrap().set_by, "alice");
    assert_eq!(current.control_revision, revision + 1);
    assert_eq!(
        problem.extensions["current_control_revision"],
        json!(revision + 1)
    );

    let viewer = send_command(
        &lab,
        "victor",
        &undrain("us-east"),
        Some(&fresh_key()),
        Some(revision + 1),
    )
    .await;
    let problem = expect(viewer, StatusCode::FORBIDDEN).await;
    assert!(problem.detail.unwrap().contains("victor is a viewer"));
    let newest = &audit_page(&lab, "?limit=1").await.entries[0];
    assert_eq!(
        (
            newest.actor.as_str(),
            newest.action.as_str(),
            newest.target.as_str(),
            newest.outcome
        ),
        ("victor", "undrain", "us-east", AuditOutcome::Rejected)
    );

    let cases: Vec<(Command, Value, StatusCode, &str)> = vec![
        (
            drain("mars", None),
            drain("mars", None).body("drill"),
            StatusCode::NOT_FOUND,
            "no region \"mars\"",
        ),
        (
            drain("us-west", None),
            json!({"reason": "  "}),
            StatusCode::BAD_REQUEST,
            "a reason is required",
        ),
        (
            drain("us-west", None),
            json!({"reason": "a\u{1b}[2Jb"}),
            StatusCode::BAD_REQUEST,
            "printable",
        ),
        (
            drain("us-west", None),
            json!({"why": "no reason field"}),
            StatusCode::BAD_REQUEST,
            "not a valid drain request",
        ),
        (
            Command::Promote {
                service: "credit-decision".into(),
                replica: "credit-decision@mars".into(),
            },
            json!({"replica": "credit-decision@mars", "reason": "drill"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "has no replica",
        ),
        (
            Command::Weights {
                service: "risk-scorer".into(),
                scope: WeightScope::Regions,
                weights: BTreeMap::new(),
            },
            json!({"scope": {"kind": "regions"}, "weights": {"us-east": 0.0, "us-west": 0.0, "eu-west": 0.0, "ap-south": 0.0}, "reason": "drill"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "without traffic",
        ),
    ];
    for (command, body, status, detail) in cases {
        let revision = command.control_revision(&fleet(&lab).await).unwrap_or(1);
        let response = post(
            &lab,
            "bob",
            &command,
            &body,
            Some(&fresh_key()),
            Some(revision),
        )
        .await;
        let problem = expect(response, status).await;
        let text = problem.detail.unwrap();
        assert!(text.contains(detail), "{command}: {text}");
        let newest = &audit_page(&lab, "?limit=1").await.entries[0];
        assert_eq!(
            (newest.actor.as_str(), newest.outcome),
            ("bob", AuditOutcome::Rejected),
            "{command}"
        );
        assert_eq!(newest.detail.as_deref(), Some(text.as_str()));
    }

    let anonymous = send(
        client()
            .post(format!("{}/v1/regions/us-east/drain", lab.url()))
            .header(CONTENT_TYPE, "application/json")
            .body(json!({"reason": "x"}).to_string()),
    )
    .await;
    expect(anonymous, StatusCode::UNAUTHORIZED).await;
    lab.shutdown().await;
}

#[tokio::test]
async fn timed_controls_revert_by_themselves() {
    let lab = start_lab(600.0, None).await;
    let commands = [
        drain("us-west", Some(30)),
        breaker("google@eu-west", BreakerAction::ForceOpen, Some(30)),
        degrade("risk-scorer", DegradedModeKind::ServeCache, true, Some(30)),
    ];
    for command in &commands {
        let answer = run(&lab, "bob", command).await;
        let entry = audit_page(&lab, "?limit=1").await.entries.remove(0);
        assert_eq!(entry.id, answer.audit_id);
        assert!(
            entry.detail.unwrap().starts_with("reverts at "),
            "{command}"
        );
    }
    let reverted = wait_for_fleet(&lab, "the reverts", |snapshot| {
        let google = snapshot
            .providers
            .iter()
            .find(|p| p.id == "google@eu-west")
            .unwrap();
        let risk = snapshot
            .services
            .iter()
            .find(|s| s.id == "risk-scorer")
            .unwrap();
        region(snapshot, "us-west").drain.is_none()
            && google.quarantine.is_none()
            && risk.degraded_modes.is_empty()
    })
    .await;
    assert!(region(&reverted, "us-west").traffic_share > 0.0);
    assert!(
        reverted
            .notices
            .iter()
            .any(|n| n.text.contains("expired: drain us-west"))
    );
    let system: Vec<(String, AuditOutcome)> = audit_page(&lab, "")
        .await
        .entries
        .into_iter()
        .filter(|e| e.actor == "system")
        .map(|e| (e.action, e.outcome))
        .collect();
    for action in ["drain", "breaker force-open", "degrade serve-cache on"] {
        assert!(
            system.contains(&(action.to_string(), AuditOutcome::Reverted)),
            "{action}: {system:?}"
        );
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn a_promotion_reports_progress_by_sse_until_it_succeeds() {
    // A cold start takes 300 sim-seconds: five ticks at this speed.
    let lab = start_lab(240.0, None).await;
    let snapshot = fleet(&lab).await;
    let mut events = open_events(
        &lab,
        lab.token_for("alice").unwrap(),
        Some(snapshot.revision.to_string()),
    )
    .await;
    let command = Command::Promote {
        service: "credit-decision".into(),
        replica: "credit-decision@eu-west".into(),
    };
    let answer = run(&lab, "bob", &command).await;
    let started = answer.operation.unwrap();
    assert_eq!(
        (started.state, started.progress),
        (OperationState::Running, 0.0)
    );
    assert!(started.eta.is_some());
    assert!(
        answer
            .warnings
            .iter()
            .any(|w| w.starts_with("replication lag")),
        "{:?}",
        answer.warnings
    );

    let mut progress = Vec::new();
    let done = wait_for_event(&mut events, "the promotion to succeed", |event| {
        if event.event != event_name::FLEET_DELTA {
            return None;
        }
        let delta: FleetDelta = event_data(event, "FleetDelta");
        let operation = delta.operations.iter().find(|o| o.id == started.id)?;
        progress.push(operation.progress);
        (operation.state != OperationState::Running).then_some(delta)
    })
    .await;
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(
        progress.iter().any(|p| *p > 0.0 && *p < 1.0),
        "progress in between: {progress:?}"
    );
    let finished = done.operations.iter().find(|o| o.id == started.id).unwrap();
    assert_eq!(
        (finished.state, finished.progress),
        (OperationState::Succeeded, 1.0)
    );
    let credit = done
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    let role = |id: &str| credit.replicas.iter().find(|r| r.id == id).unwrap().role;
    assert_eq!(role("credit-decision@eu-west"), ReplicaRole::Active);
    assert_eq!(role("credit-decision@us-east"), ReplicaRole::HotStandby);

    let path = format!("/v1/operations/{}", started.id);
    let operation: Operation = get_json_as(
        &lab,
        &path,
        "/v1/operations/{id}",
        lab.token_for("victor").unwrap(),
    )
    .await;
    assert_eq!(&operation, finished);
    let missing = get(
        &lab,
        "/v1/operations/op-999",
        lab.token_for("victor"),
        Default::default(),
    )
    .await;
    expect_problem(missing, StatusCode::NOT_FOUND).await;
    let ended = audit_page(&lab, "?limit=1").await.entries.remove(0);
    assert_eq!(
        (ended.actor.as_str(), ended.action.as_str(), ended.outcome),
        ("system", "promote", AuditOutcome::Succeeded)
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn breaker_degraded_mode_and_weights_commands_take_effect() {
    let lab = start_lab(SPEED, None).await;
    let openai = "openai@us-east";
    let share = |snapshot: &FleetSnapshot, region: &str, provider: &str| {
        let gateway = snapshot
            .gateways
            .iter()
            .find(|g| g.region == region)
            .unwrap();
        let route = gateway
            .routes
            .iter()
            .find(|r| r.service == "risk-scorer" && r.provider == provider)
            .unwrap();
        (route.weight, route.share)
    };

    run(
        &lab,
        "bob",
        &breaker(openai, BreakerAction::ForceOpen, None),
    )
    .await;
    let snapshot = fleet(&lab).await;
    let held = snapshot.providers.iter().find(|p| p.id == openai).unwrap();
    assert_eq!(held.breaker.state, BreakerState::Open);
    assert_eq!(held.quarantine.as_ref().unwrap().set_by, "bob");
    assert_eq!(share(&snapshot, "us-east", openai).1, 0.0);
    for action in [
        BreakerAction::Pin,
        BreakerAction::Close,
        BreakerAction::Unpin,
    ] {
        run(&lab, "bob", &breaker(openai, action, None)).await;
    }
    let snapshot = fleet(&lab).await;
    let released = snapshot.providers.iter().find(|p| p.id == openai).unwrap();
    assert_eq!(
        (
            released.breaker.state,
            released.quarantine.is_none(),
            released.pinned.is_none()
        ),
        (BreakerState::Closed, true, true)
    );
    assert_eq!(released.control_revision, 5);

    run(
        &lab,
        "alice",
        &degrade(
            "credit-decision",
            DegradedModeKind::FallbackModel,
            true,
            None,
        ),
    )
    .await;
    let snapshot = fleet(&lab).await;
    let credit = snapshot
        .services
        .iter()
        .find(|s| s.id == "credit-decision")
        .unwrap();
    assert_eq!(
        credit.degraded_modes[0].mode,
        DegradedModeKind::FallbackModel
    );
    assert_eq!(credit.degraded_modes[0].control.set_by, "alice");
    run(
        &lab,
        "alice",
        &degrade(
            "credit-decision",
            DegradedModeKind::FallbackModel,
            false,
            None,
        ),
    )
    .await;

    let regions = Command::Weights {
        service: "risk-scorer".into(),
        scope: WeightScope::Regions,
        weights: BTreeMap::from([("us-east".to_string(), 0.0)]),
    };
    run(&lab, "bob", &regions).await;
    let snapshot = fleet(&lab).await;
    let risk = snapshot
        .services
        .iter()
        .find(|s| s.id == "risk-scorer")
        .unwrap();
    assert_eq!(risk.region_weights["us-east"], 0.0);
    assert_eq!(
        risk.region_weights["us-west"], 90.0,
        "left out: its capacity"
    );
    assert_eq!(
        risk.replicas
            .iter()
            .find(|r| r.region == "us-east")
            .unwrap()
            .load_rps,
        0.0
    );

    let providers = Command::Weights {
        service: "risk-scorer".into(),
        scope: WeightScope::Providers {
            region: "us-west".into(),
        },
        weights: BTreeMap::from([("openai@us-west".to_string(), 0.0)]),
    };
    run(&lab, "bob", &providers).await;
    let snapshot = fleet(&lab).await;
    assert_eq!(share(&snapshot, "us-west", "openai@us-west"), (0.0, 0.0));
    assert_eq!(share(&snapshot, "us-west", "anthropic@us-west").1, 1.0);
    lab.shutdown().await;
}

#[tokio::test]
async fn the_audit_log_pages_newest_first_and_filters_by_key() {
    let lab = start_lab(SPEED, None).await;
    let mut keys = Vec::new();
    for i in 0..5 {
        let command = if i % 2 == 0 {
            drain("ap-south", None)
        } else {
            undrain("ap-south")
        };
        let revision = command.control_revision(&fleet(&lab).await).unwrap();
        let key = format!("audit-test-{i}");
        let response = send_command(&lab, "bob", &command, Some(&key), Some(revision)).await;
        accepted(response, &command, StatusCode::OK).await;
        keys.push(key);
    }
    let mut ids = Vec::new();
    let mut query = "?limit=2".to_string();
    loop {
        let page = audit_page(&lab, &query).await;
        assert!(page.entries.len() <= 2);
        ids.extend(page.entries.iter().map(|e| e.id));
        let Some(before) = page.next_before else {
            break;
        };
        query = format!("?limit=2&before={before}");
    }
    assert_eq!(
        ids,
        [5, 4, 3, 2, 1],
        "newest first, nothing lost or repeated"
    );

    let page = audit_page(&lab, &format!("?idempotency_key={}", keys[3])).await;
    assert_eq!(page.entries.len(), 1);
    let entry = &page.entries[0];
    assert_eq!(
        (
            entry.id,
            entry.action.as_str(),
            entry.reason.as_str(),
            entry.idempotency_key.as_deref()
        ),
        (4, "undrain", "drill", Some(keys[3].as_str()))
    );
    let bad = get(
        &lab,
        "/v1/audit?limit=0",
        lab.token_for("victor"),
        Default::default(),
    )
    .await;
    expect_problem(bad, StatusCode::BAD_REQUEST).await;
    lab.shutdown().await;
}
