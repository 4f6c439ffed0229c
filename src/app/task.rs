//! One escalated task, open in the inbox view: its detail as the source tells it, the claim
//! this console holds on it, the resolution being written, and every resolution sent.
//!
//! Resolving claims the task first (a lease, renewed while the task stays open) and leaving
//! the task releases it. A resolution is sent once: the runner journals it under a fresh
//! idempotency key and retries with that key; the console refuses a second resolution of a
//! task while the first one's outcome is not known.

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use ratatui_textarea::{CursorMove, TextArea, WrapMode};

use super::inbox::Upserted;
use super::{App, Effect, FailureKind, Level, Overlay, PAGE, PaneExtent};
use crate::keymap::{Action, Layer};
use protocol::Role;
use protocol::escalations::{
    AppliedResolution, Escalation, EscalationSummary, Lease, MAX_NOTE_BYTES, MAX_OUTPUT_BYTES,
    Resolution, ResolutionKind, ResolveOutcome,
};
use protocol::sanitize::{clean, clean_multiline};

/// Why a claim, release or resolution did not go through.
#[derive(Clone, Debug, PartialEq)]
pub struct EscalationFailure {
    pub kind: FailureKind,
    pub message: String,
    /// A 409 of a claim (or of a resolve): who holds the task.
    pub holder: Option<String>,
    /// A 409 of a resolve (or of a claim): who resolved it (and how, in `message`).
    pub resolved_by: Option<String>,
}

/// A resolution the operator confirmed: what the runner needs to journal and send it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfirmedResolution {
    pub local_id: u64,
    pub source: String,
    pub id: String,
    pub resolution: Resolution,
    pub note: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskPane {
    Overview,
    Context,
    Candidates,
    Lineage,
    Timeline,
    History,
}

impl TaskPane {
    pub const ALL: [TaskPane; 6] = [
        TaskPane::Overview,
        TaskPane::Context,
        TaskPane::Candidates,
        TaskPane::Lineage,
        TaskPane::Timeline,
        TaskPane::History,
    ];

    pub fn title(self) -> &'static str {
        match self {
            TaskPane::Overview => "Overview",
            TaskPane::Context => "Context",
            TaskPane::Candidates => "Candidates",
            TaskPane::Lineage => "Lineage",
            TaskPane::Timeline => "Timeline",
            TaskPane::History => "History",
        }
    }

    fn index(self) -> usize {
        TaskPane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

pub enum TaskLoad {
    Loading,
    Failed(String),
    Loaded(Box<Escalation>),
}

/// This console's claim on the open task.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    Unclaimed,
    Claiming,
    Held { lease: Lease, renewing: bool },
    Failed(String),
}

/// An output written in the editor, kept while its task stays open.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub text: String,
    pub based_on: Option<String>,
}

pub struct TaskState {
    pub source: usize,
    pub id: String,
    pub load: TaskLoad,
    /// The context payload, pretty-printed and sanitized once when it arrives.
    pub context_lines: Vec<String>,
    pub pane: TaskPane,
    /// First row shown, by pane; views clamp it to the content.
    scroll: [usize; TaskPane::ALL.len()],
    /// The pane as last drawn: its rows and height bound the scroll.
    drawn: Option<PaneExtent>,
    /// The candidate output that `a` approves and `e` edits.
    pub candidate: usize,
    pub claim: Claim,
    pub draft: Option<Draft>,
}

impl TaskState {
    pub fn scroll(&self, pane: TaskPane) -> usize {
        self.scroll[pane.index()]
    }

    /// The current pane as last drawn, if it was.
    pub fn drawn_pane(&self) -> Option<PaneExtent> {
        self.drawn.filter(|d| d.pane == self.pane)
    }

    /// Rows a page key scrolls: the pane's height once drawn.
    fn page(&self) -> usize {
        self.drawn_pane().map_or(PAGE, |d| d.height.max(1))
    }

