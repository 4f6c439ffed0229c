//! A tabletop exercise being played: the drill's phase and speed (the simulation only runs
//! while the drill does), every happening recorded as a [`RunRecord`] to a JSON Lines file
//! and fed to the [`Tracker`] that scores it live, and the report written at the end.
//!
//! Pure apart from the recording: the server (`http::state`) hands it the clock, the
//! published fleet, the injects that fired, the escalation events and the audit entries;
//! `control` judges and applies the facilitator's and players' controls.

mod control;
mod recorder;

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::escalations::QueueEvent;
/// The player who runs a drill whose scenario names no players.
pub use crate::scenario::DEFAULT_FACILITATOR as FACILITATOR;
use crate::scenario::{Inject, InjectKind, Scenario};
use crate::topology::OperatorSpec;
pub use control::{ControlRefusal, custom_inject};
use protocol::FleetSnapshot;
use protocol::command::Verb;
use protocol::commands::{ApprovalRequest, AuditEntry, AuditOutcome};
use protocol::escalations::{EVENT_NEW, EVENT_RESOLVED};
use protocol::exercise::record::{FORMAT_VERSION, Player, RunHeader, RunRecord};
use protocol::exercise::report::ExerciseReport;
use protocol::exercise::tracker::Tracker;
use protocol::exercise::{
    ExerciseChanged, ExerciseMessage, ExercisePhase, ExerciseRole, ExerciseState, InjectState,
};
pub use recorder::Recorder;

/// Exercise seconds between two fleet samples while the drill runs.
pub const SAMPLE_EVERY_S: f64 = 5.0;

/// What a publication of the lab carried that the drill records.
pub struct Happened<'a> {
    /// Injects that fired: indices into the simulation's injects, and the injects.
    pub fired: &'a [(usize, &'a Inject)],
    /// Escalations that opened or closed.
    pub escalations: &'a [QueueEvent],
    /// Commands held for a second operator, or their requests decided.
    pub approvals: &'a [ApprovalRequest],
}

pub struct Exercise {
    header: RunHeader,
    phase: ExercisePhase,
    speed: f64,
    tracker: Tracker,
    recorder: Recorder,
    /// Same index as the simulation's injects: each as the drill knows it, fired or not.
    injects: Vec<InjectState>,
    /// Custom injects added so far.
    customs: u32,
    last_sample_s: Option<f64>,
    /// Grows with every change players can see; announced by `exercise.changed`.
    revision: u64,
    announced: u64,
    /// The state as last announced, without its clock: a change to it is news.
    standing: Option<ExerciseState>,
    /// Why the recording stopped, once it did (told to the players once).
    recording_failed: Option<String>,
    /// The report files written at the end.
    report_files: Vec<PathBuf>,
}

impl Exercise {
    /// Loads `scenario` as a drill played by `players` at T0 (`created_at`), paused,
    /// recording into `record_dir`.
    pub fn load(
        scenario: &Scenario,
        players: Vec<Player>,
        seed: u64,
        speed: f64,
        created_at: DateTime<Utc>,
        record_dir: &Path,
    ) -> io::Result<Exercise> {
        let header = RunHeader {
            format: FORMAT_VERSION,
            run_id: run_id(created_at, &scenario.name),
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            briefing: scenario.briefing.clone(),
            seed,
            speed,
            created_at,
            players,
            injects: scenario.injects.iter().map(Inject::state).collect(),
            objectives: scenario.objectives.clone(),
        };
        let mut recorder = Recorder::create(record_dir, &header.run_id)?;
        recorder.write(&RunRecord::Header(header.clone()))?;
        let mut exercise = Exercise {
            tracker: Tracker::new(header.clone()),
            injects: header.injects.clone(),
            header,
            phase: ExercisePhase::Ready,
            speed,
            recorder,
            customs: 0,
            last_sample_s: None,
            revision: 0,
            announced: 0,
            standing: None,
            recording_failed: None,
            report_files: Vec::new(),
        };
        exercise.note_standing(0.0);
        exercise.announced = exercise.revision;
        Ok(exercise)
    }

