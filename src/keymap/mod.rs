//! One table maps `layer + key chord -> Action`. Help, key hints and the command palette
//! are derived from it, so they never disagree with the bindings.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::domain::command::Verb;
pub use decision::palette_actions as decision_palette_actions;
pub use drill::Drill;
use protocol::approvals::DecisionKind;

mod decision;
mod drill;

/// Who gets a key first: the topmost open layer, then the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// The multi-line editor of an output (typing goes to it).
    Editor,
    /// The confirmation of a task's resolution: what will be done, a choice, a note.
    Resolve,
    /// The confirmation of a command: reason, expiry, preflight.
    Confirm,
    /// The confirmation of a silence: its matchers, how long, why.
    Silence,
    /// The list of a metrics source's active silences.
    Silences,
    /// The menu of commands for the selection.
    Menu,
    /// Help overlay.
    Help,
    /// `:` command palette (typing goes to its input).
    Palette,
    /// `/` filter input.
    Filter,
    /// An escalated task open in the inbox view; keys it does not bind go to [`Layer::Global`].
    Task,
    /// The inbox's list of tasks; keys it does not bind go to [`Layer::Global`].
    Inbox,
    /// A skip reason or a note for a runbook run's step (typing goes to it).
    RunInput,
    /// A runbook run being followed; keys it does not bind go to [`Layer::Global`].
    Run,
    /// The list of runbooks; keys it does not bind go to [`Layer::Global`].
    Runbooks,
    /// The controls of a replay (`switchboard replay`): asked before the views' own keys.
    Replay,
    /// The briefing of a tabletop exercise, shown over the views.
    Briefing,
    /// The confirmation that ends a drill.
    EndDrill,
    /// The Exercise view; keys it does not bind go to [`Layer::Global`].
    Exercise,
    /// The Approvals view; keys it does not bind go to [`Layer::Global`].
    Approvals,
    /// The views; always at the bottom.
    Global,
}

impl Layer {
    /// A view's layer hands the keys it does not bind to the global one.
    pub fn falls_through(self) -> bool {
        matches!(
            self,
            Layer::Task
                | Layer::Inbox
                | Layer::Run
                | Layer::Runbooks
                | Layer::Exercise
                | Layer::Approvals
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    Palette,
    Filter,
    ClearFilter,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextView,
    PrevView,
    ShowFleet,
    ShowServices,
    ShowTimeline,
    /// Close the topmost layer.
    Close,
    /// Run the selected palette entry / accept the filter.
    Accept,
    /// Cycle through themes.
    NextTheme,
    ShowAudit,
    /// The menu of commands for the selected region, provider or service.
    ActionMenu,
    /// Start a command of this kind on the selection.
    Run(Verb),
    /// Next / previous input field of the confirmation.
    NextField,
    PrevField,
    ShowInbox,
    /// Open the selected task of the inbox.
    OpenTask,
    /// Next / previous pane of an open task.
    NextPane,
    PrevPane,
    /// Resolutions of an open task (each claims it first).
    Approve,
    EditOutput,
    WriteOutput,
    Reject,
    Abort,
    RetryPath,
    HandOff,
    /// Silence the alert under the selection (a confirmation first).
    Silence,
    /// The active silences of the metrics source.
    ShowSilences,
    /// Expire the silence selected in the list (a confirmation first).
    ExpireSilence,
    ShowRunbooks,
    /// Follow the selected runbook (resume its run if one is going).
    OpenRunbook,
    /// Mark the run's current step done (its checks recorded as they read).
    StepDone,
    /// Pre-fill the step's command into the confirmation.
    StepAction,
    /// Skip the step (a reason first).
    StepSkip,
    /// Add a note to the step's record.
    StepNote,
    /// Take choice N (from 1) of the step's decision.
    Choose(u8),
    /// End the run being followed before its last step (a reason first).
    EndRun,
    ShowExercise,
    /// A control of a tabletop exercise.
    Drill(Drill),
    /// Move a replay's clock (`switchboard replay`).
    Replay(ReplayControl),
    ShowApprovals,
    ShowCost,
    /// Approve, deny or withdraw a request of the two-person rule (a reason first).
    Decide(DecisionKind),
}

/// What a replay's keys do to its clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplayControl {
    PlayPause,
    Faster,
    Slower,
    Back,
    Forward,
    NextMark,
    PrevMark,
    Start,
    End,
}

impl ReplayControl {
    fn describe(self) -> &'static str {
        match self {
            ReplayControl::PlayPause => "Pause or resume the replay",
            ReplayControl::Faster => "Replay twice as fast (up to ×64)",
            ReplayControl::Slower => "Replay half as fast (down to ×0.25)",
            ReplayControl::Back => "Seek back 30 s",
            ReplayControl::Forward => "Seek forward 30 s",
            ReplayControl::NextMark => "Jump to the next inject or action",
            ReplayControl::PrevMark => "Jump to the previous inject or action",
            ReplayControl::Start => "Jump to the start (T0)",
            ReplayControl::End => "Jump to the end of the recording",
        }
    }

