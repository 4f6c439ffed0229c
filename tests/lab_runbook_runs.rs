//! The lab's runbook runs over real HTTP on 127.0.0.1: start, step records with their
//! idempotency keys and revisions, presence, the end, roles, problems, the audit log, and two
//! consoles' event streams (live and resumed). Every request and answer is checked against
//! `docs/openapi.yaml`.

mod lab_support;

use lab::LabServer;
use protocol::commands::{AuditOutcome, AuditPage, IDEMPOTENCY_KEY, IF_MATCH};
use protocol::escalations::IDEMPOTENT_REPLAYED;
use protocol::runbook_runs::{EVENT_RUN, RunList, RunState, RunbookRun};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use lab_support::{
    SPEC, client, event_data, expect_problem, get_json, get_json_as, next_event, open_events, send,
    start_lab,
};

/// One `POST` of the runbook-run endpoints as `name`, its body checked against the spec.
struct Post<'a> {
    lab: &'a LabServer,
    name: &'a str,
    spec_path: &'static str,
    path: String,
    body: Value,
    key: Option<String>,
    if_match: Option<u64>,
}

impl<'a> Post<'a> {
    fn new(lab: &'a LabServer, name: &'a str, spec_path: &'static str, id: &str) -> Self {
        Post {
            lab,
            name,
            spec_path,
            path: spec_path.replace("{id}", id),
            body: Value::Null,
            key: Some(uuid::Uuid::new_v4().to_string()),
            if_match: None,
        }
    }

    fn body(mut self, body: Value) -> Self {
        SPEC.assert_valid(SPEC.request("post", self.spec_path), &body, "the request");
        self.body = body;
        self
    }

    fn key(mut self, key: Option<&str>) -> Self {
        self.key = key.map(str::to_string);
        self
    }

    fn if_match(mut self, revision: u64) -> Self {
        self.if_match = Some(revision);
        self
    }

