//! Protocol v1's escalation endpoints over HTTP (the contract is in
//! [`protocol::escalations`]): the inbox, a task's detail with its lineage, claims, releases
//! and resolutions.
//!
//! Every change happens under the lab's lock and is published at once, so its event takes a
//! revision of the stream. A resolution is judged like a command: role (403),
//! `Idempotency-Key` (400; a replay answers the first outcome, the same key for another
//! request is 422), body and note (400), task (404), claim and state (409), what it names
//! (422). Resolutions from authenticated callers are audited, accepted or rejected; a replay
//! is not, as it does nothing.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use super::auth::{Caller, min_role, require_role};
use super::idempotent::{IdempotentPost, KeyWording, idempotency_key};
use super::pages;
use super::problem::{ApiError, plain};
use super::state::{LabCore, LabShared, RouterState};
use crate::audit::AuditRecord;
use crate::escalations::{AssigneeFilter, Cursor, ListQuery, QueueError};
use protocol::commands::AuditOutcome;
use protocol::escalations::{
    ClaimRequest, DEFAULT_LEASE_S, DEFAULT_PAGE_LIMIT, Escalation, EscalationReason,
    EscalationState, EscalationSummary, MAX_LEASE_S, MAX_NOTE_BYTES, MAX_OUTPUT_BYTES,
    MAX_PAGE_LIMIT, MIN_LEASE_S, Priority, ReleaseRequest, ResolveOutcome, ResolveRequest,
};
use protocol::{Role, WhoAmI, request_body};

/// Largest body accepted: a submitted output and a note, with room for JSON escapes.
pub(super) const BODY_LIMIT: usize = 2 * (MAX_OUTPUT_BYTES + MAX_NOTE_BYTES);
/// Audit reasons are kept to one bounded line.
const AUDIT_REASON_CHARS: usize = 500;

#[derive(Deserialize)]
pub(super) struct ListParams {
    state: Option<String>,
    priority: Option<String>,
    reason: Option<String>,
    service: Option<String>,
    assignee: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

impl ListParams {
    fn query(self) -> Result<ListQuery, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
        if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(format!(
                "limit must be from 1 to {MAX_PAGE_LIMIT}"
            )));
        }
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(text) => Some(Cursor::decode(text).ok_or_else(|| {
                ApiError::bad_request("cursor must be a next_cursor from this lab's answers")
            })?),
        };
        Ok(ListQuery {
            states: words(self.state.as_deref(), "state", &EscalationState::ALL, |s| {
                s.word()
            })?,
            priorities: words(self.priority.as_deref(), "priority", &Priority::ALL, |p| {
                p.word()
            })?,
            reasons: words(
                self.reason.as_deref(),
                "reason",
                &EscalationReason::ALL,
                |r| r.word(),
            )?,
            service: self.service.filter(|s| !s.is_empty()),
            assignee: self
                .assignee
                .filter(|a| !a.is_empty())
                .map(|a| match a.as_str() {
                    "none" => AssigneeFilter::Nobody,
                    _ => AssigneeFilter::Named(a),
                }),
            after,
            limit,
        })
    }
}

