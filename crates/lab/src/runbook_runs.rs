//! The lab's runbook runs ([`protocol::runbook_runs`]): started, followed step by step and
//! ended by operators, so that two consoles see the same run and who is on which step.
//!
//! Pure: time comes in as the simulated clock, and each changed run is collected for the
//! server to publish as an event ([`RunBoard::take_events`]). The lab knows no runbooks (they
//! live with the consoles), so a step is any number from 1 to [`MAX_STEP`].

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::free_text::{Lines, check_printable};
use protocol::runbook_runs::{
    MAX_STEP, MAX_TEXT_CHARS, Participant, RunEnd, RunState, RunbookRun, StepOutcome, StepRecord,
};

/// Runs kept; beyond it the oldest ended run goes first.
pub const RUNS_KEPT: usize = 500;
const ID_MAX_CHARS: usize = 128;

/// Why a change of a run was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum RunError {
    NotFound,
    /// The request makes no sense: what is wrong.
    Invalid(String),
    /// The caller acted on an older revision, or the run has ended: the run as it is now.
    Conflict {
        detail: String,
        current: Box<RunbookRun>,
    },
}

/// Every run the lab keeps, by number.
#[derive(Debug, Default)]
pub struct RunBoard {
    runs: BTreeMap<u64, RunbookRun>,
    last_number: u64,
    events: Vec<RunbookRun>,
}

