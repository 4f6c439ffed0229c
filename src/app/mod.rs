//! The one owner of console state. `App::update` is the only mutator: messages in,
//! effects out, no I/O, so every behaviour is testable without a terminal or network.

mod approvals;
mod audit;
mod commands;
mod exercise;
mod gateway;
mod inbox;
mod inbox_events;
mod inbox_filter;
mod inbox_query;
mod inbox_row;
mod journaled;
mod menu;
mod overlay;
mod palette;
mod patroni;
mod refusals;
mod replay;
mod runbook_facts;
mod runbooks;
mod screen_map;
mod shared_vec;
mod silences;
mod source_events;
mod task;
#[cfg(test)]
mod tests;
mod update;
mod visible_rows;

use crate::domain::prices::CostConfig;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossterm::event::{KeyEvent, MouseEvent};
use ratatui::layout::Rect;

pub use approvals::{
    Approvals, DecisionFailure, DecisionOrder, SentDecision, SourcedRequest, command_words,
    decision_words,
};
pub use audit::AuditRow;
pub use commands::{
    CommandFailure, CommandRequest, ConfirmState, FailureKind, Field, FieldKind, SentCommand,
    SentState, SourcedAudit, held_text,
};
pub use exercise::{BANNER_FOR, ControlOrder, EndDrill, Exercise, SentControl};
pub use inbox::{Inbox, InboxItem, OrderKey, SLA_WARNING, SourceLoad, Upserted, filter_text};
pub use journaled::{JournalHistory, JournaledAction, JournaledOutcome, unreadable_text};
pub use menu::MenuState;
pub use overlay::{Overlay, Overlays};
pub use palette::PaletteState;
pub use replay::{
    FASTEST as REPLAY_FASTEST, Replay, ReplayInit, SLOWEST as REPLAY_SLOWEST, ShownFrame,
};
pub use runbooks::{
    ListedRunbook, RunInProgress, RunInput, RunInputKind, Runbooks, ShareAnswer, ShareOrder,
    SharedRuns, Sharing,
};
pub use screen_map::{Hit, ListMap, MatrixColumns, PaneExtent, ScreenMap, first_vendor_shown};
pub use silences::{
    DEFAULT_SILENCE, Matcher, MatcherChoice, SentSilence, Silence, SilenceAction, SilenceDone,
    SilenceFocus, SilenceForm, SilenceFormKind, SilenceList, SilenceOrder, SilenceSent,
    SilenceState, Silences, SilencesRead, matcher_text, matchers_text, mutes, order_text,
    silence_length, silence_refusal, until_text,
};
pub use task::{
    Choice, Claim, ConfirmedResolution, Draft, EditorState, EscalationFailure, FormField,
    ResolutionState, ResolveForm, SentResolution, TaskLoad, TaskPane, TaskState, failure_text,
};
pub use visible_rows::{MeasuredRow, ProviderCell, RegionRow, ServiceRow, VisibleRows};

use crate::domain::fleet::SourceData;
use crate::sources::SourceMsg;
use protocol::approvals::ApprovalPolicy;
use protocol::escalations::{Escalation, EscalationSummary, Lease, Priority, ResolveOutcome};

