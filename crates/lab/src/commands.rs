//! Protocol v1's commands over HTTP (see [`protocol::commands`] for the contract), the
//! operations they start, and the audit log.
//!
//! A command is judged in this order, all under the lab's lock so that two commands never
//! interleave: role (403), `Idempotency-Key` (400; a replay returns the first answer, the same
//! key for another request is 422), body and reason (400), target (404), `If-Match` (428, or
//! 409 with the target as it is now), then the simulation's own rules (422). Every command
//! from an authenticated caller, accepted or rejected, is audited; a replay is not, as it
//! does nothing.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;

use super::audit::{AuditQuery, AuditRecord};
use super::auth::{Caller, require_role};
use super::idempotency::{Fingerprint, Lookup, StoredAnswer};
use super::problem::ApiError;
use super::server::{AppState, LabCore, LabShared, LiveEvent, to_json};
use super::sim::{ControlTarget, Refusal};
use protocol::command::{Command, Verb};
use protocol::commands::{
    AuditEntry, AuditOutcome, AuditPage, CommandAccepted, IDEMPOTENCY_KEY, IF_MATCH, Operation,
};
use protocol::endpoints;
use protocol::sanitize;
use protocol::{Role, WhoAmI};

/// Largest command body accepted.
const BODY_LIMIT: usize = 16 * 1024;
const REASON_MAX_CHARS: usize = 500;
const KEY_MAX_CHARS: usize = 128;
const AUDIT_PAGE_DEFAULT: usize = 50;
const AUDIT_PAGE_MAX: usize = 500;

/// The command endpoints, `GET /v1/operations/{id}` and `GET /v1/audit`.
pub(super) fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for verb in Verb::ALL {
        router = router.route(verb.endpoint().path, command(verb));
    }
    router
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .route(endpoints::OPERATION.path, get(operation))
        .route(endpoints::AUDIT.path, get(audit))
}

fn command(verb: Verb) -> MethodRouter<AppState> {
    post(
        move |caller: Caller,
              State(state): State<AppState>,
              Path(id): Path<String>,
              headers: HeaderMap,
              body: Bytes| async move {
            let request = CommandRequest {
                verb,
                caller: &caller.identity,
                id: &id,
                headers: &headers,
                body: &body,
            };
            request.execute(&state.lab)
        },
    )
}

/// One command request as it arrived.
struct CommandRequest<'a> {
    verb: Verb,
    caller: &'a WhoAmI,
    id: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl CommandRequest<'_> {
    fn execute(&self, lab: &LabShared) -> Response {
        let mut core = lab.lock();
        let parsed = Command::from_request(self.verb, self.id, self.body);
        let key = idempotency_key(self.headers);
        match self.decide(lab, &mut core, &parsed, &key) {
            Ok(answer) => answer_response(&answer),
            Err(error) => {
                let (action, target, reason) = match &parsed {
                    Ok((command, reason)) => {
                        (command.verb(), command.target_label(), reason.as_str())
                    }
                    Err(_) => (self.verb.word().to_string(), self.id.to_string(), ""),
                };
                let record = AuditRecord {
                    at: core.sim.now(),
                    actor: self.caller.name.clone(),
                    action,
                    target: plain(&target, 100),
                    reason: plain(reason.trim(), REASON_MAX_CHARS),
                    idempotency_key: key.ok().flatten(),
                    outcome: AuditOutcome::Rejected,
                    detail: Some(error.detail.clone()),
                };
                lab.audit(&mut core, record);
                error.into_response()
            }
        }
    }

    fn decide(
        &self,
        lab: &LabShared,
        core: &mut LabCore,
        parsed: &Result<(Command, String), String>,
        key: &Result<Option<String>, ApiError>,
    ) -> Result<StoredAnswer, ApiError> {
        require_role(self.caller, Role::Operator)?;
        let key = key.clone()?.ok_or_else(|| {
            ApiError::bad_request(format!(
                "commands need an {IDEMPOTENCY_KEY} header: a fresh unique value per action, the same one on a retry"
            ))
        })?;
        let fingerprint = Fingerprint::of(&format!("{} {}", self.verb.word(), self.id), self.body);
        match core
            .idempotency
            .lookup(&self.caller.name, &key, fingerprint)
        {
            Lookup::Replay(answer) => return Ok(answer.clone()),
            Lookup::Mismatch => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "{IDEMPOTENCY_KEY} {key:?} was used for a different request: use a new key for a new action"
                    ),
                ));
            }
            Lookup::New => {}
        }
        let (command, reason) = parsed.clone().map_err(ApiError::bad_request)?;
        let reason = checked_reason(&reason)?;
        let target = core
            .sim
            .control_target(command.target_kind(), command.target_id())
            .map_err(refusal_error)?;
        check_revision(self.headers, command.target_id(), &target)?;
        let applied = core
            .sim
            .apply(&command, &self.caller.name, &reason)
            .map_err(refusal_error)?;
        lab.publish(core);
        lab.audit_automatic(core);
        let mut notes: Vec<String> = applied.detail.clone().into_iter().collect();
        notes.extend(applied.warnings.iter().cloned());
        let entry = lab.audit(
            core,
            AuditRecord {
                at: core.sim.now(),
                actor: self.caller.name.clone(),
                action: command.verb(),
                target: command.target_label(),
                reason,
                idempotency_key: Some(key.clone()),
                outcome: AuditOutcome::Accepted,
                detail: (!notes.is_empty()).then(|| notes.join("; ")),
            },
        );
        let status = if applied.operation.is_some() {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        };
        let accepted = CommandAccepted {
            audit_id: entry.id,
            revision: core.feed.revision(),
            control_revision: applied.control_revision,
            operation: applied.operation,
            warnings: applied.warnings,
        };
        let answer = StoredAnswer {
            status: status.as_u16(),
            body: Arc::from(to_json(&accepted).into_bytes()),
        };
        core.idempotency
            .remember(&self.caller.name, &key, fingerprint, answer.clone());
        Ok(answer)
    }
}

