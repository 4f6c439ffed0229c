//! A recorded exercise run (`switchboard replay FILE`) played back as a source, without a
//! network: the recording (JSON Lines of [`RunRecord`], protocol::exercise::record) is read
//! whole at the start, and a worker feeds the console what the run showed at the replay's
//! clock, through the same [`SourceEvent`]s a live source sends: the latest fleet sample as a
//! snapshot, each audit entry, and a [`ReplayFrame`] with the injects, messages, notes and
//! controls for the timeline. Seeking back starts again from T0 ([`SourceEvent::ReplayRewound`]
//! first, so the console drops what it was shown after the new clock).

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::mpsc;

use super::{SourceEvent, SourceMsg};
use protocol::commands::ApprovalState;
use protocol::exercise::record::{FORMAT_VERSION, RunHeader, RunRecord};
use protocol::exercise::{Control, ExercisePhase, clock_label};

/// A recording read and checked: its header and its records in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub header: RunHeader,
    /// Every record after the header, in time order (stable: as recorded at one instant).
    pub records: Vec<RunRecord>,
    /// The number of a last line cut short (the lab stopped mid-write), left out.
    pub cut_line: Option<usize>,
}

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
    /// The drill's phase at `clock_s`, from the facilitator's controls.
    pub phase: ExercisePhase,
    /// Timeline lines of what happened since the last frame (or since T0 after a rewind).
    pub notes: Vec<ReplayNote>,
}

impl Recording {
    /// Reads a recording file; the error names the file and, for its content, the line.
    pub fn read(path: &Path) -> Result<Recording, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        Recording::parse(&text).map_err(|error| format!("{}: {error}", path.display()))
    }

    /// Parses JSON Lines of [`RunRecord`]: a header first, then records with a clock at or
    /// after T0. A last line cut short is left out and said in `cut_line`; any other bad
    /// line is an error naming it.
    pub fn parse(text: &str) -> Result<Recording, String> {
        let lines: Vec<(usize, &str)> = (text.lines().enumerate())
            .map(|(index, line)| (index + 1, line))
            .filter(|(_, line)| !line.trim().is_empty())
            .collect();
        let Some(&(last, _)) = lines.last() else {
            return Err("the file is empty: not an exercise recording".into());
        };
        let mut header: Option<RunHeader> = None;
        let mut records = Vec::new();
        let mut cut_line = None;
        for &(number, line) in &lines {
            let record = match serde_json::from_str::<RunRecord>(line) {
                Ok(record) => record,
                // Written line by line and flushed: only the last can be cut short.
                Err(error) if number == last && error.is_eof() && !text.ends_with('\n') => {
                    cut_line = Some(number);
                    continue;
                }
                Err(error) => return Err(format!("line {number}: {}", without_position(&error))),
            };
            match (record, &header) {
                (RunRecord::Header(read), None) if read.format > FORMAT_VERSION => {
                    return Err(format!(
                        "line {number}: recording format {}, this console reads format {FORMAT_VERSION} (a newer Switchboard wrote it)",
                        read.format
                    ));
                }
                (RunRecord::Header(read), None) => header = Some(read),
                (_, None) => {
                    return Err(format!(
                        "line {number}: the first record is not a header: not an exercise recording"
                    ));
                }
                (RunRecord::Header(_), Some(_)) => {
                    return Err(format!("line {number}: a second header"));
                }
                (record, Some(_)) if !(record.t_s() >= 0.0 && record.t_s().is_finite()) => {
                    return Err(format!(
                        "line {number}: clock {} is not an exercise second at or after T0",
                        record.t_s()
                    ));
                }
                (record, Some(_)) => records.push(record),
            }
        }
        let Some(header) = header else {
            return Err(format!(
                "line {last} is cut short and no header precedes it: not an exercise recording"
            ));
        };
        records.sort_by(|a, b| a.t_s().total_cmp(&b.t_s()));
        Ok(Recording {
            header,
            records,
            cut_line,
        })
    }

    /// The exercise second of the last record: where the replay ends.
    pub fn end_s(&self) -> f64 {
        self.records.last().map_or(0.0, RunRecord::t_s)
    }

    /// The injects fired and the players' actions, in time order: where jumps land.
    pub fn marks(&self) -> Vec<ReplayMark> {
        (self.records.iter())
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
            .collect()
    }

    /// The wall time of exercise second `t_s` on the lab's clock (it ran from T0 at
    /// `created_at`, frozen while the drill was not running).
    fn at(&self, t_s: f64) -> DateTime<Utc> {
        self.header.created_at + TimeDelta::milliseconds((t_s * 1000.0) as i64)
    }
}

/// The drill's own controls are audit entries too (`exercise start`): not players' actions.
fn is_player_action(action: &str) -> bool {
    !action.starts_with("exercise")
}

/// serde_json's message without its "at line 1 column 9": the line is the recording's.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    format!("{message} (column {})", error.column())
}

/// Where the replay stands in the recording: what it has fed the console so far.
pub struct Player {
    recording: Arc<Recording>,
    /// Index of the next record to feed.
    next: usize,
    /// The clock fed up to, or `None` before the first seek.
    fed_to: Option<f64>,
    fleet_at_s: Option<f64>,
    phase: ExercisePhase,
}

impl Player {
    pub fn new(recording: Arc<Recording>) -> Player {
        Player {
            recording,
            next: 0,
            fed_to: None,
            fleet_at_s: None,
            phase: ExercisePhase::Ready,
        }
    }

    /// What the console needs to show the recording at `t_s`: after a rewind (a clock before
    /// the last one), everything from T0 again.
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
            match record {
                RunRecord::Fleet { t_s, snapshot } => {
                    self.fleet_at_s = Some(*t_s);
                    events.push(SourceEvent::Snapshot((**snapshot).clone()));
                }
                RunRecord::Audit { entry, .. } => events.push(SourceEvent::Audit(entry.clone())),
                RunRecord::Control { control, .. } => {
                    self.phase = phase_after(self.phase, control);
                    notes.extend(note(&recording, record));
                }
                _ => notes.extend(note(&recording, record)),
            }
        }
        self.fed_to = Some(t_s);
        events.push(SourceEvent::Replayed(Box::new(ReplayFrame {
            clock_s: t_s,
            fleet_at_s: self.fleet_at_s,
            phase: self.phase,
            notes,
        })));
        events
    }
}

fn phase_after(phase: ExercisePhase, control: &Control) -> ExercisePhase {
    match control {
        Control::Start | Control::Resume => ExercisePhase::Running,
        Control::Pause => ExercisePhase::Paused,
        Control::End => ExercisePhase::Ended,
        _ => phase,
    }
}

/// The timeline's line for a record that is neither a fleet sample nor an audit entry (those
/// reach the fleet and audit views as a live source's would).
fn note(recording: &Recording, record: &RunRecord) -> Option<ReplayNote> {
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
        at: recording.at(t_s),
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
