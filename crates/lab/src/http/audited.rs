//! An audited, idempotent `POST` that is not a fleet command (runbook runs, approvals):
//! judged under the lab's lock, role first (operator or admin; `403` for viewers), then the
//! `Idempotency-Key` (see [`IdempotentPost`]), then what the route itself checks. Each,
//! accepted or refused, is an audit entry; a replay is not, as it does nothing. Every change
//! is published with the next revision.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::auth::require_role;
use super::idempotent::{IdempotentPost, KeyWording, idempotency_key};
use super::problem::{ApiError, plain};
use super::state::{LabCore, LabShared};
use crate::audit::AuditRecord;
use protocol::commands::AuditOutcome;
use protocol::{Role, WhoAmI};

/// One audited, idempotent `POST` as it arrived, with what its audit entry says.
pub(super) struct AuditedPost<'a> {
    pub(super) caller: &'a WhoAmI,
    pub(super) headers: &'a HeaderMap,
    pub(super) body: &'a [u8],
    /// What a replay repeats, with the body, e.g. `step run-000001`.
    pub(super) request: String,
    pub(super) wording: KeyWording,
    /// The audit entry's action, e.g. `runbook step check`.
    pub(super) action: String,
    /// What the request names, for the audit entry of a refusal.
    pub(super) target: String,
    pub(super) reason: String,
}

/// What an accepted request answers, and what its audit entry names and says.
pub(super) struct Accepted<T> {
    pub(super) answer: T,
    pub(super) target: String,
    pub(super) detail: String,
}

impl AuditedPost<'_> {
    /// Answers once: `act` makes the change (given the key) and says how to audit it; the
    /// change is published and audited, a refusal audited too.
    pub(super) fn answer<T: Serialize>(
        self,
        lab: &LabShared,
        status: StatusCode,
        act: impl FnOnce(&mut LabCore, &str) -> Result<Accepted<T>, ApiError>,
    ) -> Response {
        let mut core = lab.lock();
        let key = idempotency_key(self.headers);
        let answered = require_role(self.caller, Role::Operator).and_then(|()| {
            let post = IdempotentPost {
                caller: &self.caller.name,
                key: &key,
                request: self.request.clone(),
                body: self.body,
                wording: self.wording,
            };
            post.answer(&mut core, |core, key| {
                let accepted = act(core, key)?;
                lab.publish(core);
                let record = self.record(core, accepted.target, Some(key), AuditOutcome::Accepted);
                lab.audit(core, with_detail(record, &accepted.detail));
                Ok((status, accepted.answer))
            })
        });
        answered.unwrap_or_else(|error| {
            let key = key.ok().flatten();
            let target = self.target.clone();
            let record = self.record(&core, target, key.as_deref(), AuditOutcome::Rejected);
            lab.audit(&mut core, with_detail(record, &error.detail));
            // A refusal may still have changed something (an approval whose command failed).
            lab.publish(&mut core);
            error.into_response()
        })
    }

    fn record(
        &self,
        core: &LabCore,
        target: String,
        key: Option<&str>,
        outcome: AuditOutcome,
    ) -> AuditRecord {
        AuditRecord {
            at: core.sim.now(),
            actor: self.caller.name.clone(),
            action: self.action.clone(),
            target,
            reason: self.reason.clone(),
            idempotency_key: key.map(str::to_string),
            outcome,
            detail: None,
            preflight: None,
        }
    }
}

fn with_detail(record: AuditRecord, detail: &str) -> AuditRecord {
    AuditRecord {
        detail: Some(plain(detail, 500)),
        ..record
    }
}
