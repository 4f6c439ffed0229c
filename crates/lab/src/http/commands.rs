//! Protocol v1's commands over HTTP (see [`protocol::commands`] for the contract), the
//! operations they start, and the audit log.
//!
//! A command is judged in this order, all under the lab's lock so that two commands never
//! interleave: role (403), `Idempotency-Key` (400; a replay returns the first answer, the same
//! key for another request is 422), body and reason (400), target (404), `If-Match` (428, or
//! 409 with the target as it is now), then the simulation's own rules (422); a command the
//! two-person rule holds (the lab's policy, or its sender's `needs_approval`) is judged by the
//! same rules first and held only when it could run. Every command
//! from an authenticated caller, accepted or rejected, is audited; a replay is not, as it
//! does nothing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use serde::Deserialize;

use super::auth::{Caller, require_role};
use super::idempotent::{IdempotentPost, KeyWording, idempotency_key};
use super::problem::{ApiError, plain};
use super::state::{LabCore, LabShared, RouterState};
use crate::approvals::HeldCommand;
use crate::audit::{AuditQuery, AuditRecord};
use crate::free_text::{Lines, check_printable};
use crate::sim::{ControlTarget, Refusal};
use protocol::approvals::{DEFAULT_EXPIRES_AFTER_S, LONGEST_EXPIRY_S};
use protocol::command::{Command, CommandRequest as ParsedCommand, Verb};
use protocol::commands::{AuditOutcome, AuditPage, CommandAccepted, Operation, PreflightSeen};
use protocol::{Role, WhoAmI};

/// Largest command body accepted.
pub(super) const BODY_LIMIT: usize = 16 * 1024;
const REASON_MAX_CHARS: usize = 500;
const AUDIT_PAGE_DEFAULT: usize = 50;
const AUDIT_PAGE_MAX: usize = 500;