impl LabShared {
    /// Appends to the audit log and tells every event stream.
    pub(super) fn audit(&self, core: &mut LabCore, record: AuditRecord) -> AuditEntry {
        let entry = core.audit.append(record);
        // No subscribers is fine: nobody is watching.
        let _ = self.live.send(LiveEvent::Audit(to_json(&entry).into()));
        entry
    }

    /// Audits what the simulation did by itself: expiries, operations that ended.
    pub(super) fn audit_automatic(&self, core: &mut LabCore) {
        for record in core.sim.take_automatic_records() {
            self.audit(core, record);
        }
    }
}

fn answer_response(answer: &StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Bytes::copy_from_slice(&answer.body),
    )
        .into_response()
}

/// The `Idempotency-Key` header: absent, valid, or a 400.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key)
            if (1..=KEY_MAX_CHARS).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_string()))
        }
        _ => Err(ApiError::bad_request(format!(
            "{IDEMPOTENCY_KEY} must be 1-{KEY_MAX_CHARS} visible ASCII characters"
        ))),
    }
}

/// A reason is required, one line of printable text.
fn checked_reason(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ApiError::bad_request(
            "a reason is required: say why, for the audit log and the other operators",
        ));
    }
    if reason.chars().count() > REASON_MAX_CHARS || sanitize::clean(reason) != reason {
        return Err(ApiError::bad_request(format!(
            "the reason must be one line of at most {REASON_MAX_CHARS} printable characters"
        )));
    }
    Ok(reason.to_string())
}

/// `If-Match` must name the target's control revision as it is now.
fn check_revision(headers: &HeaderMap, id: &str, target: &ControlTarget) -> Result<(), ApiError> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            format!(
                "commands need {IF_MATCH}: <control_revision> of their target, from the state you acted on"
            ),
        ));
    };
    let text = value.to_str().unwrap_or_default().trim();
    let bare = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let expected: u64 = bare.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{IF_MATCH} must be the target's control_revision, e.g. {IF_MATCH}: 3"
        ))
    })?;
    let current = target.control_revision();
    if expected == current {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "{id} changed since control revision {expected} (it is at {current} now): review its current state and retry"
        ),
    )
    .with_extension("current", target.to_json())
    .with_extension("current_control_revision", current.into()))
}

fn refusal_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::UnknownTarget(detail) => ApiError::new(StatusCode::NOT_FOUND, detail),
        Refusal::Invalid(detail) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail),
    }
}

/// Untrusted text made fit for the audit log: one clean line, bounded.
pub(super) fn plain(text: &str, max_chars: usize) -> String {
    sanitize::truncate(&sanitize::clean(text), max_chars).into_owned()
}

async fn operation(
    _caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Operation>, ApiError> {
    state
        .lab
        .lock()
        .sim
        .operation(&id)
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "no operation {:?} (finished operations are kept for a while, not forever)",
                    plain(&id, 64)
                ),
            )
        })
}

#[derive(Deserialize)]
struct AuditParams {
    limit: Option<usize>,
    before: Option<u64>,
    idempotency_key: Option<String>,
}

async fn audit(
    _caller: Caller,
    State(state): State<AppState>,
    Query(params): Query<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = params.limit.unwrap_or(AUDIT_PAGE_DEFAULT);
    if !(1..=AUDIT_PAGE_MAX).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {AUDIT_PAGE_MAX}"
        )));
    }
    let query = AuditQuery {
        limit,
        before: params.before,
        idempotency_key: params.idempotency_key,
    };
    Ok(Json(state.lab.lock().audit.page(&query)))
}