    fn word(self) -> &'static str {
        match self {
            ReplayControl::PlayPause => "play/pause",
            ReplayControl::Faster => "faster",
            ReplayControl::Slower => "slower",
            ReplayControl::Back => "-30s",
            ReplayControl::Forward => "+30s",
            ReplayControl::NextMark => "next",
            ReplayControl::PrevMark => "previous",
            ReplayControl::Start => "start",
            ReplayControl::End => "end",
        }
    }
}

impl Action {
    /// What the action does, for help and the palette.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "Quit Switchboard",
            Action::Help => "Show keys and what they do",
            Action::Palette => "Open the command palette",
            Action::Filter => "Filter regions, providers and services",
            Action::ClearFilter => "Clear the filter",
            Action::Up => "Move up",
            Action::Down => "Move down",
            Action::Left => "Move left (fleet: provider columns that do not fit scroll in)",
            Action::Right => "Move right (fleet: provider columns that do not fit scroll in)",
            Action::PageUp => "Page up",
            Action::PageDown => "Page down",
            Action::Top => "Go to the first row",
            Action::Bottom => "Go to the last row",
            Action::NextView => "Next view",
            Action::PrevView => "Previous view",
            Action::ShowFleet => "Fleet view: region x provider health",
            Action::ShowServices => "Services view: replicas, standbys, degraded modes",
            Action::ShowTimeline => "Timeline view: events, the selected one in full below",
            Action::Close => "Close",
            Action::Accept => "Accept",
            Action::NextTheme => "Switch to the next colour theme",
            Action::ShowAudit => "Audit view: every command, who, why, and how it went",
            Action::ActionMenu => "Commands for the selection (preflight and confirmation first)",
            Action::Run(Verb::Promote) => "Promote a standby replica of the selected service",
            Action::Run(Verb::Drain) => "Drain the selected region (its traffic goes elsewhere)",
            Action::Run(Verb::Undrain) => "Undrain the selected region",
            Action::Run(Verb::Breaker) => {
                "Force-open, close, pin or unpin the selected provider's breaker"
            }
            Action::Run(Verb::Degrade) => "Set or clear a degraded mode of the selected service",
            Action::Run(Verb::Weights) => {
                "Set the selected service's traffic weights across regions"
            }
            Action::Run(Verb::Standby) => {
                "Warm or cool a standby of the selected service (cold, warm, hot)"
            }
            Action::Run(Verb::Borrow) => "Borrow a replica from a shared pool into the service",
            Action::Run(Verb::Return) => "Give a borrowed replica of the service back to its pool",
            Action::NextField => "Next field",
            Action::PrevField => "Previous field",
            Action::ShowInbox => "Inbox view: escalated tasks waiting for a person, by SLA",
            Action::OpenTask => "Open the selected task: context, candidates, lineage",
            Action::NextPane => "Next pane of the task",
            Action::PrevPane => "Previous pane of the task",
            Action::Approve => "Approve the selected candidate output (with a note)",
            Action::EditOutput => "Edit the selected candidate in an editor, then submit it",
            Action::WriteOutput => "Write an output from scratch in an editor, then submit it",
            Action::Reject => "Reject the task's outputs (with a reason and a note)",
            Action::Abort => "Abort the task: its workflow is cancelled",
            Action::RetryPath => "Retry the step through a chosen model, provider and region",
            Action::HandOff => "Hand the task off to another operator of the roster",
            Action::Silence => {
                "Silence the firing alert selected (timeline) or on the selection marked ! (matchers, duration, reason)"
            }
            Action::ShowSilences => "Active silences of the Alertmanager: who, until when, why",
            Action::ExpireSilence => "Expire the selected silence (with a reason)",
            Action::ShowRunbooks => "Runbooks view: the ones that apply now first, with why",
            Action::OpenRunbook => "Follow the selected runbook (resumes its run)",
            Action::StepDone => "Step done: record its checks as they read, go to the next",
            Action::StepAction => {
                "Fill the step's command into the confirmation (preflight, reason, confirm)"
            }
            Action::StepSkip => "Skip the step (a reason is required)",
            Action::StepNote => "Add a note to the step's record",
            Action::Choose(_) => "Take that choice (by its number) of the step's decision",
            Action::EndRun => "End the run here, abandoned (a reason is required)",
            Action::Replay(control) => control.describe(),
            Action::ShowExercise => {
                "Exercise view: the drill's clock, injects, objectives and score"
            }
            Action::Drill(drill) => drill.describe(),
            Action::ShowApprovals => {
                "Approvals view: commands waiting for a second operator, and the preflight now"
            }
            Action::ShowCost => {
                "Cost view: what each service's redundancy costs and buys, budgets, findings"
            }
            Action::Decide(kind) => decision::describe(kind),
        }
    }

    /// Whether the action changes the fleet: read-only mode and the viewer role hide and refuse it.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Action::ActionMenu
                | Action::Run(_)
                | Action::Approve
                | Action::EditOutput
                | Action::WriteOutput
                | Action::Reject
                | Action::Abort
                | Action::RetryPath
                | Action::HandOff
                | Action::Silence
                | Action::ExpireSilence
                | Action::Decide(_)
        )
    }

    /// The palette's name of the action (`:name`).
    pub fn command_name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Palette => "palette",
            Action::Filter => "filter",
            Action::ClearFilter => "clear-filter",
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "left",
            Action::Right => "right",
            Action::PageUp => "page-up",
            Action::PageDown => "page-down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::NextView => "next-view",
            Action::PrevView => "prev-view",
            Action::ShowFleet => "fleet",
            Action::ShowServices => "services",
            Action::ShowTimeline => "timeline",
            Action::Close => "close",
            Action::Accept => "accept",
            Action::NextTheme => "theme",
            Action::ShowAudit => "audit",
            Action::ActionMenu => "actions",
            Action::Run(verb) => verb.word(),
            Action::NextField => "next-field",
            Action::PrevField => "prev-field",
            Action::ShowInbox => "inbox",
            Action::OpenTask => "open",
            Action::NextPane => "next-pane",
            Action::PrevPane => "prev-pane",
            Action::Approve => "approve",
            Action::EditOutput => "edit",
            Action::WriteOutput => "write",
            Action::Reject => "reject",
            Action::Abort => "abort",
            Action::RetryPath => "retry",
            Action::HandOff => "hand-off",
            Action::Silence => "silence",
            Action::ShowSilences => "silences",
            Action::ExpireSilence => "expire",
            Action::ShowRunbooks => "runbooks",
            Action::OpenRunbook => "follow",
            Action::StepDone => "done",
            Action::StepAction => "action",
            Action::StepSkip => "skip",
            Action::StepNote => "note",
            Action::Choose(_) => "choose",
            Action::EndRun => "end run",
            Action::Replay(control) => control.word(),
            Action::ShowExercise => "exercise",
            Action::Drill(drill) => drill.command_name(),
            Action::ShowApprovals => "approvals",
            Action::ShowCost => "cost",
            Action::Decide(kind) => kind.word(),
        }
    }

    /// Whether the action belongs in the palette (movement keys would only clutter it).
    pub fn in_palette(self) -> bool {
        !matches!(
            self,
            Action::Up
                | Action::Down
                | Action::Left
                | Action::Right
                | Action::PageUp
                | Action::PageDown
                | Action::Top
                | Action::Bottom
                | Action::Close
                | Action::Accept
                | Action::Palette
                | Action::NextField
                | Action::PrevField
        )
    }
}