/// Everything that can happen to the console.
#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize {
        width: u16,
        height: u16,
    },
    /// The screen was drawn: where things landed, for the mouse and the task's scroll.
    Drawn(ScreenMap),
    /// The clock moved; `now` drives ages, `wall` the displayed clock.
    Tick {
        now: Instant,
        wall: DateTime<Utc>,
    },
    Source(SourceMsg),
    /// The inbox filter's background match is done: its rows can be shown.
    FilterMatched,
    /// A problem found outside `update` (e.g. a theme file that does not parse).
    Problem(String),
    /// The process was asked to stop (SIGTERM, SIGHUP when the SSH link drops).
    Terminate,
    /// The journal holds the command under this idempotency key; it is being sent.
    CommandJournaled {
        id: u64,
        key: String,
    },
    CommandFinished {
        id: u64,
        result: Result<protocol::commands::CommandAccepted, CommandFailure>,
    },
    AuditLoaded {
        source: String,
        result: Result<Vec<protocol::commands::AuditEntry>, String>,
    },
    /// Text pasted into the terminal (bracketed paste).
    Paste(String),
    /// How many open escalations the source's list holds, as its load goes (progress).
    EscalationsCounted {
        source: String,
        total: u64,
    },
    /// One page of a source's open escalations; `done` on the last one.
    EscalationsLoaded {
        source: String,
        result: Result<Vec<EscalationSummary>, String>,
        done: bool,
    },
    EscalationLoaded {
        source: String,
        id: String,
        result: Result<Box<Escalation>, String>,
    },
    ClaimFinished {
        source: String,
        id: String,
        result: Result<Lease, EscalationFailure>,
    },
    ReleaseFinished {
        source: String,
        id: String,
        result: Result<(), EscalationFailure>,
    },
    /// The journal holds the resolution under this idempotency key; it is being sent.
    ResolveJournaled {
        local_id: u64,
        key: String,
    },
    ResolveFinished {
        local_id: u64,
        result: Result<ResolveOutcome, EscalationFailure>,
    },
    /// The journal holds the silence action under this idempotency key; it is being sent.
    SilenceJournaled {
        local_id: u64,
        key: String,
    },
    SilenceFinished {
        local_id: u64,
        result: Result<SilenceDone, CommandFailure>,
    },
    /// What earlier runs journaled in this context, read at startup.
    JournalRead(JournalHistory),
    /// What the start's recovery learnt of a journaled action whose fate was open.
    JournalSettled {
        entry_id: String,
        outcome: JournaledOutcome,
    },
    /// The runbook catalog and the lines of the local run record, read at startup.
    RunbooksLoaded {
        catalog: Box<crate::runbook::catalog::Catalog>,
        record: Result<Vec<crate::runbook::run::RunLine>, String>,
    },
    /// A source's answer about a shared runbook run.
    SharedRun {
        order: ShareOrder,
        answer: ShareAnswer,
    },
    /// The answer to a control of the drill: the drill as it is now, or why it was not done.
    ExerciseControlled {
        id: u64,
        result: Result<Box<protocol::exercise::ExerciseState>, String>,
    },
    /// The after-action report of the ended drill.
    ExerciseReportLoaded {
        source: String,
        result: Result<Box<protocol::exercise::report::ExerciseReport>, String>,
    },
    /// The answer to decision `id` (approve, deny, withdraw), sent under `key`: the request
    /// as it is now, or why it was not decided.
    Decided {
        id: u64,
        key: String,
        result: Result<Box<protocol::approvals::ApprovalRequest>, DecisionFailure>,
    },
}

impl From<SourceMsg> for Msg {
    fn from(msg: SourceMsg) -> Self {
        Msg::Source(msg)
    }
}

/// Work for the runner: everything that touches the world outside the state.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Quit,
    LoadTheme(String),
    /// Journal (fsync) then send; retried with the same idempotency key when no answer comes.
    SendCommand(CommandRequest),
    /// Read the source's audit log, newest first: one page, or every page back to the entry
    /// `newer_than` when given (the newest already held, after a reconnection).
    FetchAudit {
        source: String,
        newer_than: Option<u64>,
    },
    /// Page through the source's pending and claimed escalations (one message per page).
    FetchEscalations {
        source: String,
    },
    FetchEscalation {
        source: String,
        id: String,
    },
    Claim {
        source: String,
        id: String,
    },
    Release {
        source: String,
        id: String,
    },
    /// Journal (fsync) under a fresh idempotency key, send, retry with the same key when no
    /// answer comes.
    Resolve(ConfirmedResolution),
    /// Tell the operator outside the console's screen: a bell or a desktop notification.
    Notify {
        title: String,
        body: String,
    },
    /// Create or expire a silence in a metrics source's Alertmanager: journal (fsync) under a
    /// fresh idempotency key, send, retry with the same key when no answer comes.
    Silence(SilenceOrder),
    /// Append (fsync) a line of a runbook run's record to the local run record.
    RecordRun(crate::runbook::run::RunLine),
    /// Ask a source about a shared runbook run: list, start, record a step, presence, end.
    ShareRun(ShareOrder),
    /// Show the recording at this exercise second (a replay).
    ReplayTo {
        t_s: f64,
    },
    /// Send a control to the drill under a fresh idempotency key (the same on each retry).
    ControlExercise(ControlOrder),
    /// Read the ended drill's after-action report.
    FetchExerciseReport {
        source: String,
    },
    /// Approve, deny or withdraw a request of the two-person rule under its idempotency key
    /// (a fresh one, or the one of the same decision whose answer was lost; the same on each
    /// retry).
    Decide(DecisionOrder),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Fleet,
    Services,
    Timeline,
    Audit,
    Inbox,
    Runbooks,
    /// A tabletop exercise: offered while a source runs one.
    Exercise,
    /// Requests of the two-person rule: offered while a source has some.
    Approvals,
    /// The cost audit: offered while a source reports a service's posture.
    Cost,
}

