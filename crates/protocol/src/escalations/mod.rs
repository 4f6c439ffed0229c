//! Wire types of protocol v1's escalation queue: AI tasks that exhausted every automated path
//! and wait for a person, with the full lineage of what was tried.
//!
//! Endpoints (a viewer may read; claiming, releasing and resolving need operator or admin):
//! - `GET /v1/escalations?state=&priority=&reason=&service=&assignee=&limit=&cursor=` ->
//!   [`EscalationPage`], soonest SLA deadline first. `state`, `priority` and `reason` take
//!   comma-separated lists; `assignee=none` matches unassigned tasks; `limit` is 1..=1000
//!   (default 100); `cursor` is the previous page's `next_cursor`.
//! - `GET /v1/escalations/{id}` -> [`Escalation`]
//! - `POST /v1/escalations/{id}/claim` [`ClaimRequest`] (body optional) -> [`EscalationSummary`]
//!   holding a [`Lease`]. The holder claiming again renews the lease. Another operator's
//!   claim is `409` with the problem members `holder` and `lease_expires_at`; a claim of a
//!   closed task is `409` with `resolved_by`, `resolution` and `resolved_at`.
//! - `POST /v1/escalations/{id}/release` [`ReleaseRequest`] (body optional) ->
//!   [`EscalationSummary`]; only the holder may release (`409` naming the holder otherwise).
//! - `POST /v1/escalations/{id}/resolve` [`ResolveRequest`] with `Idempotency-Key` ->
//!   [`ResolveOutcome`]. A replay with the same key answers the first outcome again, byte for
//!   byte, and acts once (header `Idempotent-Replayed: true`); the same key with another body
//!   is `422`. A task already resolved under another key is `409` with `resolved_by`,
//!   `resolution` and `resolved_at`; a task claimed by someone else is `409` with `holder`.
//!   Only accepted resolutions are remembered under their key: a refused one may be retried.
//!
//! Events on `GET /v1/events` (data: [`EscalationSummary`], `id:` the stream revision, so a
//! `Last-Event-ID` resume replays them like fleet deltas): [`EVENT_NEW`], [`EVENT_CLAIMED`]
//! (also on renewal), [`EVENT_RELEASED`] (release, lease expiry, hand-off) and
//! [`EVENT_RESOLVED`] (every resolution but hand-off, abort included).
//!
//! Temporal: an escalation is a workflow execution (`workflow_id`, `run_id`) blocked on an
//! Update handler; `idempotency_key` is the key of its side-effecting step; the lineage is
//! read from the workflow's event history (each [`Attempt`] is one activity attempt: its
//! scheduled, started and completed/failed/timed-out events), the context from a Query; a
//! resolution is sent as an Update whose update id is the resolution's `Idempotency-Key`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// SSE event: a task escalated (or re-escalated after a retry failed).
pub const EVENT_NEW: &str = "escalation.new";
/// SSE event: a task was claimed, or its lease renewed.
pub const EVENT_CLAIMED: &str = "escalation.claimed";
/// SSE event: a claim ended without a resolution (release, lease expiry, hand-off).
pub const EVENT_RELEASED: &str = "escalation.released";
/// SSE event: a task was resolved or aborted.
pub const EVENT_RESOLVED: &str = "escalation.resolved";

/// Header set on a resolve answer that replays an earlier one.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";

/// Lease lengths a claim may ask for, in seconds (on the simulated clock in a lab).
pub const DEFAULT_LEASE_S: u64 = 300;
pub const MIN_LEASE_S: u64 = 30;
pub const MAX_LEASE_S: u64 = 1800;
/// Page sizes of `GET /v1/escalations`.
pub const DEFAULT_PAGE_LIMIT: usize = 100;
pub const MAX_PAGE_LIMIT: usize = 1000;
/// Longest note or submitted output accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 4096;
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// How urgent a task is; P1 is the most urgent.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::P1, Priority::P2, Priority::P3, Priority::P4];

    /// The wire word, also accepted by the `priority` filter.
    pub fn word(self) -> &'static str {
        match self {
            Priority::P1 => "p1",
            Priority::P2 => "p2",
            Priority::P3 => "p3",
            Priority::P4 => "p4",
        }
    }

    /// The next more urgent priority (P1 stays P1).
    pub fn raised(self) -> Priority {
        match self {
            Priority::P1 | Priority::P2 => Priority::P1,
            Priority::P3 => Priority::P2,
            Priority::P4 => Priority::P3,
        }
    }
}

/// Why the workflow stopped and asked for a person.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum EscalationReason {
    /// Every model, provider and region the step may use failed.
    PathsExhausted,
    /// The output's confidence is under the step's threshold.
    LowConfidence,
    /// A validator rejected every output.
    ValidatorFailed,
    /// A policy requires a person to decide, whatever the models say.
    Policy,
}

impl EscalationReason {
    pub const ALL: [EscalationReason; 4] = [
        EscalationReason::PathsExhausted,
        EscalationReason::LowConfidence,
        EscalationReason::ValidatorFailed,
        EscalationReason::Policy,
    ];

