//! Protocol v1 over HTTP (axum): the router, built from one table of protocol v1's endpoints
//! and their handlers ([`served_endpoints`] lists them).
//!
//! The modules read one way: `state` is what every route shares; [`auth`], [`problem`] and
//! `idempotent` are what routes have in common (callers and roles, problem documents,
//! idempotent POSTs); `fleet` (fleet, events, whoami, operators), `commands` (commands,
//! operations, audit) and `escalations` are the routes.

pub mod auth;
mod commands;
mod escalations;
mod fleet;
mod idempotent;
pub mod problem;
mod state;

use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, get, post};
use axum::{Router, middleware};

use protocol::command::Verb;
use protocol::endpoints::{self, Endpoint};

pub(crate) use state::{LabShared, RouterState};

/// The endpoints the lab serves: protocol v1's, read from the table the router is built from.
pub fn served_endpoints() -> Vec<Endpoint> {
    route_table()
        .into_iter()
        .map(|(endpoint, _)| endpoint)
        .collect()
}

/// The router of a lab: every endpoint of the table, and problem documents for every error
/// (unknown routes and wrong methods included).
pub(crate) fn router(state: RouterState) -> Router {
    route_table()
        .into_iter()
        .fold(Router::new(), |router, (endpoint, handler)| {
            router.route(endpoint.path, handler)
        })
        .fallback(problem::unknown_route)
        .layer(middleware::from_fn(problem::problem_json_errors))
        .with_state(state)
}

/// Every endpoint the lab serves, with its handler (and the largest body it reads).
fn route_table() -> Vec<(Endpoint, MethodRouter<RouterState>)> {
    let escalation_post = |handler: MethodRouter<RouterState>| {
        handler.layer(DefaultBodyLimit::max(escalations::BODY_LIMIT))
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
    ];
    table.extend(Verb::ALL.map(|verb| {
        let handler = commands::command(verb).layer(DefaultBodyLimit::max(commands::BODY_LIMIT));
        (verb.endpoint(), handler)
    }));
    table
}
