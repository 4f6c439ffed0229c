//! A recorded exercise run (`switchboard replay FILE`) played back as a source, without a
//! network: the recording (read whole at the start by protocol::exercise::record's
//! [`read_recording_file`], as `switchboard exercise report` reads it) is fed to a worker that
//! gives the console what the run showed at the replay's clock, through the same
//! [`SourceEvent`]s a live source sends: the latest fleet sample as a snapshot, each audit
//! entry, and a [`ReplayFrame`] with the injects, messages, notes and controls for the
//! timeline and the drill as its facilitator saw it then (the [`Tracker`] the lab scored it
//! with, fed the records up to the clock). Seeking back starts again from T0
//! ([`SourceEvent::ReplayRewound`] first, so the console drops what it was shown after the new
//! clock).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::mpsc;

use super::{SourceEvent, SourceMsg};
use protocol::commands::ApprovalState;
use protocol::exercise::markdown::report_markdown;
use protocol::exercise::record::{Recording, RunHeader, RunRecord};
use protocol::exercise::tracker::Tracker;
use protocol::exercise::{Control, ExercisePhase, ExerciseRole, ExerciseState, clock_label};

pub use protocol::exercise::record::read_recording_file;

/// A moment worth jumping to: an inject firing or a player's action.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayMark {
    pub t_s: f64,
    /// E.g. `inject outage`, `drain us-east (alice)`.
    pub what: String,
}

/// A line for the timeline, on the recording's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayNote {
    pub at: DateTime<Utc>,
    /// Injects and escalations past their SLA stand out; the rest is information.
    pub urgent: bool,
    pub text: String,
}

/// What the recording showed at `clock_s`, after the snapshots and audit entries up to it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayFrame {
    pub clock_s: f64,
    /// Exercise second of the fleet sample on screen; `None` before the first one.
    pub fleet_at_s: Option<f64>,
    /// Timeline lines of what happened since the last frame (or since T0 after a rewind).
    pub notes: Vec<ReplayNote>,
    /// The drill at `clock_s` as its facilitator saw it: phase, injects (upcoming ones too),
    /// objectives, measures, SLA breaches, risky actions, score, messages and notes.
    pub drill: Box<ExerciseState>,
    /// The after-action report's Markdown once the drill has ended.
    pub report: Option<String>,
}

/// The injects fired and the players' actions, in time order: where jumps land.
pub fn marks(recording: &Recording) -> Vec<ReplayMark> {
    let mut marks: Vec<ReplayMark> = (recording.records.iter())
        .filter_map(|record| match record {
            RunRecord::Inject { t_s, inject } => Some(ReplayMark {
                t_s: *t_s,
                what: format!("inject {}", inject.id),
            }),
            RunRecord::Audit { t_s, entry } if is_player_action(&entry.action) => {
                Some(ReplayMark {
                    t_s: *t_s,
                    what: format!("{} {} ({})", entry.action, entry.target, entry.actor),
                })
            }
            _ => None,
        })
        .collect();
    marks.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    marks
}

/// The wall time of exercise second `t_s` on the lab's clock (it ran from T0 at
/// `created_at`, frozen while the drill was not running).
fn wall_at(header: &RunHeader, t_s: f64) -> DateTime<Utc> {
    header.created_at + TimeDelta::milliseconds((t_s * 1000.0) as i64)
}

/// The drill's own controls are audit entries too (`exercise start`): not players' actions.
fn is_player_action(action: &str) -> bool {
    !action.starts_with("exercise")
}

/// Where the replay stands in the recording: what it has fed the console so far.
pub struct Player {
    recording: Arc<Recording>,
    /// Index of the next record to feed.
    next: usize,
    /// The clock fed up to, or `None` before the first seek.
    fed_to: Option<f64>,
    fleet_at_s: Option<f64>,
    /// The drill scored from the records fed so far, as the lab scored it live.
    tracker: Tracker,
}

impl Player {
    pub fn new(recording: Arc<Recording>) -> Player {
        Player {
            tracker: Tracker::new(recording.header.clone()),
            recording,
            next: 0,
            fed_to: None,
            fleet_at_s: None,
        }
    }