impl RunBoard {
    /// Every run kept, newest first.
    pub fn list(&self) -> Vec<RunbookRun> {
        self.runs.values().rev().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Option<&RunbookRun> {
        self.runs.get(&number_of(id)?)
    }

    /// The runs changed since the last call, in order, for the event stream.
    pub fn take_events(&mut self) -> Vec<RunbookRun> {
        std::mem::take(&mut self.events)
    }

    /// Starts a run of a runbook by `by`, who is on step 1.
    pub fn start(
        &mut self,
        runbook_id: &str,
        runbook_version: u32,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<RunbookRun, RunError> {
        let runbook_id = runbook_id.trim();
        if runbook_id.is_empty() || runbook_id.chars().count() > ID_MAX_CHARS {
            return Err(RunError::Invalid(format!(
                "runbook_id must be 1-{ID_MAX_CHARS} characters"
            )));
        }
        check_printable("runbook_id", runbook_id, Lines::One).map_err(RunError::Invalid)?;
        self.last_number += 1;
        let run = RunbookRun {
            id: format!("run-{:06}", self.last_number),
            runbook_id: runbook_id.to_string(),
            runbook_version,
            started_by: by.to_string(),
            started_at: now,
            state: RunState::Active,
            revision: 1,
            ended: None,
            steps: Vec::new(),
            participants: vec![Participant {
                name: by.to_string(),
                step: 1,
                last_seen: now,
            }],
        };
        self.runs.insert(self.last_number, run.clone());
        self.forget_beyond_capacity();
        self.events.push(run.clone());
        Ok(run)
    }

    /// Records a step's outcome; `if_match` is the run's revision the caller acted on. The
    /// recorder is then on that step.
    pub fn record(
        &mut self,
        id: &str,
        if_match: u64,
        step: u32,
        outcome: StepOutcome,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<RunbookRun, RunError> {
        check_step(step)?;
        check_outcome(&outcome)?;
        let run = self.active(id)?;
        fresh(run, if_match)?;
        run.steps.push(StepRecord {
            step,
            outcome,
            by: by.to_string(),
            at: now,
        });
        run.revision += 1;
        be_on(run, by, step, now);
        Ok(self.changed(id))
    }

    /// `by` says they are on `step`; the revision stays.
    pub fn presence(
        &mut self,
        id: &str,
        step: u32,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<RunbookRun, RunError> {
        check_step(step)?;
        be_on(self.active(id)?, by, step, now);
        Ok(self.changed(id))
    }

    /// Ends a run as finished or abandoned (a reason required for that).
    pub fn end(
        &mut self,
        id: &str,
        if_match: u64,
        state: RunState,
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<RunbookRun, RunError> {
        let reason = reason.trim();
        match state {
            RunState::Active => {
                return Err(RunError::Invalid(
                    "a run ends as `finished` or `abandoned`".into(),
                ));
            }
            RunState::Abandoned if reason.is_empty() => {
                return Err(RunError::Invalid(
                    "a reason is required to abandon a run: say why, for the next engineer".into(),
                ));
            }
            _ => check_text("reason", reason)?,
        }
        let run = self.active(id)?;
        fresh(run, if_match)?;
        run.state = state;
        run.revision += 1;
        run.ended = Some(RunEnd {
            by: by.to_string(),
            at: now,
            reason: reason.to_string(),
        });
        Ok(self.changed(id))
    }

    /// The run `id`, still active.
    fn active(&mut self, id: &str) -> Result<&mut RunbookRun, RunError> {
        let run = number_of(id)
            .and_then(|n| self.runs.get_mut(&n))
            .ok_or(RunError::NotFound)?;
        match &run.ended {
            None => Ok(run),
            Some(end) => Err(RunError::Conflict {
                detail: format!(
                    "{} was {} by {} at {}: it takes no more steps",
                    run.id,
                    run.state.word(),
                    end.by,
                    end.at.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
                current: Box::new(run.clone()),
            }),
        }
    }

    /// Notes the run `id` as changed and returns it.
    fn changed(&mut self, id: &str) -> RunbookRun {
        let run = self.get(id).cloned().expect("the run just changed exists");
        self.events.push(run.clone());
        run
    }

    fn forget_beyond_capacity(&mut self) {
        while self.runs.len() > RUNS_KEPT {
            let oldest_ended = self
                .runs
                .iter()
                .find(|(_, run)| run.state != RunState::Active)
                .map(|(number, _)| *number);
            let oldest = oldest_ended.or_else(|| self.runs.keys().next().copied());
            if let Some(number) = oldest {
                self.runs.remove(&number);
            }
        }
    }
}

/// `run-000042` -> 42.
fn number_of(id: &str) -> Option<u64> {
    id.strip_prefix("run-")?.parse().ok()
}

fn fresh(run: &RunbookRun, if_match: u64) -> Result<(), RunError> {
    if run.revision == if_match {
        return Ok(());
    }
    let last = run.steps.last().map_or(String::new(), |record| {
        format!(
            "; step {} was recorded by {} ({})",
            record.step,
            record.by,
            record.outcome.kind()
        )
    });
    Err(RunError::Conflict {
        detail: format!(
            "{} changed since revision {if_match} (it is at {} now{last}): review it and retry",
            run.id, run.revision
        ),
        current: Box::new(run.clone()),
    })
}

fn be_on(run: &mut RunbookRun, name: &str, step: u32, now: DateTime<Utc>) {
    match run.participants.iter_mut().find(|p| p.name == name) {
        Some(participant) => {
            participant.step = step;
            participant.last_seen = now;
        }
        None => run.participants.push(Participant {
            name: name.to_string(),
            step,
            last_seen: now,
        }),
    }
}

fn check_step(step: u32) -> Result<(), RunError> {
    if (1..=MAX_STEP).contains(&step) {
        Ok(())
    } else {
        Err(RunError::Invalid(format!(
            "step must be from 1 to {MAX_STEP}"
        )))
    }
}

/// Every text of an outcome is printable and bounded; a skip needs its reason.
fn check_outcome(outcome: &StepOutcome) -> Result<(), RunError> {
    let texts: Vec<(&str, &str)> = match outcome {
        StepOutcome::Check { readings, .. }
        | StepOutcome::GateMet { readings }
        | StepOutcome::GateTimedOut { readings } => vec![("readings", readings)],
        StepOutcome::Action {
            command,
            idempotency_key,
            result,
        } => vec![
            ("command", command),
            ("idempotency_key", idempotency_key),
            ("result", result),
        ],
        StepOutcome::Decision { choice } => vec![("choice", choice)],
        StepOutcome::Skipped { reason } => vec![("reason", reason)],
        StepOutcome::Note { text } => vec![("note", text)],
    };
    for (field, text) in texts {
        if text.trim().is_empty() && field != "readings" {
            let why = match outcome {
                StepOutcome::Skipped { .. } => {
                    "a reason is required to skip a step: say why, for the next engineer".into()
                }
                _ => format!("the {field} must not be empty"),
            };
            return Err(RunError::Invalid(why));
        }
        check_text(field, text)?;
    }
    Ok(())
}

fn check_text(field: &str, text: &str) -> Result<(), RunError> {
    check_printable(field, text, Lines::Many).map_err(RunError::Invalid)?;
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(RunError::Invalid(format!(
            "the {field} must be at most {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "runbook_runs_tests.rs"]
mod tests;
