//! Tabletop exercises: a facilitator runs a drill against the lab, objectives are scored
//! live, every run is recorded, and an after-action report is derived from the recording.
//!
//! Endpoints (a lab started with `--exercise`; `404` without one):
//! - `GET /v1/exercise` -> [`ExerciseState`] as the caller's role may see it (upcoming
//!   injects, facilitator notes and injects' facilitator notes only for the facilitator).
//! - `POST /v1/exercise/control` [`ControlRequest`] with `Idempotency-Key` -> [`ExerciseState`].
//!   Every action but [`Control::Acknowledge`] is the facilitator's (`403` for anyone else);
//!   acknowledging an inject is open to every player but observers.
//! - `GET /v1/exercise/report` -> [`report::ExerciseReport`] (so far, or final once ended).
//!
//! Every change of the exercise is an [`EVENT_CHANGED`] event on `GET /v1/events`; a console
//! fetches `GET /v1/exercise` again when it sees one (the state depends on who asks).
//!
//! The run is recorded as JSON Lines of [`record::RunRecord`]; the tracker folds the
//! records into the live state and the report (tracker.rs), so that the lab's live score, the report
//! written at the end, `switchboard exercise report RUN` and a replay all agree.

pub mod markdown;
pub mod record;
pub mod report;
pub mod tracker;

use serde::{Deserialize, Serialize};

/// SSE event of `GET /v1/events`: the exercise changed; data: [`ExerciseChanged`].
pub const EVENT_CHANGED: &str = "exercise.changed";
/// Longest message, note, reason or custom inject narrative accepted.
pub const MAX_TEXT_CHARS: usize = 2000;

/// What a player is in a drill; each maps onto a protocol role (see [`ExerciseRole::role`]).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ExerciseRole {
    /// Runs the drill: starts, pauses, fires injects, annotates, ends. Does not act on the fleet.
    Facilitator,
    /// Leads the response; acts on the fleet like an admin.
    IncidentCommander,
    /// Acts on the fleet and resolves escalations.
    Operator,
    /// Watches; changes nothing.
    Observer,
}

impl ExerciseRole {
    pub fn word(self) -> &'static str {
        match self {
            ExerciseRole::Facilitator => "facilitator",
            ExerciseRole::IncidentCommander => "incident-commander",
            ExerciseRole::Operator => "operator",
            ExerciseRole::Observer => "observer",
        }
    }

    /// The protocol role the lab gives the player's token: what it may do to the fleet.
    pub fn role(self) -> crate::Role {
        match self {
            ExerciseRole::IncidentCommander => crate::Role::Admin,
            ExerciseRole::Operator => crate::Role::Operator,
            // The facilitator steers the drill, not the fleet.
            ExerciseRole::Facilitator | ExerciseRole::Observer => crate::Role::Viewer,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ExercisePhase {
    /// Loaded, clock at T0, waiting for the facilitator to start.
    Ready,
    Running,
    Paused,
    Ended,
}

impl ExercisePhase {
    pub fn word(self) -> &'static str {
        match self {
            ExercisePhase::Ready => "ready",
            ExercisePhase::Running => "running",
            ExercisePhase::Paused => "paused",
            ExercisePhase::Ended => "ended",
        }
    }
}

/// `GET /v1/exercise`: the drill as the caller may see it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExerciseState {
    /// Scenario name, e.g. `provider-outage`.
    pub scenario: String,
    pub description: String,
    /// What players are told at the start.
    pub briefing: String,
    pub phase: ExercisePhase,
    /// Exercise seconds since T0 (simulated: they run at `speed` while running, not while paused).
    pub clock_s: f64,
    pub speed: f64,
    /// The caller's role in this drill.
    pub you: ExerciseRole,
    /// Injects fired so far, in order; the facilitator also sees the upcoming ones.
    pub injects: Vec<InjectState>,
    pub messages: Vec<ExerciseMessage>,
    /// Facilitator annotations; empty for everyone else until the drill has ended.
    #[serde(default)]
    pub notes: Vec<Annotation>,
    pub objectives: Vec<ObjectiveState>,
    /// Detect / mitigate / recover times of each fired inject.
    pub measures: Vec<InjectMeasures>,
    /// Escalations resolved after their SLA deadline, or still open past it.
    pub sla_breaches: u32,
    pub risky_actions: Vec<RiskyAction>,
    pub score: Score,
    /// Where the lab wrote the recording (and, once ended, the report), on the lab's machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
}

