//! The lineage of an escalation: what was tried before a person was asked (attempts,
//! candidates, validators, checkpoints), and the history of its claims.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An output of one attempt, offered for approval.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Candidate {
    pub id: String,
    /// The attempt of the lineage that produced it.
    pub attempt: String,
    pub model: String,
    pub provider: String,
    pub region: String,
    pub output: String,
    /// The model's or a scorer's confidence (0..1).
    pub confidence: f64,
    #[serde(default)]
    pub verdicts: Vec<ValidatorVerdict>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ValidatorVerdict {
    /// e.g. `schema:credit-decision-v3`, `policy:auto-approval-limit`.
    pub validator: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The last durable point of the workflow before the escalated step.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub id: String,
    /// The last step completed.
    pub step: String,
    pub at: DateTime<Utc>,
    /// What the workflow holds at that point, in one line.
    pub state: String,
    /// Temporal history event id of the checkpoint.
    pub event_id: u64,
}

/// The workflow from its start to the escalation: steps, each with its attempts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Lineage {
    pub workflow_id: String,
    pub run_id: String,
    pub workflow_type: String,
    pub started_at: DateTime<Utc>,
    pub steps: Vec<LineageStep>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    Completed,
    /// The step that asked for a person.
    Escalated,
}

/// One workflow step (a Temporal activity type) and every attempt at it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LineageStep {
    pub name: String,
    pub outcome: StepOutcome,
    pub attempts: Vec<Attempt>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptOutcome {
    /// Answered; see `confidence` and `verdicts` for whether the answer was good enough.
    Ok,
    Error,
    /// Answered, but a validator rejected the output.
    Rejected,
    Timeout,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptErrorKind {
    /// 429 Too Many Requests.
    RateLimited,
    /// 500-class answer.
    ServerError,
    /// No answer in time (or the endpoint was unreachable).
    Timeout,
    /// The prompt did not fit the model's context window.
    ContextOverflow,
    /// The answer could not be parsed as the step's output.
    MalformedOutput,
}

impl AttemptErrorKind {
    pub fn word(self) -> &'static str {
        match self {
            AttemptErrorKind::RateLimited => "rate-limited",
            AttemptErrorKind::ServerError => "server-error",
            AttemptErrorKind::Timeout => "timeout",
            AttemptErrorKind::ContextOverflow => "context-overflow",
            AttemptErrorKind::MalformedOutput => "malformed-output",
        }
    }
}

/// Why an attempt failed; a Temporal activity failure.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AttemptError {
    pub kind: AttemptErrorKind,
    /// HTTP status from the provider, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub message: String,
    /// Retrying the same path cannot help (Temporal's `non_retryable`).
    #[serde(default)]
    pub non_retryable: bool,
}

/// One activity attempt. `parent` is the attempt it retried or failed over from, which makes
/// the attempts of a step a tree (hedged calls share a parent).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Attempt {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Temporal's attempt counter of this activity (1 for the first try).
    pub number: u32,
    /// Absent for steps that call no model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub outcome: AttemptOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AttemptError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<ValidatorVerdict>,
    /// Why this attempt retried the same path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_reason: Option<String>,
    /// Why this attempt moved to another model, provider or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_reason: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum HistoryAction {
    Claimed,
    Renewed,
    Released,
    LeaseExpired,
    HandedOff,
    Resolved,
    Aborted,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// Operator name, or `system` for lease expiries.
    pub actor: String,
    pub action: HistoryAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For a hand-off: the operator it went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
}