/// A key with its modifiers, as bound in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chord {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl Chord {
    const fn plain(code: KeyCode) -> Self {
        Chord {
            code,
            modifiers: KeyModifiers::NONE,
        }
    }

    const fn ctrl(c: char) -> Self {
        Chord {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::CONTROL,
        }
    }

    fn matches(&self, key: &KeyEvent) -> bool {
        // Shift is part of the character itself for printable keys ('?', 'G').
        let modifiers = match key.code {
            KeyCode::Char(_) => key.modifiers - KeyModifiers::SHIFT,
            _ => key.modifiers,
        };
        self.code == key.code && self.modifiers == modifiers
    }

    pub fn label(&self) -> String {
        let key = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::Left => "←".to_string(),
            KeyCode::Right => "→".to_string(),
            KeyCode::Enter => "enter".to_string(),
            KeyCode::Esc => "esc".to_string(),
            KeyCode::Tab => "tab".to_string(),
            KeyCode::BackTab => "shift-tab".to_string(),
            KeyCode::PageUp => "pgup".to_string(),
            KeyCode::PageDown => "pgdn".to_string(),
            KeyCode::Home => "home".to_string(),
            KeyCode::End => "end".to_string(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}").to_lowercase(),
        };
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            format!("ctrl-{key}")
        } else {
            key
        }
    }
}

