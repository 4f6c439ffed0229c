//! The lab's escalation queue over real HTTP on 127.0.0.1: claim races, lease expiry,
//! idempotent and conflicting resolutions, events and their resume, the lineage of each
//! reason, escalations from a simulated outage, filters and paging over a synthetic backlog.
//! Every request body and answer is checked against `docs/openapi.yaml`.

mod claims;
mod guards;
mod inbox;
#[path = "../lab_support/mod.rs"]
mod lab_support;
mod resolutions;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use eventsource_stream::Event;
use futures::Stream;
use lab::{LabOptions, LabServer};
use protocol::commands::{AuditOutcome, AuditPage, IDEMPOTENCY_KEY};
use protocol::escalations::{
    AttemptOutcome, EVENT_CLAIMED, EVENT_NEW, EVENT_RELEASED, EVENT_RESOLVED, Escalation,
    EscalationPage, EscalationReason, EscalationState, EscalationSummary, HistoryAction,
    IDEMPOTENT_REPLAYED, Priority, ResolutionKind, ResolveOutcome,
};
use protocol::event_name;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use lab_support::{
    SPEC, client, event_data, expect_problem, get_json, get_json_as, next_event, open_events, send,
};

async fn lab(escalations: usize, speed: f64, scenario: Option<&str>) -> LabServer {
    let options = LabOptions {
        speed,
        scenario: scenario.map(Into::into),
        escalations,
        ..LabOptions::default()
    };
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    LabServer::start(options, loopback).await.unwrap()
}

fn token<'a>(lab: &'a LabServer, name: &str) -> &'a str {
    lab.token_for(name).unwrap()
}

/// `POST path` as `token`, with an optional JSON body (checked against the spec's request
/// schema of `spec_path`) and `Idempotency-Key`.
async fn post(
    lab: &LabServer,
    path: &str,
    spec_path: &str,
    token: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = client()
        .post(format!("{}{path}", lab.url()))
        .bearer_auth(token);
    if let Some(body) = body {
        SPEC.assert_valid(SPEC.request("post", spec_path), &body, spec_path);
        request = request
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    if let Some(key) = key {
        request = request.header(IDEMPOTENCY_KEY, key);
    }
    send(request).await
}

/// A 200 JSON answer to a POST, checked against the spec.
async fn ok_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    spec_path: &str,
) -> T {
    assert_eq!(response.status(), StatusCode::OK, "{spec_path}");
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    SPEC.assert_valid(
        SPEC.response("post", spec_path, 200, "application/json"),
        &body,
        spec_path,
    );
    serde_json::from_value(body).unwrap()
}

async fn claim(lab: &LabServer, id: &str, who: &str, body: Option<Value>) -> reqwest::Response {
    let path = format!("/v1/escalations/{id}/claim");
    post(
        lab,
        &path,
        "/v1/escalations/{id}/claim",
        token(lab, who),
        body,
        None,
    )
    .await
}

/// The id of the first escalation of the inbox, once `who` has claimed it.
async fn first_claimed_by(lab: &LabServer, who: &str) -> String {
    let id = page(lab, "limit=1").await.items.remove(0).id;
    ok_json::<EscalationSummary>(
        claim(lab, &id, who, None).await,
        "/v1/escalations/{id}/claim",
    )
    .await;
    id
}

async fn release(lab: &LabServer, id: &str, who: &str) -> reqwest::Response {
    let path = format!("/v1/escalations/{id}/release");
    let body = Some(json!({"note": "handing back"}));
    post(
        lab,
        &path,
        "/v1/escalations/{id}/release",
        token(lab, who),
        body,
        None,
    )
    .await
}

async fn resolve(
    lab: &LabServer,
    id: &str,
    who: &str,
    key: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let path = format!("/v1/escalations/{id}/resolve");
    post(
        lab,
        &path,
        "/v1/escalations/{id}/resolve",
        token(lab, who),
        Some(body),
        key,
    )
    .await
}

async fn page(lab: &LabServer, query: &str) -> EscalationPage {
    let path = format!("/v1/escalations?{query}");
    get_json_as(lab, &path, "/v1/escalations", token(lab, "victor")).await
}

async fn detail(lab: &LabServer, id: &str) -> Escalation {
    let path = format!("/v1/escalations/{id}");
    get_json_as(lab, &path, "/v1/escalations/{id}", token(lab, "victor")).await
}

/// The first pending escalation of `reason`.
async fn first_pending(lab: &LabServer, reason: EscalationReason) -> Escalation {
    let found = page(
        lab,
        &format!("state=pending&reason={}&limit=1", reason.word()),
    )
    .await;
    detail(lab, &found.items[0].id).await
}

/// The next escalation event, skipping the others; its data is checked against the spec.
async fn next_escalation_event(
    events: &mut (impl Stream<Item = Event> + Unpin),
) -> (String, EscalationSummary) {
    loop {
        let event = next_event(events).await;
        if event.event.starts_with("escalation.") {
            let summary = event_data(&event, "EscalationSummary");
            return (event.event, summary);
        }
    }
}

/// Escalation events of `id` until (and with) the first named `last`.
async fn events_of_until(
    events: &mut (impl Stream<Item = Event> + Unpin),
    id: &str,
    last: &str,
) -> Vec<(String, EscalationSummary)> {
    let mut seen = Vec::new();
    loop {
        let (name, summary) = next_escalation_event(events).await;
        if summary.id == id {
            let done = name == last;
            seen.push((name, summary));
            if done {
                return seen;
            }
        }
    }
}
