//! Writing a resolution: the keys that start one (after checking it may be sent), the output
//! editor, and the confirmation form with its choices, reason and note.

use crossterm::event::KeyEvent;
use ratatui_textarea::{CursorMove, TextArea, WrapMode};

use super::Draft;
use crate::app::commands::CONFIRM_SCROLL_ROWS;
use crate::app::{App, Effect, Level, Overlay};
use crate::domain::fleet::Freshness;
use crate::domain::retry::{self, Room};
use crate::format::pct;
use crate::keymap::{Action, Layer};
use protocol::Role;
use protocol::escalations::{Escalation, MAX_OUTPUT_BYTES, Resolution, ResolutionKind};
use protocol::sanitize::{clean, clean_multiline};

/// The multi-line editor of an output to submit.
pub struct EditorState {
    pub input: TextArea<'static>,
    /// The candidate it started from, if any.
    pub based_on: Option<String>,
    pub problem: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormField {
    Reason,
    Note,
}

/// One option of a retry path or of a hand-off.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub label: String,
    pub resolution: Resolution,
}

/// The confirmation of a resolution: what will be done, a choice where there is one, a note.
pub struct ResolveForm {
    pub kind: ResolutionKind,
    /// What will be done, to which task, and what must not be missed: always in view.
    pub summary: String,
    /// The rest (the whole output to submit, the validators' words): scrolls under the summary.
    pub details: Vec<String>,
    /// First row of the details shown; the view clamps it to the content.
    pub details_scroll: u16,
    /// The resolution when nothing is left to choose (approve, submit, abort).
    pub resolution: Option<Resolution>,
    pub choices: Vec<Choice>,
    pub chosen: usize,
    /// A rejection's reason.
    pub reason: Option<TextArea<'static>>,
    pub note: TextArea<'static>,
    pub focus: FormField,
    pub problem: Option<String>,
    /// Enter was pressed before the claim came back: send once it does.
    pub waiting_for_claim: bool,
}

impl ResolveForm {
    pub(super) fn new(
        kind: ResolutionKind,
        summary: String,
        resolution: Option<Resolution>,
        choices: Vec<Choice>,
    ) -> ResolveForm {
        ResolveForm {
            kind,
            summary,
            details: Vec::new(),
            details_scroll: 0,
            resolution,
            choices,
            chosen: 0,
            reason: None,
            note: single_line("", "note for the next person and the audit log (required)"),
            focus: FormField::Note,
            problem: None,
            waiting_for_claim: false,
        }
    }
}

pub(super) fn single_line(text: &str, placeholder: &str) -> TextArea<'static> {
    let mut input = TextArea::new(vec![text.to_string()]);
    input.set_placeholder_text(placeholder);
    input.move_cursor(CursorMove::End);
    input
}

pub(super) fn text_of(input: &TextArea<'_>) -> String {
    input.lines().join(" ").trim().to_string()
}

impl App {
    /// Why the open task cannot be resolved from here now, if it cannot.
    pub(super) fn resolution_refusal(&self) -> Option<String> {
        if let Some(refusal) = self.mutation_refusal() {
            return Some(refusal);
        }
        let task = self.task.as_ref()?;
        if task.escalation().is_none() {
            return Some(format!("{} is still loading", task.id));
        }
        let summary = self.task_summary()?;
        if summary.state.is_closed() {
            let by = summary
                .resolution
                .as_ref()
                .map(|r| format!(" by {} ({})", clean(&r.by), r.kind.word()))
                .unwrap_or_default();
            return Some(format!(
                "{} is already {}{by}",
                summary.id,
                summary.state.word()
            ));
        }
        let me = self.my_name(task.source);
        if let Some(lease) = summary.lease.as_ref().filter(|l| Some(&*l.holder) != me) {
            return Some(format!(
                "claimed by {} until {}: only they can resolve it now",
                clean(&lease.holder),
                lease.expires_at.format("%H:%M:%S")
            ));
        }
        let source = &self.sources[task.source].name;
        if let Some(sent) = self
            .resolution_of(source, &task.id)
            .filter(|r| r.in_flight())
        {
            return Some(format!(
                "{} of {} is awaiting its outcome (key {}): not sending another",
                sent.resolution.kind().word(),
                task.id,
                sent.key.as_deref().unwrap_or("not journaled yet")
            ));
        }
        None
    }

