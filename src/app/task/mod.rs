//! One escalated task, open in the inbox view: its detail as the source tells it, the claim
//! this console holds on it, the resolution being written, and every resolution sent.
//!
//! Resolving claims the task first (a lease, renewed while the task stays open) and leaving
//! the task releases it. A resolution is sent once: the runner journals it under a fresh
//! idempotency key and retries with that key; the console refuses a second resolution of a
//! task while the first one's outcome is not known.
//!
//! Here: the open task's state and moving around it. Reading its detail is in `load.rs`,
//! the claim in `claim.rs`, writing a resolution (editor, confirmation) in `form.rs`, and
//! sending it and settling its outcome in `send.rs`.

mod claim;
mod form;
mod load;
mod send;
#[cfg(test)]
mod tests;

pub use form::{Choice, EditorState, FormField, ResolveForm};
pub use send::{ConfirmedResolution, ResolutionState, SentResolution};

use super::{App, Effect, FailureKind, PAGE, PaneExtent};
use crate::keymap::{Action, Layer};
use protocol::escalations::{Escalation, EscalationSummary, Lease};
use protocol::sanitize::clean;

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
    pub fn task_summary(&self) -> Option<EscalationSummary> {
        let task = self.task.as_ref()?;
        self.inbox
            .get(task.source, &task.id)
            .map(|item| item.summary())
            .or_else(|| task.escalation().map(|e| e.summary.clone()))
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
        let (source, id) = (item.source, item.id().to_string());
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

    pub(in crate::app) fn is_open_task(&self, source: usize, id: &str) -> bool {
        self.task
            .as_ref()
            .is_some_and(|t| t.source == source && t.id == id)
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
}