    async fn send(&self) -> reqwest::Response {
        let mut request = client()
            .post(format!("{}{}", self.lab.url(), self.path))
            .bearer_auth(self.lab.token_for(self.name).unwrap())
            .header(CONTENT_TYPE, "application/json")
            .body(self.body.to_string());
        if let Some(key) = &self.key {
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        if let Some(revision) = self.if_match {
            request = request.header(IF_MATCH, format!("\"{revision}\""));
        }
        send(request).await
    }

    /// Sends and expects the run back with `status`, as the spec says.
    async fn run(&self, status: StatusCode) -> (RunbookRun, reqwest::header::HeaderMap) {
        let response = self.send().await;
        assert_eq!(response.status(), status, "{}", self.path);
        let headers = response.headers().clone();
        let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        let schema = SPEC.response("post", self.spec_path, status.as_u16(), "application/json");
        SPEC.assert_valid(schema, &body, &self.path);
        (serde_json::from_value(body).unwrap(), headers)
    }
}

const START: &str = "/v1/runbook-runs";
const STEPS: &str = "/v1/runbook-runs/{id}/steps";
const PRESENCE: &str = "/v1/runbook-runs/{id}/presence";
const END: &str = "/v1/runbook-runs/{id}/end";

async fn start_run(lab: &LabServer, name: &str) -> RunbookRun {
    let body = json!({"runbook_id": "provider-outage", "runbook_version": 1});
    let post = Post::new(lab, name, START, "").body(body);
    post.run(StatusCode::CREATED).await.0
}

fn step(step: u32, outcome: Value) -> Value {
    json!({"step": step, "outcome": outcome})
}

#[tokio::test]
async fn two_consoles_follow_one_run_step_by_step_and_the_record_is_audited() {
    let lab = start_lab(1.0, None).await;
    let alice = lab.token_for("alice").unwrap().to_string();
    let bob = lab.token_for("bob").unwrap().to_string();
    let listed: RunList = get_json(&lab, "/v1/runbook-runs", &bob).await;
    assert!(listed.runs.is_empty());
    let mut bobs_stream = open_events(&lab, &bob, Some(listed.revision.to_string())).await;

    let run = start_run(&lab, "alice").await;
    assert_eq!((run.state, run.revision), (RunState::Active, 1));
    assert_eq!(run.started_by, "alice");

    let check = step(
        1,
        json!({"kind": "check", "truth": "true", "readings": "breaker(openai@us-east) = open == open"}),
    );
    let record = Post::new(&lab, "alice", STEPS, &run.id)
        .body(check)
        .if_match(1);
    let (recorded, _) = record.run(StatusCode::OK).await;
    assert_eq!(recorded.revision, 2);
    // A retry under the same key answers the same, and records nothing twice.
    let (replayed, headers) = record.run(StatusCode::OK).await;
    assert_eq!(headers[IDEMPOTENT_REPLAYED], "true");
    assert_eq!(replayed, recorded);

    // Bob is on step 2 now; his presence makes nobody's next record stale.
    let presence = Post::new(&lab, "bob", PRESENCE, &run.id)
        .key(None)
        .body(json!({"step": 2}));
    let (followed, _) = presence.run(StatusCode::OK).await;
    assert_eq!(followed.revision, 2);
    let action = step(
        2,
        json!({"kind": "action", "command": "breaker openai@us-east force-open 30m",
               "idempotency_key": "k-7", "result": "accepted: audit #3"}),
    );
    let (acted, _) = Post::new(&lab, "bob", STEPS, &run.id)
        .body(action)
        .if_match(2)
        .run(StatusCode::OK)
        .await;

    // Bob's stream saw every change, in order: start, alice's check, his presence, his action.
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let event = next_event(&mut bobs_stream).await;
        if event.event == EVENT_RUN {
            seen.push(event_data::<RunbookRun>(&event, "RunbookRun"));
        }
    }
    assert_eq!(seen.last(), Some(&acted));
    let on: Vec<(&str, u32)> = acted
        .participants
        .iter()
        .map(|p| (p.name.as_str(), p.step))
        .collect();
    assert_eq!(on, [("alice", 1), ("bob", 2)]);
    let outcomes: Vec<(&str, &str)> = acted
        .steps
        .iter()
        .map(|s| (s.by.as_str(), s.outcome.kind()))
        .collect();
    assert_eq!(outcomes, [("alice", "check"), ("bob", "action")]);

    // A console that was away resumes from the list's revision and misses nothing.
    let mut resumed = open_events(&lab, &alice, Some(listed.revision.to_string())).await;
    let mut replayed_runs = Vec::new();
    while replayed_runs.len() < 4 {
        let event = next_event(&mut resumed).await;
        if event.event == EVENT_RUN {
            replayed_runs.push(event_data::<RunbookRun>(&event, "RunbookRun"));
        }
    }
    assert_eq!(replayed_runs, seen);

    let (ended, _) = Post::new(&lab, "alice", END, &run.id)
        .body(json!({"state": "finished"}))
        .if_match(3)
        .run(StatusCode::OK)
        .await;
    assert_eq!(ended.state, RunState::Finished);
    let fetched: RunbookRun = get_json_as(
        &lab,
        &format!("/v1/runbook-runs/{}", run.id),
        "/v1/runbook-runs/{id}",
        &bob,
    )
    .await;
    assert_eq!(fetched, ended);

