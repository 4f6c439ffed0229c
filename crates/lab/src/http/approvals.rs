//! Protocol v1's two-person rule over HTTP (the contract is in [`protocol::approvals`]).
//!
//! Approve, deny and withdraw are audited, idempotent POSTs ([`AuditedPost`]). Approving
//! carries the held command out under the same lock, with its own key and the `If-Match` it
//! was confirmed with: when its target changed meanwhile, the request ends `failed` and the
//! approver hears `409` with the target as it is now; the requester sees it fail in the
//! `approval` event.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::audited::{Accepted, AuditedPost};
use super::auth::Caller;
use super::commands::{Done, check_revision, refusal_error};
use super::idempotent::KeyWording;
use super::problem::{ApiError, plain};
use super::state::{LabCore, LabShared, RouterState};
use crate::approvals::{ApprovalBook, ApprovalError, Held};
use chrono::{DateTime, Utc};
use protocol::WhoAmI;
use protocol::approvals::{ApprovalList, ApprovalRequest, DecisionRequest};
use protocol::command::Command;
use protocol::request_body;

/// Largest body accepted: a decision's reason, with room for JSON escapes.
pub(super) const BODY_LIMIT: usize = 4096;

const DECISION_KEYS: KeyWording = KeyWording {
    needed_by: "approval decisions need",
    one_key_per: "decision",
};

pub(super) async fn list(_caller: Caller, State(state): State<RouterState>) -> Json<ApprovalList> {
    Json(ApprovalList {
        requests: state.lab.lock().approvals.list(),
    })
}

pub(super) async fn get(
    _caller: Caller,
    State(state): State<RouterState>,
    Path(id): Path<String>,
) -> Result<Json<ApprovalRequest>, ApiError> {
    let request = state.lab.lock().approvals.get(&id).cloned();
    request.map(Json).ok_or_else(|| not_found(&id))
}

pub(super) async fn approve(
    caller: Caller,
    State(state): State<RouterState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let decision = Decision::read(&caller.identity, &id, &headers, &body, "approve");
    let lab = &state.lab;
    decision.post().answer(lab, StatusCode::OK, |core, _| {
        let reason = decision.reason()?;
        let who = &caller.identity;
        let now = core.sim.now();
        let held = core
            .approvals
            .approvable(&id, &who.name, who.role, &reason, now)
            .map_err(|error| approval_error(&id, error))?;
        let outcome = carry_out(lab, core, &held, &who.name, &reason);
        let audit_id = outcome.as_ref().map(|(_, accepted)| accepted.audit_id);
        let settled = core
            .approvals
            .settle(
                &id,
                &who.name,
                &reason,
                now,
                audit_id.map_err(|e| e.detail.clone()),
            )
            .expect("an approvable request is kept");
        let (_, accepted) = outcome.map_err(|error| {
            let settled = serde_json::to_value(&settled).expect("a request serializes");
            error.with_extension("approval", settled)
        })?;
        let detail = format!("carried out as audit #{}", accepted.audit_id);
        Ok(decided(settled, detail))
    })
}

pub(super) async fn deny(
    caller: Caller,
    State(state): State<RouterState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let decision = Decision::read(&caller.identity, &id, &headers, &body, "deny");
    decision.end_uncarried(&state.lab, |book, who, reason, now| {
        book.deny(&id, &who.name, who.role, reason, now)
    })
}

pub(super) async fn withdraw(
    caller: Caller,
    State(state): State<RouterState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let decision = Decision::read(&caller.identity, &id, &headers, &body, "withdraw");
    decision.end_uncarried(&state.lab, |book, who, reason, now| {
        book.withdraw(&id, &who.name, reason, now)
    })
}

/// One decision as it arrived.
struct Decision<'a> {
    caller: &'a WhoAmI,
    id: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
    verb: &'static str,
    request: Result<DecisionRequest, String>,
}

impl<'a> Decision<'a> {
    fn read(
        caller: &'a WhoAmI,
        id: &'a str,
        headers: &'a HeaderMap,
        body: &'a [u8],
        verb: &'static str,
    ) -> Decision<'a> {
        Decision {
            caller,
            id,
            headers,
            body,
            verb,
            request: request_body::parse("decision", body),
        }
    }

    fn post(&self) -> AuditedPost<'_> {
        let reason = self
            .request
            .as_ref()
            .map_or(String::new(), |r| plain(r.reason.trim(), 500));
        AuditedPost {
            caller: self.caller,
            headers: self.headers,
            body: self.body,
            request: format!("{} {}", self.verb, self.id),
            wording: DECISION_KEYS,
            action: format!("approval {}", self.verb),
            target: plain(self.id, 64),
            reason,
        }
    }

    /// Answers a decision that ends the request without carrying its command out (deny,
    /// withdraw): `end` asks the book, as the caller, with the reason and the lab's time.
    fn end_uncarried(
        &self,
        lab: &LabShared,
        end: impl FnOnce(
            &mut ApprovalBook,
            &WhoAmI,
            &str,
            DateTime<Utc>,
        ) -> Result<ApprovalRequest, ApprovalError>,
    ) -> Response {
        self.post().answer(lab, StatusCode::OK, |core, _| {
            let reason = self.reason()?;
            let now = core.sim.now();
            let ended = end(&mut core.approvals, self.caller, &reason, now)
                .map_err(|error| approval_error(self.id, error))?;
            let detail = format!("asked by {}: not carried out", ended.requested_by);
            Ok(decided(ended, detail))
        })
    }

    fn reason(&self) -> Result<String, ApiError> {
        self.request
            .as_ref()
            .map(|r| r.reason.trim().to_string())
            .map_err(|e| ApiError::bad_request(e.clone()))
    }
}

/// Carries out an approved request's command as its requester, under its key and the
/// `If-Match` it was confirmed with.
fn carry_out(
    lab: &LabShared,
    core: &mut LabCore,
    held: &Held,
    approver: &str,
    approver_reason: &str,
) -> Result<(StatusCode, protocol::commands::CommandAccepted), ApiError> {
    let request = &held.request;
    let body = serde_json::to_vec(&request.body).expect("a held body serializes");
    let sent =
        Command::from_request(held.verb, &held.target_id, &body).map_err(ApiError::bad_request)?;
    let command = sent.command;
    let target = core
        .sim
        .control_target(command.target_kind(), command.target_id())
        .map_err(refusal_error)?;
    check_revision(request.if_match, command.target_id(), &target)?;
    let done = Done {
        actor: &request.requested_by,
        command: &command,
        reason: &sent.reason,
        key: &request.idempotency_key,
        preflight: sent.preflight,
        approved: Some((approver, approver_reason)),
    };
    done.carry_out(lab, core)
}

/// A decided request as answered, audited as the request and its command.
fn decided(request: ApprovalRequest, detail: String) -> Accepted<ApprovalRequest> {
    let target = format!("{} ({} {})", request.id, request.action, request.target);
    Accepted {
        answer: request,
        target,
        detail,
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no approval request {:?} (decided requests are kept for a while, not forever)",
            plain(id, 64)
        ),
    )
}

fn approval_error(id: &str, error: ApprovalError) -> ApiError {
    match error {
        ApprovalError::NotFound => not_found(id),
        ApprovalError::Forbidden(detail) => ApiError::new(StatusCode::FORBIDDEN, detail),
        ApprovalError::Invalid(detail) => ApiError::bad_request(detail),
        ApprovalError::Conflict { detail, current } => ApiError::new(StatusCode::CONFLICT, detail)
            .with_extension(
                "current",
                serde_json::to_value(&*current).expect("a request serializes"),
            ),
    }
}