    /// Keeps the scroll of the current pane within its content as last drawn.
    fn clamp_scroll(&mut self) {
        if let Some(drawn) = self.drawn_pane() {
            let scroll = &mut self.scroll[self.pane.index()];
            *scroll = (*scroll).min(drawn.max_scroll());
        }
    }

    pub(super) fn pane_drawn(&mut self, extent: PaneExtent) {
        self.drawn = Some(extent);
        self.clamp_scroll();
    }

    pub fn escalation(&self) -> Option<&Escalation> {
        match &self.load {
            TaskLoad::Loaded(escalation) => Some(escalation),
            TaskLoad::Loading | TaskLoad::Failed(_) => None,
        }
    }
}

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
    /// What will be done, in words.
    pub summary: String,
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
    fn new(
        kind: ResolutionKind,
        summary: String,
        resolution: Option<Resolution>,
        choices: Vec<Choice>,
    ) -> ResolveForm {
        ResolveForm {
            kind,
            summary,
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

#[derive(Clone, Debug, PartialEq)]
pub enum ResolutionState {
    Sending,
    Done(Box<ResolveOutcome>),
    Failed(EscalationFailure),
    /// No answer came, and the task read afterwards shows it was not applied.
    NotApplied,
}

/// A resolution this console sent, and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct SentResolution {
    pub local_id: u64,
    pub source: String,
    pub id: String,
    pub resolution: Resolution,
    pub note: String,
    pub at: DateTime<Utc>,
    /// Known once the journal holds it, before it is sent.
    pub key: Option<String>,
    pub state: ResolutionState,
}

impl SentResolution {
    /// Sent, and its outcome is not known: another resolution of the task must wait.
    pub fn in_flight(&self) -> bool {
        match &self.state {
            ResolutionState::Sending => true,
            ResolutionState::Failed(f) => f.kind == FailureKind::Unknown,
            ResolutionState::Done(_) | ResolutionState::NotApplied => false,
        }
    }
}

fn single_line(text: &str, placeholder: &str) -> TextArea<'static> {
    let mut input = TextArea::new(vec![text.to_string()]);
    input.set_placeholder_text(placeholder);
    input.move_cursor(CursorMove::End);
    input
}

fn text_of(input: &TextArea<'_>) -> String {
    input.lines().join(" ").trim().to_string()
}

/// A claim or resolve failure in words, naming whoever holds or closed the task.
pub fn failure_text(failure: &EscalationFailure) -> String {
    let message = clean(&failure.message);
    match (&failure.holder, &failure.resolved_by) {
        (Some(holder), _) => format!("claimed by {}: {message}", clean(holder)),
        (None, Some(by)) => format!("already resolved by {}: {message}", clean(by)),
        (None, None) => match failure.kind {
            FailureKind::Unknown => format!("no answer: {message}"),
            FailureKind::Rejected | FailureKind::Conflict => message.into_owned(),
        },
    }
}

impl App {
    /// The name this console acts as at `source`.
    pub fn my_name(&self, source: usize) -> Option<&str> {
        self.sources[source]
            .identity
            .as_ref()
            .map(|w| w.name.as_str())
    }

    /// The newest summary of the open task (events keep the inbox's copy current).
    pub fn task_summary(&self) -> Option<&EscalationSummary> {
        let task = self.task.as_ref()?;
        self.inbox
            .get(task.source, &task.id)
            .map(|item| &item.summary)
            .or_else(|| task.escalation().map(|e| &e.summary))
    }

    /// The latest resolution this console sent for a task.
    pub fn resolution_of(&self, source: &str, id: &str) -> Option<&SentResolution> {
        self.resolutions
            .iter()
            .rev()
            .find(|r| r.source == source && r.id == id)
    }