impl View {
    pub const ALL: [View; 9] = [
        View::Fleet,
        View::Services,
        View::Timeline,
        View::Audit,
        View::Inbox,
        View::Runbooks,
        View::Exercise,
        View::Approvals,
        View::Cost,
    ];

    /// The number key that shows it (its place among all views, offered or not).
    pub fn key(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0) + 1
    }

    pub fn title(self) -> &'static str {
        match self {
            View::Fleet => "Fleet",
            View::Services => "Services",
            View::Timeline => "Timeline",
            View::Audit => "Audit",
            View::Inbox => "Inbox",
            View::Runbooks => "Runbooks",
            View::Exercise => "Exercise",
            View::Approvals => "Approvals",
            View::Cost => "Cost",
        }
    }
}

/// What the console is connected to, as the status bar says it.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextInfo {
    pub name: String,
    /// The embedded lab: the status bar says "LAB".
    pub lab: bool,
    pub read_only: bool,
    /// Commands ask the user to type the target's name.
    pub production: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TimelineEntry {
    /// On the clock of `source`; the console's own entries on the wall's (UTC).
    pub at: DateTime<Utc>,
    pub source: String,
    pub level: Level,
    pub text: String,
    /// The fingerprint of the alert this entry tells of (firing), to act on it from here.
    pub alert: Option<String>,
}

/// Rows a page key moves in a list (an open task's pane pages by its height).
const PAGE: usize = 10;
/// Timeline entries kept; older ones scroll away.
pub const TIMELINE_LEN: usize = 500;
/// Audit entries kept in memory.
pub const AUDIT_KEPT: usize = 2000;
/// How long a flash message stays in the hint line.
pub const FLASH_FOR: std::time::Duration = std::time::Duration::from_secs(8);

