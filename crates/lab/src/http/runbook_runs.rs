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
use axum::response::{IntoResponse, Response};

use super::auth::{Caller, min_role, require_role};
use super::idempotent::{IdempotentPost, KeyWording, idempotency_key};
use super::problem::{ApiError, plain};
use super::state::{LabCore, LabShared, RouterState};
use crate::audit::AuditRecord;
use crate::runbook_runs::RunError;
use protocol::commands::AuditOutcome;
use protocol::runbook_runs::{
    EndRunRequest, MAX_TEXT_CHARS, PresenceRequest, RecordStepRequest, RunList, RunbookRun,
    StartRunRequest, StepOutcome,
};
use protocol::{Role, WhoAmI, request_body};

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
    let post = RunPost {
        caller: &caller.identity,
        headers: &headers,
        body: &body,
        request: "start a run".into(),
        action: "runbook start".into(),
        target,
        step: None,
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
        Ok((run, detail))
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
    let post = RunPost {
        caller: &caller.identity,
        headers: &headers,
        body: &body,
        request: format!("step {id}"),
        action,
        target: plain(&id, 64),
        step,
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
        Ok((run, detail))
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
    let post = RunPost {
        caller: &caller.identity,
        headers: &headers,
        body: &body,
        request: format!("end {id}"),
        action,
        target: plain(&id, 64),
        step: None,
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
        Ok((run, detail))
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

/// One audited, idempotent `POST` of a run as it arrived, with what its audit entry says.
struct RunPost<'a> {
    caller: &'a WhoAmI,
    headers: &'a HeaderMap,
    body: &'a [u8],
    /// What a replay repeats, with the body, e.g. `step run-000001`.
    request: String,
    action: String,
    /// What the request names, for the audit entry of a refusal.
    target: String,
    step: Option<u32>,
    reason: String,
}

impl RunPost<'_> {
    /// Answers once (see [`IdempotentPost`]): `act` changes the board and says what the
    /// audit entry's detail is; the change is published and audited, a refusal audited too.
    fn answer(
        self,
        lab: &LabShared,
        status: StatusCode,
        act: impl FnOnce(&mut LabCore, &str) -> Result<(RunbookRun, String), ApiError>,
    ) -> Response {
        let mut core = lab.lock();
        let key = idempotency_key(self.headers);
        let answered = require_role(self.caller, Role::Operator).and_then(|()| {
            let post = IdempotentPost {
                caller: &self.caller.name,
                key: &key,
                request: self.request.clone(),
                body: self.body,
                wording: KeyWording {
                    needed_by: "runbook runs need",
                    one_key_per: "step record",
                },
            };
            post.answer(&mut core, |core, key| {
                let (run, detail) = act(core, key)?;
                lab.publish(core);
                let target = self.audit_target(&run);
                self.audit(lab, core, target, Some(key), AuditOutcome::Accepted, detail);
                Ok((status, run))
            })
        });
        answered.unwrap_or_else(|error| {
            let step = self.step.map_or(String::new(), |s| format!(" step {s}"));
            let target = format!("{}{step}", self.target);
            let key = key.ok().flatten();
            let detail = error.detail.clone();
            self.audit(
                lab,
                &mut core,
                target,
                key.as_deref(),
                AuditOutcome::Rejected,
                detail,
            );
            lab.publish(&mut core);
            error.into_response()
        })
    }

    /// The target as the audit log names it: the run, its step and its runbook.
    fn audit_target(&self, run: &RunbookRun) -> String {
        let step = self.step.map_or(String::new(), |s| format!(" step {s}"));
        format!(
            "{}{step} ({} v{})",
            run.id, run.runbook_id, run.runbook_version
        )
    }

    fn audit(
        &self,
        lab: &LabShared,
        core: &mut LabCore,
        target: String,
        key: Option<&str>,
        outcome: AuditOutcome,
        detail: String,
    ) {
        let record = AuditRecord {
            at: core.sim.now(),
            actor: self.caller.name.clone(),
            action: self.action.clone(),
            target,
            reason: self.reason.clone(),
            idempotency_key: key.map(str::to_string),
            outcome,
            detail: Some(plain(&detail, 500)),
            preflight: None,
        };
        lab.audit(core, record);
    }
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
