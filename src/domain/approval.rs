//! A held command seen again by the one asked to approve it: the command rebuilt from the
//! request as it was sent (its path and body), its preflight recomputed on the fleet as it is
//! now, and what changed since the requester confirmed.

use crate::domain::command::{Command, Verb};
use crate::domain::preflight::preflight;
use protocol::FleetSnapshot;
use protocol::approvals::ApprovalRequest;
use protocol::commands::{PreflightSeen, PreflightVerdict};

/// The preflight of a held command now, beside the one its requester saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Review {
    /// The preflight on the fleet as it is now (never forced: that is the requester's call).
    pub now: PreflightSeen,
    /// Findings now that the requester did not see.
    pub added: Vec<String>,
    /// Findings the requester saw that no longer hold.
    pub removed: Vec<String>,
    /// `(then, now)` when the verdict is not the one the requester saw.
    pub verdict_changed: Option<(PreflightVerdict, PreflightVerdict)>,
}

/// The command `request` holds, as its path and body say.
pub fn command_of(request: &ApprovalRequest) -> Result<Command, String> {
    let unreadable = || format!("{} is no command path this console knows", request.path);
    let (verb, id) = Verb::ALL
        .iter()
        .find_map(|&verb| Some((verb, target_in(verb, &request.path)?)))
        .ok_or_else(unreadable)?;
    let body = serde_json::to_vec(&request.body).map_err(|e| e.to_string())?;
    Command::from_request(verb, id, &body).map(|sent| sent.command)
}

/// The target id in `path` when it is `verb`'s endpoint for it (ids that need escaping in a
/// path are not read back).
fn target_in(verb: Verb, path: &str) -> Option<&str> {
    let endpoint = verb.endpoint();
    let (before, after) = endpoint.path.split_once("{id}")?;
    let id = path.strip_prefix(before)?.strip_suffix(after)?;
    (endpoint.path_for(id) == path).then_some(id)
}

/// The preflight of `request`'s command on `fleet` now, and what changed since its requester
/// confirmed it.
pub fn review(request: &ApprovalRequest, fleet: &FleetSnapshot) -> Result<Review, String> {
    let command = command_of(request)?;
    let now = preflight(&command, fleet).seen(false);
    let then = request.preflight.as_ref();
    let seen_then = |finding: &String| then.is_some_and(|t| t.findings.contains(finding));
    let added = (now.findings.iter())
        .filter(|f| !seen_then(f))
        .cloned()
        .collect();
    let removed = (then.iter().flat_map(|t| &t.findings))
        .filter(|f| !now.findings.contains(f))
        .cloned()
        .collect();
    let verdict_changed = then
        .map(|t| t.verdict)
        .filter(|&verdict| verdict != now.verdict)
        .map(|verdict| (verdict, now.verdict));
    Ok(Review {
        now,
        added,
        removed,
        verdict_changed,
    })
}

/// A preflight's verdict in a word.
pub fn verdict_word(verdict: PreflightVerdict) -> &'static str {
    match verdict {
        PreflightVerdict::Ok => "ok",
        PreflightVerdict::Warn => "warn",
        PreflightVerdict::Block => "block",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{approval_request, small_fleet};

    #[test]
    fn the_held_command_is_rebuilt_from_its_path_and_body() {
        let request = approval_request();
        assert_eq!(
            command_of(&request),
            Ok(Command::Drain {
                region: "us-east".into(),
                expires_in_s: None,
            })
        );
        let mut elsewhere = approval_request();
        elsewhere.path = "/v1/regions/us-east/explode".into();
        assert!(
            command_of(&elsewhere)
                .unwrap_err()
                .contains("no command path")
        );
    }

    #[test]
    fn the_review_says_what_the_fleet_now_adds_and_what_no_longer_holds() {
        let mut request = approval_request();
        let fleet = small_fleet();
        let now = preflight(&command_of(&request).unwrap(), &fleet).seen(false);
        // The requester saw one finding that still holds and one that no longer does.
        let kept = now
            .findings
            .first()
            .cloned()
            .expect("draining us-east finds something");
        let seen = request.preflight.as_mut().unwrap();
        seen.findings = vec![kept.clone(), "gone by now".into()];
        seen.verdict = PreflightVerdict::Warn;
        let review = review(&request, &fleet).unwrap();
        assert_eq!(review.removed, vec!["gone by now".to_string()]);
        assert!(!review.added.contains(&kept));
        assert_eq!(review.added.len(), now.findings.len() - 1);
        assert_eq!(
            review.verdict_changed,
            (now.verdict != PreflightVerdict::Warn)
                .then_some((PreflightVerdict::Warn, now.verdict))
        );
        assert!(!review.now.forced);
    }
}
