//! What can go wrong with a Temporal source, in words an on-call engineer can act on: the
//! transport and HTTP failures of any source, plus what only Temporal says (the workflow is
//! gone, no worker took the Update, the contract's validators refused it).

use std::time::Duration;

use super::wire::{RpcStatus, code};
use crate::domain::fleet::DownKind;
use crate::sources::ClientError;
use crate::sources::error::bounded;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemporalError {
    /// Transport, 401, 403, a malformed answer: as for any source.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The workflow does not exist (any more), or closed without this request taking effect.
    #[error("workflow {workflow_id} is gone: {detail}")]
    WorkflowGone { workflow_id: String, detail: String },
    /// No worker answered: the Update or Query is not known to have taken effect; sending the
    /// same Update again (same id) once a worker runs is safe.
    #[error(
        "no worker answered the {what} of workflow {workflow_id} within {:.1} s: is a worker \
         polling its task queue? Nothing is lost: retry with the same key",
        .after.as_secs_f64()
    )]
    WorkerDown {
        workflow_id: String,
        what: String,
        after: Duration,
    },
    /// The claim validator: someone else holds a live lease.
    #[error("claimed by {holder} until {until}")]
    Held { holder: String, until: String },
    /// The validators: the task is closed, by whom and how.
    #[error("already resolved by {by} ({kind}) at {at}")]
    Closed {
        by: String,
        kind: String,
        at: String,
    },
    /// The workflow refused the request itself (no note, unknown candidate, not escalated...).
    #[error("refused by the workflow: {detail}")]
    Refused { detail: String },
    /// Any other status of Temporal's API, with its gRPC code.
    #[error("Temporal answered {status} ({}): {message}", code_name(*.code))]
    Rpc {
        status: u16,
        code: i32,
        message: String,
    },
}

impl TemporalError {
    /// Whether a mutating request that failed this way may or may not have taken effect, so
    /// that sending it again with the same key is the way to learn its fate.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            TemporalError::Client(error) => error.outcome_unknown(),
            TemporalError::WorkerDown { .. } => true,
            TemporalError::Rpc { code, .. } => *code == code::UNAVAILABLE,
            _ => false,
        }
    }

    /// Why a source that failed this way is down, for the banner.
    pub fn down_kind(&self) -> DownKind {
        match self {
            TemporalError::Client(error) => error.down_kind(),
            TemporalError::WorkerDown { .. } => DownKind::TimedOut,
            TemporalError::WorkflowGone { .. } => DownKind::Refused { status: 404 },
            TemporalError::Rpc { status, .. } if *status >= 500 => {
                DownKind::ServerError { status: *status }
            }
            TemporalError::Rpc { status, .. } => DownKind::Refused { status: *status },
            TemporalError::Held { .. } | TemporalError::Closed { .. } => {
                DownKind::Refused { status: 409 }
            }
            TemporalError::Refused { .. } => DownKind::Refused { status: 400 },
        }
    }

    /// A failure only the user can fix (the API key, the URL, the CA file): retried slowly.
    pub fn is_persistent(&self) -> bool {
        matches!(self, TemporalError::Client(error) if error.is_persistent())
    }

    /// The HTTP status of an error answer; `None` when no answer came.
    pub fn status(&self) -> Option<u16> {
        match self {
            TemporalError::Client(error) => error.status(),
            TemporalError::Rpc { status, .. } => Some(*status),
            TemporalError::WorkflowGone { .. } => Some(404),
            TemporalError::WorkerDown { .. } => None,
            TemporalError::Held { .. } | TemporalError::Closed { .. } => Some(409),
            TemporalError::Refused { .. } => Some(400),
        }
    }

    /// Maps an error answer of the HTTP API. `workflow_id` and `what` ("claim", "query"...)
    /// name the request for the errors that need them.
    pub(crate) fn from_answer(
        status: u16,
        rpc: Option<RpcStatus>,
        workflow_id: &str,
        what: &str,
        waited: Duration,
    ) -> Self {
        let rpc = rpc.unwrap_or_default();
        let message = bounded(&rpc.message);
        let words = || match message.is_empty() {
            true => reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("no reason given")
                .to_string(),
            false => message.clone(),
        };
        match (status, rpc.code) {
            (401, _) | (_, code::UNAUTHENTICATED) => {
                ClientError::Unauthorized { detail: words() }.into()
            }
            (403, _) | (_, code::PERMISSION_DENIED) => {
                ClientError::Forbidden { detail: words() }.into()
            }
            (_, code::NOT_FOUND) | (404, _) => TemporalError::WorkflowGone {
                workflow_id: bounded(workflow_id),
                detail: words(),
            },
            (_, code::DEADLINE_EXCEEDED) | (504, _) => TemporalError::WorkerDown {
                workflow_id: bounded(workflow_id),
                what: what.to_string(),
                after: waited,
            },
            (_, code::FAILED_PRECONDITION) if message.contains("no poller") => {
                TemporalError::WorkerDown {
                    workflow_id: bounded(workflow_id),
                    what: what.to_string(),
                    after: waited,
                }
            }
            (_, code) => TemporalError::Rpc {
                status,
                code,
                message: words(),
            },
        }
    }
}

fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "unknown code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpc(code: i32, message: &str) -> Option<RpcStatus> {
        Some(RpcStatus {
            code,
            message: message.into(),
        })
    }

    const WAITED: Duration = Duration::from_secs(9);

    #[test]
    fn answers_are_classified_for_what_they_mean() {
        let forbidden = TemporalError::from_answer(
            403,
            rpc(7, "Request unauthorized: namespace agents"),
            "wf-1",
            "resolve",
            WAITED,
        );
        assert_eq!(
            forbidden.to_string(),
            "403: Request unauthorized: namespace agents"
        );
        let gone = TemporalError::from_answer(
            404,
            rpc(5, "workflow not found for ID: wf-1"),
            "wf-1",
            "claim",
            WAITED,
        );
        assert_eq!(
            gone.to_string(),
            "workflow wf-1 is gone: workflow not found for ID: wf-1"
        );
        let timeout = TemporalError::from_answer(
            504,
            rpc(4, "context deadline exceeded"),
            "wf-1",
            "resolve",
            WAITED,
        );
        assert!(timeout.outcome_unknown());
        assert!(
            timeout.to_string().starts_with(
                "no worker answered the resolve of workflow wf-1 within 9.0 s: is a worker polling"
            ),
            "{timeout}"
        );
        let no_poller = TemporalError::from_answer(
            400,
            rpc(
                9,
                "no poller seen for task queue recently, worker may be down",
            ),
            "wf-1",
            "query",
            WAITED,
        );
        assert!(matches!(no_poller, TemporalError::WorkerDown { .. }));
        let other = TemporalError::from_answer(400, rpc(3, "bad query"), "wf-1", "list", WAITED);
        assert_eq!(
            other.to_string(),
            "Temporal answered 400 (INVALID_ARGUMENT): bad query"
        );
        assert!(!other.outcome_unknown());
    }

    #[test]
    fn messages_from_the_server_are_one_clean_line() {
        let hostile = TemporalError::from_answer(
            400,
            rpc(3, "line\none\u{1b}[31m red"),
            "wf\u{1b}[2J",
            "claim",
            WAITED,
        );
        let text = hostile.to_string();
        assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text}");
        let gone = TemporalError::from_answer(404, None, "wf\u{1b}[2J", "claim", WAITED);
        assert_eq!(gone.to_string(), "workflow wf is gone: Not Found");
    }
}
