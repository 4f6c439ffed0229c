//! The Temporal connector against a real dev server and the reference worker
//! (assets/temporal/), both started by the tests on 127.0.0.1 (see temporal_support).

mod temporal_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use protocol::escalations::{
    AttemptErrorKind, AttemptOutcome, ClaimRequest, EscalationState, EscalationSummary,
    HistoryAction, ReleaseRequest, Resolution, ResolutionKind, ResolveRequest, StepOutcome,
};
use switchboard::domain::fleet::DownKind;
use switchboard::sources::Timeouts;
use switchboard::sources::temporal::{Names, TemporalClient, TemporalError, TemporalSpec};
use temporal_support::{TemporalDev, WAIT};

/// Paths that fail fast: a 429 (three attempts), a 503 (three attempts), then an answer the
/// example's validator refuses.
const FAILING_PATHS: &str = r#"[
  {"model": "gpt-4o", "provider": "openai", "region": "us-east", "simulate": "429"},
  {"model": "claude-sonnet", "provider": "anthropic", "region": "us-west", "simulate": "5xx"},
  {"model": "gemini-pro", "provider": "google", "region": "eu-west", "simulate": "reject"}
]"#;

fn client_with(dev: &TemporalDev, timeouts: Timeouts) -> TemporalClient {
    client_at(dev.http_url(), timeouts)
}

fn client_at(url: String, timeouts: Timeouts) -> TemporalClient {
    let spec = TemporalSpec {
        name: "temporal".into(),
        url,
        namespace: "default".into(),
        api_key: None,
        names: Names::default(),
    };
    TemporalClient::new(&spec, timeouts).unwrap()
}

fn client(dev: &TemporalDev) -> TemporalClient {
    client_with(dev, Timeouts::default())
}

/// Lists until `ids` are all escalated (the workflows fail their paths first).
async fn wait_listed(client: &TemporalClient, ids: &[String]) -> Vec<EscalationSummary> {
    let started = Instant::now();
    loop {
        let rows = client.escalations(&[]).await.unwrap();
        if ids.iter().all(|id| rows.iter().any(|r| &r.id == id)) {
            return rows;
        }
        assert!(
            started.elapsed() < WAIT,
            "not all of {ids:?} escalated within {WAIT:?}; listed: {:?}",
            rows.iter().map(|r| &r.id).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A proxy to `upstream` that passes the first request on and hangs up as its answer starts
/// to come back (the answer "is dropped" on the way); later connections pass through.
async fn answer_dropping_proxy(upstream: SocketAddr) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let mut outbound = TcpStream::connect(upstream).await.unwrap();
            if !std::mem::take(&mut first) {
                tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                continue;
            }
            tokio::spawn(async move {
                let (mut from_client, _to_client) = inbound.split();
                let (mut from_server, mut to_server) = outbound.split();
                let mut answer = [0u8; 1];
                tokio::select! {
                    _ = tokio::io::copy(&mut from_client, &mut to_server) => {}
                    _ = from_server.read_exact(&mut answer) => {}
                }
            });
        }
    });
    format!("http://{address}")
}

fn one_failing(dev: &TemporalDev, prefix: &str) -> String {
    let ids = dev.start_workflows(
        prefix,
        1,
        &["--paths", FAILING_PATHS, "--max-attempts", "3"],
    );
    ids.into_iter().next().unwrap()
}

