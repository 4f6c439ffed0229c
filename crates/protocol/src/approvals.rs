//! The two-person rule: a confirmed high-risk command waits for a second operator.
//!
//! Endpoints:
//! - A command the source's [`ApprovalPolicy`] names is answered `202` with an
//!   [`ApprovalRequest`] in state `pending` instead of being executed; the request keeps the
//!   command's body, its `Idempotency-Key` and `If-Match`, and the preflight its sender saw.
//! - `GET /v1/approvals` -> [`ApprovalList`] (pending first, then the most recent decided).
//! - `GET /v1/approvals/{id}` -> [`ApprovalRequest`].
//! - `POST /v1/approvals/{id}/approve` | `/deny` | `/withdraw` [`DecisionRequest`] with
//!   `Idempotency-Key` -> [`ApprovalRequest`]. Approve and deny are for another operator or an
//!   admin (`403` for the requester and for viewers); withdraw is the requester's. A decided,
//!   withdrawn or expired request is `409` with the request as it is now in `current`.
//!   On approval the command executes exactly once with its original key and `If-Match`: when
//!   the target changed meanwhile the approval answers `409` and the request ends `failed`.
//!
//! Every change of a request is an [`EVENT_APPROVAL`] event on `GET /v1/events`.

use serde::{Deserialize, Serialize};

use crate::command::{Command, action_covers, audit_actions};
use crate::commands::PreflightSeen;
// The requests' wire types live with the commands' (a command's answer carries one).
use crate::FleetSnapshot;
pub use crate::commands::{
    ApprovalList, ApprovalRequest, ApprovalState, Decision, DecisionRequest,
};

/// SSE event of `GET /v1/events`; data: [`ApprovalRequest`].
pub const EVENT_APPROVAL: &str = "approval";
/// How long a request waits for a decision when the policy does not say.
pub const DEFAULT_EXPIRES_AFTER_S: u64 = 15 * 60;
/// Longest a policy may let a request wait: a week.
pub const LONGEST_EXPIRY_S: u64 = 7 * 86_400;

/// What a second operator (approve, deny) or the requester (withdraw) does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecisionKind {
    Approve,
    Deny,
    Withdraw,
}

impl DecisionKind {
    pub const ALL: [DecisionKind; 3] = [
        DecisionKind::Approve,
        DecisionKind::Deny,
        DecisionKind::Withdraw,
    ];

    /// As a command line and the endpoint's last segment write it.
    pub fn word(self) -> &'static str {
        match self {
            DecisionKind::Approve => "approve",
            DecisionKind::Deny => "deny",
            DecisionKind::Withdraw => "withdraw",
        }
    }

    pub fn endpoint(self) -> crate::endpoints::Endpoint {
        match self {
            DecisionKind::Approve => crate::endpoints::APPROVE,
            DecisionKind::Deny => crate::endpoints::DENY,
            DecisionKind::Withdraw => crate::endpoints::WITHDRAW,
        }
    }
}

/// Which commands need a second approver. Everything else goes through at once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ApprovalPolicy {
    /// Verbs that always need approval, as the audit log writes them: `promote`, `drain`,
    /// `breaker force-open`, `degrade serve-cache on`. Fewer words cover more: `breaker` covers
    /// every breaker action, `degrade serve-cache` turning it on and off.
    #[serde(default)]
    pub verbs: Vec<String>,
    /// Services whose commands need approval (production ones).
    #[serde(default)]
    pub services: Vec<String>,
    /// Draining a region that carries more than this share of the traffic (0..1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_share_above: Option<f64>,
    /// Commands sent past a blocking preflight (FORCE / `--force`); on by default whenever
    /// a policy is given.
    #[serde(default = "yes")]
    pub forced: bool,
    /// Seconds a request waits for a decision before it expires.
    #[serde(default = "default_expiry")]
    pub expires_after_s: u64,
}

fn yes() -> bool {
    true
}

