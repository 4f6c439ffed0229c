//! A run of a runbook: which step is current, and the record of what happened at each step
//! (who, when, outcome). The record is the run: replaying its lines rebuilds the current step,
//! so a run journaled line by line survives a restart exactly as it was.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::eval::Truth;
use super::file::{Block, Jump, Runbook, Step};
use protocol::runbook_runs::{CheckTruth, RunState, RunbookRun, StepOutcome};

/// One line of a run's record: what happened at one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunLine {
    /// The run's id: one runbook may be followed many times.
    pub run: String,
    pub runbook: String,
    pub version: u32,
    /// The step's number, from 1, as the runbook numbers it.
    pub step: usize,
    pub who: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// A line of a run shared through a source: where it goes and its idempotency key, so a
    /// line the source has not answered is sent again under the same key, once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedMark>,
}

/// Where a line of a shared run is recorded, and under which idempotency key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedMark {
    pub source: String,
    pub key: String,
}

/// A condition as seen when a step was left: its mark and the values read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub mark: String,
    pub readings: Vec<String>,
}

impl Seen {
    fn text(&self) -> String {
        format!("{} {}", self.mark, self.readings.join("; "))
    }
}

/// What happened at a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    Started,
    /// The operator marked the step done; its checks as they read then.
    Done {
        checks: Vec<Seen>,
    },
    /// The step's command was confirmed and journaled under `key`.
    ActionSent {
        command: String,
        key: String,
    },
    ActionResult {
        command: String,
        result: String,
        /// The key the command went under (absent in records written before it was kept).
        #[serde(default)]
        key: String,
    },
    GateMet {
        seen: Seen,
    },
    GateTimedOut {
        seen: Seen,
        then: String,
    },
    /// Choice `choice` (from 1) of the step's decision.
    Decided {
        choice: usize,
        label: String,
        checks: Vec<Seen>,
    },
    Skipped {
        reason: String,
    },
    Note {
        text: String,
    },
    /// The run was ended on purpose: finished, or abandoned with a reason.
    Ended {
        state: RunState,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
}

impl Outcome {
    /// In words, for the record and the timeline.
    pub fn describe(&self) -> String {
        let checks = |checks: &[Seen]| {
            let seen: Vec<String> = checks.iter().map(Seen::text).collect();
            if seen.is_empty() {
                String::new()
            } else {
                format!(" (checks {})", seen.join(" · "))
            }
        };
        match self {
            Outcome::Started => "run started".into(),
            Outcome::Done { checks: seen } => format!("done{}", checks(seen)),
            Outcome::ActionSent { command, key } => format!("action sent: {command} (key {key})"),
            Outcome::ActionResult {
                command, result, ..
            } => format!("{command}: {result}"),
            Outcome::GateMet { seen } => format!("gate met: {}", seen.text()),
            Outcome::GateTimedOut { seen, then } => {
                format!("gate timed out: {}; then {then}", seen.text())
            }
            Outcome::Decided {
                choice,
                label,
                checks: seen,
            } => format!("decided {choice}. {label}{}", checks(seen)),
            Outcome::Skipped { reason } => format!("skipped: {reason}"),
            Outcome::Note { text } => format!("note: {text}"),
            Outcome::Ended { state, reason } if reason.is_empty() => {
                format!("run {}", state.word())
            }
            Outcome::Ended { state, reason } => format!("run {}: {reason}", state.word()),
        }
    }
}

/// A run being followed (or ended) and its record.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub id: String,
    pub runbook: String,
    pub version: u32,
    /// Index of the current step; `None` once the run has ended.
    pub current: Option<usize>,
    /// When the current step was entered: a gate's countdown runs from here.
    pub entered_at: DateTime<Utc>,
    pub record: Vec<RunLine>,
    /// Where in `record` the current step's visit starts (a jump back is a new visit).
    visit_from: usize,
}

/// Where `jump` leads from step index `from` of a runbook of `steps` steps.
pub fn jump_target(from: usize, jump: Jump, steps: usize) -> Option<usize> {
    match jump {
        Jump::Step(n) => Some(n - 1),
        Jump::Continue => Some(from + 1).filter(|next| *next < steps),
        Jump::End => None,
    }
}

