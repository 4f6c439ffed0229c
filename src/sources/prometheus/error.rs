//! What can go wrong reading Prometheus or acting on Alertmanager, in classes an on-call
//! engineer acts on differently: the system cannot be reached (check the network), it refused
//! a request (read its words), a configured query is wrong (fix that query in the config), or
//! it answered something that is not its API (call its owner). Every text from outside is
//! one bounded line without control characters when the error is built.

use crate::domain::fleet::DownKind;
use crate::sources::error::{ClientError, bounded};

/// Which of the two systems an error comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    Prometheus,
    Alertmanager,
}

impl std::fmt::Display for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            System::Prometheus => "Prometheus",
            System::Alertmanager => "Alertmanager",
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromError {
    /// No usable answer came: unreachable, timed out, dropped, a bad URL, 401/403, or an
    /// answer that is not HTTP.
    #[error("{system}: {error}")]
    Transport { system: System, error: ClientError },
    /// The system answered with an error status and its own words.
    #[error("{system} refused ({status}): {message}")]
    Refused {
        system: System,
        status: u16,
        message: String,
    },
    /// A query named in the config is not valid PromQL, or cannot be evaluated.
    #[error("query {query} failed: {message} — fix it in the config")]
    BadQuery { query: String, message: String },
    /// The answer parsed as HTTP but not as the system's API.
    #[error("malformed answer from {system} to {what}: {reason}")]
    Malformed {
        system: System,
        what: String,
        reason: String,
    },
    /// The console will not send this request (a silence that would mute everything, an
    /// idempotency key it could not read back).
    #[error("not sent: {0}")]
    NotSendable(String),
}

impl PromError {
    pub(crate) fn transport(system: System, error: ClientError) -> Self {
        match error {
            ClientError::Malformed { what, reason } => PromError::Malformed {
                system,
                what,
                reason,
            },
            error => PromError::Transport { system, error },
        }
    }

    pub(crate) fn refused(system: System, status: u16, message: &str) -> Self {
        PromError::Refused {
            system,
            status,
            message: bounded(message),
        }
    }

    pub(crate) fn malformed(system: System, what: &str, reason: impl std::fmt::Display) -> Self {
        PromError::Malformed {
            system,
            what: bounded(what),
            reason: bounded(&reason.to_string()),
        }
    }

    /// A refusal of query `name` by Prometheus: a 400 (bad PromQL) or 422 (cannot be
    /// evaluated) is the query's fault and is named by it; others stay as they were.
    pub(crate) fn for_query(self, name: &str) -> Self {
        match self {
            PromError::Refused {
                status: 400 | 422,
                message,
                ..
            } => PromError::BadQuery {
                query: name.to_string(),
                message,
            },
            other => other,
        }
    }

    /// Whether the system itself is out of reach (every other query would fail the same
    /// way), as opposed to one query or one request going wrong.
    pub fn is_source_down(&self) -> bool {
        match self {
            PromError::Transport { .. } | PromError::Malformed { .. } => true,
            PromError::Refused { status, .. } => *status >= 500 || matches!(status, 401 | 403),
            PromError::BadQuery { .. } | PromError::NotSendable(_) => false,
        }
    }

    /// Whether a mutating request that failed this way may have reached the system, so its
    /// fate must be looked up before anything is done again.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            PromError::Transport { error, .. } => error.outcome_unknown(),
            PromError::Refused { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// The class of failure, for the banner of the source.
    pub fn down_kind(&self) -> DownKind {
        match self {
            PromError::Transport { error, .. } => error.down_kind(),
            PromError::Refused { status, .. } if *status >= 500 => {
                DownKind::ServerError { status: *status }
            }
            PromError::Refused { status: 401, .. } => DownKind::Unauthorized,
            PromError::Refused { status: 403, .. } => DownKind::Forbidden,
            PromError::Refused { status, .. } => DownKind::Refused { status: *status },
            PromError::BadQuery { .. } | PromError::NotSendable(_) => {
                DownKind::Refused { status: 400 }
            }
            PromError::Malformed { .. } => DownKind::Malformed,
        }
    }
}

/// A silence sent with the console's key is sent again while its fate is unknown.
impl crate::sources::delivery::SendFailure for PromError {
    fn outcome_unknown(&self) -> bool {
        PromError::outcome_unknown(self)
    }

    fn status(&self) -> Option<u16> {
        match self {
            PromError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_query_is_named_and_other_failures_are_not() {
        let bad = PromError::refused(System::Prometheus, 400, "parse error: unexpected \"}\"");
        let named = bad.for_query("provider.error_rate");
        assert_eq!(
            named.to_string(),
            "query provider.error_rate failed: parse error: unexpected \"}\" — fix it in the config"
        );
        assert!(!named.is_source_down());

        let overloaded = PromError::refused(System::Prometheus, 503, "query timed out");
        assert_eq!(overloaded.clone().for_query("x"), overloaded);
        assert!(overloaded.is_source_down());
        assert_eq!(
            overloaded.down_kind(),
            DownKind::ServerError { status: 503 }
        );
    }

    #[test]
    fn outside_words_become_one_bounded_line() {
        let hostile = format!("bad\n\u{1b}[31mthing {}", "x".repeat(500));
        let error = PromError::refused(System::Alertmanager, 400, &hostile);
        let text = error.to_string();
        assert!(text.starts_with("Alertmanager refused (400): bad thing x"));
        assert!(!text.contains('\n') && !text.contains('\u{1b}'));
        assert!(text.chars().count() < 260);
    }

    #[test]
    fn a_malformed_transport_answer_is_named_for_the_system() {
        let error = PromError::transport(
            System::Prometheus,
            ClientError::malformed("answer", "not HTTP"),
        );
        assert_eq!(error.down_kind(), DownKind::Malformed);
        assert_eq!(
            error.to_string(),
            "malformed answer from Prometheus to answer: not HTTP"
        );
    }
}
