//! Protocol v1's commands over HTTP (see [`crate::api::commands`] for the contract), the
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
use serde::de::DeserializeOwned;

use super::audit::{AuditQuery, AuditRecord};
use super::auth::{Caller, require_role};
use super::idempotency::{Fingerprint, Lookup, StoredAnswer};
use super::problem::ApiError;
use super::server::{AppState, LabCore, LabShared, LiveEvent, to_json};
use super::sim::{ControlTarget, Refusal};
use crate::api::commands::{
    AuditEntry, AuditOutcome, AuditPage, BreakerRequest, CommandAccepted, DegradeRequest,
    DrainRequest, IDEMPOTENCY_KEY, IF_MATCH, Operation, PromoteRequest, UndrainRequest,
    WeightsRequest,
};
use crate::api::{Role, WhoAmI};
use crate::domain::command::Command;
use crate::sanitize;

/// Largest command body accepted.
const BODY_LIMIT: usize = 16 * 1024;
const REASON_MAX_CHARS: usize = 500;
const KEY_MAX_CHARS: usize = 128;
const AUDIT_PAGE_DEFAULT: usize = 50;
const AUDIT_PAGE_MAX: usize = 500;

/// The command endpoints, `GET /v1/operations/{id}` and `GET /v1/audit`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/services/{id}/promote", command(Endpoint::Promote))
        .route("/v1/regions/{id}/drain", command(Endpoint::Drain))
        .route("/v1/regions/{id}/undrain", command(Endpoint::Undrain))
        .route("/v1/providers/{id}/breaker", command(Endpoint::Breaker))
        .route(
            "/v1/services/{id}/degraded-modes",
            command(Endpoint::Degrade),
        )
        .route("/v1/services/{id}/weights", command(Endpoint::Weights))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .route("/v1/operations/{id}", get(operation))
        .route("/v1/audit", get(audit))
}

fn command(endpoint: Endpoint) -> MethodRouter<AppState> {
    post(
        move |caller: Caller,
              State(state): State<AppState>,
              Path(id): Path<String>,
              headers: HeaderMap,
              body: Bytes| async move {
            let request = CommandRequest {
                endpoint,
                caller: &caller.identity,
                id: &id,
                headers: &headers,
                body: &body,
            };
            request.execute(&state.lab)
        },
    )
}

#[derive(Clone, Copy, Debug)]
enum Endpoint {
    Promote,
    Drain,
    Undrain,
    Breaker,
    Degrade,
    Weights,
}

impl Endpoint {
    /// Names the endpoint in fingerprints, and in the audit log when the body is not a command.
    fn name(self) -> &'static str {
        match self {
            Endpoint::Promote => "promote",
            Endpoint::Drain => "drain",
            Endpoint::Undrain => "undrain",
            Endpoint::Breaker => "breaker",
            Endpoint::Degrade => "degrade",
            Endpoint::Weights => "weights",
        }
    }

    /// The command a body asks for on target `id`, and its reason (not yet checked).
    fn parse(self, id: &str, body: &[u8]) -> Result<(Command, String), String> {
        fn read<T: DeserializeOwned>(endpoint: Endpoint, body: &[u8]) -> Result<T, String> {
            serde_json::from_slice(body).map_err(|error| {
                let error = error.to_string();
                format!(
                    "the body is not a valid {} request: {}",
                    endpoint.name(),
                    sanitize::truncate(&sanitize::clean(&error), 200)
                )
            })
        }
        let id = id.to_string();
        Ok(match self {
            Endpoint::Promote => {
                let request: PromoteRequest = read(self, body)?;
                let command = Command::Promote {
                    service: id,
                    replica: request.replica,
                };
                (command, request.reason)
            }
            Endpoint::Drain => {
                let request: DrainRequest = read(self, body)?;
                let command = Command::Drain {
                    region: id,
                    expires_in_s: request.expires_in_s,
                };
                (command, request.reason)
            }
            Endpoint::Undrain => {
                let request: UndrainRequest = read(self, body)?;
                (Command::Undrain { region: id }, request.reason)
            }
            Endpoint::Breaker => {
                let request: BreakerRequest = read(self, body)?;
                let command = Command::Breaker {
                    provider: id,
                    action: request.action,
                    expires_in_s: request.expires_in_s,
                };
                (command, request.reason)
            }
            Endpoint::Degrade => {
                let request: DegradeRequest = read(self, body)?;
                let command = Command::Degrade {
                    service: id,
                    mode: request.mode,
                    enabled: request.enabled,
                    expires_in_s: request.expires_in_s,
                };
                (command, request.reason)
            }
            Endpoint::Weights => {
                let request: WeightsRequest = read(self, body)?;
                let command = Command::Weights {
                    service: id,
                    scope: request.scope,
                    weights: request.weights,
                };
                (command, request.reason)
            }
        })
    }
}

/// One command request as it arrived.
struct CommandRequest<'a> {
    endpoint: Endpoint,
    caller: &'a WhoAmI,
    id: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl CommandRequest<'_> {
    fn execute(&self, lab: &LabShared) -> Response {
        let mut core = lab.lock();
        let parsed = self.endpoint.parse(self.id, self.body);
        let key = idempotency_key(self.headers);
        match self.decide(lab, &mut core, &parsed, &key) {
            Ok(answer) => answer_response(&answer),
            Err(error) => {
                let (action, target, reason) = match &parsed {
                    Ok((command, reason)) => {
                        (command.verb(), command.target_label(), reason.as_str())
                    }
                    Err(_) => (self.endpoint.name().to_string(), self.id.to_string(), ""),
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
        let fingerprint =
            Fingerprint::of(&format!("{} {}", self.endpoint.name(), self.id), self.body);
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
