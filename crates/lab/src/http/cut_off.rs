//! A drill's `source-unreachable` inject, as players meet it: while it lasts the fleet's
//! routes (its snapshot, events, identity, operators, commands and operations) answer `503`,
//! as a control plane behind a failed load balancer would, and open event streams end
//! (`LabShared::cut_off`). Escalations, the audit log, runbook runs, approvals and the drill's
//! own routes keep answering: the facilitator steers on, and consoles see the fleet age.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use protocol::command::Verb;
use protocol::endpoints::{self, Endpoint};

use super::RouterState;
use super::problem::ApiError;

/// Seconds a client is asked to wait before trying again: the inject's end is the drill's secret.
const RETRY_AFTER_S: u32 = 5;

/// Whether a `source-unreachable` inject cuts `endpoint` off.
pub(super) fn cuts(endpoint: Endpoint) -> bool {
    let fleet = [
        endpoints::HEALTH,
        endpoints::FLEET,
        endpoints::EVENTS,
        endpoints::WHOAMI,
        endpoints::OPERATORS,
        endpoints::OPERATION,
    ];
    fleet.contains(&endpoint) || Verb::ALL.iter().any(|verb| verb.endpoint() == endpoint)
}

/// Answers `503` while a drill's inject cuts the fleet source off; a layer of the routes
/// [`cuts`] names.
pub(super) async fn unless_cut_off(
    State(state): State<RouterState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(source) = state.lab.cut_off() {
        let detail = format!("the {source} source is unreachable: retry later");
        return ApiError::unavailable(detail, RETRY_AFTER_S).into_response();
    }
    next.run(request).await
}
