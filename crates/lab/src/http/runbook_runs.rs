//! Protocol v1's runbook runs over HTTP (the contract is in [`protocol::runbook_runs`]).
//!
//! A start, a step record or an end is judged like a command, under the lab's lock: role
//! (403), `Idempotency-Key` (400; a replay answers the first outcome, the same key for another
//! request is 422), body (400), run (404), `If-Match` (428, or 409 with the run as it is now),
//! what the run takes (400, or 409 when it has ended). Each, accepted or rejected, is audited;
//! a replay is not, as it does nothing. Presence ("I am on step N") needs only the role: it is
//! no action, so it takes no key and leaves no audit entry. Every change is published as a
//! `runbook.run` event of the next revision.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::audited::{Accepted, AuditedPost};
use super::auth::{Caller, min_role};
use super::idempotent::KeyWording;
use super::problem::{ApiError, plain};
use super::state::RouterState;
use crate::runbook_runs::RunError;
use protocol::request_body;
use protocol::runbook_runs::{
    EndRunRequest, MAX_TEXT_CHARS, PresenceRequest, RecordStepRequest, RunList, RunbookRun,
    StartRunRequest, StepOutcome,
};

/// Largest body accepted: a step record's texts, with room for JSON escapes.
pub(super) const BODY_LIMIT: usize = 8 * MAX_TEXT_CHARS + 4096;

pub(super) async fn list(_caller: Caller, State(state): State<RouterState>) -> Json<RunList> {
    let core = state.lab.lock();
    Json(RunList {
        revision: core.published.revision(),
        runs: core.runs.list(),
    })
}

pub(super) async fn get(
    _caller: Caller,
    State(state): State<RouterState>,
    Path(id): Path<String>,
) -> Result<Json<RunbookRun>, ApiError> {
    let run = state.lab.lock().runs.get(&id).cloned();
    run.map(Json).ok_or_else(|| not_found(&id))
}

pub(super) async fn start(
    caller: Caller,
    State(state): State<RouterState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: Result<StartRunRequest, _> = request_body::parse("start request", &body);
    let target = match &request {
        Ok(r) => format!("{} v{}", plain(&r.runbook_id, 100), r.runbook_version),
        Err(_) => "a runbook".to_string(),
    };
    let post = AuditedPost {
        caller: &caller.identity,
        headers: &headers,
        body: &body,
        request: "start a run".into(),
        wording: RUN_KEYS,
        action: "runbook start".into(),
        target,
        reason: String::new(),
    };
    post.answer(&state.lab, StatusCode::CREATED, |core, _| {
        let request = request.clone().map_err(ApiError::bad_request)?;
        let now = core.sim.now();
        let run = core
            .runs
            .start(
                &request.runbook_id,
                request.runbook_version,
                &caller.identity.name,
                now,
            )
            .map_err(|error| run_error("", error))?;
        let detail = format!("started {}", run.id);
        Ok(accepted(run, None, detail))
    })
}

pub(super) async fn record(
    caller: Caller,
    State(state): State<RouterState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: Result<RecordStepRequest, _> = request_body::parse("step record", &body);
    let (action, step, reason) = match &request {
        Ok(r) => (
            format!("runbook step {}", r.outcome.kind()),
            Some(r.step),
            reason_of(&r.outcome),
        ),
        Err(_) => ("runbook step".into(), None, String::new()),
    };
    let post = AuditedPost {
        caller: &caller.identity,
        headers: &headers,
        body: &body,
        request: format!("step {id}"),
        wording: RUN_KEYS,
        action,
        target: format!("{}{}", plain(&id, 64), step_words(step)),
        reason,
    };
    post.answer(&state.lab, StatusCode::OK, |core, _| {
        let request = request.clone().map_err(ApiError::bad_request)?;
        let if_match = run_revision(&headers)?;
        let now = core.sim.now();
        let name = &caller.identity.name;
        let detail = summary(&request.outcome);
        let run = core
            .runs
            .record(&id, if_match, request.step, request.outcome, name, now)
            .map_err(|error| run_error(&id, error))?;
        Ok(accepted(run, step, detail))
    })
}