    pub fn header(&self) -> &RunHeader {
        &self.header
    }

    /// Where the run is being recorded.
    pub fn recording(&self) -> &Path {
        self.recorder.path()
    }

    pub fn phase(&self) -> ExercisePhase {
        self.phase
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The id of the inject of simulation index `index`.
    pub fn inject_id(&self, index: usize) -> &str {
        self.injects.get(index).map_or("", |i| i.id.as_str())
    }

    /// The drill role of the player `name`, if they play.
    pub fn role_of(&self, name: &str) -> Option<ExerciseRole> {
        self.header
            .players
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.role)
    }

    /// Simulated seconds that `real_s` real seconds make: none unless the drill runs.
    pub fn sim_seconds(&self, real_s: f64) -> f64 {
        if self.phase == ExercisePhase::Running {
            real_s * self.speed
        } else {
            0.0
        }
    }

    /// The drill as `you` may see it.
    pub fn state(&self, you: ExerciseRole) -> ExerciseState {
        let mut state = self.tracker.state(you);
        state.recording = Some(self.recording().display().to_string());
        state
    }

    /// The after-action report so far (final once ended).
    pub fn report(&self) -> ExerciseReport {
        self.tracker.report()
    }

    /// The report files written at the end (Markdown, then JSON); empty before.
    pub fn report_files(&self) -> &[PathBuf] {
        &self.report_files
    }

    /// The `exercise.changed` news since the last call, if anything changed.
    pub fn take_change(&mut self) -> Option<ExerciseChanged> {
        (self.revision > self.announced).then(|| {
            self.announced = self.revision;
            ExerciseChanged {
                exercise_revision: self.revision,
                phase: self.phase,
            }
        })
    }

    /// Follows the lab after a publication at exercise second `t_s` (wall time `now`): what
    /// happened since the last, and a fleet sample when one is due.
    pub fn follow(
        &mut self,
        t_s: f64,
        now: DateTime<Utc>,
        fleet: &FleetSnapshot,
        happened: Happened<'_>,
    ) {
        for (index, inject) in happened.fired {
            self.fired(*index, inject);
        }
        for event in happened.escalations {
            self.escalation(t_s, now, event);
        }
        for request in happened.approvals {
            self.record(RunRecord::Approval {
                t_s,
                request: Box::new(request.clone()),
            });
        }
        let due = self
            .last_sample_s
            .is_none_or(|last| t_s - last >= SAMPLE_EVERY_S);
        if !happened.fired.is_empty() || (self.phase == ExercisePhase::Running && due) {
            self.sample(t_s, fleet);
        }
        self.note_standing(t_s);
    }

    /// Records an audit entry made at `t_s`; an accepted change to the fleet by a player is
    /// followed by a fleet sample (`fleet` as published after it).
    pub fn audited(&mut self, t_s: f64, entry: &AuditEntry, fleet: &FleetSnapshot) {
        self.record(RunRecord::Audit {
            t_s,
            entry: entry.clone(),
        });
        let verb = entry.action.split(' ').next().unwrap_or_default();
        let changes_fleet = Verb::ALL.iter().any(|v| v.word() == verb);
        if changes_fleet && entry.outcome == AuditOutcome::Accepted {
            self.sample(t_s, fleet);
        }
        self.note_standing(t_s);
    }

    fn fired(&mut self, index: usize, inject: &Inject) {
        let Some(state) = self.injects.get_mut(index) else {
            tracing::error!(index, "an inject fired that the exercise does not know");
            return;
        };
        let t_s = inject.at_s;
        state.fired_at_s = Some(t_s);
        let state = state.clone();
        self.record(RunRecord::Inject { t_s, inject: state });
        // A message inject is the scenario speaking to every player.
        if inject.kind == InjectKind::Message {
            let message = ExerciseMessage {
                at_s: t_s,
                from: "scenario".into(),
                text: inject.narrative.clone(),
            };
            self.record(RunRecord::Message { t_s, message });
        }
    }