    /// What the console needs to show the recording at `t_s`: after a rewind (a clock before
    /// the last one), everything from T0 again (the tracker only moves forward; a 20-minute
    /// recording replays from T0 in milliseconds, `cargo bench --bench console`).
    pub fn seek(&mut self, t_s: f64) -> Vec<SourceEvent> {
        let mut events = Vec::new();
        if self.fed_to.is_some_and(|fed| t_s < fed) {
            *self = Player::new(Arc::clone(&self.recording));
            events.push(SourceEvent::ReplayRewound);
        }
        let recording = Arc::clone(&self.recording);
        let mut notes = Vec::new();
        while let Some(record) = recording.records.get(self.next) {
            if record.t_s() > t_s {
                break;
            }
            self.next += 1;
            self.tracker.feed(record);
            match record {
                RunRecord::Fleet { t_s, snapshot } => {
                    self.fleet_at_s = Some(*t_s);
                    events.push(SourceEvent::Snapshot((**snapshot).clone()));
                }
                RunRecord::Audit { entry, .. } => events.push(SourceEvent::Audit(entry.clone())),
                _ => notes.extend(note(&recording.header, record)),
            }
        }
        self.tracker.advance_to(t_s);
        self.fed_to = Some(t_s);
        let ended = self.tracker.phase() == ExercisePhase::Ended;
        events.push(SourceEvent::Replayed(Box::new(ReplayFrame {
            clock_s: t_s,
            fleet_at_s: self.fleet_at_s,
            notes,
            drill: Box::new(self.tracker.state(ExerciseRole::Facilitator)),
            report: ended.then(|| report_markdown(&self.tracker.report())),
        })));
        events
    }
}

/// The timeline's line for a record that is neither a fleet sample nor an audit entry (those
/// reach the fleet and audit views as a live source's would).
fn note(header: &RunHeader, record: &RunRecord) -> Option<ReplayNote> {
    let t_s = record.t_s();
    let (urgent, text) = match record {
        RunRecord::Inject { inject, .. } => (
            true,
            format!(
                "inject {}: {} — {}",
                inject.id, inject.summary, inject.narrative
            ),
        ),
        RunRecord::Message { message, .. } => (
            false,
            format!("message from {}: {}", message.from, message.text),
        ),
        RunRecord::Annotation { annotation, .. } => (
            false,
            format!("note by {}: {}", annotation.author, annotation.text),
        ),
        RunRecord::Control { by, control, .. } => (false, control_text(by, control)),
        RunRecord::EscalationOpened {
            id,
            priority,
            sla_deadline_s,
            ..
        } => (
            false,
            format!(
                "escalation {id} ({}) opened, SLA until {}",
                priority.word(),
                clock_label(*sla_deadline_s)
            ),
        ),
        RunRecord::EscalationClosed { id, by, .. } => {
            (false, format!("escalation {id} closed by {by}"))
        }
        RunRecord::Approval { request, .. } => (
            request.state == ApprovalState::Pending,
            format!(
                "{} {} {} asked by {}: {}",
                request.id,
                request.action,
                request.target,
                request.requested_by,
                request.state.word()
            ),
        ),
        RunRecord::Header(_) | RunRecord::Fleet { .. } | RunRecord::Audit { .. } => return None,
    };
    Some(ReplayNote {
        at: wall_at(header, t_s),
        urgent,
        text: format!("{} {text}", clock_label(t_s)),
    })
}

fn control_text(by: &str, control: &Control) -> String {
    match control {
        Control::Speed { speed } => format!("{by}: exercise speed ×{speed}"),
        Control::Acknowledge { inject } => format!("{by} acknowledged inject {inject}"),
        other => format!("{by}: exercise {}", other.word()),
    }
}

/// Plays `recording` as the source `name`: each clock received on `clocks` (the console's
/// replay clock, after every tick and seek) is answered with what the recording showed then.
/// Clocks that queue up while it works are skipped to the newest.
pub fn spawn_replay<M>(
    name: String,
    recording: Arc<Recording>,
    mut clocks: mpsc::UnboundedReceiver<f64>,
    tx: mpsc::Sender<M>,
) -> tokio::task::JoinHandle<()>
where
    M: From<SourceMsg> + Send + 'static,
{
    tokio::spawn(async move {
        let mut player = Player::new(recording);
        while let Some(mut t_s) = clocks.recv().await {
            while let Ok(newer) = clocks.try_recv() {
                t_s = newer;
            }
            for event in player.seek(t_s) {
                let message = SourceMsg {
                    source: name.clone(),
                    event,
                };
                if tx.send(message.into()).await.is_err() {
                    return;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests;
