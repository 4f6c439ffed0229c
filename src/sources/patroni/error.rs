//! What can go wrong reading a Patroni cluster or promoting one of its members, in classes an
//! on-call engineer acts on differently. Every text from outside is one bounded line without
//! control characters when the error is built.

use crate::domain::fleet::DownKind;
use crate::sources::error::{ClientError, bounded};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatroniError {
    /// No member's REST API gave a usable answer; the first member's failure is kept, the
    /// count says how many were tried.
    #[error("no Patroni member answered ({tried} tried): {first}")]
    Unreachable { tried: usize, first: ClientError },
    /// Patroni refused the request in its own words (412 for a precondition, 503 when the
    /// switchover could not be done).
    #[error("Patroni refused ({status}): {message}")]
    Refused { status: u16, message: String },
    /// The leader the promotion was planned against no longer leads: someone switched over,
    /// or Patroni failed over, since the cluster was read. Nothing was changed.
    #[error(
        "{expected} is no longer the leader ({now}): nothing was changed; read the cluster again"
    )]
    LeaderChanged { expected: String, now: String },
    /// The answer parsed as HTTP but not as Patroni's API.
    #[error("malformed answer from Patroni to {what}: {reason}")]
    Malformed { what: String, reason: String },
    /// The console will not send this promotion (the plan's refusal says why).
    #[error("not sent: {0}")]
    NotSendable(String),
    /// Patroni accepted the promotion, but the candidate did not run as leader in time.
    #[error("{candidate} was not running as leader {waited_s} s after the switchover: {seen}")]
    NotFollowed {
        candidate: String,
        waited_s: u64,
        seen: String,
    },
}

impl PatroniError {
    pub(crate) fn refused(status: u16, message: &str) -> Self {
        PatroniError::Refused {
            status,
            message: bounded(message),
        }
    }

    pub(crate) fn malformed(what: &str, reason: impl std::fmt::Display) -> Self {
        PatroniError::Malformed {
            what: bounded(what),
            reason: bounded(&reason.to_string()),
        }
    }

    /// Whether a promotion that failed this way may have reached Patroni, so the cluster must
    /// be read back before anything is sent again.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            PatroniError::Unreachable { first, .. } => first.outcome_unknown(),
            PatroniError::Refused { status, .. } => matches!(status, 502..=504),
            PatroniError::NotFollowed { .. } => true,
            _ => false,
        }
    }

    /// The class of failure, for the banner of the source.
    pub fn down_kind(&self) -> DownKind {
        match self {
            PatroniError::Unreachable { first, .. } => first.down_kind(),
            PatroniError::Refused { status: 401, .. } => DownKind::Unauthorized,
            PatroniError::Refused { status: 403, .. } => DownKind::Forbidden,
            PatroniError::Refused { status, .. } if *status >= 500 => {
                DownKind::ServerError { status: *status }
            }
            PatroniError::Refused { status, .. } => DownKind::Refused { status: *status },
            PatroniError::Malformed { .. } => DownKind::Malformed,
            PatroniError::LeaderChanged { .. }
            | PatroniError::NotSendable(_)
            | PatroniError::NotFollowed { .. } => DownKind::Refused { status: 412 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_words_become_one_bounded_line() {
        let hostile = format!("bad\n\u{1b}[31mthing {}", "x".repeat(500));
        let text = PatroniError::refused(503, &hostile).to_string();
        assert!(
            text.starts_with("Patroni refused (503): bad thing x"),
            "{text}"
        );
        assert!(!text.contains('\n') && !text.contains('\u{1b}'));
        assert!(text.chars().count() < 260);
    }

    #[test]
    fn only_an_unanswered_promotion_is_of_unknown_outcome() {
        assert!(PatroniError::refused(504, "gateway timeout").outcome_unknown());
        assert!(!PatroniError::refused(412, "leader name does not match").outcome_unknown());
        let changed = PatroniError::LeaderChanged {
            expected: "node1".into(),
            now: "node2 leads".into(),
        };
        assert!(!changed.outcome_unknown());
        assert_eq!(
            changed.to_string(),
            "node1 is no longer the leader (node2 leads): nothing was changed; read the cluster again"
        );
    }
}
