//! The recording of an exercise run: JSON Lines, one [`RunRecord`] per line, in the order
//! the lab saw things happen. The header holds everything needed to score the run again
//! (the scenario's objectives and injects, resolved), so a recording stands alone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Annotation, Control, ExerciseMessage, ExerciseRole, InjectState};
use crate::FleetSnapshot;
use crate::commands::{ApprovalRequest, AuditEntry};
use crate::escalations::Priority;

/// Version of the recording format, in the header.
pub const FORMAT_VERSION: u32 = 1;

fn real_time() -> f64 {
    1.0
}

/// A recording read whole and checked: its header, the records after it in the order the lab
/// wrote them (the order its tracker took them in), and a last line cut short, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub header: RunHeader,
    pub records: Vec<RunRecord>,
    /// The number of a last line cut short (the lab stopped mid-write): left out.
    pub cut_line: Option<usize>,
}

impl Recording {
    /// The exercise second of the last record: where the run ends.
    pub fn end_s(&self) -> f64 {
        self.records.iter().map(RunRecord::t_s).fold(0.0, f64::max)
    }

    /// A last line cut short, in words, for whoever reads the recording to say before what
    /// it does with the rest.
    pub fn cut_short(&self) -> Option<String> {
        self.cut_line.map(|line| {
            format!("line {line} of the recording is cut short (the lab stopped mid-write)")
        })
    }
}

/// Reads the recording file at `path`; the error names the file and, for its content, the line.
pub fn read_recording_file(path: &std::path::Path) -> Result<Recording, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    read_recording(&text).map_err(|error| format!("{}: {error}", path.display()))
}

/// Reads a recording: JSON Lines of [`RunRecord`], the header first, then records with a
/// clock at or after T0. A last line cut short (written line by line and flushed, only the
/// last can be: a lab killed mid-write) is left out and said in `cut_line`; any other bad
/// line is an error naming it.
pub fn read_recording(text: &str) -> Result<Recording, String> {
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
            Err(error) if number == last && error.is_eof() && !text.ends_with('\n') => {
                cut_line = Some(number);
                continue;
            }
            Err(error) => return Err(format!("line {number}: {}", without_position(&error))),
        };
        match (record, &header) {
            (RunRecord::Header(read), None) if read.format > FORMAT_VERSION => {
                return Err(format!(
                    "line {number}: recording format {}, this program reads format {FORMAT_VERSION} (a newer Switchboard wrote it)",
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
    Ok(Recording {
        header,
        records,
        cut_line,
    })
}

/// serde_json's message without its "at line 1 column 9": the line is the recording's; the
/// column when serde_json knows it (not for a field missing from a whole record).
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    match error.column() {
        0 => message.to_string(),
        column => format!("{message} (column {column})"),
    }
}

/// One line of a recording. `t_s` is the exercise clock (seconds since T0).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum RunRecord {
    /// Always the first line.
    Header(RunHeader),
    /// The whole fleet as players saw it, sampled while the drill runs (and at each inject and
    /// action), for objectives, charts and replay.
    Fleet {
        t_s: f64,
        snapshot: Box<FleetSnapshot>,
    },
    /// An inject fired (scheduled, fired early, or added by the facilitator).
    Inject {
        t_s: f64,
        inject: InjectState,
    },
    /// An entry of the lab's audit log made during the drill (players' commands, claims,
    /// resolutions, runbook steps, and the controls below).
    Audit {
        t_s: f64,
        entry: AuditEntry,
    },
    /// An escalation that appeared, and when its SLA runs out.
    EscalationOpened {
        t_s: f64,
        id: String,
        priority: Priority,
        sla_deadline_s: f64,
    },
    /// An escalation resolved (or aborted) by `by`.
    EscalationClosed {
        t_s: f64,
        id: String,
        by: String,
    },
    Message {
        t_s: f64,
        message: ExerciseMessage,
    },
    Annotation {
        t_s: f64,
        annotation: Annotation,
    },
    /// A control of the drill by `by` (start, pause, resume, speed, acknowledge, end ...).
    Control {
        t_s: f64,
        by: String,
        control: Control,
    },
    /// A command held for a second operator, or its request decided (two-person rule): the
    /// request as it is after the change.
    Approval {
        t_s: f64,
        request: Box<ApprovalRequest>,
    },
}

impl RunRecord {
    /// The exercise second of the record (the header's is 0).
    pub fn t_s(&self) -> f64 {
        match self {
            RunRecord::Header(_) => 0.0,
            RunRecord::Fleet { t_s, .. }
            | RunRecord::Inject { t_s, .. }
            | RunRecord::Audit { t_s, .. }
            | RunRecord::EscalationOpened { t_s, .. }
            | RunRecord::EscalationClosed { t_s, .. }
            | RunRecord::Message { t_s, .. }
            | RunRecord::Annotation { t_s, .. }
            | RunRecord::Control { t_s, .. }
            | RunRecord::Approval { t_s, .. } => *t_s,
        }
    }
}

/// The first line: what was played, by whom, and what counts as success.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RunHeader {
    pub format: u32,
    /// E.g. `ex-20261202-071500-provider-outage`.
    pub run_id: String,
    pub scenario: String,
    pub description: String,
    pub briefing: String,
    pub seed: u64,
    /// Simulated seconds per real second when the drill was loaded (speed controls change it).
    #[serde(default = "real_time")]
    pub speed: f64,
    /// Wall-clock time of T0 (when the lab loaded the drill).
    pub created_at: DateTime<Utc>,
    pub players: Vec<Player>,
    /// Every scheduled inject (with its facilitator note), in time order.
    pub injects: Vec<InjectState>,
    pub objectives: Vec<ObjectiveSpec>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Player {
    pub name: String,
    pub role: ExerciseRole,
}

/// An objective as the scenario defines it, resolved against the topology.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ObjectiveSpec {
    pub id: String,
    pub title: String,
    pub weight: u32,
    /// The deadline counts from this inject's firing; `None`: from T0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Seconds after `after` (or T0) by which it must be met; `None`: it must hold until the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_s: Option<f64>,
    pub condition: ObjectiveCondition,
}

/// What an objective checks. Names are those of the fleet (`openai@us-east`, `us-east`,
/// `risk-scorer`), resolved when the scenario is loaded.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ObjectiveCondition {
    /// A provider's share of its region's traffic falls below `below` (a fraction, e.g.
    /// 0.05): met at the first fleet sample where it holds.
    TrafficOff { provider: String, below: f64 },
    /// No region runs above its capacity for longer than `for_s` at a stretch: missed when
    /// one does, met at the end.
    NoOverload { for_s: f64 },
    /// Every escalation of `priority` (or of every priority when `None`) that opened during the
    /// drill is closed before its SLA deadline: missed at the first breach, met at the end.
    EscalationsWithinSla {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
    },
    /// No command is forced past a blocking preflight: missed at the first, met at the end.
    NoForce,
    /// An accepted command whose action starts with `action` (e.g. `promote`, `drain`,
    /// `breaker force-open`), on `target` when given: met when the audit log shows one.
    Action {
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
    /// The region, provider or service `target` reports health ok: met at the first sample.
    Healthy { target: String },
}

impl ObjectiveCondition {
    /// Whether the condition must hold over a span (met at its end unless broken before),
    /// rather than come true once (missed when its deadline, or the end, comes first).
    pub fn must_hold(&self) -> bool {
        matches!(
            self,
            ObjectiveCondition::NoOverload { .. }
                | ObjectiveCondition::EscalationsWithinSla { .. }
                | ObjectiveCondition::NoForce
        )
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