    pub(super) fn open_task(&mut self, slot: u32) -> Vec<Effect> {
        let item = self.inbox.item(slot);
        let (source, id) = (item.source, item.summary.id.clone());
        let mut effects = self.close_task();
        effects.push(Effect::FetchEscalation {
            source: self.sources[source].name.clone(),
            id: id.clone(),
        });
        self.task = Some(TaskState {
            source,
            id,
            load: TaskLoad::Loading,
            context_lines: Vec::new(),
            pane: TaskPane::Overview,
            scroll: [0; TaskPane::ALL.len()],
            drawn: None,
            candidate: 0,
            claim: Claim::Unclaimed,
            draft: None,
        });
        effects
    }

    /// Leaves the open task, releasing this console's claim on it.
    pub(super) fn close_task(&mut self) -> Vec<Effect> {
        self.overlays.close(Layer::Resolve);
        self.overlays.close(Layer::Editor);
        let Some(task) = self.task.take() else {
            return Vec::new();
        };
        match task.claim {
            // A claim still on its way is released when it lands (see `claim_finished`).
            Claim::Held { .. } => vec![Effect::Release {
                source: self.sources[task.source].name.clone(),
                id: task.id,
            }],
            Claim::Unclaimed | Claim::Claiming | Claim::Failed(_) => Vec::new(),
        }
    }

    fn is_open_task(&self, source: usize, id: &str) -> bool {
        self.task
            .as_ref()
            .is_some_and(|t| t.source == source && t.id == id)
    }

    pub(super) fn escalation_loaded(
        &mut self,
        source: &str,
        id: &str,
        result: Result<Box<Escalation>, String>,
    ) -> Vec<Effect> {
        let Some(index) = self.source_index(source) else {
            return Vec::new();
        };
        match result {
            Ok(escalation) => {
                let upserted = self.inbox.upsert(index, escalation.summary.clone());
                self.settle_unknown(index, &escalation);
                if !self.is_open_task(index, id) {
                    return Vec::new();
                }
                let pretty = serde_json::to_string_pretty(&escalation.context)
                    .unwrap_or_else(|_| escalation.context.to_string());
                let task = self.task.as_mut().expect("checked open");
                task.context_lines = clean_multiline(&pretty)
                    .lines()
                    .map(str::to_string)
                    .collect();
                task.candidate = task
                    .candidate
                    .min(escalation.candidates.len().saturating_sub(1));
                task.load = TaskLoad::Loaded(escalation);
                self.claim_follows_summary(upserted);
            }
            Err(error) => {
                let error = clean(&error).into_owned();
                if let Some(task) = self
                    .task
                    .as_mut()
                    .filter(|t| t.source == index && t.id == id)
                {
                    // A refresh that fails keeps what is on screen.
                    if task.escalation().is_none() {
                        task.load = TaskLoad::Failed(error.clone());
                    }
                }
                self.flash(Level::Error, format!("{source}: cannot read {id}: {error}"));
            }
        }
        Vec::new()
    }

    /// The open task changed at its source: its detail (history, resolution) is read again.
    pub(super) fn escalation_changed(
        &mut self,
        source: usize,
        id: &str,
        upserted: Upserted,
    ) -> Vec<Effect> {
        if upserted != Upserted::Newer || !self.is_open_task(source, id) {
            return Vec::new();
        }
        self.claim_follows_summary(upserted);
        vec![Effect::FetchEscalation {
            source: self.sources[source].name.clone(),
            id: id.to_string(),
        }]
    }

    /// A claim the source shows as someone else's (ours expired and was taken) or on a
    /// closed task is not ours to release. (A summary without a lease may predate our
    /// claim: it proves nothing.)
    fn claim_follows_summary(&mut self, upserted: Upserted) {
        if upserted != Upserted::Newer {
            return;
        }
        let Some(task) = self.task.as_ref() else {
            return;
        };
        let me = self.my_name(task.source).map(str::to_string);
        let Some(summary) = self.task_summary() else {
            return;
        };
        let lost = summary.state.is_closed()
            || summary
                .lease
                .as_ref()
                .is_some_and(|l| Some(&l.holder) != me.as_ref());
        let task = self.task.as_mut().expect("checked open");
        if lost && matches!(task.claim, Claim::Held { .. }) {
            task.claim = Claim::Unclaimed;
        }
    }

