//! What can go wrong talking to a protocol-v1 source, in words an on-call engineer can act on.
//!
//! Every string held here may come from the server or the network stack; it is made one line
//! and bounded in length when the error is built, so callers can show it as is (the console
//! still sanitizes before drawing).

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use crate::domain::fleet::DownKind;
use protocol::Problem;
use protocol::sanitize;

/// Longest text kept from outside in one error field.
const MAX_FIELD_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    #[error("invalid source URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("no answer from {url} within {}", seconds(*.after))]
    Timeout { url: String, after: Duration },
    #[error("event stream from {url} silent for {}: treated as dropped", seconds(*.after))]
    StreamIdle { url: String, after: Duration },
    #[error("connection to {url} dropped: {reason}")]
    Dropped { url: String, reason: String },
    #[error("401: {detail} — run `switchboard login`")]
    Unauthorized { detail: String },
    #[error("403: {detail}")]
    Forbidden { detail: String },
    #[error("{}", http_message(*.status, .problem.as_deref()))]
    Http {
        status: u16,
        /// Boxed: a problem document is large and errors travel by value.
        problem: Option<Box<Problem>>,
    },
    #[error("malformed {what}: {reason}")]
    Malformed { what: String, reason: String },
    /// A command's `If-Match` was stale: the target changed since the snapshot it was based on.
    #[error("409: {detail} — review and retry")]
    Conflict {
        detail: String,
        /// The target as it is now, from the problem's `current` member.
        current: Option<serde_json::Value>,
    },
    /// A command went without `If-Match`.
    #[error("428: {detail}")]
    PreconditionRequired { detail: String },
    /// A command the server understood but will not take (e.g. an idempotency key reused
    /// with another body, or weights that leave nothing to route to).
    #[error("422: {detail}")]
    Unprocessable { detail: String },
}

impl ClientError {
    /// Whether only the user can fix this (credentials, a bad URL): retrying soon cannot help.
    pub fn is_persistent(&self) -> bool {
        matches!(
            self,
            ClientError::Unauthorized { .. }
                | ClientError::Forbidden { .. }
                | ClientError::InvalidUrl { .. }
        )
    }

