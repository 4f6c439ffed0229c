//! A run of a runbook: which step is current, and the record of what happened at each step
//! (who, when, outcome). The record is the run: replaying its lines rebuilds the current step,
//! so a run journaled line by line survives a restart exactly as it was.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::file::{Block, Jump, Runbook, Step};

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
            Outcome::ActionResult { command, result } => format!("{command}: {result}"),
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
        }
    }

    /// Adds `line` to the record and moves to where its outcome leads.
    pub fn apply(&mut self, runbook: &Runbook, line: RunLine) {
        let index = line.step.saturating_sub(1);
        let step = runbook.steps.get(index);
        let jump = match &line.outcome {
            Outcome::Started => Some(Jump::Step(1)),
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

    /// The started run among `lines` (a journal's, oldest first) that was touched last, rebuilt;
    /// `find` gives the runbook of an id. A run whose runbook is gone is not rebuilt: its
    /// steps cannot be told.
    pub fn latest<'a>(
        lines: &[RunLine],
        find: impl Fn(&str) -> Option<&'a Runbook>,
    ) -> Result<Option<Run>, String> {
        let Some(last) = lines.last() else {
            return Ok(None);
        };
        let of_run: Vec<&RunLine> = lines.iter().filter(|l| l.run == last.run).collect();
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
            run.apply(runbook, line.clone());
        }
        Ok(Some(run))
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