    pub(super) fn perform_in_task(&mut self, action: Action) -> Vec<Effect> {
        let Some(task) = self.task.as_mut() else {
            return Vec::new();
        };
        let page = task.page();
        let pane = task.pane.index();
        let count = TaskPane::ALL.len();
        match action {
            Action::Close => return self.close_task(),
            Action::NextPane => task.pane = TaskPane::ALL[(pane + 1) % count],
            Action::PrevPane => task.pane = TaskPane::ALL[(pane + count - 1) % count],
            Action::Up => task.scroll[pane] = task.scroll[pane].saturating_sub(1),
            Action::Down => task.scroll[pane] += 1,
            Action::PageUp => task.scroll[pane] = task.scroll[pane].saturating_sub(page),
            Action::PageDown => task.scroll[pane] += page,
            Action::Top => task.scroll[pane] = 0,
            Action::Bottom => task.scroll[pane] = usize::MAX / 2,
            Action::Left => task.candidate = task.candidate.saturating_sub(1),
            Action::Right => {
                let candidates = task.escalation().map_or(0, |e| e.candidates.len());
                task.candidate = (task.candidate + 1).min(candidates.saturating_sub(1));
            }
            Action::Approve
            | Action::EditOutput
            | Action::WriteOutput
            | Action::Reject
            | Action::Abort
            | Action::RetryPath
            | Action::HandOff => return self.start_resolution(action),
            _ => {}
        }
        task.clamp_scroll();
        Vec::new()
    }