    fn escalation(&mut self, t_s: f64, now: DateTime<Utc>, event: &QueueEvent) {
        let summary = &event.summary;
        let record = match event.name {
            EVENT_NEW => RunRecord::EscalationOpened {
                t_s,
                id: summary.id.clone(),
                priority: summary.priority,
                sla_deadline_s: t_s + (summary.sla_deadline - now).as_seconds_f64(),
            },
            EVENT_RESOLVED => RunRecord::EscalationClosed {
                t_s,
                id: summary.id.clone(),
                by: summary
                    .resolution
                    .as_ref()
                    .map_or_else(|| crate::audit::SYSTEM_ACTOR.to_string(), |r| r.by.clone()),
            },
            _ => return,
        };
        self.record(record);
    }

    fn sample(&mut self, t_s: f64, fleet: &FleetSnapshot) {
        self.last_sample_s = Some(t_s);
        self.record(RunRecord::Fleet {
            t_s,
            snapshot: Box::new(fleet.clone()),
        });
    }

    /// Writes a record and scores it. Nothing is recorded after the end: the report written
    /// then is the report of the recording.
    fn record(&mut self, record: RunRecord) {
        if self.phase == ExercisePhase::Ended {
            return;
        }
        if self.recording_failed.is_none()
            && let Err(error) = self.recorder.write(&record)
        {
            let why = format!(
                "the lab cannot write the recording {} ({error}): the rest of this drill is not recorded",
                self.recording().display()
            );
            tracing::error!("{why}");
            // Players hear of it: a report re-rendered from the file will stop here.
            self.tracker.feed(&RunRecord::Message {
                t_s: record.t_s(),
                message: ExerciseMessage {
                    at_s: record.t_s(),
                    from: "lab".into(),
                    text: why.clone(),
                },
            });
            self.recording_failed = Some(why);
        }
        self.tracker.feed(&record);
    }

    /// Moves the tracker's clock to `t_s` (it stops at the end: the report is final); a
    /// change players can see (the clock aside) is a new exercise revision.
    fn note_standing(&mut self, t_s: f64) {
        if self.phase != ExercisePhase::Ended {
            self.tracker.advance_to(t_s);
        }
        let mut standing = self.tracker.state(ExerciseRole::Facilitator);
        standing.clock_s = 0.0;
        if self.standing.as_ref() != Some(&standing) {
            self.standing = Some(standing);
            self.revision += 1;
        }
    }
}

/// The lab's operators while a drill is played: its players, each with the protocol role of
/// their drill role (on call as the topology says, when they are among its operators).
pub fn operators_of(players: &[Player], topology: &[OperatorSpec]) -> Vec<OperatorSpec> {
    players
        .iter()
        .map(|player| OperatorSpec {
            name: player.name.clone(),
            role: player.role.role(),
            on_call: topology
                .iter()
                .find(|o| o.name == player.name)
                .is_none_or(|o| o.on_call),
        })
        .collect()
}

/// `ex-YYYYMMDD-HHMMSS-<scenario>`: sorts by time, names what was played.
fn run_id(created_at: DateTime<Utc>, scenario: &str) -> String {
    let name: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("ex-{}-{name}", created_at.format("%Y%m%d-%H%M%S"))
}

/// Where recordings go when `--record-dir` is not given: the data directory's `exercises/`.
pub fn default_record_dir() -> PathBuf {
    directories::ProjectDirs::from("dev", "switchboard", "switchboard").map_or_else(
        || PathBuf::from("exercises"),
        |dirs| dirs.data_dir().join("exercises"),
    )
}

#[cfg(test)]
mod tests;
