//! The lab's two-person rule ([`protocol::approvals`]): commands its policy names wait here
//! for a second operator, who approves or denies them once; the requester may withdraw, and a
//! request nobody decides expires.
//!
//! Pure: time comes in as the simulated clock; approving only checks who may and hands the
//! request back for the server to execute (under the same lock), then [`ApprovalBook::settle`]
//! records what came of it. Each changed request is collected for the event stream.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::free_text::{Lines, check_printable};
use protocol::Role;
use protocol::approvals::{ApprovalRequest, ApprovalState, Decision, LONGEST_EXPIRY_S};
use protocol::command::Verb;
use protocol::commands::PreflightSeen;

/// Requests kept; beyond it the oldest decided one goes first.
pub const REQUESTS_KEPT: usize = 500;
const REASON_MAX_CHARS: usize = 500;

/// Why a decision was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum ApprovalError {
    NotFound,
    /// The caller may not decide this request: why.
    Forbidden(String),
    /// The request makes no sense: what is wrong.
    Invalid(String),
    /// The request is no longer pending: it as it is now.
    Conflict {
        detail: String,
        current: Box<ApprovalRequest>,
    },
}

/// A confirmed command the policy holds back, as it arrived.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldCommand {
    /// The endpoint and target id it was sent to, to carry it out once approved.
    pub verb: Verb,
    pub target_id: String,
    pub action: String,
    pub target: String,
    pub path: String,
    pub body: serde_json::Value,
    pub idempotency_key: String,
    pub if_match: u64,
    pub requested_by: String,
    pub reason: String,
    pub why_approval: String,
    pub preflight: Option<PreflightSeen>,
}

/// A request as the lab keeps it: as it is answered, and where its command goes.
#[derive(Clone, Debug, PartialEq)]
pub struct Held {
    pub request: ApprovalRequest,
    pub verb: Verb,
    pub target_id: String,
}

/// Every request the lab keeps, by number.
#[derive(Debug, Default)]
pub struct ApprovalBook {
    requests: BTreeMap<u64, Held>,
    last_number: u64,
    events: Vec<ApprovalRequest>,
}