    /// Why the open task cannot be resolved from here now, if it cannot.
    fn resolution_refusal(&self) -> Option<String> {
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
    fn start_resolution(&mut self, action: Action) -> Vec<Effect> {
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
                Some(ResolveForm::new(
                    ResolutionKind::Approve,
                    format!(
                        "approve {} of {id}: {} on {}, confidence {:.2}",
                        clean(&c.id),
                        clean(&c.model),
                        clean(&c.provider),
                        c.confidence
                    ),
                    Some(Resolution::Approve {
                        candidate: c.id.clone(),
                    }),
                    Vec::new(),
                ))
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
                let choices = self.retry_choices(task.source);
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
    /// Every provider of the source's fleet, after "let the gateway choose".
    fn retry_choices(&self, source: usize) -> Vec<Choice> {
        let mut choices = vec![Choice {
            label: "any path: the gateway chooses".to_string(),
            resolution: Resolution::Retry {
                model: None,
                provider: None,
                region: None,
            },
        }];
        let providers = self.sources[source]
            .snapshot
            .iter()
            .flat_map(|s| &s.providers);
        choices.extend(providers.map(|p| Choice {
            label: format!(
                "{:<20} {:<18} {} {:<8} breaker {}",
                clean(&p.id),
                clean(&p.model),
                p.health.symbol(),
                p.health.word(),
                p.breaker.state.word()
            ),
            resolution: Resolution::Retry {
                model: Some(p.model.clone()),
                provider: Some(p.id.clone()),
                region: Some(p.region.clone()),
            },
        }));
        choices
    }

    /// Operators and admins of the roster other than this console's user, on-call first.
    fn handoff_choices(&self, source: usize) -> Vec<Choice> {
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

    /// Claims the open task unless this console holds it or is claiming it already.
    fn claim_open_task(&mut self) -> Vec<Effect> {
        let Some(task) = self.task.as_mut() else {
            return Vec::new();
        };
        match task.claim {
            Claim::Held { .. } | Claim::Claiming => Vec::new(),
            Claim::Unclaimed | Claim::Failed(_) => {
                task.claim = Claim::Claiming;
                vec![Effect::Claim {
                    source: self.sources[task.source].name.clone(),
                    id: task.id.clone(),
                }]
            }
        }
    }

    /// Renews the claim of the open task when two thirds of its lease have run out.
    pub(super) fn renew_claim(&mut self) -> Vec<Effect> {
        let Some(task) = self.task.as_ref() else {
            return Vec::new();
        };
        let Claim::Held { lease, renewing } = &task.claim else {
            return Vec::new();
        };
        let length = lease.expires_at - lease.claimed_at;
        let left = lease.expires_at - self.source_clock(task.source);
        if *renewing || left * 3 > length {
            return Vec::new();
        }
        let effect = Effect::Claim {
            source: self.sources[task.source].name.clone(),
            id: task.id.clone(),
        };
        if let Some(Claim::Held { renewing, .. }) = self.task.as_mut().map(|t| &mut t.claim) {
            *renewing = true;
        }
        vec![effect]
    }

    pub(super) fn claim_finished(
        &mut self,
        source: &str,
        id: &str,
        result: Result<Lease, EscalationFailure>,
    ) -> Vec<Effect> {
        let Some(index) = self.source_index(source) else {
            return Vec::new();
        };
        if !self.is_open_task(index, id) {
            // The task was left while its claim was on the way: give it back.
            return match result {
                Ok(_) => vec![Effect::Release {
                    source: source.to_string(),
                    id: id.to_string(),
                }],
                Err(_) => Vec::new(),
            };
        }
        let task = self.task.as_mut().expect("checked open");
        match result {
            Ok(lease) => {
                task.claim = Claim::Held {
                    lease,
                    renewing: false,
                };
                if self
                    .overlays
                    .resolve_form()
                    .is_some_and(|f| f.waiting_for_claim)
                {
                    return self.submit_form();
                }
                Vec::new()
            }
            Err(failure) => {
                let text = failure_text(&failure);
                task.claim = Claim::Failed(text.clone());
                if let Some(form) = self.overlays.resolve_form_mut() {
                    form.waiting_for_claim = false;
                    form.problem = Some(format!("cannot claim {id}: {text}"));
                }
                self.flash(Level::Error, format!("✖ cannot claim {id}: {text}"));
                if failure.resolved_by.is_some() {
                    return vec![Effect::FetchEscalation {
                        source: source.to_string(),
                        id: id.to_string(),
                    }];
                }
                Vec::new()
            }
        }
    }

    pub(super) fn release_finished(
        &mut self,
        source: &str,
        id: &str,
        result: Result<(), EscalationFailure>,
    ) {
        if let Err(failure) = result {
            self.log(
                Some(source),
                Level::Warning,
                format!(
                    "{id} not released ({}); its lease runs out by itself",
                    failure_text(&failure)
                ),
            );
        }
    }

    pub(super) fn perform_in_editor(&mut self, action: Action) -> Vec<Effect> {
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
                let form = ResolveForm::new(
                    ResolutionKind::Submit,
                    summary,
                    Some(Resolution::Submit {
                        output: text,
                        based_on,
                    }),
                    Vec::new(),
                );
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

    pub(super) fn editor_input(&mut self, key: KeyEvent) {
        if let Some(editor) = self.overlays.editor_mut() {
            editor.input.input(key);
            editor.problem = None;
        }
    }

    pub(super) fn editor_paste(&mut self, text: &str) {
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

    pub(super) fn perform_in_form(&mut self, action: Action) -> Vec<Effect> {
        let Some(form) = self.overlays.resolve_form_mut() else {
            return Vec::new();
        };
        match action {
            Action::Accept => return self.submit_form(),
            Action::Up => form.chosen = form.chosen.saturating_sub(1),
            Action::Down => {
                form.chosen = (form.chosen + 1).min(form.choices.len().saturating_sub(1))
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

    pub(super) fn form_input(&mut self, key: KeyEvent) {
        if let Some(form) = self.overlays.resolve_form_mut() {
            let field = match form.focus {
                FormField::Reason => form.reason.as_mut().unwrap_or(&mut form.note),
                FormField::Note => &mut form.note,
            };
            field.input(key);
            form.problem = None;
        }
    }

    /// Enter in the resolution's confirmation: send it if everything holds, once claimed.
    fn submit_form(&mut self) -> Vec<Effect> {
        if let Some(refusal) = self.resolution_refusal() {
            if let Some(form) = self.overlays.resolve_form_mut() {
                form.problem = Some(refusal);
                form.waiting_for_claim = false;
            }
            return Vec::new();
        }
        let Some(form) = self.overlays.resolve_form_mut() else {
            return Vec::new();
        };
        let note = text_of(&form.note);
        let resolution = match form.kind {
            ResolutionKind::Reject => {
                let reason = form.reason.as_ref().map(text_of).unwrap_or_default();
                (!reason.is_empty()).then_some(Resolution::Reject { reason })
            }
            ResolutionKind::Retry | ResolutionKind::Handoff => {
                form.choices.get(form.chosen).map(|c| c.resolution.clone())
            }
            ResolutionKind::Approve | ResolutionKind::Submit | ResolutionKind::Abort => {
                form.resolution.clone()
            }
        };
        let problem = match &resolution {
            None if form.kind == ResolutionKind::Reject => Some("a reason is required"),
            None => Some("nothing chosen"),
            Some(_) if note.is_empty() => {
                Some("a note is required: it tells the next person and the audit log why")
            }
            Some(_) if note.len() > MAX_NOTE_BYTES => Some("the note is too long (4096 bytes)"),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            form.problem = Some(problem.to_string());
            return Vec::new();
        }
        let resolution = resolution.expect("checked above");
        let task = self.task.as_ref().expect("refusal checks it is open");
        match task.claim {
            Claim::Held { .. } => {}
            Claim::Claiming => {
                form.waiting_for_claim = true;
                form.problem = Some(format!(
                    "claiming {} first; it is sent as soon as the claim holds",
                    task.id
                ));
                return Vec::new();
            }
            Claim::Unclaimed | Claim::Failed(_) => {
                form.waiting_for_claim = true;
                form.problem = Some(format!("claiming {} first", task.id));
                return self.claim_open_task();
            }
        }
        self.overlays.close(Layer::Resolve);
        self.next_resolution_id += 1;
        let local_id = self.next_resolution_id;
        let (source, id) = (self.sources[task.source].name.clone(), task.id.clone());
        self.resolutions.push(SentResolution {
            local_id,
            source: source.clone(),
            id: id.clone(),
            resolution: resolution.clone(),
            note: note.clone(),
            at: self.wall,
            key: None,
            state: ResolutionState::Sending,
        });
        self.flash(
            Level::Info,
            format!("sending {} of {id}…", resolution.kind().word()),
        );
        vec![Effect::Resolve(ConfirmedResolution {
            local_id,
            source,
            id,
            resolution,
            note,
        })]
    }

    pub(super) fn resolve_journaled(&mut self, local_id: u64, key: String) {
        if let Some(sent) = self.resolutions.iter_mut().find(|r| r.local_id == local_id) {
            sent.key = Some(key);
        }
    }

    pub(super) fn resolve_finished(
        &mut self,
        local_id: u64,
        result: Result<ResolveOutcome, EscalationFailure>,
    ) -> Vec<Effect> {
        let Some(position) = self.resolutions.iter().position(|r| r.local_id == local_id) else {
            return Vec::new();
        };
        let sent = &self.resolutions[position];
        // The first outcome is the outcome: a replayed answer changes nothing.
        if matches!(sent.state, ResolutionState::Done(_)) {
            return Vec::new();
        }
        let (source, id, kind) = (sent.source.clone(), sent.id.clone(), sent.resolution.kind());
        let index = self.source_index(&source);
        match result {
            Ok(outcome) => {
                self.resolution_applied(position, outcome);
                Vec::new()
            }
            Err(failure) => {
                self.resolutions[position].state = ResolutionState::Failed(failure.clone());
                let (level, verdict) = match failure.kind {
                    FailureKind::Unknown => (
                        Level::Warning,
                        "? outcome unknown, kept in the journal under its key",
                    ),
                    FailureKind::Conflict => (Level::Error, "✖ not applied"),
                    FailureKind::Rejected => (Level::Error, "✖ refused"),
                };
                self.flash(
                    level,
                    format!(
                        "{verdict}: {} {id}: {}",
                        kind.word(),
                        failure_text(&failure)
                    ),
                );
                // Someone else's resolution: show theirs. No answer: read the task, which
                // tells whether this one was applied (see `settle_unknown`).
                let read_again = failure.kind == FailureKind::Unknown
                    || failure.resolved_by.is_some()
                    || failure.holder.is_some();
                match (read_again, index) {
                    (true, Some(_)) => vec![Effect::FetchEscalation { source, id }],
                    _ => Vec::new(),
                }
            }
        }
    }

    /// The source accepted the resolution at `position` of [`App::resolutions`].
    fn resolution_applied(&mut self, position: usize, outcome: ResolveOutcome) {
        let sent = &mut self.resolutions[position];
        let (source, id) = (sent.source.clone(), sent.id.clone());
        let text = format!(
            "✓ {} {id}: {}",
            sent.resolution.kind().word(),
            clean(&outcome.consequence)
        );
        let summary = outcome.escalation.clone();
        sent.state = ResolutionState::Done(Box::new(outcome));
        if let Some(index) = self.source_index(&source) {
            self.inbox.upsert(index, summary);
            if self.is_open_task(index, &id) {
                // The resolution ended the claim: nothing to release.
                self.task = None;
                self.overlays.close(Layer::Resolve);
                self.overlays.close(Layer::Editor);
            }
        }
        self.flash(Level::Info, text);
    }

    /// A resolution whose answer never came is settled by the task as read now: applied
    /// under its key (done, once), closed by someone else (conflict), or still open (not
    /// applied: the operator may resolve it again).
    fn settle_unknown(&mut self, index: usize, escalation: &Escalation) {
        let summary = &escalation.summary;
        let source = self.sources[index].name.clone();
        let me = self.my_name(index).unwrap_or_default().to_string();
        let unsettled: Vec<usize> = self
            .resolutions
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.source == source
                    && r.id == summary.id
                    && matches!(&r.state, ResolutionState::Failed(f) if f.kind == FailureKind::Unknown)
            })
            .map(|(i, _)| i)
            .collect();
        for position in unsettled {
            let sent = &self.resolutions[position];
            let handed_to = match &sent.resolution {
                Resolution::Handoff { to } => Some(to.as_str()),
                _ => None,
            };
            let applied = match &escalation.applied {
                Some(applied) if sent.key.as_ref() == Some(&applied.idempotency_key) => {
                    Some(applied.clone())
                }
                // A hand-off leaves the task open; it shows as the new assignee.
                None if handed_to.is_some() && summary.assignee.as_deref() == handed_to => {
                    Some(AppliedResolution {
                        resolution: sent.resolution.clone(),
                        note: sent.note.clone(),
                        by: me.clone(),
                        at: self.wall,
                        idempotency_key: sent.key.clone().unwrap_or_default(),
                    })
                }
                _ => None,
            };
            if let Some(applied) = applied {
                let outcome = ResolveOutcome {
                    escalation: summary.clone(),
                    applied,
                    consequence: "applied: the task read after the lost answer shows it"
                        .to_string(),
                };
                self.resolution_applied(position, outcome);
            } else if let Some(other) = &escalation.applied {
                self.resolutions[position].state = ResolutionState::Failed(EscalationFailure {
                    kind: FailureKind::Conflict,
                    message: format!("it was resolved ({})", other.resolution.kind().word()),
                    holder: None,
                    resolved_by: Some(other.by.clone()),
                });
            } else if !summary.state.is_closed() {
                let kind = sent.resolution.kind().word();
                self.resolutions[position].state = ResolutionState::NotApplied;
                self.flash(
                    Level::Warning,
                    format!(
                        "{kind} of {} was not applied: no answer came and the task is still \
                         open; resolve it again",
                        clean(&summary.id)
                    ),
                );
            }
        }
    }
}