fn default_expiry() -> u64 {
    DEFAULT_EXPIRES_AFTER_S
}

impl ApprovalPolicy {
    /// Why `command` needs a second approver under this policy, or `None` when it does not.
    /// `fleet` gives regions' traffic shares; `preflight` is what the sender confirmed.
    pub fn requires(
        &self,
        command: &Command,
        fleet: &FleetSnapshot,
        preflight: Option<&PreflightSeen>,
    ) -> Option<String> {
        if self.forced && preflight.is_some_and(|p| p.forced) {
            return Some("it overrides a blocking preflight".into());
        }
        let verb = command.verb();
        if let Some(named) = self.verbs.iter().find(|named| action_covers(named, &verb)) {
            return Some(format!("every {named} needs a second approver"));
        }
        if let Command::Drain { region, .. } = command
            && let Some(limit) = self.drain_share_above
            && let Some(share) = fleet
                .regions
                .iter()
                .find(|r| r.id == *region)
                .map(|r| r.traffic_share)
            && share > limit
        {
            return Some(format!(
                "{region} carries {:.0}% of the traffic (above {:.0}%)",
                share * 100.0,
                limit * 100.0
            ));
        }
        let service = match command {
            Command::Promote { service, .. }
            | Command::Degrade { service, .. }
            | Command::Weights { service, .. } => Some(service),
            _ => None,
        };
        service
            .filter(|s| self.services.contains(s))
            .map(|s| format!("{s} is a production service"))
    }

    /// What is wrong with the policy, if anything, given the services the fleet has (`None`
    /// where the fleet is not known yet, as in a console's config: services go unchecked).
    pub fn problem(&self, services: Option<&[&str]>) -> Option<String> {
        let verbs = audit_actions();
        if let Some(unknown) = self
            .verbs
            .iter()
            .find(|named| !verbs.iter().any(|verb| action_covers(named, verb)))
        {
            return Some(format!(
                "{unknown:?} is no command (name one as the audit log writes it, e.g. \"drain\", \"breaker force-open\", \"degrade serve-cache on\")"
            ));
        }
        if let Some(services) = services
            && let Some(unknown) = self
                .services
                .iter()
                .find(|s| !services.contains(&s.as_str()))
        {
            return Some(format!("no service {unknown:?} in this fleet"));
        }
        if let Some(share) = self.drain_share_above
            && !(share > 0.0 && share < 1.0)
        {
            return Some(format!(
                "drain_share_above is a share of the traffic between 0 and 1, not {share}"
            ));
        }
        if !(1..=LONGEST_EXPIRY_S).contains(&self.expires_after_s) {
            return Some(format!(
                "expires_after_s must be from 1 to {LONGEST_EXPIRY_S} (a week), not {}",
                self.expires_after_s
            ));
        }
        None
    }
}

