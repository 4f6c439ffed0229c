//! The lab's escalation queue over real HTTP on 127.0.0.1: claim races, lease expiry,
//! idempotent and conflicting resolutions, events and their resume, the lineage of each
//! reason, escalations from a simulated outage, filters and paging over a synthetic backlog.
//! Every request body and answer is checked against `docs/openapi.yaml`.

mod lab_support;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operators_racing_for_a_claim_get_one_winner_and_one_409_naming_it() {
    let lab = lab(20, 1.0, None).await;
    let ids: Vec<String> = page(&lab, "limit=10")
        .await
        .items
        .into_iter()
        .map(|s| s.id)
        .collect();
    for id in &ids {
        let (bob, alice) = {
            let bob = tokio::spawn({
                let (url, token, id) = (lab.url(), token(&lab, "bob").to_string(), id.clone());
                async move {
                    send(
                        client()
                            .post(format!("{url}/v1/escalations/{id}/claim"))
                            .bearer_auth(token),
                    )
                    .await
                }
            });
            let alice = tokio::spawn({
                let (url, token, id) = (lab.url(), token(&lab, "alice").to_string(), id.clone());
                async move {
                    send(
                        client()
                            .post(format!("{url}/v1/escalations/{id}/claim"))
                            .bearer_auth(token),
                    )
                    .await
                }
            });
            (bob.await.unwrap(), alice.await.unwrap())
        };
        let (won, lost, winner) = match (bob.status(), alice.status()) {
            (StatusCode::OK, StatusCode::CONFLICT) => (bob, alice, "bob"),
            (StatusCode::CONFLICT, StatusCode::OK) => (alice, bob, "alice"),
            other => panic!("{id}: one claim wins and one loses, not {other:?}"),
        };
        let claimed: EscalationSummary = ok_json(won, "/v1/escalations/{id}/claim").await;
        assert_eq!(claimed.state, EscalationState::Claimed);
        let lease = claimed.lease.unwrap();
        assert_eq!(lease.holder, winner);
        let (problem, _) = expect_problem(lost, StatusCode::CONFLICT).await;
        assert_eq!(problem.extensions["holder"], winner, "{id}");
        assert!(problem.detail.unwrap().contains(winner));
        assert_eq!(detail(&lab, id).await.summary.lease.unwrap().holder, winner);
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn a_lease_that_runs_out_puts_the_task_back_and_says_so() {
    // 1000x: a 30 s lease ends within a tick.
    let lab = lab(5, 1000.0, None).await;
    let id = page(&lab, "limit=1").await.items.remove(0).id;
    let before = page(&lab, "limit=1").await.revision;
    let mut events = open_events(&lab, token(&lab, "victor"), Some(before.to_string())).await;
    let claimed: EscalationSummary = ok_json(
        claim(&lab, &id, "bob", Some(json!({"lease_s": 30}))).await,
        "/v1/escalations/{id}/claim",
    )
    .await;
    let lease = claimed.lease.unwrap();
    assert_eq!((lease.expires_at - lease.claimed_at).num_seconds(), 30);
    let seen = events_of_until(&mut events, &id, EVENT_RELEASED).await;
    let names: Vec<&str> = seen.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, [EVENT_CLAIMED, EVENT_RELEASED]);
    let released = &seen[1].1;
    assert_eq!(
        (released.state, released.lease.as_ref()),
        (EscalationState::Pending, None)
    );
    assert!(released.revision > seen[0].1.revision);
    let history = detail(&lab, &id).await.history;
    assert_eq!(history.last().unwrap().action, HistoryAction::LeaseExpired);
    assert_eq!(history.last().unwrap().actor, "system");
    // Anyone may take it now; the old holder cannot release what they no longer hold.
    let (problem, _) = expect_problem(release(&lab, &id, "bob").await, StatusCode::CONFLICT).await;
    assert!(problem.detail.unwrap().contains("nobody holds"));
    ok_json::<EscalationSummary>(
        claim(&lab, &id, "alice", None).await,
        "/v1/escalations/{id}/claim",
    )
    .await;
    lab.shutdown().await;
}

#[tokio::test]
async fn a_resolution_happens_once_replays_answer_the_same_and_the_loser_learns_who_and_how() {
    let lab = lab(60, 1.0, None).await;
    let task = first_pending(&lab, EscalationReason::LowConfidence).await;
    let id = task.summary.id.clone();
    let candidate = task.candidates[0].id.clone();
    let approve = json!({
        "resolution": {"kind": "approve", "candidate": candidate},
        "note": "income verified with the applicant by phone",
    });
    let key = "resolve-approve-1";

    // Refused before anything happens: a viewer, no key, no note.
    let viewer = resolve(&lab, &id, "victor", Some(key), approve.clone()).await;
    expect_problem(viewer, StatusCode::FORBIDDEN).await;
    let keyless = resolve(&lab, &id, "bob", None, approve.clone()).await;
    let (problem, _) = expect_problem(keyless, StatusCode::BAD_REQUEST).await;
    assert!(problem.detail.unwrap().contains(IDEMPOTENCY_KEY));
    let mut unnoted = approve.clone();
    unnoted["note"] = json!(" ");
    let unnoted = resolve(&lab, &id, "bob", Some("no-note"), unnoted).await;
    let (problem, _) = expect_problem(unnoted, StatusCode::BAD_REQUEST).await;
    assert!(problem.detail.unwrap().contains("note is required"));

    let before = page(&lab, "limit=1").await.revision;
    let mut events = open_events(&lab, token(&lab, "alice"), Some(before.to_string())).await;
    let first = resolve(&lab, &id, "bob", Some(key), approve.clone()).await;
    assert!(first.headers().get(IDEMPOTENT_REPLAYED).is_none());
    let first_body = first.bytes().await.unwrap();
    let outcome: ResolveOutcome = serde_json::from_slice(&first_body).unwrap();
    SPEC.assert_valid(
        SPEC.response(
            "post",
            "/v1/escalations/{id}/resolve",
            200,
            "application/json",
        ),
        &serde_json::from_slice(&first_body).unwrap(),
        "resolve",
    );
    assert_eq!(outcome.escalation.state, EscalationState::Resolved);
    assert_eq!(outcome.applied.by, "bob");
    assert!(
        outcome.consequence.contains("resumes from checkpoint"),
        "{}",
        outcome.consequence
    );

    // The same key and body: the same bytes, flagged as a replay, nothing done twice.
    let replay = resolve(&lab, &id, "bob", Some(key), approve.clone()).await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.headers()[IDEMPOTENT_REPLAYED], "true");
    assert_eq!(replay.bytes().await.unwrap(), first_body);
    let mut other_body = approve.clone();
    other_body["note"] = json!("something else");
    let mismatch = resolve(&lab, &id, "bob", Some(key), other_body).await;
    expect_problem(mismatch, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Alice, too late, with her own key: 409 naming bob and his approval.
    let abort = json!({"resolution": {"kind": "abort"}, "note": "customer withdrew"});
    let late = resolve(&lab, &id, "alice", Some("alice-abort"), abort).await;
    let (problem, _) = expect_problem(late, StatusCode::CONFLICT).await;
    assert_eq!(problem.extensions["resolved_by"], "bob");
    assert_eq!(problem.extensions["resolution"], approve["resolution"]);
    let late_claim = claim(&lab, &id, "alice", None).await;
    let (problem, _) = expect_problem(late_claim, StatusCode::CONFLICT).await;
    assert_eq!(problem.extensions["resolved_by"], "bob");

    // One event, one accepted audit entry for the key.
    let (name, summary) = next_escalation_event(&mut events).await;
    assert_eq!(
        (name.as_str(), summary.id.as_str()),
        (EVENT_RESOLVED, id.as_str())
    );
    let resolution = summary.resolution.unwrap();
    assert_eq!(
        (resolution.by.as_str(), resolution.kind),
        ("bob", ResolutionKind::Approve)
    );
    let audit: AuditPage = get_json_as(
        &lab,
        &format!("/v1/audit?idempotency_key={key}"),
        "/v1/audit",
        token(&lab, "alice"),
    )
    .await;
    // Newest first: the mismatch, the resolution, the viewer's attempt; the replay did nothing.
    let audited: Vec<(&str, AuditOutcome)> = audit
        .entries
        .iter()
        .map(|e| (e.actor.as_str(), e.outcome))
        .collect();
    assert_eq!(
        audited,
        [
            ("bob", AuditOutcome::Rejected),
            ("bob", AuditOutcome::Accepted),
            ("victor", AuditOutcome::Rejected)
        ]
    );
    assert_eq!(audit.entries[1].action, "resolve approve");
    lab.shutdown().await;
}

#[tokio::test]
async fn a_task_claimed_by_someone_else_cannot_be_resolved_but_can_be_handed_off_by_its_holder() {
    let lab = lab(20, 1.0, None).await;
    let id = page(&lab, "limit=1").await.items.remove(0).id;
    ok_json::<EscalationSummary>(
        claim(&lab, &id, "bob", None).await,
        "/v1/escalations/{id}/claim",
    )
    .await;
    let reject =
        json!({"resolution": {"kind": "reject", "reason": "duplicate"}, "note": "seen it"});
    let (problem, _) = expect_problem(
        resolve(&lab, &id, "alice", Some("alice-1"), reject.clone()).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem.extensions["holder"], "bob");
    let to_victor = json!({"resolution": {"kind": "handoff", "to": "victor"}, "note": "x"});
    expect_problem(
        resolve(&lab, &id, "bob", Some("bob-0"), to_victor).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let handoff = json!({"resolution": {"kind": "handoff", "to": "alice"}, "note": "alice owns this merchant"});
    let outcome: ResolveOutcome = ok_json(
        resolve(&lab, &id, "bob", Some("bob-1"), handoff).await,
        "/v1/escalations/{id}/resolve",
    )
    .await;
    assert_eq!(outcome.escalation.state, EscalationState::Pending);
    assert_eq!(outcome.escalation.assignee.as_deref(), Some("alice"));
    let mine = page(&lab, "assignee=alice").await;
    assert_eq!(
        mine.items.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    let outcome: ResolveOutcome = ok_json(
        resolve(&lab, &id, "alice", Some("alice-2"), reject).await,
        "/v1/escalations/{id}/resolve",
    )
    .await;
    assert_eq!(
        outcome.escalation.resolution.unwrap().kind,
        ResolutionKind::Reject
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn claims_releases_and_resolutions_are_events_that_a_resume_replays() {
    let lab = lab(10, 1.0, None).await;
    let id = page(&lab, "limit=1").await.items.remove(0).id;
    let before = page(&lab, "limit=1").await.revision;
    let mut events = open_events(&lab, token(&lab, "victor"), Some(before.to_string())).await;
    ok_json::<EscalationSummary>(
        claim(&lab, &id, "bob", None).await,
        "/v1/escalations/{id}/claim",
    )
    .await;
    ok_json::<EscalationSummary>(
        release(&lab, &id, "bob").await,
        "/v1/escalations/{id}/release",
    )
    .await;
    ok_json::<EscalationSummary>(
        claim(&lab, &id, "alice", None).await,
        "/v1/escalations/{id}/claim",
    )
    .await;
    let abort =
        json!({"resolution": {"kind": "abort"}, "note": "fraud confirmed, stop the workflow"});
    let outcome: ResolveOutcome = ok_json(
        resolve(&lab, &id, "alice", Some("k-abort"), abort).await,
        "/v1/escalations/{id}/resolve",
    )
    .await;
    assert_eq!(outcome.escalation.state, EscalationState::Aborted);

    let expected = [EVENT_CLAIMED, EVENT_RELEASED, EVENT_CLAIMED, EVENT_RESOLVED];
    let live = events_of_until(&mut events, &id, EVENT_RESOLVED).await;
    let names: Vec<&str> = live.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, expected);
    let revisions: Vec<u64> = live.iter().map(|(_, s)| s.revision).collect();
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "{revisions:?}");
    drop(events);

    // A console that saw nothing since `before` gets them all again, in order.
    let mut resumed = open_events(&lab, token(&lab, "victor"), Some(before.to_string())).await;
    let replayed = events_of_until(&mut resumed, &id, EVENT_RESOLVED).await;
    assert_eq!(replayed, live);
    // One cut off right after an escalation event resumes from the last id it had then, and
    // gets that event again: its revision's id comes only with the delta after it.
    let mut resumed = open_events(&lab, token(&lab, "victor"), Some(before.to_string())).await;
    let mut last_id = before.to_string();
    loop {
        let event = next_event(&mut resumed).await;
        if event.event == event_name::FLEET_DELTA {
            last_id = event.id;
        } else if event.event == EVENT_CLAIMED
            && event_data::<EscalationSummary>(&event, "EscalationSummary").id == id
        {
            break;
        }
    }
    drop(resumed);
    let mut again = open_events(&lab, token(&lab, "victor"), Some(last_id)).await;
    let (name, summary) = next_escalation_event(&mut again).await;
    assert_eq!(
        (name.as_str(), summary.id.as_str()),
        (EVENT_CLAIMED, id.as_str())
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn each_reason_has_the_lineage_that_explains_it() {
    let lab = lab(200, 1.0, None).await;
    for reason in EscalationReason::ALL {
        let escalation = first_pending(&lab, reason).await;
        let steps = &escalation.lineage.steps;
        let escalated = &steps.last().unwrap().attempts;
        let all: Vec<_> = steps.iter().flat_map(|s| &s.attempts).collect();
        assert_eq!(all.len() as u32, escalation.summary.attempts);
        assert_eq!(escalation.checkpoint.step, steps[steps.len() - 2].name);
        let threshold = escalation.confidence_threshold;
        match reason {
            EscalationReason::PathsExhausted => {
                let paths: BTreeSet<(String, String)> = escalated
                    .iter()
                    .map(|a| (a.provider.clone().unwrap(), a.region.clone().unwrap()))
                    .collect();
                assert!(paths.len() >= 2, "{paths:?}");
                assert!(escalated.iter().all(|a| a.error.is_some()));
                assert!(escalated.iter().skip(1).all(|a| a.parent.is_some()));
                assert!(escalated.iter().any(|a| a.failover_reason.is_some()));
            }
            EscalationReason::ValidatorFailed => {
                assert!(
                    escalated
                        .iter()
                        .any(|a| a.outcome == AttemptOutcome::Rejected
                            && a.verdicts.iter().any(|v| !v.passed))
                );
                assert!(
                    escalation
                        .candidates
                        .iter()
                        .all(|c| c.verdicts.iter().any(|v| !v.passed))
                );
            }
            EscalationReason::LowConfidence => {
                assert!(!escalation.candidates.is_empty());
                assert!(
                    escalation
                        .candidates
                        .iter()
                        .all(|c| c.confidence < threshold)
                );
            }
            EscalationReason::Policy => {
                let verdicts = &escalation.candidates[0].verdicts;
                assert!(
                    verdicts
                        .iter()
                        .any(|v| v.validator.starts_with("policy:") && !v.passed)
                );
            }
        }
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn a_region_down_strands_credit_decision_and_its_tasks_in_flight_escalate() {
    // At 60x the region-down inject (15 s in) lands within a second.
    let lab = lab(0, 60.0, Some("region-down")).await;
    let mut events = open_events(&lab, token(&lab, "alice"), Some("1".to_string())).await;
    let mut burst = Vec::new();
    while burst.len() < 2 {
        let (name, summary) = next_escalation_event(&mut events).await;
        if summary.reason == EscalationReason::PathsExhausted {
            assert_eq!(
                (name.as_str(), summary.service.as_str()),
                (EVENT_NEW, "credit-decision")
            );
            burst.push(summary);
        }
    }
    let escalation = detail(&lab, &burst[0].id).await;
    let escalated = &escalation.lineage.steps.last().unwrap().attempts;
    assert!(escalated.len() >= 2);
    for attempt in escalated {
        assert_eq!(attempt.region.as_deref(), Some("us-east"));
        assert_eq!(attempt.outcome, AttemptOutcome::Timeout);
    }
    assert!(escalation.summary.reason_text.contains("us-east"));
    assert!(escalation.summary.priority <= Priority::P2);
    lab.shutdown().await;
}

#[tokio::test]
async fn a_thousand_escalations_page_in_sla_order_and_filter() {
    let lab = lab(1000, 1.0, None).await;
    let mut seen: Vec<EscalationSummary> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("limit=300&cursor={cursor}"),
            None => "limit=300".to_string(),
        };
        let page = page(&lab, &query).await;
        assert!(page.total >= 1000);
        seen.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // The simulation may add a few while we page; none is lost or repeated.
    assert!(seen.len() >= 1000);
    assert!(
        seen.windows(2)
            .all(|w| w[0].sla_deadline <= w[1].sla_deadline)
    );
    let unique: BTreeSet<&str> = seen.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(unique.len(), seen.len());

    let filtered = page(
        &lab,
        "state=pending,claimed&priority=P1,p2&service=risk-scorer&assignee=none&limit=1000",
    )
    .await;
    assert!(filtered.total > 0);
    assert_eq!(filtered.total as usize, filtered.items.len());
    assert!(filtered.items.iter().all(|s| s.service == "risk-scorer"
        && s.priority <= Priority::P2
        && s.assignee.is_none()
        && !s.state.is_closed()));
    let by_reason = page(&lab, "reason=policy&limit=5").await;
    assert!(
        by_reason
            .items
            .iter()
            .all(|s| s.reason == EscalationReason::Policy)
    );

    let viewer = token(&lab, "victor");
    for bad in [
        "state=open",
        "limit=0",
        "limit=1001",
        "cursor=zz",
        "priority=p9",
    ] {
        let response = lab_support::get(
            &lab,
            &format!("/v1/escalations?{bad}"),
            Some(viewer),
            Default::default(),
        )
        .await;
        expect_problem(response, StatusCode::BAD_REQUEST).await;
    }
    let missing = lab_support::get(
        &lab,
        "/v1/escalations/esc-999999",
        Some(viewer),
        Default::default(),
    )
    .await;
    expect_problem(missing, StatusCode::NOT_FOUND).await;
    // Viewers read; acting needs an operator; nobody anonymous.
    expect_problem(
        claim(&lab, &seen[0].id, "victor", None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let anonymous = lab_support::get(&lab, "/v1/escalations", None, Default::default()).await;
    expect_problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let _: EscalationPage = get_json(&lab, "/v1/escalations", viewer).await;
    lab.shutdown().await;
}
