//! Following a run: the keys of the run's steps, gates watched on every tick, the step's
//! action sent through the console's one confirmation, and each outcome recorded (journaled
//! by the runner, told in the timeline).

use crossterm::event::KeyEvent;
use ratatui_textarea::TextArea;

use super::{RunInput, RunInputKind};
use crate::app::{App, Effect, Level, Overlay, SentState};
use crate::keymap::{Action, Layer};
use crate::runbook::eval::{Evaluation, Truth, evaluate};
use crate::runbook::file::{Block, Step};
use crate::runbook::run::{Outcome, Run, RunLine, Seen, action_of, choices_of, gate_of, jump_text};

impl App {
    /// Who the record names: the identity the sources give.
    fn operator(&self) -> String {
        self.identity()
            .map_or_else(|| "unknown operator".to_string(), |who| who.name.clone())
    }

    /// The step the run is on, if a run is going.
    fn current_step(&self) -> Option<&Step> {
        let run = self.runbooks.run.as_ref()?;
        self.runbooks.run_runbook()?.steps.get(run.current?)
    }

    /// The step's checks as they read now.
    fn checks_seen(&self, step: &Step) -> Vec<Seen> {
        let fleet = self.fleet_view();
        (step.blocks.iter())
            .filter_map(|block| match block {
                Block::Check(expr) => Some(seen(&evaluate(expr, &fleet))),
                _ => None,
            })
            .collect()
    }

    /// Starts a run of runbook `id`: shared when a source shares runs, else local.
    pub(super) fn start_run(&mut self, id: &str) -> Vec<Effect> {
        self.park_followed();
        match self.sharing_source().map(str::to_string) {
            Some(source) => self.start_shared_run(&source, id),
            None => self.start_local_run(id),
        }
    }

    /// Starts a run of runbook `id` at its first step, kept by this console only.
    pub(super) fn start_local_run(&mut self, id: &str) -> Vec<Effect> {
        self.park_followed();
        let who = self.operator();
        let Some(runbook) = self.runbooks.catalog.as_ref().and_then(|c| c.find(id)) else {
            return Vec::new();
        };
        let run_id = format!("{id}@{}", self.wall.format("%Y-%m-%dT%H:%M:%SZ"));
        let (run, line) = Run::start(runbook, run_id, &who, self.wall);
        self.runbooks.run = Some(run);
        self.runbooks.pending_command = None;
        self.tell(&line);
        vec![Effect::RecordRun(line)]
    }

    /// Records `outcome` at the current step, moves where it leads, and tells the timeline.
    fn record(&mut self, outcome: Outcome) -> Vec<Effect> {
        let who = self.operator();
        let runbooks = &mut self.runbooks;
        let (Some(run), Some(catalog)) = (runbooks.run.as_mut(), runbooks.catalog.as_ref()) else {
            return Vec::new();
        };
        let Some(runbook) = catalog.find(&run.runbook) else {
            return Vec::new();
        };
        let line = run.line(&who, self.wall, outcome);
        run.apply(runbook, line.clone());
        // A shared run that reached its end is ended at the source too, for every console.
        let end = (run.current.is_none() && !matches!(line.outcome, Outcome::Ended { .. }))
            .then(|| {
                let finished = Outcome::Ended {
                    state: protocol::runbook_runs::RunState::Finished,
                    reason: String::new(),
                };
                RunLine {
                    outcome: finished,
                    ..line.clone()
                }
            })
            .filter(|_| runbooks.shared.following.is_some());
        self.tell(&line);
        let mut effects = self.share_line(line);
        if let Some(end) = end {
            effects.extend(self.share_line(end));
        }
        effects
    }

    fn tell(&mut self, line: &crate::runbook::run::RunLine) {
        let text = format!(
            "runbook {} step {}: {} ({})",
            line.runbook,
            line.step,
            line.outcome.describe(),
            line.who
        );
        self.log(None, Level::Info, text);
    }

    pub(in crate::app) fn perform_in_run(&mut self, action: Action) -> Vec<Effect> {
        let Some(step) = self.current_step().cloned() else {
            if matches!(action, Action::Close) {
                self.runbooks.run_open = false;
            } else {
                self.flash(Level::Info, "this run has ended: esc for the list");
            }
            return Vec::new();
        };
        match action {
            Action::Close => self.runbooks.run_open = false,
            Action::StepDone => {
                let refusal = self
                    .runbooks
                    .run
                    .as_ref()
                    .and_then(|r| r.done_refusal(&step));
                match refusal {
                    Some(why) => self.flash(Level::Warning, why),
                    None => {
                        let checks = self.checks_seen(&step);
                        return self.record(Outcome::Done { checks });
                    }
                }
            }
            Action::Choose(choice) => {
                let choice = usize::from(choice);
                match choices_of(&step).and_then(|c| c.get(choice.wrapping_sub(1))) {
                    Some(chosen) => {
                        let label = chosen.label.clone();
                        let checks = self.checks_seen(&step);
                        return self.record(Outcome::Decided {
                            choice,
                            label,
                            checks,
                        });
                    }
                    None => self.flash(Level::Warning, "this step has no such choice"),
                }
            }
            Action::StepAction => self.send_step_action(&step),
            Action::StepSkip => self.ask_for(RunInputKind::Skip),
            Action::StepNote => self.ask_for(RunInputKind::Note),
            Action::EndRun => self.ask_for(RunInputKind::End),
            _ => {}
        }
        Vec::new()
    }

