//! The client of protocol v1's two-person rule ([`protocol::approvals`]): the requests held
//! for a second operator, one request, and a decision on one (approve, deny, withdraw).
//! Changes by others arrive on the event stream as `approval` events. Also the refusal of a
//! command the context's policy holds for a control plane that cannot hold it
//! ([`refused_unheld`]).

use super::client::Client;
use super::error::ClientError;
use super::runbook_runs::to_body;
use protocol::approvals::{ApprovalList, ApprovalRequest, DecisionKind, DecisionRequest};
use protocol::commands::IDEMPOTENCY_KEY;
use protocol::endpoints;

impl Client {
    /// `GET /v1/approvals`: pending requests first (oldest first), then the decided ones.
    pub async fn approvals(&self) -> Result<ApprovalList, ClientError> {
        let url = self.url_of(endpoints::APPROVALS, "")?;
        self.get_url(url, "approval requests").await
    }

    /// `GET /v1/approvals/{id}`
    pub async fn approval(&self, id: &str) -> Result<ApprovalRequest, ClientError> {
        let url = self.url_of(endpoints::APPROVAL, id)?;
        self.get_url(url, "approval request").await
    }

    /// `POST /v1/approvals/{id}/approve|deny|withdraw` with `reason`, under `idempotency_key`:
    /// the same key again gets the same answer and never decides twice. A refusal keeps the
    /// problem's members: `403` says why the caller may not; `409` ([`ClientError::Conflict`])
    /// carries the request as it is now (see [`decided_request`]).
    pub async fn decide_approval(
        &self,
        id: &str,
        decision: DecisionKind,
        reason: &str,
        idempotency_key: &str,
    ) -> Result<ApprovalRequest, ClientError> {
        let request = DecisionRequest {
            reason: reason.to_string(),
        };
        let url = self.url_of(decision.endpoint(), id)?;
        let body = to_body("decision", &request)?;
        let headers = [(IDEMPOTENCY_KEY, idempotency_key)];
        self.post_json(url, &body, &headers, "decided request")
            .await
            .map_err(|e| e.for_escalation(id))
    }
}

/// The request as it is now, from a decision refused with `409`: already decided (the
/// problem's `current`), or approved but failed because its target changed (`approval`).
pub fn decided_request(error: &ClientError) -> Option<ApprovalRequest> {
    let ClientError::Conflict {
        current: Some(members),
        ..
    } = error
    else {
        return None;
    };
    ["approval", "current"]
        .iter()
        .filter_map(|member| members.get(member))
        .find_map(|request| serde_json::from_value(request.clone()).ok())
}

/// Why a command is not sent to `system`, a control plane with no approval service
/// (Patroni): the context's policy asks for a second approver (`why`), and nothing there could
/// hold it for one.
pub fn refused_unheld(why: &str, system: &str) -> String {
    format!(
        "the context's approval policy asks for a second approver ({why}), and {system} cannot \
         hold a command for one: nothing was sent"
    )
}