/// `step 5`, `the next step`, `the end`: where a jump leads, in words.
pub fn jump_text(jump: Jump) -> String {
    match jump {
        Jump::Step(n) => format!("step {n}"),
        Jump::Continue => "the next step".into(),
        Jump::End => "the end".into(),
    }
}

impl Run {
    /// A new run of `runbook`, with its first line (to record).
    pub fn start(runbook: &Runbook, id: String, who: &str, at: DateTime<Utc>) -> (Run, RunLine) {
        let mut run = Run {
            id,
            runbook: runbook.front.id.clone(),
            version: runbook.front.version,
            current: None,
            entered_at: at,
            record: Vec::new(),
            visit_from: 0,
        };
        let line = RunLine {
            run: run.id.clone(),
            runbook: run.runbook.clone(),
            version: run.version,
            step: 1,
            who: who.to_string(),
            at,
            outcome: Outcome::Started,
            shared: None,
        };
        run.apply(runbook, line.clone());
        (run, line)
    }

    /// A line of the current step (step 1 once ended, which no caller records).
    pub fn line(&self, who: &str, at: DateTime<Utc>, outcome: Outcome) -> RunLine {
        RunLine {
            run: self.id.clone(),
            runbook: self.runbook.clone(),
            version: self.version,
            step: self.current.map_or(1, |i| i + 1),
            who: who.to_string(),
            at,
            outcome,
            shared: None,
        }
    }

    /// Adds `line` to the record and moves to where its outcome leads.
    pub fn apply(&mut self, runbook: &Runbook, line: RunLine) {
        let index = line.step.saturating_sub(1);
        let step = runbook.steps.get(index);
        let jump = match &line.outcome {
            Outcome::Started => Some(Jump::Step(1)),
            Outcome::Ended { .. } => Some(Jump::End),
            Outcome::Done { .. } | Outcome::GateMet { .. } | Outcome::Skipped { .. } => {
                Some(Jump::Continue)
            }
            Outcome::GateTimedOut { .. } => step.and_then(gate_of).map(|g| g.on_timeout),
            Outcome::Decided { choice, .. } => step
                .and_then(choices_of)
                .and_then(|choices| choices.get(choice.saturating_sub(1)))
                .map(|c| c.jump),
            Outcome::ActionSent { .. } | Outcome::ActionResult { .. } | Outcome::Note { .. } => {
                None
            }
        };
        let at = line.at;
        self.record.push(line);
        if let Some(jump) = jump {
            self.current = jump_target(index, jump, runbook.steps.len());
            self.entered_at = at;
            self.visit_from = self.record.len();
        }
    }

    /// The lines recorded since the current step was entered.
    pub fn this_visit(&self) -> &[RunLine] {
        &self.record[self.visit_from.min(self.record.len())..]
    }

    /// The command sent in this visit of the current step, if one was.
    pub fn action_sent(&self) -> bool {
        self.this_visit()
            .iter()
            .any(|l| matches!(l.outcome, Outcome::ActionSent { .. }))
    }

    /// Why the step cannot be marked done yet: a decision wants a choice, a gate waits, an
    /// action wants sending (each can be skipped with a reason instead).
    pub fn done_refusal(&self, step: &Step) -> Option<String> {
        if let Some(choices) = choices_of(step) {
            return Some(format!(
                "choose 1-{} for this step's decision (or skip it with a reason)",
                choices.len()
            ));
        }
        if gate_of(step).is_some() {
            return Some(
                "the gate waits for its condition or its timeout (or skip it with a reason)".into(),
            );
        }
        let has_action = step
            .blocks
            .iter()
            .any(|b| matches!(b, Block::Action { .. }));
        (has_action && !self.action_sent()).then(|| {
            "send the step's action first (x: into the confirmation), or skip it with a reason"
                .into()
        })
    }