    /// Whether the server asked to be asked again shortly (`503` while it starts up, e.g. a
    /// lab still building its backlog; `429`): a read may wait and repeat itself.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            ClientError::Http {
                status: 503 | 429,
                ..
            }
        )
    }

    /// Whether a command that failed this way may or may not have reached the server, so
    /// that sending it again with the same idempotency key is the way to learn its fate.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ClientError::Timeout { .. }
            | ClientError::Dropped { .. }
            | ClientError::Unreachable { .. } => true,
            // A proxy in front of the server could not get (or pass on) an answer.
            ClientError::Http { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// The class of failure, for a banner that names what to do about it.
    pub fn down_kind(&self) -> DownKind {
        match self {
            ClientError::InvalidUrl { .. } => DownKind::InvalidUrl,
            ClientError::Unreachable { .. } => DownKind::Unreachable,
            ClientError::Timeout { .. } => DownKind::TimedOut,
            ClientError::StreamIdle { .. } => DownKind::StreamSilent,
            ClientError::Dropped { .. } => DownKind::Dropped,
            ClientError::Unauthorized { .. } => DownKind::Unauthorized,
            ClientError::Forbidden { .. } => DownKind::Forbidden,
            ClientError::Malformed { .. } => DownKind::Malformed,
            ClientError::Http { status, .. } if *status >= 500 => {
                DownKind::ServerError { status: *status }
            }
            ClientError::Http { status, .. } => DownKind::Refused { status: *status },
            ClientError::Conflict { .. }
            | ClientError::PreconditionRequired { .. }
            | ClientError::Unprocessable { .. } => DownKind::Refused {
                status: self.status().unwrap_or_default(),
            },
        }
    }

    /// The HTTP status of an error answer; `None` when no answer came.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Unauthorized { .. } => Some(401),
            ClientError::Forbidden { .. } => Some(403),
            ClientError::Http { status, .. } => Some(*status),
            ClientError::Conflict { .. } => Some(409),
            ClientError::PreconditionRequired { .. } => Some(428),
            ClientError::Unprocessable { .. } => Some(422),
            ClientError::InvalidUrl { .. }
            | ClientError::Unreachable { .. }
            | ClientError::Timeout { .. }
            | ClientError::StreamIdle { .. }
            | ClientError::Dropped { .. }
            | ClientError::Malformed { .. } => None,
        }
    }

    /// Gives the answers that only commands get their specific meaning; `target` names the
    /// object the command changes (e.g. `us-east`, `credit-decision/credit-decision-us-west`).
    pub(crate) fn for_command(self, target: &str) -> Self {
        let ClientError::Http { status, problem } = self else {
            return self;
        };
        let words = problem
            .as_ref()
            .map(|p| p.detail.clone().unwrap_or_else(|| p.title.clone()));
        match status {
            409 => {
                let current = problem.and_then(|mut p| p.extensions.remove("current"));
                let revision = current
                    .as_ref()
                    .and_then(|c| c.get("control_revision"))
                    .and_then(serde_json::Value::as_u64);
                let target = bounded(target);
                let detail = match (revision, words) {
                    (Some(revision), _) => format!(
                        "{target} changed since you looked (now control revision {revision})"
                    ),
                    (None, Some(words)) => format!("{target} changed since you looked: {words}"),
                    (None, None) => format!("{target} changed since you looked"),
                };
                ClientError::Conflict { detail, current }
            }
            428 => ClientError::PreconditionRequired {
                detail: words.unwrap_or_else(|| {
                    "the server requires If-Match with the target's control revision".into()
                }),
            },
            422 => ClientError::Unprocessable {
                detail: words.unwrap_or_else(|| "the server will not take this command".into()),
            },
            _ => ClientError::Http { status, problem },
        }
    }

    /// A claim, release or resolve (or an approval decision) the server refused: 409 names
    /// the claim's holder, who resolved the task or decided the request (kept in `current` as
    /// the problem's extension members).
    pub(crate) fn for_escalation(self, id: &str) -> Self {
        let ClientError::Http {
            status: 409,
            problem,
        } = self
        else {
            return self.for_command(id);
        };
        let (detail, members) = match problem {
            Some(problem) => {
                let words = problem
                    .detail
                    .clone()
                    .unwrap_or_else(|| problem.title.clone());
                (
                    bounded(&words),
                    serde_json::Value::Object(problem.extensions),
                )
            }
            None => (
                format!("{} is held or closed by someone else", bounded(id)),
                serde_json::Value::Null,
            ),
        };
        ClientError::Conflict {
            detail,
            current: Some(members).filter(|m| !m.is_null()),
        }
    }

    pub(crate) fn malformed(what: &str, reason: impl std::fmt::Display) -> Self {
        ClientError::Malformed {
            what: bounded(what),
            reason: bounded(&reason.to_string()),
        }
    }

    pub(crate) fn dropped(url: &str, reason: &str) -> Self {
        ClientError::Dropped {
            url: bounded(url),
            reason: bounded(reason),
        }
    }

    /// Maps an error answer (status >= 400) and its body, preferring the problem document's words.
    pub(crate) fn from_status(status: u16, problem: Option<Problem>) -> Self {
        let problem = problem.map(|p| Box::new(bounded_problem(p)));
        let words = problem
            .as_ref()
            .map(|p| p.detail.clone().unwrap_or_else(|| p.title.clone()));
        match status {
            401 => ClientError::Unauthorized {
                detail: words.unwrap_or_else(|| "token rejected".into()),
            },
            403 => ClientError::Forbidden {
                detail: words.unwrap_or_else(|| "forbidden".into()),
            },
            _ => ClientError::Http { status, problem },
        }
    }

    /// Maps a transport failure of reqwest.
    pub(crate) fn from_transport(url: &str, error: &reqwest::Error, timeout: Duration) -> Self {
        let url = bounded(url);
        if error.is_timeout() {
            ClientError::Timeout {
                url,
                after: timeout,
            }
        } else if answered_not_http(error) {
            ClientError::Malformed {
                what: format!("answer from {url}"),
                reason: root_cause(error),
            }
        } else if error.is_body() || error.is_decode() {
            ClientError::Dropped {
                reason: root_cause(error),
                url,
            }
        } else {
            ClientError::Unreachable {
                reason: root_cause(error),
                url,
            }
        }
    }
}

/// Whether the peer was reached and answered with bytes that are not an HTTP response: a
/// different fault from a peer that cannot be reached, and named differently.
fn answered_not_http(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = cause {
        if current
            .downcast_ref::<hyper::Error>()
            .is_some_and(|e| e.is_parse() || e.is_parse_status())
        {
            return true;
        }
        cause = current.source();
    }
    false
}