/// A comma-separated filter of enum words, e.g. `state=pending,claimed`; empty: any.
fn words<T: Copy>(
    text: Option<&str>,
    name: &str,
    all: &[T],
    word: fn(T) -> &'static str,
) -> Result<Vec<T>, ApiError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            all.iter()
                .copied()
                .find(|value| word(*value).eq_ignore_ascii_case(w))
                .ok_or_else(|| {
                    let known: Vec<&str> = all.iter().map(|v| word(*v)).collect();
                    ApiError::bad_request(format!(
                        "unknown {name} {:?}: one of {}",
                        plain(w, 40),
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

pub(super) async fn list(
    _caller: Caller,
    State(state): State<RouterState>,
    Query(params): Query<ListParams>,
) -> Result<Response, ApiError> {
    let query = params.query()?;
    state.lab.whole_queue().await?;
    let page = {
        let mut core = state.lab.lock();
        let core = &mut *core;
        let revision = core.published.revision();
        pages::page(&mut core.page_ahead, &core.escalations, revision, &query)
    };
    if let Some(next) = page.next {
        let lab = Arc::clone(&state.lab);
        tokio::task::spawn_blocking(move || {
            let mut core = lab.lock();
            let core = &mut *core;
            let revision = core.published.revision();
            pages::write_ahead(&mut core.page_ahead, &core.escalations, revision, next);
        });
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], page.body).into_response())
}

pub(super) async fn detail(
    _caller: Caller,
    State(state): State<RouterState>,
    Path(id): Path<String>,
) -> Result<Json<Escalation>, ApiError> {
    state.lab.whole_queue().await?;
    let escalation = state.lab.lock().escalations.detail(&id);
    escalation.map(Json).ok_or_else(|| not_found(&id))
}

pub(super) async fn claim(
    caller: Caller<min_role::Operator>,
    State(state): State<RouterState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<EscalationSummary>, ApiError> {
    let request: ClaimRequest =
        request_body::parse_optional("claim request", &body).map_err(ApiError::bad_request)?;
    let lease_s = request.lease_s.unwrap_or(DEFAULT_LEASE_S);
    if !(MIN_LEASE_S..=MAX_LEASE_S).contains(&lease_s) {
        return Err(ApiError::bad_request(format!(
            "lease_s must be from {MIN_LEASE_S} to {MAX_LEASE_S} seconds"
        )));
    }
    state.lab.whole_queue().await?;
    change(&state.lab, &id, |core| {
        let now = core.sim.now();
        core.escalations
            .claim(&id, &caller.identity.name, lease_s, now)
    })
    .map(Json)
}

pub(super) async fn release(
    caller: Caller<min_role::Operator>,
    State(state): State<RouterState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<EscalationSummary>, ApiError> {
    let request: ReleaseRequest =
        request_body::parse_optional("release request", &body).map_err(ApiError::bad_request)?;
    let note = request.note;
    state.lab.whole_queue().await?;
    change(&state.lab, &id, |core| {
        let now = core.sim.now();
        core.escalations
            .release(&id, &caller.identity.name, note, now)
    })
    .map(Json)
}

/// Runs a change of the queue and publishes its events, whether it was accepted or not
/// (a refused claim may still have ended expired leases).
fn change<T>(
    lab: &LabShared,
    id: &str,
    act: impl FnOnce(&mut LabCore) -> Result<T, QueueError>,
) -> Result<T, ApiError> {
    let mut core = lab.lock();
    let result = act(&mut core);
    lab.publish(&mut core);
    result.map_err(|error| queue_error(id, error))
}

pub(super) async fn resolve(
    caller: Caller,
    State(state): State<RouterState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lab = &state.lab;
    if let Err(not_yet) = lab.whole_queue().await {
        return not_yet.into_response();
    }
    let mut core = lab.lock();
    let request: Result<ResolveRequest, ApiError> =
        request_body::parse("resolve request", &body).map_err(ApiError::bad_request);
    let key = idempotency_key(&headers);
    match decide(lab, &mut core, &caller.identity, &id, &request, &key, &body) {
        Ok(response) => response,
        Err(error) => {
            let (action, note) = match &request {
                Ok(request) => (
                    format!("resolve {}", request.resolution.kind().word()),
                    request.note.as_str(),
                ),
                Err(_) => ("resolve".to_string(), ""),
            };
            let record = AuditRecord {
                at: core.sim.now(),
                actor: caller.identity.name.clone(),
                action,
                target: plain(&id, 100),
                reason: plain(note.trim(), AUDIT_REASON_CHARS),
                idempotency_key: key.ok().flatten(),
                outcome: AuditOutcome::Rejected,
                detail: Some(error.detail.clone()),
                preflight: None,
            };
            lab.audit(&mut core, record);
            lab.publish(&mut core);
            error.into_response()
        }
    }
}

/// The answer to a resolve: its outcome, or the replay of the first one.
fn decide(
    lab: &LabShared,
    core: &mut LabCore,
    caller: &WhoAmI,
    id: &str,
    request: &Result<ResolveRequest, ApiError>,
    key: &Result<Option<String>, ApiError>,
    body: &[u8],
) -> Result<Response, ApiError> {
    require_role(caller, Role::Operator)?;
    let post = IdempotentPost {
        caller: &caller.name,
        key,
        request: format!("resolve {id}"),
        body,
        wording: KeyWording {
            needed_by: "resolving needs",
            one_key_per: "decision",
        },
    };
    post.answer(core, |core, key| {
        let outcome = apply(lab, core, caller, id, request.clone()?, key)?;
        Ok((StatusCode::OK, outcome))
    })
}

/// Applies a resolution with a new key, publishes and audits it.
fn apply(
    lab: &LabShared,
    core: &mut LabCore,
    caller: &WhoAmI,
    id: &str,
    request: ResolveRequest,
    key: &str,
) -> Result<ResolveOutcome, ApiError> {
    let now = core.sim.now();
    let outcome = core
        .escalations
        .resolve(id, &caller.name, key, &request, now)
        .map_err(|error| queue_error(id, error))?;
    lab.publish(core);
    lab.audit(
        core,
        AuditRecord {
            at: now,
            actor: caller.name.clone(),
            action: format!("resolve {}", request.resolution.kind().word()),
            target: format!("{id} ({})", outcome.escalation.workflow_id),
            reason: plain(&outcome.applied.note, AUDIT_REASON_CHARS),
            idempotency_key: Some(key.to_string()),
            outcome: AuditOutcome::Accepted,
            detail: Some(outcome.consequence.clone()),
            preflight: None,
        },
    );
    Ok(outcome)
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no escalation {:?}", plain(id, 64)),
    )
}

/// The problem a refusal of the queue is answered with; conflicts name who holds or closed
/// the task, in members a client can read.
fn queue_error(id: &str, error: QueueError) -> ApiError {
    match error {
        QueueError::NotFound(_) => not_found(id),
        QueueError::Incomplete(detail) => ApiError::bad_request(detail),
        QueueError::Unprocessable(detail) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
        }
        QueueError::Held { holder, expires_at } => ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{id} is claimed by {holder} until {}",
                timestamp(expires_at)
            ),
        )
        .with_extension("holder", holder.into())
        .with_extension("lease_expires_at", timestamp(expires_at).into()),
        QueueError::Closed { by, resolution, at } => ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{id} was already resolved by {by} ({}) at {}",
                resolution.kind().word(),
                timestamp(at)
            ),
        )
        .with_extension("resolved_by", by.into())
        .with_extension(
            "resolution",
            serde_json::to_value(&resolution).expect("a resolution serializes"),
        )
        .with_extension("resolved_at", timestamp(at).into()),
        QueueError::NotClaimed => ApiError::new(
            StatusCode::CONFLICT,
            format!("nobody holds {id}: there is no claim to release"),
        ),
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