    /// Every run among `lines` (a journal's, oldest first), rebuilt, in the order each was
    /// last touched (the last one last); `find` gives the runbook of an id. A run that cannot
    /// be rebuilt (its runbook gone or of another version: its steps cannot be told) is a
    /// problem in its place. Lines of shared runs are left out: the source holds those runs.
    pub fn all<'a>(
        lines: &[RunLine],
        find: impl Fn(&str) -> Option<&'a Runbook>,
    ) -> Vec<Result<Run, String>> {
        let lines: Vec<&RunLine> = lines.iter().filter(|l| l.shared.is_none()).collect();
        let mut order: Vec<&str> = Vec::new();
        for line in lines.iter().rev() {
            if !order.contains(&line.run.as_str()) {
                order.push(&line.run);
            }
        }
        (order.into_iter().rev())
            .map(|id| {
                let of_run: Vec<&RunLine> = lines.iter().copied().filter(|l| l.run == id).collect();
                Run::rebuild(&of_run, &find)
            })
            .collect()
    }

    /// One run from its lines (at least one).
    fn rebuild<'a>(
        of_run: &[&RunLine],
        find: &impl Fn(&str) -> Option<&'a Runbook>,
    ) -> Result<Run, String> {
        let last = of_run[of_run.len() - 1];
        let Some(runbook) = find(&last.runbook) else {
            return Err(format!(
                "run {} of runbook {} cannot be resumed: no runbook of that id",
                last.run, last.runbook
            ));
        };
        if runbook.front.version != last.version {
            return Err(format!(
                "run {} followed version {} of {}; version {} is loaded: not resumed",
                last.run, last.version, last.runbook, runbook.front.version
            ));
        }
        let Some(first) = of_run.first().filter(|l| l.outcome == Outcome::Started) else {
            return Err(format!("run {} has no start in the record", last.run));
        };
        let mut run = Run {
            id: last.run.clone(),
            runbook: last.runbook.clone(),
            version: last.version,
            current: None,
            entered_at: first.at,
            record: Vec::new(),
            visit_from: 0,
        };
        for line in of_run {
            run.apply(runbook, (*line).clone());
        }
        Ok(run)
    }
}

/// An action's result on the wire while its command is sent and not yet answered.
pub const SENT: &str = "sent";

impl Outcome {
    /// The outcome as protocol v1 records a step; `None` for the start and the end, which
    /// are requests of their own.
    pub fn to_wire(&self) -> Option<StepOutcome> {
        let joined = |seen: &Seen| seen.readings.join("; ");
        Some(match self {
            Outcome::Started | Outcome::Ended { .. } => return None,
            Outcome::Done { checks } => StepOutcome::Check {
                truth: worst(checks),
                readings: checks.iter().map(joined).collect::<Vec<_>>().join(" · "),
            },
            Outcome::ActionSent { command, key } => StepOutcome::Action {
                command: command.clone(),
                idempotency_key: key.clone(),
                result: SENT.into(),
            },
            Outcome::ActionResult {
                command,
                result,
                key,
            } => StepOutcome::Action {
                command: command.clone(),
                idempotency_key: key.clone(),
                result: result.clone(),
            },
            Outcome::GateMet { seen } => StepOutcome::GateMet {
                readings: joined(seen),
            },
            Outcome::GateTimedOut { seen, .. } => StepOutcome::GateTimedOut {
                readings: joined(seen),
            },
            Outcome::Decided { choice, label, .. } => StepOutcome::Decision {
                choice: format!("{choice}. {label}"),
            },
            Outcome::Skipped { reason } => StepOutcome::Skipped {
                reason: reason.clone(),
            },
            Outcome::Note { text } => StepOutcome::Note { text: text.clone() },
        })
    }

