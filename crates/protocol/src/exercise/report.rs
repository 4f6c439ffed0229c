//! The after-action report: derived from a recording by the tracker, written by the lab at
//! the end of a drill as JSON (this type) and Markdown, and re-rendered by
//! `switchboard exercise report RUN`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::record::Player;
use super::{Annotation, InjectMeasures, ObjectiveState, RiskyAction, Score};
use crate::commands::ApprovalState;
use crate::posture::{Criticality, Slo};

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
    /// Each service's error budget over the drill, from the posture its fleet samples carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<BudgetSpent>,
    /// What the fleet spent and what each action changed in it; `None` when nothing is priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<RunCost>,
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

/// What one service's error budget did over the drill.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BudgetSpent {
    pub service: String,
    pub criticality: Criticality,
    pub slo: Slo,
    /// Share of the window's budget left at the first and at the last sample that said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at_start: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at_end: Option<f64>,
    /// Share of the window's budget the drill spent: left at the start less left at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent: Option<f64>,
    /// The requests that failed as seconds of a full outage: the budget spent times the
    /// failures the SLO allows over its window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage_equivalent_s: Option<f64>,
    /// What that outage costs at the service's downtime cost per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downtime_cost: Option<f64>,
    /// The highest 1 h burn rate sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_burn_rate_1h: Option<f64>,
}

/// The fleet's spend over the drill, at the prices its samples carry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RunCost {
    /// Spend per hour at the first and the last priced sample, and the highest.
    pub start_per_hour: f64,
    pub end_per_hour: f64,
    pub peak_per_hour: f64,
    /// Money spent from the first priced sample to the last: each sample's spend per hour
    /// over the time to the next.
    pub total: f64,
    /// Of it, what the first sample's spend would not have cost over the same time (negative
    /// when the drill spent less).
    pub above_start: f64,
    /// Services left out of every figure: a price of theirs is unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unpriced: Vec<String>,
    /// Each accepted fleet command with the spend per hour before it and once it took effect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionCost>,
}

/// How long after a command its effect on spend is read at most: the lab's slowest readiness
/// step (a cold standby warming, 5 min) and a minute for the fleet to settle.
pub const ACTION_SETTLE_S: f64 = 360.0;

/// An accepted fleet command and the fleet's spend per hour around it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ActionCost {
    pub at_s: f64,
    pub actor: String,
    /// The command, as the audit log writes it, and its target.
    pub action: String,
    pub target: String,
    /// At the last priced sample before it; `None` before the first, or when another command
    /// or an inject changed the fleet after that sample (the difference would be theirs too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<SpendAt>,
    /// At the last priced sample after it and before the next change to the fleet (another
    /// command, an inject) or the end of its settling time; `None` when no sample came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<SpendAt>,
}

/// The fleet's spend per hour at one sample: replicas by role (what a command on standbys
/// changes exactly) and model calls by provider price and traffic (what a failover or a
/// degraded mode changes, with the traffic's own ups and downs).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct SpendAt {
    pub at_s: f64,
    pub replicas_per_hour: f64,
    pub paths_per_hour: f64,
}

impl SpendAt {
    pub fn per_hour(&self) -> f64 {
        self.replicas_per_hour + self.paths_per_hour
    }
}

impl ActionCost {
    /// What it changed: on replicas, on model calls, per hour, when both ends are known.
    pub fn delta(&self) -> Option<(f64, f64)> {
        let (before, after) = (self.before?, self.after?);
        Some((
            after.replicas_per_hour - before.replicas_per_hour,
            after.paths_per_hour - before.paths_per_hour,
        ))
    }
}