    let audit: AuditPage = get_json(&lab, "/v1/audit", &alice).await;
    let lines: Vec<(&str, &str, AuditOutcome)> = audit
        .entries
        .iter()
        .rev()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.outcome))
        .collect();
    assert_eq!(
        lines,
        [
            ("alice", "runbook start", AuditOutcome::Accepted),
            ("alice", "runbook step check", AuditOutcome::Accepted),
            ("bob", "runbook step action", AuditOutcome::Accepted),
            ("alice", "runbook end finished", AuditOutcome::Accepted),
        ]
    );
    let action_entry = &audit.entries[1];
    assert_eq!(
        action_entry.target,
        format!("{} step 2 (provider-outage v1)", run.id)
    );
    let detail = action_entry.detail.as_deref().unwrap();
    assert!(
        detail.contains("breaker openai@us-east force-open 30m"),
        "{detail}"
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn stale_revisions_missing_reasons_viewers_and_unknown_runs_are_refused_as_problems() {
    let lab = start_lab(1.0, None).await;
    let run = start_run(&lab, "alice").await;
    let note = step(1, json!({"kind": "note", "text": "paged the provider"}));
    Post::new(&lab, "alice", STEPS, &run.id)
        .body(note.clone())
        .if_match(1)
        .run(StatusCode::OK)
        .await;

    // Bob acted on revision 1: 409 with the run as it is now.
    let stale = Post::new(&lab, "bob", STEPS, &run.id)
        .body(note.clone())
        .if_match(1)
        .send()
        .await;
    let (problem, _) = expect_problem(stale, StatusCode::CONFLICT).await;
    let current: RunbookRun =
        serde_json::from_value(problem.extensions["current"].clone()).unwrap();
    assert_eq!(current.revision, 2);
    assert!(problem.detail.unwrap().contains("recorded by alice"));

    let without_if_match = Post::new(&lab, "bob", STEPS, &run.id).body(note.clone());
    expect_problem(
        without_if_match.send().await,
        StatusCode::PRECONDITION_REQUIRED,
    )
    .await;
    let without_key = Post::new(&lab, "bob", STEPS, &run.id)
        .body(note.clone())
        .key(None)
        .if_match(2);
    expect_problem(without_key.send().await, StatusCode::BAD_REQUEST).await;

    let skip = step(2, json!({"kind": "skipped", "reason": " "}));
    let unexplained = Post::new(&lab, "bob", STEPS, &run.id)
        .body(skip)
        .if_match(2);
    let (problem, _) = expect_problem(unexplained.send().await, StatusCode::BAD_REQUEST).await;
    assert!(
        problem
            .detail
            .unwrap()
            .contains("reason is required to skip")
    );

    let viewer = Post::new(&lab, "victor", PRESENCE, &run.id)
        .key(None)
        .body(json!({"step": 1}));
    let (problem, _) = expect_problem(viewer.send().await, StatusCode::FORBIDDEN).await;
    assert!(problem.detail.unwrap().contains("victor is a viewer"));
    let viewer_start = Post::new(&lab, "victor", START, "")
        .body(json!({"runbook_id": "provider-outage", "runbook_version": 1}));
    expect_problem(viewer_start.send().await, StatusCode::FORBIDDEN).await;

    let unknown = Post::new(&lab, "bob", STEPS, "run-999999")
        .body(note)
        .if_match(1);
    expect_problem(unknown.send().await, StatusCode::NOT_FOUND).await;

    let abandon = Post::new(&lab, "alice", END, &run.id)
        .body(json!({"state": "abandoned", "reason": "wrong runbook"}))
        .if_match(2);
    abandon.run(StatusCode::OK).await;
    let after_end = Post::new(&lab, "bob", PRESENCE, &run.id)
        .key(None)
        .body(json!({"step": 3}));
    let (problem, _) = expect_problem(after_end.send().await, StatusCode::CONFLICT).await;
    assert!(problem.detail.unwrap().contains("was abandoned by alice"));

    // Every refused record, start and end is audited; presence is not an action.
    let audit: AuditPage = get_json(&lab, "/v1/audit", lab.token_for("alice").unwrap()).await;
    let rejected = audit
        .entries
        .iter()
        .filter(|e| e.outcome == AuditOutcome::Rejected)
        .count();
    assert_eq!(rejected, 6, "{:#?}", audit.entries);
    lab.shutdown().await;
}
