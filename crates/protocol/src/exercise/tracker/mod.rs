//! The tracker folds the records of a run into the live [`ExerciseState`] and the
//! [`ExerciseReport`]. The lab feeds it as things happen; `switchboard exercise report` and a
//! replay feed it the recording: the same records always give the same state and report (no
//! wall clock, no hash-map order), so every reader of a run agrees with the lab's live score.
//!
//! Rules (docs/scenarios.md tells players the same):
//! - An objective is watched from its `after` inject's firing (T0 without one); its deadline
//!   is that instant plus `within`. Met exactly at the deadline counts as met.
//! - Must-happen objectives (traffic-off, action, healthy) are met the first time they are
//!   true, missed when the clock passes their deadline, or at the end without one.
//! - Must-hold objectives (no-overload, escalations-within-sla, no-force) are missed at the
//!   first break within their window, met when the clock passes their deadline, or at the end.
//! - An escalation breaches its SLA when the clock passes its deadline while it is open.

use super::record::{ObjectiveCondition, ObjectiveSpec, Recording, RunHeader, RunRecord};
use std::collections::BTreeSet;

use super::report::{
    ActionCost, ApprovalWait, ExerciseReport, RegionSeries, SpendAt, TimelineEntry,
};
use super::{
    Annotation, ExerciseMessage, ExercisePhase, ExerciseRole, ExerciseState, InjectMeasures,
    InjectState, ObjectiveState, ObjectiveStatus, RiskyAction, Score, Tone, clock_label,
};
use crate::escalations::Priority;
use crate::sanitize;

/// Audit actions of the drill's own controls start with this word; the timeline shows them
/// from the control records instead.
const EXERCISE_ACTION: &str = "exercise";
/// Audit actions of decisions on held commands start with this word; the timeline shows them
/// from the approval records, with how long each waited.
const APPROVAL_ACTION: &str = "approval";
/// Who the audit log names for expiries and automation: not a player.
const SYSTEM_ACTOR: &str = "system";
/// User-facing impact is over when every region's error rate is below this...
const RECOVERED_ERROR_RATE: f64 = 0.02;
/// Kind word of a message inject: talk, not a fault, so it has no detect/mitigate/recover.
const MESSAGE_KIND: &str = "message";

#[cfg(test)]
mod approval_tests;
// Its priced drill also scripts the report renderer's test of the cost sections.
mod approvals;
#[cfg(test)]
pub(crate) mod cost_tests;
mod costs;
mod events;
#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod hold_tests;
// The record builders of its tests also script the report renderer's tests.
#[cfg(test)]
pub(crate) mod tests;

pub use super::record::read_recording;

/// An objective with what is known about it so far.
#[derive(Clone, Debug)]
struct Tracked {
    spec: ObjectiveSpec,
    /// When watching began: the `after` inject's firing, or T0; `None` until it fired.
    from_s: Option<f64>,
    status: ObjectiveStatus,
}

impl Tracked {
    fn deadline_s(&self) -> Option<f64> {
        Some(self.from_s? + self.spec.within_s?)
    }

    /// Watching, undecided, and `t` within its window.
    fn open_at(&self, t: f64) -> bool {
        self.status == ObjectiveStatus::Pending
            && self.from_s.is_some_and(|from| t >= from)
            && self.deadline_s().is_none_or(|d| t <= d)
    }
}

#[derive(Clone, Debug)]
struct Escalation {
    id: String,
    priority: Priority,
    opened_s: f64,
    sla_deadline_s: f64,
    closed: bool,
    breached: bool,
}