/// The handler of `verb`'s endpoint.
pub(super) fn command(verb: Verb) -> MethodRouter<RouterState> {
    post(
        move |caller: Caller,
              State(state): State<RouterState>,
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
            Ok(response) => response,
            Err(error) => {
                let (action, target, reason, preflight) = match &parsed {
                    Ok(request) => (
                        request.command.verb(),
                        request.command.target_label(),
                        request.reason.as_str(),
                        request.preflight.clone(),
                    ),
                    Err(_) => (self.verb.word().to_string(), self.id.to_string(), "", None),
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
                    preflight,
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
        parsed: &Result<ParsedCommand, String>,
        key: &Result<Option<String>, ApiError>,
    ) -> Result<Response, ApiError> {
        require_role(self.caller, Role::Operator)?;
        let post = IdempotentPost {
            caller: &self.caller.name,
            key,
            request: format!("{} {}", self.verb.word(), self.id),
            body: self.body,
            wording: KeyWording {
                needed_by: "commands need",
                one_key_per: "action",
            },
        };
        post.answer(core, |core, key| self.apply(lab, core, parsed, key))
    }

    /// Judges a command with a new key: holds it for a second operator when the lab's
    /// two-person rule asks for one, applies it otherwise; what it did, as answered and audited.
    fn apply(
        &self,
        lab: &LabShared,
        core: &mut LabCore,
        parsed: &Result<ParsedCommand, String>,
        key: &str,
    ) -> Result<(StatusCode, CommandAccepted), ApiError> {
        let ParsedCommand {
            command,
            reason,
            preflight,
        } = parsed.clone().map_err(ApiError::bad_request)?;
        let reason = checked_reason(&reason)?;
        let expected = super::if_match(
            self.headers,
            "commands need",
            "the target's control_revision",
        )?;
        let target = core
            .sim
            .control_target(command.target_kind(), command.target_id())
            .map_err(refusal_error)?;
        check_revision(expected, command.target_id(), &target)?;
        if let Some((why_approval, expires_after_s)) = approval(core, &command, preflight.as_ref())?
        {
            core.sim.judge(&command).map_err(refusal_error)?;
            let held = HeldCommand {
                verb: self.verb,
                target_id: self.id.to_string(),
                action: command.verb(),
                target: command.target_label(),
                path: command.path(),
                // As sent: the approver sees, and the lab later carries out, the same request.
                body: serde_json::from_slice(self.body)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?,
                idempotency_key: key.to_string(),
                if_match: expected,
                requested_by: self.caller.name.clone(),
                reason,
                why_approval,
                preflight,
            };
            return Ok(hold(
                lab,
                core,
                held,
                expires_after_s,
                target.control_revision(),
            ));
        }
        let done = Done {
            actor: &self.caller.name,
            command: &command,
            reason: &reason,
            key,
            preflight,
            approved: None,
        };
        done.carry_out(lab, core)
    }
}

/// Why `command` waits for a second operator, and for how long: the lab's own policy names
/// it, or its sender's did (`needs_approval` in its preflight). It waits the shorter of the
/// lab's expiry (or the default) and the sender's (`approval_expires_after_s`).
/// `None` when it runs at once.
fn approval(
    core: &LabCore,
    command: &Command,
    preflight: Option<&PreflightSeen>,
) -> Result<Option<(String, u64)>, ApiError> {
    let policy = core.sim.topology().approvals.as_ref();
    let lab_expiry = policy.map_or(DEFAULT_EXPIRES_AFTER_S, |p| p.expires_after_s);
    let expires_after_s = match preflight.and_then(|p| p.approval_expires_after_s) {
        Some(sender) if (1..=LONGEST_EXPIRY_S).contains(&sender) => sender.min(lab_expiry),
        Some(sender) => {
            return Err(ApiError::bad_request(format!(
                "preflight.approval_expires_after_s must be from 1 to {LONGEST_EXPIRY_S} (a week), not {sender}"
            )));
        }
        None => lab_expiry,
    };
    if let Some(why) =
        policy.and_then(|policy| policy.requires(command, &core.published.snapshot(), preflight))
    {
        return Ok(Some((why, expires_after_s)));
    }
    let Some(why) = preflight.and_then(|p| p.needs_approval.as_deref()) else {
        return Ok(None);
    };
    let why = why.trim();
    if why.is_empty() || why.chars().count() > REASON_MAX_CHARS {
        return Err(ApiError::bad_request(format!(
            "preflight.needs_approval must say why in 1 to {REASON_MAX_CHARS} characters"
        )));
    }
    check_printable("preflight.needs_approval", why, Lines::One).map_err(ApiError::bad_request)?;
    Ok(Some((why.to_string(), expires_after_s)))
}

/// Holds a command for a second operator: `202` with the request, audited as held.
fn hold(
    lab: &LabShared,
    core: &mut LabCore,
    held: HeldCommand,
    expires_after_s: u64,
    control_revision: u64,
) -> (StatusCode, CommandAccepted) {
    let now = core.sim.now();
    let request = core.approvals.hold(held, now, expires_after_s);
    lab.publish(core);
    let entry = lab.audit(
        core,
        AuditRecord {
            at: now,
            actor: request.requested_by.clone(),
            action: request.action.clone(),
            target: request.target.clone(),
            reason: request.reason.clone(),
            idempotency_key: Some(request.idempotency_key.clone()),
            outcome: AuditOutcome::Held,
            detail: Some(format!(
                "{}: {} (expires {})",
                request.id,
                request.why_approval,
                request.expires_at.format("%H:%M:%S UTC")
            )),
            preflight: request.preflight.clone(),
        },
    );
    let accepted = CommandAccepted {
        audit_id: entry.id,
        revision: core.published.revision(),
        control_revision,
        operation: None,
        warnings: Vec::new(),
        pending_approval: Some(Box::new(request)),
    };
    (StatusCode::ACCEPTED, accepted)
}

/// A command cleared to run: who asked for it, and who approved it when it was held.
pub(super) struct Done<'a> {
    pub(super) actor: &'a str,
    pub(super) command: &'a Command,
    pub(super) reason: &'a str,
    pub(super) key: &'a str,
    /// What the sender's preflight said, for the audit entry.
    pub(super) preflight: Option<PreflightSeen>,
    /// The approver and their reason, for a command the two-person rule held.
    pub(super) approved: Option<(&'a str, &'a str)>,
}

impl Done<'_> {
    /// Applies the command (its target's revision already checked), publishes and audits it.
    pub(super) fn carry_out(
        &self,
        lab: &LabShared,
        core: &mut LabCore,
    ) -> Result<(StatusCode, CommandAccepted), ApiError> {
        let command = self.command;
        let applied = core
            .sim
            .apply(command, self.actor, self.reason)
            .map_err(refusal_error)?;
        lab.publish(core);
        lab.audit_automatic(core);
        let mut notes: Vec<String> = self
            .approved
            .map(|(by, why)| format!("approved by {by}: {why}"))
            .into_iter()
            .collect();
        notes.extend(applied.detail.clone());
        notes.extend(applied.warnings.iter().cloned());
        let entry = lab.audit(
            core,
            AuditRecord {
                at: core.sim.now(),
                actor: self.actor.to_string(),
                action: command.verb(),
                target: command.target_label(),
                reason: self.reason.to_string(),
                idempotency_key: Some(self.key.to_string()),
                outcome: AuditOutcome::Accepted,
                detail: (!notes.is_empty()).then(|| notes.join("; ")),
                preflight: self.preflight.clone(),
            },
        );
        let status = if applied.operation.is_some() {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        };
        let accepted = CommandAccepted {
            audit_id: entry.id,
            revision: core.published.revision(),
            control_revision: applied.control_revision,
            operation: applied.operation,
            warnings: applied.warnings,
            pending_approval: None,
        };
        Ok((status, accepted))
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
    check_printable("reason", reason, Lines::One).map_err(ApiError::bad_request)?;
    if reason.chars().count() > REASON_MAX_CHARS {
        return Err(ApiError::bad_request(format!(
            "the reason must be at most {REASON_MAX_CHARS} characters"
        )));
    }
    Ok(reason.to_string())
}

/// `expected` (the command's `If-Match`) must be the target's control revision as it is now.
pub(super) fn check_revision(
    expected: u64,
    id: &str,
    target: &ControlTarget,
) -> Result<(), ApiError> {
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

pub(super) fn refusal_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::UnknownTarget(detail) => ApiError::new(StatusCode::NOT_FOUND, detail),
        Refusal::Invalid(detail) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail),
    }
}

pub(super) async fn operation(
    _caller: Caller,
    State(state): State<RouterState>,
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
pub(super) struct AuditParams {
    limit: Option<usize>,
    before: Option<u64>,
    idempotency_key: Option<String>,
}

pub(super) async fn audit(
    _caller: Caller,
    State(state): State<RouterState>,
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