    /// A resolution key in the open task: claim it, then ask for what the resolution needs.
    pub(super) fn start_resolution(&mut self, action: Action) -> Vec<Effect> {
        if let Some(refusal) = self.resolution_refusal() {
            self.flash(Level::Warning, refusal);
            return Vec::new();
        }
        let Some(task) = self.task.as_ref() else {
            return Vec::new();
        };
        let escalation = task.escalation().expect("refusal checks it is loaded");
        let candidate = escalation.candidates.get(task.candidate);
        let id = task.id.clone();
        let form = match action {
            Action::Approve => {
                let Some(c) = candidate else {
                    self.flash(
                        Level::Warning,
                        "no candidate output to approve: write one (w), retry (t) or reject (r)",
                    );
                    return Vec::new();
                };
                // Approving an output a validator refused must be a decision, not a surprise:
                // which ones failed stays in view, their words scroll below.
                let failed: Vec<_> = c.verdicts.iter().filter(|v| !v.passed).collect();
                let warning = if failed.is_empty() {
                    String::new()
                } else {
                    let names: Vec<_> = failed.iter().map(|v| clean(&v.validator)).collect();
                    format!(". ✖ FAILED {}", names.join(", "))
                };
                let mut form = ResolveForm::new(
                    ResolutionKind::Approve,
                    format!(
                        "approve {} of {id}: {} on {}, confidence {:.2}{warning}",
                        clean(&c.id),
                        clean(&c.model),
                        clean(&c.provider),
                        c.confidence
                    ),
                    Some(Resolution::Approve {
                        candidate: c.id.clone(),
                    }),
                    Vec::new(),
                );
                form.details = failed
                    .iter()
                    .filter_map(|v| {
                        let detail = v.detail.as_ref()?;
                        Some(format!("✖ {}: {}", clean(&v.validator), clean(detail)))
                    })
                    .collect();
                Some(form)
            }
            Action::EditOutput | Action::WriteOutput => {
                let based_on = candidate
                    .filter(|_| action == Action::EditOutput)
                    .map(|c| c.id.clone());
                let text = match &task.draft {
                    Some(draft) if draft.based_on == based_on => draft.text.clone(),
                    // What the model wrote is untrusted: no escape reaches the editor.
                    _ => candidate
                        .filter(|_| based_on.is_some())
                        .map(|c| clean_multiline(&c.output).into_owned())
                        .unwrap_or_default(),
                };
                let mut input = TextArea::new(text.lines().map(str::to_string).collect());
                input.set_wrap_mode(WrapMode::WordOrGlyph);
                input.set_placeholder_text("the output the workflow resumes with");
                self.overlays.open(Overlay::Editor(Box::new(EditorState {
                    input,
                    based_on,
                    problem: None,
                })));
                None
            }
            Action::Reject => {
                let mut form = ResolveForm::new(
                    ResolutionKind::Reject,
                    format!("reject {id}: the workflow takes its rejection path"),
                    None,
                    Vec::new(),
                );
                form.reason = Some(single_line("", "why the outputs are refused (required)"));
                form.focus = FormField::Reason;
                Some(form)
            }
            Action::Abort => Some(ResolveForm::new(
                ResolutionKind::Abort,
                format!("abort {id}: its workflow is cancelled"),
                Some(Resolution::Abort),
                Vec::new(),
            )),
            Action::RetryPath => {
                let choices = self.retry_choices(task.source, escalation);
                Some(ResolveForm::new(
                    ResolutionKind::Retry,
                    format!("retry {id}'s step through:"),
                    None,
                    choices,
                ))
            }
            Action::HandOff => {
                let choices = self.handoff_choices(task.source);
                if choices.is_empty() {
                    self.flash(
                        Level::Warning,
                        "nobody else on the roster can take it (operators and admins)",
                    );
                    return Vec::new();
                }
                Some(ResolveForm::new(
                    ResolutionKind::Handoff,
                    format!("hand {id} off to:"),
                    None,
                    choices,
                ))
            }
            _ => return Vec::new(),
        };
        if let Some(form) = form {
            self.overlays.open(Overlay::Resolve(Box::new(form)));
        }
        self.claim_open_task()
    }

    /// Every provider of the source's fleet, after "let the gateway choose", each with how
    /// often it already failed for this task and the room it has now (unknown while the
    /// fleet's data is stale, or the limit unpublished and unrevealed).
    pub(super) fn retry_choices(&self, source: usize, escalation: &Escalation) -> Vec<Choice> {
        let mut choices = vec![Choice {
            label: "any path: the gateway chooses".to_string(),
            resolution: Resolution::Retry {
                model: None,
                provider: None,
                region: None,
            },
        }];
        let data = &self.sources[source];
        let fresh = data.freshness(self.now) == Freshness::Fresh;
        let Some(snapshot) = data.snapshot.as_ref() else {
            return choices;
        };
        let room_text = |room: Option<Room>| match room.filter(|_| fresh) {
            Some(room) => format!("{} {}", pct(room.share), room.verdict.word()),
            None if fresh => "? unknown".to_string(),
            None => "? stale".to_string(),
        };
        choices.extend(snapshot.providers.iter().map(|p| {
            let failed = retry::failures_on(escalation, &p.id)
                .mark()
                .unwrap_or_else(|| "not tried for this task".to_string());
            Choice {
                label: format!(
                    "{:<20} {:<18} {} {:<8} breaker {}\n    limit room {} · region room {} · {failed}",
                    clean(&p.id),
                    clean(&p.model),
                    p.health.symbol(),
                    p.health.word(),
                    p.breaker.state.word(),
                    room_text(retry::rate_limit_room(p)),
                    room_text(retry::region_room(snapshot, p)),
                ),
                resolution: Resolution::Retry {
                    model: Some(p.model.clone()),
                    provider: Some(p.id.clone()),
                    region: Some(p.region.clone()),
                },
            }
        }));
        choices
    }