pub(super) async fn end(
    caller: Caller,
    State(state): State<RouterState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: Result<EndRunRequest, _> = request_body::parse("end request", &body);
    let (action, reason) = match &request {
        Ok(r) => (format!("runbook end {}", r.state.word()), r.reason.clone()),
        Err(_) => ("runbook end".into(), String::new()),
    };
    let post = AuditedPost {
        caller: &caller.identity,
        headers: &headers,
        body: &body,
        request: format!("end {id}"),
        wording: RUN_KEYS,
        action,
        target: plain(&id, 64),
        reason: plain(reason.trim(), 500),
    };
    post.answer(&state.lab, StatusCode::OK, |core, _| {
        let request = request.clone().map_err(ApiError::bad_request)?;
        let if_match = run_revision(&headers)?;
        let now = core.sim.now();
        let name = &caller.identity.name;
        let run = core
            .runs
            .end(&id, if_match, request.state, &request.reason, name, now)
            .map_err(|error| run_error(&id, error))?;
        let detail = format!(
            "{} after {} step records",
            run.state.word(),
            run.steps.len()
        );
        Ok(accepted(run, None, detail))
    })
}

pub(super) async fn presence(
    caller: Caller<min_role::Operator>,
    State(state): State<RouterState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<RunbookRun>, ApiError> {
    let request: PresenceRequest =
        request_body::parse("presence", &body).map_err(ApiError::bad_request)?;
    let lab = &state.lab;
    let mut core = lab.lock();
    let now = core.sim.now();
    let run = core
        .runs
        .presence(&id, request.step, &caller.identity.name, now)
        .map_err(|error| run_error(&id, error))?;
    lab.publish(&mut core);
    Ok(Json(run))
}

const RUN_KEYS: KeyWording = KeyWording {
    needed_by: "runbook runs need",
    one_key_per: "step record",
};

/// A run as answered, audited as the run, its step and its runbook.
fn accepted(run: RunbookRun, step: Option<u32>, detail: String) -> Accepted<RunbookRun> {
    let target = format!(
        "{}{} ({} v{})",
        run.id,
        step_words(step),
        run.runbook_id,
        run.runbook_version
    );
    Accepted {
        answer: run,
        target,
        detail,
    }
}

fn step_words(step: Option<u32>) -> String {
    step.map_or(String::new(), |s| format!(" step {s}"))
}

/// The reason an audit entry gives for a step: a skip's reason or a note.
fn reason_of(outcome: &StepOutcome) -> String {
    match outcome {
        StepOutcome::Skipped { reason } => plain(reason.trim(), 500),
        StepOutcome::Note { text } => plain(text.trim(), 500),
        _ => String::new(),
    }
}

/// What a step record says, for its audit entry.
fn summary(outcome: &StepOutcome) -> String {
    match outcome {
        StepOutcome::Check { truth, readings } => format!("{}: {readings}", truth.word()),
        StepOutcome::Action {
            command, result, ..
        } => format!("{command}: {result}"),
        StepOutcome::GateMet { readings } => format!("met: {readings}"),
        StepOutcome::GateTimedOut { readings } => format!("timed out: {readings}"),
        StepOutcome::Decision { choice } => format!("chose {choice}"),
        StepOutcome::Skipped { .. } => "skipped".into(),
        StepOutcome::Note { .. } => "note".into(),
    }
}

/// `If-Match: <revision>` of the run.
fn run_revision(headers: &HeaderMap) -> Result<u64, ApiError> {
    super::if_match(headers, "step records and ends need", "the run's revision")
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no runbook run {:?} (ended runs are kept for a while, not forever)",
            plain(id, 64)
        ),
    )
}

fn run_error(id: &str, error: RunError) -> ApiError {
    match error {
        RunError::NotFound => not_found(id),
        RunError::Invalid(detail) => ApiError::bad_request(detail),
        RunError::Conflict { detail, current } => ApiError::new(StatusCode::CONFLICT, detail)
            .with_extension(
                "current",
                serde_json::to_value(&*current).expect("a run serializes"),
            ),
    }
}