/// See the module's documentation.
#[derive(Clone, Debug)]
pub struct Tracker {
    header: RunHeader,
    clock_s: f64,
    phase: ExercisePhase,
    speed: f64,
    ended_s: Option<f64>,
    /// Fired injects in firing order.
    fired: Vec<InjectState>,
    /// Who added the next custom inject (from its control record).
    custom_by: Option<String>,
    messages: Vec<ExerciseMessage>,
    notes: Vec<Annotation>,
    objectives: Vec<Tracked>,
    measures: Vec<InjectMeasures>,
    escalations: Vec<Escalation>,
    escalations_closed: u32,
    sla_breaches: u32,
    risky: Vec<RiskyAction>,
    approvals: Vec<ApprovalWait>,
    timeline: Vec<TimelineEntry>,
    series: Vec<RegionSeries>,
    /// Regions above capacity at the latest sample, with the first sample of the stretch.
    overloaded_since: Vec<(String, f64)>,
    budgets: Vec<costs::BudgetWatch>,
    /// The fleet's spend at each sample that priced something.
    spend: Vec<SpendAt>,
    /// Services some sample could not price.
    unpriced: BTreeSet<String>,
    action_costs: Vec<ActionCost>,
    /// Indexes into `action_costs` whose effect is still read from the samples.
    settling: Vec<usize>,
    /// When a command or an inject last changed the fleet.
    changed_at_s: Option<f64>,
}

impl Tracker {
    /// A run at T0, ready, with objectives not anchored to an inject already watched.
    pub fn new(header: RunHeader) -> Tracker {
        let objectives = header
            .objectives
            .iter()
            .map(|spec| Tracked {
                spec: spec.clone(),
                from_s: spec.after.is_none().then_some(0.0),
                status: ObjectiveStatus::Pending,
            })
            .collect();
        Tracker {
            speed: header.speed,
            header,
            clock_s: 0.0,
            phase: ExercisePhase::Ready,
            ended_s: None,
            fired: Vec::new(),
            custom_by: None,
            messages: Vec::new(),
            notes: Vec::new(),
            objectives,
            measures: Vec::new(),
            escalations: Vec::new(),
            escalations_closed: 0,
            sla_breaches: 0,
            risky: Vec::new(),
            approvals: Vec::new(),
            timeline: Vec::new(),
            series: Vec::new(),
            overloaded_since: Vec::new(),
            budgets: Vec::new(),
            spend: Vec::new(),
            unpriced: BTreeSet::new(),
            action_costs: Vec::new(),
            settling: Vec::new(),
            changed_at_s: None,
        }
    }

    /// A tracker fed records, the header first; `None` when they do not start with it.
    pub fn from_records(records: &[RunRecord]) -> Option<Tracker> {
        let (RunRecord::Header(header), rest) = records.split_first()? else {
            return None;
        };
        Some(Tracker::fed(header, rest))
    }

    /// A tracker fed a whole recording read by [`read_recording`].
    pub fn from_recording(recording: &Recording) -> Tracker {
        Tracker::fed(&recording.header, &recording.records)
    }

    fn fed(header: &RunHeader, records: &[RunRecord]) -> Tracker {
        let mut tracker = Tracker::new(header.clone());
        for record in records {
            tracker.feed(record);
        }
        tracker
    }

    pub fn header(&self) -> &RunHeader {
        &self.header
    }

    pub fn clock_s(&self) -> f64 {
        self.clock_s
    }

    pub fn phase(&self) -> ExercisePhase {
        self.phase
    }

    /// Takes in one record of the run (a second header is ignored). After the end only
    /// facilitator notes and messages still count; nothing is scored any more.
    pub fn feed(&mut self, record: &RunRecord) {
        let t = record.t_s();
        if self.ended_s.is_some() {
            match record {
                RunRecord::Annotation { annotation, .. } => self.annotate(annotation),
                RunRecord::Message { message, .. } => self.message(message),
                _ => {}
            }
            return;
        }
        self.advance_to(t);
        match record {
            RunRecord::Header(_) => {}
            RunRecord::Fleet { snapshot, .. } => self.sample(t, snapshot),
            RunRecord::Inject { inject, .. } => self.fire(t, inject),
            RunRecord::Audit { entry, .. } => self.audit(t, entry),
            RunRecord::EscalationOpened {
                id,
                priority,
                sla_deadline_s,
                ..
            } => self.escalations.push(Escalation {
                id: id.clone(),
                priority: *priority,
                opened_s: t,
                sla_deadline_s: *sla_deadline_s,
                closed: false,
                breached: false,
            }),
            RunRecord::EscalationClosed { id, by, .. } => self.close_escalation(t, id, by),
            RunRecord::Message { message, .. } => self.message(message),
            RunRecord::Annotation { annotation, .. } => self.annotate(annotation),
            RunRecord::Control { by, control, .. } => self.control(t, by, control),
            RunRecord::Approval { request, .. } => self.approval(t, request),
        }
    }