fn http_message(status: u16, problem: Option<&Problem>) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    match (problem, reason) {
        (
            Some(Problem {
                title,
                detail: Some(detail),
                ..
            }),
            _,
        ) => format!("{status}: {title}: {detail}"),
        (
            Some(Problem {
                title,
                detail: None,
                ..
            }),
            _,
        ) => format!("{status}: {title}"),
        (None, Some(reason)) => format!("{status} {reason}"),
        (None, None) => format!("HTTP status {status}"),
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

fn bounded_problem(problem: Problem) -> Problem {
    Problem {
        problem_type: bounded(&problem.problem_type),
        title: bounded(&problem.title),
        status: problem.status,
        detail: problem.detail.as_deref().map(bounded),
        instance: problem.instance.as_deref().map(bounded),
        extensions: problem.extensions,
    }
}

/// One line, without control or escape sequences, at most [`MAX_FIELD_CHARS`] characters.
pub(crate) fn bounded(text: &str) -> String {
    let clean = sanitize::clean(text);
    let clean = clean.trim();
    match clean.char_indices().nth(MAX_FIELD_CHARS) {
        Some((cut, _)) => format!("{}…", &clean[..cut]),
        None => clean.to_string(),
    }
}

/// The innermost cause, which names what happened ("connection refused") rather than
/// what was being done ("error sending request for url ...").
pub(crate) fn root_cause(error: &(dyn StdError + 'static)) -> String {
    let mut innermost = error;
    while let Some(next) = innermost.source() {
        innermost = next;
    }
    if let Some(io_error) = innermost.downcast_ref::<io::Error>()
        && let Some(words) = io_kind_words(io_error.kind())
    {
        return words.to_string();
    }
    bounded(&innermost.to_string())
}

fn io_kind_words(kind: io::ErrorKind) -> Option<&'static str> {
    Some(match kind {
        io::ErrorKind::ConnectionRefused => "connection refused",
        io::ErrorKind::ConnectionReset => "connection reset",
        io::ErrorKind::ConnectionAborted => "connection aborted",
        io::ErrorKind::TimedOut => "timed out",
        io::ErrorKind::UnexpectedEof => "connection closed early",
        io::ErrorKind::AddrNotAvailable => "address not available",
        io::ErrorKind::HostUnreachable => "host unreachable",
        io::ErrorKind::NetworkUnreachable => "network unreachable",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_uses_problem_detail_and_points_to_login() {
        let problem = Problem::new(401, "Unauthorized", "token expired");
        let error = ClientError::from_status(401, Some(problem));
        assert_eq!(
            error.to_string(),
            "401: token expired — run `switchboard login`"
        );
        assert!(error.is_persistent());
    }

    #[test]
    fn unauthorized_without_body_says_token_rejected() {
        let error = ClientError::from_status(401, None);
        assert_eq!(
            error.to_string(),
            "401: token rejected — run `switchboard login`"
        );
    }

    #[test]
    fn forbidden_without_detail_falls_back_to_title() {
        let mut problem = Problem::new(403, "role viewer may not drain regions", "");
        problem.detail = None;
        let error = ClientError::from_status(403, Some(problem));
        assert_eq!(error.to_string(), "403: role viewer may not drain regions");
    }

    #[test]
    fn other_statuses_show_title_and_detail_or_canonical_reason() {
        let conflict =
            ClientError::from_status(409, Some(Problem::new(409, "Conflict", "resolved by bob")));
        assert_eq!(conflict.to_string(), "409: Conflict: resolved by bob");
        assert!(!conflict.is_persistent());
        assert_eq!(
            ClientError::from_status(502, None).to_string(),
            "502 Bad Gateway"
        );
        assert_eq!(
            ClientError::from_status(599, None).to_string(),
            "HTTP status 599"
        );
    }

    #[test]
    fn outside_text_becomes_one_bounded_line() {
        let hostile = format!("line one\nline two\u{1b}[31m red {}", "x".repeat(1000));
        let error = ClientError::malformed("fleet snapshot", hostile);
        let text = error.to_string();
        assert!(!text.contains('\n'));
        assert!(!text.contains('\u{1b}'));
        assert!(text.starts_with("malformed fleet snapshot: line one line two red x"));
        assert!(text.ends_with('…'));
        assert!(text.chars().count() < 260, "{} chars", text.chars().count());
    }

    #[test]
    fn durations_read_in_seconds() {
        let error = ClientError::Timeout {
            url: "http://127.0.0.1:1".into(),
            after: Duration::from_secs(10),
        };
        assert_eq!(
            error.to_string(),
            "no answer from http://127.0.0.1:1 within 10.0 s"
        );
    }
}