    /// Operators and admins of the roster other than this console's user, on-call first.
    pub(super) fn handoff_choices(&self, source: usize) -> Vec<Choice> {
        let me = self.my_name(source);
        let mut operators: Vec<_> = self.sources[source]
            .operators
            .iter()
            .filter(|o| o.role >= Role::Operator && Some(o.name.as_str()) != me)
            .collect();
        operators.sort_by_key(|o| (!o.on_call, !o.online));
        operators
            .into_iter()
            .map(|o| Choice {
                label: format!(
                    "{:<12} {:<8} {}{}",
                    clean(&o.name),
                    o.role.word(),
                    if o.on_call { "on call" } else { "off call" },
                    if o.online { ", online" } else { "" }
                ),
                resolution: Resolution::Handoff { to: o.name.clone() },
            })
            .collect()
    }

    pub(in crate::app) fn perform_in_editor(&mut self, action: Action) -> Vec<Effect> {
        let Some(editor) = self.overlays.editor_mut() else {
            return Vec::new();
        };
        let text = editor.input.lines().join("\n");
        let based_on = editor.based_on.clone();
        let keep = |app: &mut App, text: String| {
            if let Some(task) = app.task.as_mut() {
                task.draft = Some(Draft {
                    text,
                    based_on: based_on.clone(),
                });
            }
        };
        match action {
            Action::Accept => {
                let problem = if text.trim().is_empty() {
                    Some("the output is empty".to_string())
                } else if text.len() > MAX_OUTPUT_BYTES {
                    Some(format!(
                        "the output is {} bytes, over the limit of {MAX_OUTPUT_BYTES}",
                        text.len()
                    ))
                } else {
                    None
                };
                if problem.is_some() {
                    editor.problem = problem;
                    return Vec::new();
                }
                self.overlays.close(Layer::Editor);
                keep(self, text.clone());
                let lines = text.lines().count();
                let summary = match &based_on {
                    Some(candidate) => format!(
                        "submit an edit of {} ({lines} lines) as the output",
                        clean(candidate)
                    ),
                    None => format!("submit a written output ({lines} lines)"),
                };
                let mut form = ResolveForm::new(
                    ResolutionKind::Submit,
                    summary,
                    Some(Resolution::Submit {
                        output: text.clone(),
                        based_on,
                    }),
                    Vec::new(),
                );
                // The whole text that will be sent, never a preview of it.
                form.details = vec![text];
                self.overlays.open(Overlay::Resolve(Box::new(form)));
            }
            _ => {
                // Cancelled, not lost: `e` or `w` opens it again.
                self.overlays.close(Layer::Editor);
                keep(self, text);
            }
        }
        Vec::new()
    }

    pub(in crate::app) fn editor_input(&mut self, key: KeyEvent) {
        if let Some(editor) = self.overlays.editor_mut() {
            editor.input.input(key);
            editor.problem = None;
        }
    }

    pub(in crate::app) fn editor_paste(&mut self, text: &str) {
        if let Some(editor) = self.overlays.editor_mut() {
            editor.input.insert_str(text);
        } else if let Some(form) = self.overlays.resolve_form_mut() {
            // One-line fields take a paste on one line.
            let line = clean(text);
            let field = match form.focus {
                FormField::Reason => form.reason.as_mut().unwrap_or(&mut form.note),
                FormField::Note => &mut form.note,
            };
            field.insert_str(line);
        }
    }

    pub(in crate::app) fn perform_in_form(&mut self, action: Action) -> Vec<Effect> {
        let Some(form) = self.overlays.resolve_form_mut() else {
            return Vec::new();
        };
        match action {
            Action::Accept => return self.submit_form(),
            Action::Up => form.chosen = form.chosen.saturating_sub(1),
            Action::Down => {
                form.chosen = (form.chosen + 1).min(form.choices.len().saturating_sub(1))
            }
            Action::PageUp => {
                form.details_scroll = form.details_scroll.saturating_sub(CONFIRM_SCROLL_ROWS)
            }
            Action::PageDown => {
                form.details_scroll = form.details_scroll.saturating_add(CONFIRM_SCROLL_ROWS)
            }
            Action::NextField | Action::PrevField => {
                if form.reason.is_some() {
                    form.focus = match form.focus {
                        FormField::Reason => FormField::Note,
                        FormField::Note => FormField::Reason,
                    };
                }
            }
            // The claim stays while the task is open: another resolution may follow.
            _ => self.overlays.close(Layer::Resolve),
        }
        Vec::new()
    }

    pub(in crate::app) fn form_input(&mut self, key: KeyEvent) {
        if let Some(form) = self.overlays.resolve_form_mut() {
            let field = match form.focus {
                FormField::Reason => form.reason.as_mut().unwrap_or(&mut form.note),
                FormField::Note => &mut form.note,
            };
            field.input(key);
            form.problem = None;
        }
    }
}