#[test]
fn the_dev_server_has_the_contracts_search_attributes_and_the_worker_runs() {
    let Some(mut dev) = TemporalDev::start() else {
        return;
    };
    let listed = dev.cli(&["operator", "search-attribute", "list"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    for attribute in temporal_support::SEARCH_ATTRIBUTES {
        let (name, kind) = attribute.split_once('=').unwrap();
        let registered = text.lines().any(|l| l.contains(name) && l.contains(kind));
        assert!(registered, "{name} ({kind}) is not registered: {text}");
    }
    // Stopped and started again, the worker says it is ready again.
    dev.stop_worker();
    dev.start_worker();
}

#[tokio::test(flavor = "multi_thread")]
async fn escalated_workflows_are_listed_soonest_deadline_first() {
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let client = client(&dev);
    let ids = dev.start_workflows("listed", 6, &[]);
    let rows = wait_listed(&client, &ids).await;
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(
        rows.windows(2)
            .all(|w| w[0].sla_deadline <= w[1].sla_deadline)
    );
    for row in &rows {
        // start_workflows.py: workflow n has service n % 3 and priority n % 4.
        let n: usize = row.id.trim_start_matches("listed-").parse().unwrap();
        assert_eq!(
            row.service,
            ["credit-decision", "support-reply", "kyc-check"][n % 3]
        );
        assert_eq!(row.priority.word(), ["p1", "p2", "p3", "p4"][n % 4]);
        assert_eq!(row.state, EscalationState::Pending);
        assert_eq!(
            (row.workflow_type.as_str(), row.step.as_str()),
            ("AgentTask", "draft-answer")
        );
        assert!(
            row.reason_text.starts_with("all 3 paths failed"),
            "{}",
            row.reason_text
        );
        assert!(!row.run_id.is_empty());
    }
    let claimed = client
        .escalations(&[EscalationState::Claimed])
        .await
        .unwrap();
    assert!(claimed.is_empty(), "{claimed:?}");
}

/// A workflow terminated while it waited keeps its `pending` attribute: it is no longer listed.
#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_terminated_while_it_waits_is_no_longer_listed() {
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let client = client(&dev);
    let ids = dev.start_workflows("ended", 2, &["--listing-only"]);
    wait_listed(&client, &ids).await;
    let terminated = dev.cli(&[
        "workflow",
        "terminate",
        "--workflow-id",
        &ids[0],
        "--reason",
        "test",
    ]);
    assert!(terminated.status.success(), "{terminated:?}");
    let rows = client.escalations(&[]).await.unwrap();
    let listed: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    assert_eq!(listed, [ids[1].as_str()]);
}

/// The list is read in slices by priority (src/sources/temporal/client.rs): a workflow with
/// a priority outside the contract, or none, is in no priority's slice and must still be listed.
#[tokio::test(flavor = "multi_thread")]
async fn workflows_of_every_priority_word_or_none_are_listed_once() {
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let client = client(&dev);
    let mut ids = dev.start_workflows("sliced", 4, &["--listing-only"]);
    ids.extend(dev.start_workflows("urgent", 1, &["--listing-only", "--priority", "urgent"]));
    ids.extend(dev.start_workflows("unset", 1, &["--listing-only", "--priority", "none"]));
    let rows = wait_listed(&client, &ids).await;
    let mut listed: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    listed.sort_unstable();
    ids.sort_unstable();
    assert_eq!(listed, ids);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lineage_matches_the_history() {
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let client = client(&dev);
    let id = one_failing(&dev, "lineage");
    wait_listed(&client, std::slice::from_ref(&id)).await;
    let escalation = client.escalation(&id).await.unwrap();
    assert_eq!(escalation.summary.id, id);
    assert_eq!(escalation.idempotency_key, format!("{id}/draft-answer/1"));
    assert_eq!(escalation.checkpoint.step, "load-context");
    assert_eq!(escalation.context["customer"], "customer-0");
    let lineage = &escalation.lineage;
    assert_eq!(lineage.workflow_id, id);
    let names: Vec<&str> = lineage.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["child:LoadContext", "draft-answer"]);
    let step = &lineage.steps[1];
    assert_eq!(step.outcome, StepOutcome::Escalated);
    let [openai, anthropic, google] = &step.attempts[..] else {
        panic!("three paths: {:?}", step.attempts)
    };
    assert_eq!(openai.number, 3);
    let error = openai.error.as_ref().unwrap();
    assert_eq!(
        (error.kind, error.status),
        (AttemptErrorKind::RateLimited, Some(429))
    );
    assert!(
        openai
            .retry_reason
            .as_deref()
            .unwrap()
            .starts_with("attempt 3 of 3, last failure: 429 Too Many Requests from openai@us-east"),
        "{openai:?}"
    );
    assert_eq!(
        (
            anthropic.provider.as_deref(),
            anthropic.region.as_deref(),
            anthropic.number
        ),
        (Some("anthropic"), Some("us-west"), 3)
    );
    let error = anthropic.error.as_ref().unwrap();
    assert_eq!(
        (error.kind, error.status),
        (AttemptErrorKind::ServerError, Some(503))
    );
    assert!(
        anthropic
            .failover_reason
            .as_deref()
            .unwrap()
            .contains("backoff timer")
    );
    assert_eq!(google.outcome, AttemptOutcome::Rejected);
    assert_eq!(escalation.candidates.len(), 1);
    assert_eq!(escalation.candidates[0].attempt, google.id);
    assert_eq!(escalation.summary.attempts, 7, "3 + 3 + 1 attempts");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_operators_race_to_claim_and_the_loser_sees_the_holder() {
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let client = client(&dev);
    let id = one_failing(&dev, "race");
    wait_listed(&client, std::slice::from_ref(&id)).await;
    let lease = ClaimRequest { lease_s: Some(120) };
    let (alice, bob) = tokio::join!(
        client.claim(&id, "alice", "claim-alice", &lease),
        client.claim(&id, "bob", "claim-bob", &lease),
    );
    let (winner, loser) = match (&alice, &bob) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        _ => panic!("exactly one claim wins: {alice:?} / {bob:?}"),
    };
    let holder = &winner.lease.as_ref().unwrap().holder;
    assert_eq!(winner.state, EscalationState::Claimed);
    match loser {
        TemporalError::Held { holder: named, .. } => assert_eq!(named, holder),
        other => panic!("the loser is told who holds it: {other:?}"),
    }
    assert!(
        loser
            .to_string()
            .starts_with(&format!("claimed by {holder} until "))
    );
    let listed = client
        .escalations(&[EscalationState::Claimed])
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(&listed[0].lease.as_ref().unwrap().holder, holder);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resolve_retried_with_the_same_key_resolves_once_and_the_workflow_completes() {
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let client = client(&dev);
    let id = one_failing(&dev, "resolve");
    wait_listed(&client, std::slice::from_ref(&id)).await;
    let request = ResolveRequest {
        resolution: Resolution::Submit {
            output: "Decline politely: the limit needs a second look".into(),
            based_on: None,
        },
        note: "checked the limit by hand".into(),
    };
    let upstream = dev
        .http_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let flaky = client_at(answer_dropping_proxy(upstream).await, Timeouts::default());
    let lost = flaky
        .resolve(&id, "alice", "key-1", &request)
        .await
        .unwrap_err();
    assert!(lost.outcome_unknown(), "{lost:?}");
    let accepted = |events: &[switchboard::sources::temporal::wire::Event]| {
        events
            .iter()
            .filter(|e| e.kind() == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED")
            .filter(|e| e.attributes()["acceptedRequest"]["input"]["name"] == "switchboard_resolve")
            .count()
    };
    let seen = client.history(&id, "").await.unwrap();
    assert_eq!(accepted(&seen), 1, "the lost answer's resolve took effect");
    // The console sends the same key again: the first outcome, acted on once.
    let first = flaky
        .resolve(&id, "alice", "key-1", &request)
        .await
        .unwrap();
    let again = client
        .resolve(&id, "alice", "key-1", &request)
        .await
        .unwrap();
    assert_eq!(first, again, "the same key answers the first outcome");
    assert_eq!(first.applied.idempotency_key, "key-1");
    assert_eq!(first.escalation.state, EscalationState::Resolved);
    // Someone else, under another key, is told who resolved it and how.
    let late = client
        .resolve(&id, "bob", "key-2", &request)
        .await
        .unwrap_err();
    match &late {
        TemporalError::Closed { by, kind, .. } => {
            assert_eq!(
                (by.as_str(), kind.as_str()),
                ("alice", ResolutionKind::Submit.word())
            )
        }
        other => panic!("bob is told alice resolved it: {other:?}"),
    }
    let run_id = first.escalation.run_id.clone();
    let started = Instant::now();
    let events = loop {
        let events = client.history(&id, &run_id).await.unwrap();
        if events
            .last()
            .is_some_and(|e| e.kind() == "WORKFLOW_EXECUTION_COMPLETED")
        {
            break events;
        }
        assert!(started.elapsed() < WAIT, "the workflow did not complete");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(accepted(&events), 1, "resolved once");
    let result = &events.last().unwrap().attributes()["result"][0];
    assert_eq!(
        result["output"],
        "Decline politely: the limit needs a second look"
    );
    assert_eq!(result["by"], "alice");
    assert!(client.escalations(&[]).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_worker_down_an_update_times_out_clearly_and_nothing_is_lost() {
    let Some(mut dev) = TemporalDev::start() else {
        return;
    };
    let id = one_failing(&dev, "down");
    wait_listed(&client(&dev), std::slice::from_ref(&id)).await;
    dev.stop_worker();
    let quick = Timeouts {
        request: Duration::from_secs(3),
        ..Timeouts::default()
    };
    let impatient = client_with(&dev, quick);
    let lease = ClaimRequest::default();
    let error = impatient
        .claim(&id, "alice", "claim-1", &lease)
        .await
        .unwrap_err();
    assert!(
        matches!(error, TemporalError::WorkerDown { .. }),
        "{error:?}"
    );
    assert!(error.outcome_unknown());
    assert!(
        error
            .to_string()
            .contains("is a worker polling its task queue?"),
        "{error}"
    );
    dev.start_worker();
    // Retried with the same key once a worker runs (the default timeout: the new worker
    // gets the workflow once the dead worker's sticky queue times out, ~5 s): one claim.
    let summary = client(&dev)
        .claim(&id, "alice", "claim-1", &lease)
        .await
        .unwrap();
    assert_eq!(summary.lease.unwrap().holder, "alice");
    let events = impatient.history(&id, &summary.run_id).await.unwrap();
    let claims: Vec<_> = events
        .iter()
        .filter(|e| e.kind() == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED")
        .map(|e| e.attributes()["acceptedRequest"]["meta"]["updateId"].clone())
        .collect();
    assert_eq!(claims, ["claim-1"], "the claim was taken once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_that_does_not_exist_is_gone() {
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let client = client(&dev);
    let error = client
        .claim("no-such-workflow", "alice", "k", &ClaimRequest::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, TemporalError::WorkflowGone { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("workflow no-such-workflow is gone"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_server_stopped_the_list_is_unreachable_then_recovers() {
    let Some(mut dev) = TemporalDev::start() else {
        return;
    };
    let client = client(&dev);
    let ids = dev.start_workflows("restart", 2, &[]);
    wait_listed(&client, &ids).await;
    dev.stop_server();
    let error = client.escalations(&[]).await.unwrap_err();
    match &error {
        TemporalError::Client(inner) => {
            assert_eq!(inner.down_kind(), DownKind::Unreachable, "{error}")
        }
        other => panic!("a stopped server is unreachable: {other:?}"),
    }
    assert!(error.to_string().contains("connection refused"), "{error}");
    // Started again on the same ports and database: the same escalations, from the same client.
    dev.start_server();
    let rows = wait_listed(&client, &ids).await;
    assert_eq!(rows.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_holder_releases_and_a_handoff_keeps_the_task_open_for_its_assignee() {
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let client = client(&dev);
    let id = one_failing(&dev, "handoff");
    wait_listed(&client, std::slice::from_ref(&id)).await;
    client
        .claim(&id, "alice", "claim-1", &ClaimRequest::default())
        .await
        .unwrap();
    let release = ReleaseRequest {
        note: Some("not mine".into()),
    };
    let refused = client
        .release(&id, "bob", "release-bob", &release)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, TemporalError::Held { holder, .. } if holder == "alice"),
        "{refused:?}"
    );
    let released = client
        .release(&id, "alice", "release-alice", &release)
        .await
        .unwrap();
    assert_eq!(
        (released.state, released.lease),
        (EscalationState::Pending, None)
    );
    let handoff = ResolveRequest {
        resolution: Resolution::Handoff { to: "bob".into() },
        note: "bob owns payments".into(),
    };
    let outcome = client
        .resolve(&id, "alice", "handoff-1", &handoff)
        .await
        .unwrap();
    assert_eq!(outcome.escalation.state, EscalationState::Pending);
    assert_eq!(outcome.escalation.assignee.as_deref(), Some("bob"));
    let no_note = ResolveRequest {
        note: " ".into(),
        ..handoff
    };
    let refused = client
        .resolve(&id, "bob", "handoff-2", &no_note)
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("refused by the workflow: a note is required"),
        "{refused}"
    );
    let detail = client.escalation(&id).await.unwrap();
    let actions: Vec<_> = detail.history.iter().map(|h| h.action).collect();
    assert_eq!(
        actions,
        [
            HistoryAction::Claimed,
            HistoryAction::Released,
            HistoryAction::HandedOff
        ]
    );
    let listed = client.escalations(&[]).await.unwrap();
    assert_eq!(listed[0].assignee.as_deref(), Some("bob"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_lease_returns_the_task_to_pending_on_a_workflow_timer() {
    let Some(dev) = TemporalDev::start() else {
        return;
    };
    let client = client(&dev);
    let id = one_failing(&dev, "lease");
    wait_listed(&client, std::slice::from_ref(&id)).await;
    let shortest = ClaimRequest {
        lease_s: Some(protocol::escalations::MIN_LEASE_S),
    };
    let claimed = client
        .claim(&id, "alice", "claim-1", &shortest)
        .await
        .unwrap();
    let expires = claimed.lease.unwrap().expires_at;
    let started = Instant::now();
    let row = loop {
        let rows = client.escalations(&[]).await.unwrap();
        let row = rows.into_iter().find(|r| r.id == id).unwrap();
        if row.state == EscalationState::Pending {
            break row;
        }
        assert!(
            started.elapsed() < Duration::from_secs(MIN_LEASE_WAIT_S),
            "the lease ending {expires} did not expire"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(row.lease, None);
    let history = client.escalation(&id).await.unwrap().history;
    let last = history.last().unwrap();
    assert_eq!(
        (last.action, last.actor.as_str()),
        (HistoryAction::LeaseExpired, "system")
    );
    let bob = client
        .claim(&id, "bob", "claim-2", &shortest)
        .await
        .unwrap();
    assert_eq!(bob.lease.unwrap().holder, "bob");
}

/// The shortest lease (30 s) plus room for a loaded machine.
const MIN_LEASE_WAIT_S: u64 = 60;