/// The preflight a command carries to a source under the context's two-person rule: marked
/// `needs_approval` with the policy's why (and its expiry) when the policy asks for a second
/// approver for `command` on `fleet`, the snapshot it was confirmed on, so that the source
/// holds it; as confirmed otherwise, and always without a policy.
pub fn under_policy(
    policy: Option<&ApprovalPolicy>,
    command: &Command,
    fleet: &FleetSnapshot,
    mut preflight: PreflightSeen,
) -> PreflightSeen {
    let Some(policy) = policy else {
        return preflight;
    };
    if let Some(why) = policy.requires(command, fleet, Some(&preflight)) {
        preflight.needs_approval = Some(why);
        preflight.approval_expires_after_s = Some(policy.expires_after_s);
    }
    preflight
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DegradedModeKind;
    use crate::commands::{BreakerAction, PreflightVerdict};

    fn fleet() -> FleetSnapshot {
        serde_json::from_str(include_str!(
            "../../../fixtures/payloads/fleet-default.json"
        ))
        .expect("the fixture fleet parses")
    }

    fn drain(region: &str) -> Command {
        Command::Drain {
            region: region.into(),
            expires_in_s: None,
        }
    }

    fn preflight(verdict: PreflightVerdict, forced: bool) -> PreflightSeen {
        PreflightSeen {
            verdict,
            findings: vec!["us-west would run at 130% of capacity".into()],
            forced,
            needs_approval: None,
            approval_expires_after_s: None,
        }
    }

    #[test]
    fn an_empty_policy_still_stops_a_forced_command_and_nothing_else() {
        let policy: ApprovalPolicy = policy_from_json("{}");
        let forced = preflight(PreflightVerdict::Block, true);
        assert_eq!(
            policy.requires(&drain("us-east"), &fleet(), Some(&forced)),
            Some("it overrides a blocking preflight".into())
        );
        let warned = preflight(PreflightVerdict::Warn, false);
        assert_eq!(
            policy.requires(&drain("us-east"), &fleet(), Some(&warned)),
            None
        );
        assert_eq!(policy.requires(&drain("us-east"), &fleet(), None), None);
        let lenient: ApprovalPolicy = policy_from_json(r#"{"forced": false}"#);
        assert_eq!(
            lenient.requires(&drain("us-east"), &fleet(), Some(&forced)),
            None
        );
    }

    #[test]
    fn a_verb_covers_its_actions_and_an_action_only_itself() {
        let open = Command::Breaker {
            provider: "openai@us-east".into(),
            action: BreakerAction::ForceOpen,
            expires_in_s: None,
        };
        let close = Command::Breaker {
            provider: "openai@us-east".into(),
            action: BreakerAction::Close,
            expires_in_s: None,
        };
        let every_breaker: ApprovalPolicy = policy_from_json(r#"{"verbs": ["breaker"]}"#);
        assert!(every_breaker.requires(&open, &fleet(), None).is_some());
        assert!(every_breaker.requires(&close, &fleet(), None).is_some());
        let force_open: ApprovalPolicy = policy_from_json(r#"{"verbs": ["breaker force-open"]}"#);
        assert_eq!(
            force_open.requires(&open, &fleet(), None),
            Some("every breaker force-open needs a second approver".into())
        );
        assert_eq!(force_open.requires(&close, &fleet(), None), None);
        // A verb is a whole word: "drain" does not cover "undrain".
        let drains: ApprovalPolicy = policy_from_json(r#"{"verbs": ["drain"]}"#);
        let undrain = Command::Undrain {
            region: "us-east".into(),
        };
        assert_eq!(drains.requires(&undrain, &fleet(), None), None);
    }

    #[test]
    fn a_drain_needs_approval_only_above_the_share() {
        let fleet = fleet();
        // The fixture: us-east carries 43.46%, eu-west 23.52%.
        let policy: ApprovalPolicy = policy_from_json(r#"{"drain_share_above": 0.3}"#);
        assert_eq!(
            policy.requires(&drain("us-east"), &fleet, None),
            Some("us-east carries 43% of the traffic (above 30%)".into())
        );
        assert_eq!(policy.requires(&drain("eu-west"), &fleet, None), None);
        assert_eq!(policy.requires(&drain("nowhere"), &fleet, None), None);
    }

    #[test]
    fn a_production_service_needs_approval_for_what_changes_it() {
        let policy: ApprovalPolicy = policy_from_json(r#"{"services": ["risk-scorer"]}"#);
        let promote = Command::Promote {
            service: "risk-scorer".into(),
            replica: "risk-scorer@us-west".into(),
        };
        assert_eq!(
            policy.requires(&promote, &fleet(), None),
            Some("risk-scorer is a production service".into())
        );
        let other = Command::Promote {
            service: "credit-decision".into(),
            replica: "credit-decision@us-west".into(),
        };
        assert_eq!(policy.requires(&other, &fleet(), None), None);
        assert_eq!(policy.expires_after_s, DEFAULT_EXPIRES_AFTER_S);
        assert!(policy.forced);
    }

    /// The console and the CLI mark a command so on the fleet it was confirmed on: the
    /// policy's why and expiry, the rest as confirmed; nothing without a policy or a reason.
    #[test]
    fn under_a_policy_a_command_it_names_carries_its_why_and_expiry() {
        let share: ApprovalPolicy = policy_from_json(r#"{"drain_share_above": 0.3}"#);
        let seen = preflight(PreflightVerdict::Warn, false);
        let marked = under_policy(Some(&share), &drain("us-east"), &fleet(), seen.clone());
        let why = marked.needs_approval.as_deref().unwrap();
        assert!(why.starts_with("us-east carries "), "{why}");
        assert_eq!(
            marked.approval_expires_after_s,
            Some(DEFAULT_EXPIRES_AFTER_S)
        );
        assert_eq!(marked.findings, seen.findings);
        let small = under_policy(Some(&share), &drain("ap-south"), &fleet(), seen.clone());
        assert_eq!(small, seen);
        assert_eq!(
            under_policy(None, &drain("us-east"), &fleet(), seen.clone()),
            seen
        );
        // A policy naming a standby's warming, as the audit log writes it, is a policy.
        let warming: ApprovalPolicy = policy_from_json(r#"{"verbs": ["standby warm"]}"#);
        assert_eq!(warming.problem(None), None);
    }

    #[test]
    fn a_policy_names_only_commands_and_services_that_exist() {
        let services = ["risk-scorer", "credit-decision"];
        let fine: ApprovalPolicy = policy_from_json(
            r#"{"verbs": ["promote", "breaker force-open", "degrade serve-cache"], "services": ["risk-scorer"], "drain_share_above": 0.4}"#,
        );
        assert_eq!(fine.problem(Some(&services[..])), None);
        let typo: ApprovalPolicy = policy_from_json(r#"{"verbs": ["drian"]}"#);
        assert!(
            typo.problem(Some(&services[..]))
                .unwrap()
                .starts_with("\"drian\" is no command")
        );
        let half_word: ApprovalPolicy = policy_from_json(r#"{"verbs": ["breaker force"]}"#);
        assert!(half_word.problem(Some(&services[..])).is_some());
        let service: ApprovalPolicy = policy_from_json(r#"{"services": ["risk-scoring"]}"#);
        assert_eq!(
            service.problem(Some(&services[..])),
            Some("no service \"risk-scoring\" in this fleet".into())
        );
        // A console's config does not know the fleet yet: its services go unchecked.
        assert_eq!(service.problem(None), None);
        for share in ["0", "1", "1.5", "-0.1"] {
            let policy: ApprovalPolicy =
                policy_from_json(&format!(r#"{{"drain_share_above": {share}}}"#));
            assert!(policy.problem(Some(&services[..])).is_some(), "{share}");
        }
        let forever: ApprovalPolicy = policy_from_json(r#"{"expires_after_s": 0}"#);
        assert!(
            forever
                .problem(Some(&services[..]))
                .unwrap()
                .contains("expires_after_s")
        );
    }

    #[test]
    fn a_degraded_mode_named_without_on_or_off_covers_both() {
        let policy: ApprovalPolicy = policy_from_json(r#"{"verbs": ["degrade serve-cache"]}"#);
        for enabled in [true, false] {
            let command = Command::Degrade {
                service: "risk-scorer".into(),
                mode: DegradedModeKind::ServeCache,
                enabled,
                expires_in_s: None,
            };
            assert!(policy.requires(&command, &fleet(), None).is_some());
        }
        let other = Command::Degrade {
            service: "risk-scorer".into(),
            mode: DegradedModeKind::FallbackModel,
            enabled: true,
            expires_in_s: None,
        };
        assert_eq!(policy.requires(&other, &fleet(), None), None);
    }

    /// A policy as a source serves it.
    fn policy_from_json(json: &str) -> ApprovalPolicy {
        serde_json::from_str(json).expect("a policy")
    }
}