    /// Pre-fills the step's command into the normal confirmation, as if typed in the palette.
    fn send_step_action(&mut self, step: &Step) {
        let Some((line, command)) = action_of(step) else {
            self.flash(Level::Warning, "this step has no action");
            return;
        };
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        self.start_typed_command(command.kind(), &words);
        if let Some(confirm) = self.overlays.confirm_mut() {
            confirm.for_runbook = true;
        }
    }

    /// Asks for the text `kind` needs, in the one input box over the views.
    pub(in crate::app) fn ask_for(&mut self, kind: RunInputKind) {
        let mut input = TextArea::default();
        input.set_placeholder_text(match kind {
            RunInputKind::Skip => "why is this step skipped? (required, goes to the run's record)",
            RunInputKind::Note => "a note for this step's record",
            RunInputKind::End => "why is the run ended here? (required, goes to its record)",
            RunInputKind::Decide { .. } => "why? (required, goes to the audit log)",
        });
        self.overlays.open(Overlay::RunInput(Box::new(RunInput {
            kind,
            input,
            problem: None,
        })));
    }

    pub(in crate::app) fn run_input(&mut self, key: KeyEvent) {
        if let Some(form) = self.overlays.run_input_mut() {
            form.input.input(key);
            form.problem = None;
        }
    }

    pub(in crate::app) fn perform_in_run_input(&mut self, action: Action) -> Vec<Effect> {
        let Some(form) = self.overlays.run_input_mut() else {
            return Vec::new();
        };
        if action != Action::Accept {
            self.overlays.close(Layer::RunInput);
            return Vec::new();
        }
        let text = protocol::sanitize::clean(form.input.lines().join(" ").trim()).into_owned();
        let outcome = match (&form.kind, text.is_empty()) {
            (RunInputKind::Decide { .. }, true) => {
                form.problem = Some("a reason is required: it goes to the audit log".into());
                return Vec::new();
            }
            (
                RunInputKind::Decide {
                    kind,
                    source,
                    approval,
                },
                false,
            ) => {
                let (kind, source, approval) = (*kind, source.clone(), approval.clone());
                self.overlays.close(Layer::RunInput);
                return self.reason_given(kind, &source, &approval, text);
            }
            (RunInputKind::Skip | RunInputKind::End, true) => {
                form.problem = Some(
                    "a reason is required: it goes to the run's record, for the next engineer"
                        .into(),
                );
                return Vec::new();
            }
            (RunInputKind::Note, true) => {
                self.overlays.close(Layer::RunInput);
                return Vec::new();
            }
            (RunInputKind::Skip, false) => Outcome::Skipped { reason: text },
            (RunInputKind::Note, false) => Outcome::Note { text },
            (RunInputKind::End, false) => Outcome::Ended {
                state: protocol::runbook_runs::RunState::Abandoned,
                reason: text,
            },
        };
        self.overlays.close(Layer::RunInput);
        self.record(outcome)
    }

    /// A gate of the current step: met when its condition holds, else timed out once its
    /// countdown has run, leading where it says.
    pub(in crate::app) fn watch_gate(&mut self) -> Vec<Effect> {
        let (Some(step), Some(run)) = (self.current_step(), self.runbooks.run.as_ref()) else {
            return Vec::new();
        };
        let Some(gate) = gate_of(step) else {
            return Vec::new();
        };
        let fleet = self.fleet_view();
        let evaluation = evaluate(&gate.until, &fleet);
        let expired = (self.wall - run.entered_at).num_seconds() >= gate.timeout_s as i64;
        let outcome = if evaluation.truth == Truth::True {
            Outcome::GateMet {
                seen: seen(&evaluation),
            }
        } else if expired {
            Outcome::GateTimedOut {
                seen: seen(&evaluation),
                then: jump_text(gate.on_timeout),
            }
        } else {
            return Vec::new();
        };
        self.dirty = true;
        self.record(outcome)
    }

    /// The confirmation opened from a step sent its command: the run follows its fate.
    pub(in crate::app) fn runbook_command_sent(&mut self, effects: &[Effect]) {
        self.runbooks.pending_command = effects.iter().find_map(|effect| match effect {
            Effect::SendCommand(request) => Some(request.id),
            _ => None,
        });
    }

    /// The step's command is journaled (key known) or finished: into the run's record.
    pub(in crate::app) fn runbook_command_moved(&mut self, id: u64) -> Vec<Effect> {
        if self.runbooks.pending_command != Some(id) {
            return Vec::new();
        }
        let Some(sent) = self.sent.iter().find(|s| s.id == id) else {
            return Vec::new();
        };
        let command = sent.command.to_string();
        let key = sent.key.clone().unwrap_or_default();
        let outcome = match (&sent.state, &sent.key) {
            (SentState::Sending, Some(key)) => Outcome::ActionSent {
                command,
                key: key.clone(),
            },
            (SentState::Accepted(accepted), _) => Outcome::ActionResult {
                command,
                result: format!("accepted (audit #{})", accepted.audit_id),
                key,
            },
            (SentState::Held(request), _) => Outcome::ActionResult {
                command,
                result: crate::app::held_text(request),
                key,
            },
            (SentState::Failed(failure), _) => Outcome::ActionResult {
                command,
                result: format!("not done: {}", protocol::sanitize::clean(&failure.message)),
                key,
            },
            (SentState::Sending, None) => return Vec::new(),
        };
        if matches!(outcome, Outcome::ActionResult { .. }) {
            self.runbooks.pending_command = None;
        }
        self.record(outcome)
    }
}

fn seen(evaluation: &Evaluation) -> Seen {
    Seen {
        mark: evaluation.truth.mark().to_string(),
        readings: (evaluation.readings.iter())
            .map(|r| protocol::sanitize::clean(&r.text).into_owned())
            .collect(),
    }
}
