//! Runbook runs shared through protocol v1: who follows which runbook, each step's outcome
//! with who and when, and who is on which step now, so that two consoles see the same run.
//!
//! Endpoints (operator or admin for every `POST`; `403` for viewers):
//! - `GET /v1/runbook-runs` -> [`RunList`], newest first, with the stream revision to follow
//!   it from.
//! - `POST /v1/runbook-runs` [`StartRunRequest`] with `Idempotency-Key` -> `201`
//!   [`RunbookRun`].
//! - `GET /v1/runbook-runs/{id}` -> [`RunbookRun`].
//! - `POST /v1/runbook-runs/{id}/steps` [`RecordStepRequest`] with `Idempotency-Key` and
//!   `If-Match: <revision>` of the run -> [`RunbookRun`]; a stale revision is `409` whose
//!   problem holds the run as it is now in `current`, an ended run `409` too.
//! - `POST /v1/runbook-runs/{id}/presence` [`PresenceRequest`] -> [`RunbookRun`]: "I am on
//!   step N". It changes no `revision`: following a run never makes another console's step
//!   record stale.
//! - `POST /v1/runbook-runs/{id}/end` [`EndRunRequest`] with `Idempotency-Key` and
//!   `If-Match` -> [`RunbookRun`] finished or abandoned.
//!
//! Every change is a [`EVENT_RUN`] event on `GET /v1/events` (data: the whole run) that
//! belongs to a revision of the stream like the escalation events, so a resume with
//! `Last-Event-ID` replays it: apply them in stream order. Starts, step records and ends are
//! audit entries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// SSE event of `GET /v1/events`: a run started, changed or ended; data: [`RunbookRun`].
pub const EVENT_RUN: &str = "runbook.run";
/// Longest readings text, command result, note or reason a step record may carry.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Highest step number accepted.
pub const MAX_STEP: u32 = 1000;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Active,
    Finished,
    Abandoned,
}

impl RunState {
    pub fn word(self) -> &'static str {
        match self {
            RunState::Active => "active",
            RunState::Finished => "finished",
            RunState::Abandoned => "abandoned",
        }
    }
}

/// One run of one runbook, as every console sees it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RunbookRun {
    /// E.g. `run-000001`.
    pub id: String,
    pub runbook_id: String,
    pub runbook_version: u32,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub state: RunState,
    /// Rises with every step record and with the end; `If-Match` of those requests.
    pub revision: u64,
    /// Who ended the run, when and why; absent while it is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<RunEnd>,
    /// Every step record, oldest first.
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    /// Who is on which step, one entry per operator.
    #[serde(default)]
    pub participants: Vec<Participant>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RunEnd {
    pub by: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// What happened at a step, by whom and when.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StepRecord {
    /// The step's number in the runbook, from 1.
    pub step: u32,
    pub outcome: StepOutcome,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The outcome of a step, by kind.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum StepOutcome {
    /// A check as seen: its truth and the values read, e.g. `share(us-east) = 3.2% < 5%`.
    Check { truth: CheckTruth, readings: String },
    /// A console command sent through the normal confirmation: its line, its idempotency key
    /// and what the source answered.
    Action {
        command: String,
        idempotency_key: String,
        result: String,
    },
    /// A gate's condition held; the values read.
    GateMet { readings: String },
    /// A gate's timeout ran out first; the values read then.
    GateTimedOut { readings: String },
    /// The choice taken at a decision, as labelled in the runbook.
    Decision { choice: String },
    /// Passed over; the reason is required.
    Skipped { reason: String },
    /// A note on the step.
    Note { text: String },
}

impl StepOutcome {
    /// The kind as written on the wire, e.g. `gate-met`.
    pub fn kind(&self) -> &'static str {
        match self {
            StepOutcome::Check { .. } => "check",
            StepOutcome::Action { .. } => "action",
            StepOutcome::GateMet { .. } => "gate-met",
            StepOutcome::GateTimedOut { .. } => "gate-timed-out",
            StepOutcome::Decision { .. } => "decision",
            StepOutcome::Skipped { .. } => "skipped",
            StepOutcome::Note { .. } => "note",
        }
    }
}

/// A check's three-valued truth: unknown when a fact nobody reported decided it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum CheckTruth {
    True,
    False,
    Unknown,
}

impl CheckTruth {
    pub fn word(self) -> &'static str {
        match self {
            CheckTruth::True => "true",
            CheckTruth::False => "false",
            CheckTruth::Unknown => "unknown",
        }
    }
}

/// An operator following the run: the step they are on and when they said so last.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Participant {
    pub name: String,
    pub step: u32,
    pub last_seen: DateTime<Utc>,
}

/// `GET /v1/runbook-runs`
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RunList {
    /// The event stream's revision when the list was taken: open `/v1/events` with it as
    /// `Last-Event-ID` to hear of every later change.
    pub revision: u64,
    /// Newest first.
    pub runs: Vec<RunbookRun>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StartRunRequest {
    pub runbook_id: String,
    pub runbook_version: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RecordStepRequest {
    pub step: u32,
    pub outcome: StepOutcome,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PresenceRequest {
    pub step: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndRunRequest {
    /// `finished` or `abandoned`.
    pub state: RunState,
    /// Required to abandon a run.
    #[serde(default)]
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_tagged_by_kind_in_kebab_case() {
        let outcome = StepOutcome::GateTimedOut {
            readings: "share(us-east) = 9.0% < 5%".into(),
        };
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(json["kind"], "gate-timed-out");
        assert_eq!(json["kind"], outcome.kind());
        let back: StepOutcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, outcome);
        let misspelt = serde_json::json!({"kind": "skipped", "reason": "x", "why": "y"});
        assert!(serde_json::from_value::<StepOutcome>(misspelt).is_err());
    }
}