/// Data of [`EVENT_CHANGED`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExerciseChanged {
    /// Grows with every change of the exercise.
    pub exercise_revision: u64,
    pub phase: ExercisePhase,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct InjectState {
    /// Id from the scenario (`outage`), or `custom-N` for one the facilitator added.
    pub id: String,
    /// Kind word as in scenario files, e.g. `provider-outage`, `message`.
    pub kind: String,
    /// Target as written, e.g. `openai@us-east`; empty for a message.
    pub target: String,
    /// Planned exercise second.
    pub at_s: f64,
    pub duration_s: f64,
    /// What it does in a few words, e.g. "openai@us-east outage (503s, 92% errors)".
    pub summary: String,
    /// What players are told when it fires.
    pub narrative: String,
    /// When it fired; `None` while upcoming (facilitator only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_at_s: Option<f64>,
    /// The scenario's note for the facilitator; facilitator only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facilitator_note: Option<String>,
}

/// A message to every player, from the scenario or the facilitator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExerciseMessage {
    pub at_s: f64,
    pub from: String,
    pub text: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Tone {
    WentWell,
    ToImprove,
    Note,
}

/// A facilitator's note during the drill ("good call", "missed the lag warning").
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Annotation {
    pub at_s: f64,
    pub author: String,
    pub tone: Tone,
    pub text: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ObjectiveStatus {
    Pending,
    Met { at_s: f64 },
    Missed { at_s: f64, why: String },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ObjectiveState {
    pub id: String,
    /// As players read it: "Traffic off openai@us-east within 5 minutes of the outage".
    pub title: String,
    pub weight: u32,
    /// Exercise second by which it must be met; `None` until its inject fired, or when it
    /// holds for the whole drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_s: Option<f64>,
    #[serde(flatten)]
    pub status: ObjectiveStatus,
}

/// Seconds from an inject firing to the first action or acknowledgement (detect), the first
/// accepted change to the fleet (mitigate), and the end of user-facing impact (recover).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct InjectMeasures {
    pub inject: String,
    pub fired_at_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigate_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_s: Option<f64>,
}

/// An action taken against the preflight's advice: forced past a block, or confirmed over warnings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RiskyAction {
    pub at_s: f64,
    pub actor: String,
    /// E.g. `drain`.
    pub action: String,
    pub target: String,
    pub reason: String,
    /// Whether a blocking preflight was overridden (FORCE / `--force`).
    pub forced: bool,
    /// The preflight findings the actor saw and went past.
    pub findings: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct Score {
    /// Weights of the objectives met.
    pub earned: u32,
    /// Weights of all objectives.
    pub possible: u32,
}

/// `POST /v1/exercise/control`
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ControlRequest {
    pub control: Control,
    /// Why, for the record; may be empty for start, pause and resume.
    #[serde(default)]
    pub reason: String,
}

/// What the facilitator (or, to acknowledge, a player) does to the drill.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Control {
    Start,
    Pause,
    Resume,
    /// Simulated seconds per real second, within the lab's limits.
    Speed {
        speed: f64,
    },
    /// Fires the next upcoming inject now.
    NextInject,
    /// Adds an inject that fires now; `kind` and `target` as in a scenario file.
    Inject {
        kind: String,
        #[serde(default)]
        target: String,
        /// Seconds; the kind's default when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_s: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        magnitude: Option<f64>,
        #[serde(default)]
        narrative: String,
    },
    /// A message to every player.
    Message {
        text: String,
    },
    Annotate {
        tone: Tone,
        text: String,
    },
    /// A player says they have seen an inject (counts as detection).
    Acknowledge {
        inject: String,
    },
    End,
}

impl Control {
    /// Whether only the facilitator may send it.
    pub fn facilitator_only(&self) -> bool {
        !matches!(self, Control::Acknowledge { .. })
    }

    /// The control's word, for audit entries and the timeline.
    pub fn word(&self) -> &'static str {
        match self {
            Control::Start => "start",
            Control::Pause => "pause",
            Control::Resume => "resume",
            Control::Speed { .. } => "speed",
            Control::NextInject => "next-inject",
            Control::Inject { .. } => "inject",
            Control::Message { .. } => "message",
            Control::Annotate { .. } => "annotate",
            Control::Acknowledge { .. } => "acknowledge",
            Control::End => "end",
        }
    }
}

/// An interval of exercise time as the console shows ages: `45s`, `3m05s`.
pub fn span_label(seconds: f64) -> String {
    crate::duration::age(std::time::Duration::from_secs(
        seconds.max(0.0).round() as u64
    ))
}

/// One exercise second as players read it: `T+03:12`.
pub fn clock_label(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    format!("T+{:02}:{:02}", s / 60, s % 60)
}