/// A short message in the hint line: what just happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Flash {
    pub level: Level,
    pub text: String,
    pub until: Instant,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterState {
    pub query: String,
    /// The input has the keyboard.
    pub editing: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Selection {
    /// Row in the fleet matrix (visible regions).
    pub fleet_row: usize,
    /// Column in the fleet matrix: 0 is the region itself, 1.. the visible vendors.
    pub fleet_col: usize,
    /// The first vendor column the matrix draws when not all fit: it scrolls with `fleet_col`.
    pub fleet_first_vendor: usize,
    pub service_row: usize,
    pub timeline_row: usize,
    pub audit_row: usize,
}

pub struct App {
    pub context: ContextInfo,
    pub sources: Vec<SourceData>,
    pub view: View,
    pub selection: Selection,
    pub filter: FilterState,
    /// Help, palette, menus, confirmations and the editor, drawn over the views.
    pub overlays: Overlays,
    /// Commands sent from this console, oldest first.
    pub sent: Vec<SentCommand>,
    next_command_id: u64,
    /// The sources' audit logs, newest first.
    pub audit: Vec<SourcedAudit>,
    audit_requested: bool,
    pub flash: Option<Flash>,
    pub inbox: Inbox,
    /// The escalated task open in the inbox view.
    pub task: Option<TaskState>,
    /// Resolutions sent from this console, oldest first.
    pub resolutions: Vec<SentResolution>,
    next_resolution_id: u64,
    /// The silences of each metrics source's Alertmanager, as last read.
    pub silences: Silences,
    /// Silences created and expired from this console, oldest first.
    pub sent_silences: Vec<SentSilence>,
    next_silence_id: u64,
    /// What earlier runs of this console journaled in this context (the audit view's rows).
    pub journal: JournalHistory,
    /// The runbook catalog and the run being followed.
    pub runbooks: Runbooks,
    /// A recorded drill played back (`switchboard replay`); `None` on a live console.
    pub replay: Option<Replay>,
    /// The tabletop exercise a source runs, once one said so.
    pub exercise: Option<Exercise>,
    /// The requests of the sources' two-person rule, and this console's decisions.
    pub approvals: Approvals,
    next_control_id: u64,
    /// The context's two-person rule (`[contexts.NAME.approvals]`): the confirmation says
    /// beforehand which commands it will hold.
    pub approval_policy: Option<ApprovalPolicy>,
    /// The context's `[cost]`: prices and downtime costs its sources leave out.
    pub cost: CostConfig,
    /// New tasks this urgent or more are notified of; `None`: notifications are off.
    pub notify_at: Option<Priority>,
    /// Config or theme problems: shown until the user dismisses them.
    pub problems: Vec<String>,
    pub timeline: VecDeque<TimelineEntry>,
    pub theme_name: String,
    pub themes: Vec<String>,
    pub now: Instant,
    pub wall: DateTime<Utc>,
    pub area: Rect,
    /// Where the last draw put things.
    pub screen_map: ScreenMap,
    /// Rows and columns that pass the filter, recomputed when data or filter change.
    pub visible: VisibleRows,
    /// Something on screen changed since the last draw.
    pub dirty: bool,
    /// Enter was pressed in the inbox while the filter was still matching: the top match is
    /// opened when the matches are known (a new query cancels it).
    open_when_matched: bool,
    matcher: nucleo::Matcher,
}

pub struct AppInit {
    pub context: ContextInfo,
    /// `(name, url)` of each source, in display order.
    pub sources: Vec<(String, String)>,
    pub problems: Vec<String>,
    pub theme_name: String,
    pub themes: Vec<String>,
    pub now: Instant,
    pub wall: DateTime<Utc>,
    pub area: Rect,
    /// New tasks this urgent or more are notified of; `None`: notifications are off.
    pub notify_at: Option<Priority>,
    /// The context's two-person rule, if it has one.
    pub approval_policy: Option<ApprovalPolicy>,
    /// The context's `[cost]`.
    pub cost: CostConfig,
}

impl App {
    pub fn new(init: AppInit) -> Self {
        let mut app = App {
            context: init.context,
            sources: init
                .sources
                .iter()
                .map(|(name, url)| SourceData::new(name, url))
                .collect(),
            view: View::Fleet,
            selection: Selection::default(),
            filter: FilterState::default(),
            overlays: Overlays::default(),
            sent: Vec::new(),
            next_command_id: 0,
            audit: Vec::new(),
            audit_requested: false,
            flash: None,
            inbox: Inbox::default(),
            task: None,
            resolutions: Vec::new(),
            next_resolution_id: 0,
            silences: Silences::new(),
            sent_silences: Vec::new(),
            next_silence_id: 0,
            journal: JournalHistory::default(),
            runbooks: Runbooks::default(),
            replay: None,
            exercise: None,
            approvals: Approvals::default(),
            next_control_id: 0,
            notify_at: init.notify_at,
            approval_policy: init.approval_policy,
            cost: init.cost,
            problems: init.problems,
            timeline: VecDeque::new(),
            theme_name: init.theme_name,
            themes: init.themes,
            now: init.now,
            wall: init.wall,
            area: init.area,
            screen_map: ScreenMap::default(),
            visible: VisibleRows::default(),
            dirty: true,
            open_when_matched: false,
            matcher: nucleo::Matcher::new(nucleo::Config::DEFAULT),
        };
        for problem in app.problems.clone() {
            app.log(None, Level::Warning, problem);
        }
        app.refresh_visible();
        app
    }

    /// Logs on the clock of the source it concerns (the console's own news on the wall's),
    /// so that it reads in order with the source's notices around it.
    fn log(&mut self, source: Option<&str>, level: Level, text: String) {
        let at = source
            .and_then(|name| self.source_index(name))
            .map_or(self.wall, |index| self.source_clock(index));
        self.push_timeline(TimelineEntry {
            at,
            source: source.unwrap_or("console").to_string(),
            level,
            text,
            alert: None,
        });
    }

    fn push_timeline(&mut self, entry: TimelineEntry) {
        if self.timeline.len() == TIMELINE_LEN {
            self.timeline.pop_front();
        }
        self.timeline.push_back(entry);
    }

    /// Adds a metrics source (Prometheus) polled every `poll_interval`, after the protocol v1
    /// sources; called by the runner before the first message.
    pub fn add_metrics_source(&mut self, name: &str, url: &str, poll_interval: Duration) {
        self.sources
            .push(SourceData::metrics(name, url, poll_interval));
        self.refresh_visible();
    }

    pub fn source(&self, index: usize) -> &SourceData {
        &self.sources[index]
    }

    /// The identity of the first source that told us who we are.
    pub fn identity(&self) -> Option<&protocol::WhoAmI> {
        self.sources.iter().find_map(|s| s.identity.as_ref())
    }
}