mod bindings;
mod hints;

pub use bindings::{BINDINGS, Binding};
pub use hints::{hints, replay_hints};

/// The action bound to `key` in `layer`, if any.
pub fn lookup(layer: Layer, key: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| b.layer == layer && b.chord.matches(key))
        .map(|b| b.action)
}

/// The action `key` runs when `layer` is on top, with the layer that binds it: a view's
/// layer hands what it does not bind to the global one.
pub fn dispatch(layer: Layer, key: &KeyEvent) -> Option<(Layer, Action)> {
    lookup(layer, key).map(|a| (layer, a)).or_else(|| {
        layer
            .falls_through()
            .then(|| lookup(Layer::Global, key).map(|a| (Layer::Global, a)))
            .flatten()
    })
}

/// Esc and the key typed right after it can reach the console in one read (a slow SSH link, a
/// busy machine), which the terminal reports as that key with Alt. No binding uses Alt, so on a
/// layer without a text editor (whose Alt keys move by words) it is split back into the two keys
/// the user typed.
pub fn split_coalesced_escape(layer: Layer, key: &KeyEvent) -> Option<[KeyEvent; 2]> {
    let text_editor = matches!(
        layer,
        Layer::Confirm
            | Layer::Editor
            | Layer::Resolve
            | Layer::Silence
            | Layer::RunInput
            | Layer::EndDrill
    );
    let alt_char = key.modifiers - KeyModifiers::SHIFT == KeyModifiers::ALT
        && matches!(key.code, KeyCode::Char(_));
    (alt_char && !text_editor && dispatch(layer, key).is_none()).then(|| {
        [
            KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
            KeyEvent::new(key.code, key.modifiers - KeyModifiers::ALT),
        ]
    })
}

/// The bindings a user may use now: mutating ones only when `can_mutate`.
fn usable(layer: Layer, can_mutate: bool) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| b.layer == layer && (can_mutate || !b.action.is_mutating()))
}

/// All keys bound to `action` in `layer`, as labels ("↑/k").
pub fn keys_for(layer: Layer, action: Action) -> String {
    let labels: Vec<String> = BINDINGS
        .iter()
        .filter(|b| b.layer == layer && b.action == action)
        .map(|b| b.chord.label())
        .collect();
    labels.join("/")
}

/// Help's content: every distinct `(layer, action)` the user may use, with its keys, in table order.
pub fn help_rows(can_mutate: bool) -> Vec<(Layer, String, &'static str)> {
    let mut seen: Vec<(Layer, Action)> = Vec::new();
    let mut rows = Vec::new();
    for binding in BINDINGS
        .iter()
        .filter(|b| can_mutate || !b.action.is_mutating())
    {
        // The choices of a decision are one row: their keys are their numbers.
        let action = match binding.action {
            Action::Choose(_) => Action::Choose(1),
            other => other,
        };
        if seen.contains(&(binding.layer, action)) {
            continue;
        }
        seen.push((binding.layer, action));
        let keys = match action {
            Action::Choose(_) => "1-9".to_string(),
            _ => keys_for(binding.layer, action),
        };
        rows.push((binding.layer, keys, action.describe()));
    }
    rows
}

/// The palette's entries of a drill: every control by name, with its keys in the Exercise view.
pub fn drill_palette_actions() -> Vec<(Action, String)> {
    Drill::PALETTE
        .iter()
        .map(|&drill| {
            let keys = match drill {
                Drill::Start | Drill::Pause | Drill::Resume => {
                    keys_for(Layer::Exercise, Action::Drill(Drill::Toggle))
                }
                other => keys_for(Layer::Exercise, Action::Drill(other)),
            };
            (Action::Drill(drill), keys)
        })
        .collect()
}

/// Palette entries: global actions the user may run by name, with their keys.
pub fn palette_actions(can_mutate: bool) -> Vec<(Action, String)> {
    let mut out: Vec<(Action, String)> = Vec::new();
    for binding in usable(Layer::Global, can_mutate).filter(|b| b.action.in_palette()) {
        if out.iter().any(|(a, _)| *a == binding.action) {
            continue;
        }
        out.push((binding.action, keys_for(Layer::Global, binding.action)));
    }
    out
}

#[cfg(test)]
mod tests;