impl ApprovalBook {
    /// Pending requests first (oldest first), then the decided ones, newest first.
    pub fn list(&self) -> Vec<ApprovalRequest> {
        let (pending, decided): (Vec<_>, Vec<_>) = self
            .requests
            .values()
            .map(|held| &held.request)
            .partition(|r| r.state == ApprovalState::Pending);
        pending
            .into_iter()
            .chain(decided.into_iter().rev())
            .cloned()
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<&ApprovalRequest> {
        self.requests.get(&number_of(id)?).map(|held| &held.request)
    }

    /// The requests changed since the last call, in order, for the event stream.
    pub fn take_events(&mut self) -> Vec<ApprovalRequest> {
        std::mem::take(&mut self.events)
    }

    /// Holds `command` for a second approver until `now + expires_after_s`.
    pub fn hold(
        &mut self,
        command: HeldCommand,
        now: DateTime<Utc>,
        expires_after_s: u64,
    ) -> ApprovalRequest {
        self.last_number += 1;
        let request = ApprovalRequest {
            id: format!("apr-{:06}", self.last_number),
            state: ApprovalState::Pending,
            action: command.action,
            target: command.target,
            path: command.path,
            body: command.body,
            idempotency_key: command.idempotency_key,
            if_match: command.if_match,
            requested_by: command.requested_by,
            reason: command.reason,
            why_approval: command.why_approval,
            preflight: command.preflight,
            requested_at: now,
            expires_at: now + Duration::seconds(expires_after_s.min(LONGEST_EXPIRY_S) as i64),
            decision: None,
        };
        let held = Held {
            request: request.clone(),
            verb: command.verb,
            target_id: command.target_id,
        };
        self.requests.insert(self.last_number, held);
        self.forget_beyond_capacity();
        self.events.push(request.clone());
        request
    }

    /// Checks that `by` may approve request `id` now and hands it back for the server to
    /// execute; [`ApprovalBook::settle`] records the outcome.
    pub fn approvable(
        &mut self,
        id: &str,
        by: &str,
        role: Role,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Held, ApprovalError> {
        check_reason(reason)?;
        let request = self.pending(id, now)?;
        another_operator(
            request,
            by,
            role,
            "approve",
            "another operator must approve it",
        )?;
        Ok(self.requests[&number_of(id).expect("pending requests exist")].clone())
    }

    /// Records the approval of `id` by `by` and what executing the command gave: its audit id,
    /// or why it failed (the request then ends `failed`).
    pub fn settle(
        &mut self,
        id: &str,
        by: &str,
        reason: &str,
        now: DateTime<Utc>,
        outcome: Result<u64, String>,
    ) -> Option<ApprovalRequest> {
        let number = number_of(id).filter(|n| self.requests.contains_key(n))?;
        let (state, audit_id, error) = match outcome {
            Ok(audit_id) => (ApprovalState::Approved, Some(audit_id), None),
            Err(error) => (ApprovalState::Failed, None, Some(error)),
        };
        let decision = Decision {
            by: by.to_string(),
            reason: reason.to_string(),
            at: now,
            audit_id,
            error,
        };
        Some(self.close(number, state, decision))
    }

    /// Denies request `id`: the command is never executed.
    pub fn deny(
        &mut self,
        id: &str,
        by: &str,
        role: Role,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<ApprovalRequest, ApprovalError> {
        check_reason(reason)?;
        let request = self.pending(id, now)?;
        another_operator(request, by, role, "deny", "withdraw it instead")?;
        Ok(self.decide(id, ApprovalState::Denied, by, reason, now))
    }

    /// The requester takes request `id` back.
    pub fn withdraw(
        &mut self,
        id: &str,
        by: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<ApprovalRequest, ApprovalError> {
        check_reason(reason)?;
        let request = self.pending(id, now)?;
        if request.requested_by != by {
            return Err(ApprovalError::Forbidden(format!(
                "only {} who asked can withdraw it; deny it instead",
                request.requested_by
            )));
        }
        Ok(self.decide(id, ApprovalState::Withdrawn, by, reason, now))
    }

    /// Expires every pending request whose time is up; returns them.
    pub fn expire_due(&mut self, now: DateTime<Utc>) -> Vec<ApprovalRequest> {
        let due: Vec<String> = self
            .requests
            .values()
            .map(|held| &held.request)
            .filter(|r| r.state == ApprovalState::Pending && r.expires_at <= now)
            .map(|r| r.id.clone())
            .collect();
        due.iter().map(|id| self.expire(id, now)).collect()
    }

    /// Request `id` while pending (expiring it first when its time is up).
    fn pending(&mut self, id: &str, now: DateTime<Utc>) -> Result<&ApprovalRequest, ApprovalError> {
        let number = number_of(id).ok_or(ApprovalError::NotFound)?;
        let due = match self.requests.get(&number) {
            None => return Err(ApprovalError::NotFound),
            Some(held) => {
                held.request.state == ApprovalState::Pending && held.request.expires_at <= now
            }
        };
        if due {
            self.expire(id, now);
        }
        let request = &self.requests[&number].request;
        if request.state != ApprovalState::Pending {
            let by = request
                .decision
                .as_ref()
                .map_or(String::new(), |d| format!(" by {}", d.by));
            return Err(ApprovalError::Conflict {
                detail: format!("{} is {}{by}", request.id, request.state.word()),
                current: Box::new(request.clone()),
            });
        }
        Ok(request)
    }

    fn expire(&mut self, id: &str, now: DateTime<Utc>) -> ApprovalRequest {
        self.decide(
            id,
            ApprovalState::Expired,
            "system",
            "nobody decided in time",
            now,
        )
    }

    /// Ends request `id` (kept) as `state`, decided by `by` with no command outcome.
    fn decide(
        &mut self,
        id: &str,
        state: ApprovalState,
        by: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> ApprovalRequest {
        let number = number_of(id).expect("decided requests exist");
        let decision = Decision {
            by: by.to_string(),
            reason: reason.to_string(),
            at: now,
            audit_id: None,
            error: None,
        };
        self.close(number, state, decision)
    }

    /// The one place a request leaves `pending`: its state, its decision, its event.
    fn close(&mut self, number: u64, state: ApprovalState, decision: Decision) -> ApprovalRequest {
        let request = &mut self
            .requests
            .get_mut(&number)
            .expect("closed requests exist")
            .request;
        request.state = state;
        request.decision = Some(decision);
        let request = request.clone();
        self.events.push(request.clone());
        request
    }

    fn forget_beyond_capacity(&mut self) {
        while self.requests.len() > REQUESTS_KEPT {
            let oldest_decided = self
                .requests
                .iter()
                .find(|(_, held)| held.request.state != ApprovalState::Pending)
                .map(|(n, _)| *n);
            match oldest_decided {
                Some(number) => self.requests.remove(&number),
                None => break,
            };
        }
    }
}

/// Approving and denying are for an operator or admin other than the requester; `instead`
/// tells the requester what to do.
fn another_operator(
    request: &ApprovalRequest,
    by: &str,
    role: Role,
    verb: &str,
    instead: &str,
) -> Result<(), ApprovalError> {
    if role < Role::Operator {
        return Err(ApprovalError::Forbidden(format!(
            "a viewer cannot {verb}; an operator or admin can"
        )));
    }
    if request.requested_by == by {
        return Err(ApprovalError::Forbidden(format!(
            "you asked for this: {instead}"
        )));
    }
    Ok(())
}

fn check_reason(reason: &str) -> Result<(), ApprovalError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ApprovalError::Invalid("a reason is required".into()));
    }
    if reason.chars().count() > REASON_MAX_CHARS {
        return Err(ApprovalError::Invalid(format!(
            "the reason is longer than {REASON_MAX_CHARS} characters"
        )));
    }
    check_printable("reason", reason, Lines::Many).map_err(ApprovalError::Invalid)
}

fn number_of(id: &str) -> Option<u64> {
    id.strip_prefix("apr-")?.parse().ok()
}

#[cfg(test)]
#[path = "approvals_tests.rs"]
mod tests;