    pub fn word(self) -> &'static str {
        match self {
            EscalationReason::PathsExhausted => "paths-exhausted",
            EscalationReason::LowConfidence => "low-confidence",
            EscalationReason::ValidatorFailed => "validator-failed",
            EscalationReason::Policy => "policy",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum EscalationState {
    /// Waiting for someone to claim it.
    Pending,
    /// Someone holds a lease on it (see [`EscalationSummary::lease`]).
    Claimed,
    /// Closed by a resolution (see [`EscalationSummary::resolution`]).
    Resolved,
    /// Closed by an abort: the workflow was cancelled.
    Aborted,
}

impl EscalationState {
    pub const ALL: [EscalationState; 4] = [
        EscalationState::Pending,
        EscalationState::Claimed,
        EscalationState::Resolved,
        EscalationState::Aborted,
    ];

    pub fn word(self) -> &'static str {
        match self {
            EscalationState::Pending => "pending",
            EscalationState::Claimed => "claimed",
            EscalationState::Resolved => "resolved",
            EscalationState::Aborted => "aborted",
        }
    }

    /// Resolved or aborted: nothing more can happen to it.
    pub fn is_closed(self) -> bool {
        matches!(self, EscalationState::Resolved | EscalationState::Aborted)
    }
}

/// A claim: who holds the task and until when. Renewable by the holder.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Lease {
    pub holder: String,
    pub claimed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Who closed a task, how and when.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ResolutionBrief {
    pub by: String,
    pub kind: ResolutionKind,
    pub at: DateTime<Utc>,
}

/// One row of the inbox; also the data of every escalation event.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EscalationSummary {
    pub id: String,
    /// Temporal workflow id of the escalated execution.
    pub workflow_id: String,
    /// Temporal run id of the execution.
    pub run_id: String,
    /// Temporal workflow type, e.g. `CreditApplication`.
    pub workflow_type: String,
    /// The workflow step (activity type) that escalated, e.g. `decide-credit-line`.
    pub step: String,
    /// The service (fleet object) that runs the step.
    pub service: String,
    pub priority: Priority,
    /// When the task breaches its SLA; the list is sorted by it.
    #[serde(with = "crate::wire_time")]
    pub sla_deadline: DateTime<Utc>,
    pub reason: EscalationReason,
    /// One line on why, e.g. "all 3 paths failed: 503 on openai@us-east, ...".
    pub reason_text: String,
    /// One line of the task's input.
    pub input_preview: String,
    pub state: EscalationState,
    /// Present while claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Present once resolved or aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<ResolutionBrief>,
    /// The operator it was handed to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(with = "crate::wire_time")]
    pub created_at: DateTime<Utc>,
    /// Automated attempts made before the escalation (all steps).
    pub attempts: u32,
    /// Rises with every change of this escalation; a client keeps the highest it has seen.
    pub revision: u64,
}

/// `GET /v1/escalations`
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EscalationPage {
    pub items: Vec<EscalationSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// How many escalations match the filters, over all pages.
    pub total: u64,
    /// The event stream's revision when the page was taken: open `/v1/events` with it as
    /// `Last-Event-ID` to hear of every later change.
    pub revision: u64,
}

/// `GET /v1/escalations/{id}`: everything a person needs to decide.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Escalation {
    pub summary: EscalationSummary,
    /// The task's input, as the workflow's context Query returns it.
    pub context: serde_json::Value,
    /// Outputs the models produced, best first; empty when every attempt failed.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// Confidence under which the step asks for a person (0..1).
    pub confidence_threshold: f64,
    /// Where the workflow resumes after a resolution.
    pub checkpoint: Checkpoint,
    /// Idempotency key of the escalated step's side effect: a resumed workflow acts once.
    pub idempotency_key: String,
    pub lineage: Lineage,
    /// The escalation that this one follows after an operator's retry failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// What people did with it so far, oldest first.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// The resolution applied, with its note, once closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<AppliedResolution>,
}

mod lineage;
mod resolution;

pub use lineage::*;
pub use resolution::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_are_tagged_by_kind_in_kebab_case() {
        let retry = Resolution::Retry {
            model: None,
            provider: Some("anthropic@us-west".into()),
            region: None,
        };
        assert_eq!(
            serde_json::to_value(&retry).unwrap(),
            serde_json::json!({"kind": "retry", "provider": "anthropic@us-west"})
        );
        let abort: Resolution = serde_json::from_str(r#"{"kind":"abort"}"#).unwrap();
        assert_eq!(abort.kind(), ResolutionKind::Abort);
        assert_eq!(
            serde_json::to_string(&EscalationReason::PathsExhausted).unwrap(),
            format!("\"{}\"", EscalationReason::PathsExhausted.word())
        );
        for priority in Priority::ALL {
            assert_eq!(
                serde_json::to_string(&priority).unwrap(),
                format!("\"{}\"", priority.word())
            );
        }
        for state in EscalationState::ALL {
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.word())
            );
        }
    }
}