    /// A step record of a shared run as this console's outcome; `step` is the runbook's step
    /// it names (a gate's timeout and a decision lead where the runbook says).
    fn from_wire(wire: &StepOutcome, step: Option<&Step>) -> Outcome {
        let seen = |mark: &str, readings: &str| Seen {
            mark: mark.into(),
            readings: vec![readings.to_string()],
        };
        match wire {
            StepOutcome::Check { truth, readings } => Outcome::Done {
                checks: if readings.is_empty() {
                    Vec::new()
                } else {
                    vec![seen(mark_of(*truth), readings)]
                },
            },
            StepOutcome::Action {
                command,
                idempotency_key,
                result,
            } if result == SENT => Outcome::ActionSent {
                command: command.clone(),
                key: idempotency_key.clone(),
            },
            StepOutcome::Action {
                command,
                idempotency_key,
                result,
            } => Outcome::ActionResult {
                command: command.clone(),
                result: result.clone(),
                key: idempotency_key.clone(),
            },
            StepOutcome::GateMet { readings } => Outcome::GateMet {
                seen: seen("✓", readings),
            },
            StepOutcome::GateTimedOut { readings } => Outcome::GateTimedOut {
                seen: seen("✗", readings),
                then: jump_text(
                    step.and_then(gate_of)
                        .map_or(Jump::Continue, |g| g.on_timeout),
                ),
            },
            StepOutcome::Decision { choice } => {
                // `2. Fail over` as written by a console; a bare label is found by its text.
                let (number, label) = match choice.split_once(". ") {
                    Some((n, label)) if n.parse::<usize>().is_ok() => {
                        (n.parse().unwrap_or(0), label.to_string())
                    }
                    _ => {
                        let found = step
                            .and_then(choices_of)
                            .and_then(|choices| choices.iter().position(|c| c.label == *choice));
                        (found.map_or(0, |i| i + 1), choice.clone())
                    }
                };
                Outcome::Decided {
                    choice: number,
                    label,
                    checks: Vec::new(),
                }
            }
            StepOutcome::Skipped { reason } => Outcome::Skipped {
                reason: reason.clone(),
            },
            StepOutcome::Note { text } => Outcome::Note { text: text.clone() },
        }
    }
}

/// All checks held: true; one failed: false; else unknown.
fn worst(checks: &[Seen]) -> CheckTruth {
    if checks.iter().any(|c| c.mark == Truth::False.mark()) {
        CheckTruth::False
    } else if checks.iter().all(|c| c.mark == Truth::True.mark()) {
        CheckTruth::True
    } else {
        CheckTruth::Unknown
    }
}

fn mark_of(truth: CheckTruth) -> &'static str {
    match truth {
        CheckTruth::True => Truth::True.mark(),
        CheckTruth::False => Truth::False.mark(),
        CheckTruth::Unknown => Truth::Unknown.mark(),
    }
}

impl Run {
    /// The run a source shares, as this console follows it: its start, each step's record
    /// (who, when, outcome) and its end, replayed over `runbook`.
    pub fn from_shared(runbook: &Runbook, shared: &RunbookRun) -> Run {
        let line = |step: u32, who: &str, at, outcome| RunLine {
            run: shared.id.clone(),
            runbook: shared.runbook_id.clone(),
            version: shared.runbook_version,
            step: step as usize,
            who: who.to_string(),
            at,
            outcome,
            shared: None,
        };
        let mut run = Run {
            id: shared.id.clone(),
            runbook: shared.runbook_id.clone(),
            version: shared.runbook_version,
            current: None,
            entered_at: shared.started_at,
            record: Vec::new(),
            visit_from: 0,
        };
        let started = line(1, &shared.started_by, shared.started_at, Outcome::Started);
        run.apply(runbook, started);
        for record in &shared.steps {
            let step = runbook.steps.get((record.step as usize).saturating_sub(1));
            let outcome = Outcome::from_wire(&record.outcome, step);
            run.apply(runbook, line(record.step, &record.by, record.at, outcome));
        }
        if let Some(end) = &shared.ended {
            let outcome = Outcome::Ended {
                state: shared.state,
                reason: end.reason.clone(),
            };
            let step = run.current.map_or(1, |i| i as u32 + 1);
            run.apply(runbook, line(step, &end.by, end.at, outcome));
        }
        run
    }
}

pub fn gate_of(step: &Step) -> Option<&super::file::Gate> {
    step.blocks.iter().find_map(|b| match b {
        Block::Gate(gate) => Some(gate),
        _ => None,
    })
}

pub fn choices_of(step: &Step) -> Option<&[super::file::Choice]> {
    step.blocks.iter().find_map(|b| match b {
        Block::Decision(choices) => Some(choices.as_slice()),
        _ => None,
    })
}

/// The step's action: the line as written and the command it parses to.
pub fn action_of(step: &Step) -> Option<(&str, &crate::domain::command::Command)> {
    step.blocks.iter().find_map(|b| match b {
        Block::Action { line, command } => Some((line.as_str(), command)),
        _ => None,
    })
}