    /// Moves the clock to `t_s` (never back): SLAs and deadlines before it pass, in order.
    pub fn advance_to(&mut self, t_s: f64) {
        if self.ended_s.is_some() || t_s < self.clock_s {
            return;
        }
        // Breaches first, each after the deadlines before it, so that a breach after an
        // objective's window never counts against it.
        while let Some(index) = self.next_breach_before(t_s) {
            let at = self.escalations[index].sla_deadline_s;
            self.settle_deadlines_before(at);
            self.breach(index);
        }
        self.settle_deadlines_before(t_s);
        self.clock_s = t_s;
    }

    fn next_breach_before(&self, t_s: f64) -> Option<usize> {
        self.escalations
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.closed && !e.breached && e.sla_deadline_s < t_s)
            .min_by(|(_, a), (_, b)| a.sla_deadline_s.total_cmp(&b.sla_deadline_s))
            .map(|(index, _)| index)
    }

    /// Objectives whose deadline is before `t_s`: must-happen ones missed, must-hold ones met.
    fn settle_deadlines_before(&mut self, t_s: f64) {
        for objective in &mut self.objectives {
            let Some(deadline) = objective.deadline_s() else {
                continue;
            };
            if objective.status != ObjectiveStatus::Pending || deadline >= t_s {
                continue;
            }
            objective.status = if objective.spec.condition.must_hold() {
                ObjectiveStatus::Met { at_s: deadline }
            } else {
                ObjectiveStatus::Missed {
                    at_s: deadline,
                    why: format!("not done by its deadline {}", clock_label(deadline)),
                }
            };
        }
    }

    fn breach(&mut self, index: usize) {
        let escalation = &mut self.escalations[index];
        escalation.breached = true;
        self.sla_breaches += 1;
        let (at, priority, opened) = (
            escalation.sla_deadline_s,
            escalation.priority,
            escalation.opened_s,
        );
        let why = format!(
            "escalation {} ({}) still open past its SLA at {}",
            escalation.id,
            priority.word().to_uppercase(),
            clock_label(at)
        );
        self.break_objectives(
            at,
            &why,
            |condition| match condition {
                ObjectiveCondition::EscalationsWithinSla { priority: wanted } => {
                    wanted.is_none_or(|p| p == priority)
                }
                _ => false,
            },
            Some(opened),
        );
    }

    /// Misses every open must-hold objective `breaks` picks at `t`; with `since`, only those
    /// watched from before it (an escalation opened before the window does not count).
    fn break_objectives(
        &mut self,
        t: f64,
        why: &str,
        breaks: impl Fn(&ObjectiveCondition) -> bool,
        since: Option<f64>,
    ) {
        for objective in &mut self.objectives {
            let watched = since.is_none_or(|s| objective.from_s.is_some_and(|from| s >= from));
            if objective.open_at(t) && watched && breaks(&objective.spec.condition) {
                objective.status = ObjectiveStatus::Missed {
                    at_s: t,
                    why: why.to_string(),
                };
            }
        }
    }

    /// Meets every open must-happen objective `holds` picks at `t`.
    fn meet_objectives(&mut self, t: f64, holds: impl Fn(&ObjectiveCondition) -> bool) {
        for objective in &mut self.objectives {
            if objective.open_at(t) && holds(&objective.spec.condition) {
                objective.status = ObjectiveStatus::Met { at_s: t };
            }
        }
    }

    /// The end: what must hold has held, what had to happen and has not, did not.
    fn finish(&mut self, t: f64) {
        self.phase = ExercisePhase::Ended;
        for objective in &mut self.objectives {
            if objective.status != ObjectiveStatus::Pending {
                continue;
            }
            objective.status = match (&objective.from_s, objective.spec.condition.must_hold()) {
                (_, true) => ObjectiveStatus::Met { at_s: t },
                (Some(_), false) => ObjectiveStatus::Missed {
                    at_s: t,
                    why: "not done by the end".to_string(),
                },
                (None, false) => ObjectiveStatus::Missed {
                    at_s: t,
                    why: format!(
                        "its inject {} never fired",
                        objective.spec.after.as_deref().unwrap_or_default()
                    ),
                },
            };
        }
        self.ended_s = Some(t);
    }

    fn objective_states(&self) -> Vec<ObjectiveState> {
        self.objectives
            .iter()
            .map(|o| ObjectiveState {
                id: o.spec.id.clone(),
                title: o.spec.title.clone(),
                weight: o.spec.weight,
                deadline_s: o.deadline_s(),
                status: o.status.clone(),
            })
            .collect()
    }

    fn score(&self) -> Score {
        let weights = |met_only: bool| {
            self.objectives
                .iter()
                .filter(|o| !met_only || matches!(o.status, ObjectiveStatus::Met { .. }))
                .map(|o| o.spec.weight)
                .sum()
        };
        Score {
            earned: weights(true),
            possible: weights(false),
        }
    }

    /// The drill as `you` may see it: upcoming injects and facilitator notes only for the
    /// facilitator (notes for everyone once it has ended).
    pub fn state(&self, you: ExerciseRole) -> ExerciseState {
        let facilitator = you == ExerciseRole::Facilitator;
        let mut injects = self.fired.clone();
        if facilitator {
            let upcoming = self
                .header
                .injects
                .iter()
                .filter(|i| !self.fired.iter().any(|f| f.id == i.id));
            injects.extend(upcoming.cloned());
        } else {
            for inject in &mut injects {
                inject.facilitator_note = None;
            }
        }
        let notes = if facilitator || self.ended_s.is_some() {
            self.notes.clone()
        } else {
            Vec::new()
        };
        ExerciseState {
            scenario: self.header.scenario.clone(),
            description: self.header.description.clone(),
            briefing: self.header.briefing.clone(),
            phase: self.phase,
            clock_s: self.clock_s,
            speed: self.speed,
            you,
            injects,
            messages: self.messages.clone(),
            notes,
            objectives: self.objective_states(),
            measures: self.measures.clone(),
            sla_breaches: self.sla_breaches,
            risky_actions: self.risky.clone(),
            score: self.score(),
            recording: None,
        }
    }

    /// The after-action report so far (final once the drill has ended).
    pub fn report(&self) -> ExerciseReport {
        let mut timeline = self.timeline.clone();
        timeline.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        let by_tone = |tone: Tone| -> Vec<Annotation> {
            self.notes
                .iter()
                .filter(|n| n.tone == tone)
                .cloned()
                .collect()
        };
        ExerciseReport {
            run_id: self.header.run_id.clone(),
            scenario: self.header.scenario.clone(),
            description: self.header.description.clone(),
            seed: self.header.seed,
            created_at: self.header.created_at,
            duration_s: self.ended_s.unwrap_or(self.clock_s),
            ended: self.ended_s.is_some(),
            players: self.header.players.clone(),
            score: self.score(),
            objectives: self.objective_states(),
            measures: self.measures.clone(),
            sla_breaches: self.sla_breaches,
            escalations_opened: self.escalations.len() as u32,
            escalations_closed: self.escalations_closed,
            risky_actions: self.risky.clone(),
            approvals: self.approvals.clone(),
            budgets: self.budgets_spent(),
            cost: self.run_cost(),
            timeline,
            series: self.series.clone(),
            went_well: by_tone(Tone::WentWell),
            to_improve: by_tone(Tone::ToImprove),
        }
    }
}

/// Text from the audit log or a player, safe for a terminal and a report.
fn clean(text: &str) -> String {
    sanitize::clean(text).into_owned()
}
