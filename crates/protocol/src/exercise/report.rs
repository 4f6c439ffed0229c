//! The after-action report: derived from a recording by the tracker, written by the lab at
//! the end of a drill as JSON (this type) and Markdown, and re-rendered by
//! `switchboard exercise report RUN`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::record::Player;
use super::{Annotation, InjectMeasures, ObjectiveState, RiskyAction, Score};
use crate::commands::ApprovalState;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExerciseReport {
    pub run_id: String,
    pub scenario: String,
    pub description: String,
    pub seed: u64,
    pub created_at: DateTime<Utc>,
    /// Exercise seconds from T0 to the end (or to the last record while still running).
    pub duration_s: f64,
    /// Whether the drill has ended; a report asked for earlier is provisional.
    pub ended: bool,
    pub players: Vec<Player>,
    pub score: Score,
    pub objectives: Vec<ObjectiveState>,
    pub measures: Vec<InjectMeasures>,
    pub sla_breaches: u32,
    pub escalations_opened: u32,
    pub escalations_closed: u32,
    pub risky_actions: Vec<RiskyAction>,
    /// Commands the two-person rule held, in the order they were asked, with how long each
    /// waited for its decision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalWait>,
    /// Injects, actions, runbook steps, escalations closed, messages and notes, in time order.
    pub timeline: Vec<TimelineEntry>,
    /// Traffic share and error rate per region across the run.
    pub series: Vec<RegionSeries>,
    pub went_well: Vec<Annotation>,
    pub to_improve: Vec<Annotation>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum TimelineKind {
    Inject,
    Action,
    RunbookStep,
    Escalation,
    Message,
    Note,
    Control,
    /// A held command's request decided: approved, denied, withdrawn, expired or failed.
    Approval,
}

/// A command held for a second operator during the drill.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ApprovalWait {
    /// The request's id, e.g. `apr-000001`.
    pub id: String,
    /// The command, as the audit log writes it: `drain us-east`.
    pub command: String,
    pub requested_by: String,
    pub requested_at_s: f64,
    /// Why the policy held it.
    pub why_approval: String,
    /// Where it stands: pending until decided.
    pub state: ApprovalState,
    /// Who decided (`system` for an expiry), when, and the seconds it waited until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited_s: Option<f64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TimelineEntry {
    pub at_s: f64,
    pub kind: TimelineKind,
    /// Who: a player's name, `scenario` for scheduled injects, `system` for the lab itself.
    pub who: String,
    /// What happened, in one line, e.g. "drain us-east (accepted)".
    pub what: String,
    /// Why (the reason given), and what the preflight said when it was overridden.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
}

/// One region's traffic share and error rate, sampled at `t_s`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RegionSeries {
    pub region: String,
    pub t_s: Vec<f64>,
    pub share: Vec<f64>,
    pub error_rate: Vec<f64>,
}
