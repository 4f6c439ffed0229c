//! Protocol v1 over HTTP (axum): the router, built from one table of protocol v1's endpoints
//! and their handlers ([`served_endpoints`] lists them).
//!
//! The modules read one way: `state` is what every route shares; [`auth`], [`problem`] and
//! `idempotent` are what routes have in common (callers and roles, problem documents,
//! idempotent POSTs); `fleet` (fleet, events, whoami, operators), `commands` (commands,
//! operations, audit), `escalations`, `runbook_runs` and `exercise` (the drill) are the routes.

mod approvals;
mod audited;
pub mod auth;
mod commands;
mod cut_off;
mod escalations;
mod exercise;
mod fleet;
mod idempotent;
mod pages;
pub mod problem;
mod request_limits;
mod runbook_runs;
mod state;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, get, post};
use axum::{Router, middleware};

use axum::http::{HeaderMap, StatusCode};

use problem::ApiError;
use protocol::command::Verb;
use protocol::commands::IF_MATCH;
use protocol::endpoints::{self, Endpoint};

pub use request_limits::{HEAD_LIMIT, MAX_HEADERS, URI_LIMIT};
pub(crate) use state::{LabShared, RouterState};

/// The largest body any endpoint reads: larger ones are refused before routing.
const MAX_BODY: usize = max(
    max(commands::BODY_LIMIT, exercise::BODY_LIMIT),
    max(escalations::BODY_LIMIT, runbook_runs::BODY_LIMIT),
);

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// The endpoints the lab serves: protocol v1's, read from the table the router is built from.
pub fn served_endpoints() -> Vec<Endpoint> {
    route_table()
        .into_iter()
        .map(|(endpoint, _)| endpoint)
        .collect()
}

/// The router of a lab: every endpoint of the table, and problem documents for every error
/// (unknown routes, wrong methods and requests beyond [`request_limits`] included). A body
/// must arrive within `body_timeout`.
pub(crate) fn router(state: RouterState, body_timeout: Duration) -> Router {
    let body_rules = request_limits::BodyRules {
        max_bytes: MAX_BODY,
        timeout: body_timeout,
    };
    route_table()
        .into_iter()
        .fold(Router::new(), |router, (endpoint, handler)| {
            let handler = if cut_off::cuts(endpoint) {
                let gate = middleware::from_fn_with_state(state.clone(), cut_off::unless_cut_off);
                handler.layer(gate)
            } else {
                handler
            };
            router.route(endpoint.path, handler)
        })
        .fallback(problem::unknown_route)
        .layer(middleware::from_fn_with_state(
            body_rules,
            request_limits::within_limits,
        ))
        .layer(middleware::from_fn(problem::problem_json_errors))
        .with_state(state)
}

/// `If-Match: <revision>`, bare or quoted: `428` without it (`needed_by` says what needs it,
/// e.g. `commands need`), `400` naming `what` (e.g. `the target's control_revision`) when
/// it is no revision number.
fn if_match(headers: &HeaderMap, needed_by: &str, what: &str) -> Result<u64, ApiError> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            format!("{needed_by} {IF_MATCH}: <{what}>, from the state you acted on"),
        ));
    };
    let text = value.to_str().unwrap_or_default().trim();
    let bare = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    revision_number(bare).ok_or_else(|| {
        ApiError::bad_request(format!("{IF_MATCH} must be {what}, e.g. {IF_MATCH}: 3"))
    })
}

/// A revision number as headers carry it (`If-Match`, `Last-Event-ID`): 1 to 19 ASCII
/// digits, as the spec's patterns say (no sign, no spaces inside).
fn revision_number(text: &str) -> Option<u64> {
    let digits = (1..=19).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

/// Every endpoint the lab serves, with its handler (and the largest body it reads).
fn route_table() -> Vec<(Endpoint, MethodRouter<RouterState>)> {
    let escalation_post = |handler: MethodRouter<RouterState>| {
        handler.layer(DefaultBodyLimit::max(escalations::BODY_LIMIT))
    };
    let run_post = |handler: MethodRouter<RouterState>| {
        handler.layer(DefaultBodyLimit::max(runbook_runs::BODY_LIMIT))
    };
    let decision_post = |handler: MethodRouter<RouterState>| {
        handler.layer(DefaultBodyLimit::max(approvals::BODY_LIMIT))
    };
    let mut table = vec![
        (endpoints::HEALTH, get(fleet::health)),
        (endpoints::FLEET, get(fleet::fleet)),
        (endpoints::EVENTS, get(fleet::events)),
        (endpoints::WHOAMI, get(fleet::whoami)),
        (endpoints::OPERATORS, get(fleet::operators)),
        (endpoints::OPERATION, get(commands::operation)),
        (endpoints::AUDIT, get(commands::audit)),
        (endpoints::ESCALATIONS, get(escalations::list)),
        (endpoints::ESCALATION, get(escalations::detail)),
        (endpoints::CLAIM, escalation_post(post(escalations::claim))),
        (
            endpoints::RELEASE,
            escalation_post(post(escalations::release)),
        ),
        (
            endpoints::RESOLVE,
            escalation_post(post(escalations::resolve)),
        ),
        (endpoints::RUNBOOK_RUNS, get(runbook_runs::list)),
        (endpoints::START_RUN, run_post(post(runbook_runs::start))),
        (endpoints::RUNBOOK_RUN, get(runbook_runs::get)),
        (endpoints::RUN_STEPS, run_post(post(runbook_runs::record))),
        (
            endpoints::RUN_PRESENCE,
            run_post(post(runbook_runs::presence)),
        ),
        (endpoints::RUN_END, run_post(post(runbook_runs::end))),
        (endpoints::APPROVALS, get(approvals::list)),
        (endpoints::APPROVAL, get(approvals::get)),
        (endpoints::APPROVE, decision_post(post(approvals::approve))),
        (endpoints::DENY, decision_post(post(approvals::deny))),
        (
            endpoints::WITHDRAW,
            decision_post(post(approvals::withdraw)),
        ),
        (endpoints::EXERCISE, get(exercise::state)),
        (
            endpoints::EXERCISE_CONTROL,
            post(exercise::control).layer(DefaultBodyLimit::max(exercise::BODY_LIMIT)),
        ),
        (endpoints::EXERCISE_REPORT, get(exercise::report)),
    ];
    table.extend(Verb::ALL.map(|verb| {
        let handler = commands::command(verb).layer(DefaultBodyLimit::max(commands::BODY_LIMIT));
        (verb.endpoint(), handler)
    }));
    table
}
