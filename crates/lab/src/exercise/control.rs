//! The controls of a drill (`POST /v1/exercise/control`): who may send which, in which
//! phase, with what text; and what each does to the drill. What a control does to the
//! simulation (firing an inject now, adding one) is the server's: it holds both.

use super::Exercise;
use crate::free_text::{Lines, check_printable};
use crate::scenario::{Inject, Scenario, format_duration};
use crate::sim::MAX_SPEED;
use crate::topology::Topology;
use protocol::exercise::record::RunRecord;
use protocol::exercise::{
    Annotation, Control, ExerciseMessage, ExercisePhase, ExerciseRole, MAX_TEXT_CHARS,
};

/// Why a control was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum ControlRefusal {
    /// Not the caller's to send (403).
    Forbidden(String),
    /// The request is malformed or its text unfit (400).
    Invalid(String),
    /// Not in the drill's current phase, or already done (409).
    Conflict(String),
    /// It names an inject the drill does not have (404).
    NotFound(String),
}

impl Exercise {
    /// Whether `who` may send `control` now; answers their drill role.
    pub fn judge(
        &self,
        who: &str,
        control: &Control,
        reason: &str,
    ) -> Result<ExerciseRole, ControlRefusal> {
        let Some(role) = self.role_of(who) else {
            return Err(ControlRefusal::Forbidden(format!(
                "{who} does not play in this drill"
            )));
        };
        let word = control.word();
        if control.facilitator_only() && role != ExerciseRole::Facilitator {
            return Err(ControlRefusal::Forbidden(format!(
                "{who} is the {} in this drill: only the facilitator may {word}",
                role.word()
            )));
        }
        if role == ExerciseRole::Observer {
            return Err(ControlRefusal::Forbidden(format!(
                "{who} observes this drill: observers change nothing"
            )));
        }
        check_text("reason", reason, Lines::One)?;
        self.check_phase(control)?;
        match control {
            Control::Speed { speed }
                if !(speed.is_finite() && *speed > 0.0 && *speed <= MAX_SPEED) =>
            {
                Err(ControlRefusal::Invalid(format!(
                    "speed must be above 0 and at most {MAX_SPEED}, not {speed}"
                )))
            }
            Control::Message { text } | Control::Annotate { text, .. } => {
                check_required(text)?;
                check_text("text", text, Lines::Many)
            }
            Control::Inject { narrative, .. } => check_text("narrative", narrative, Lines::One),
            Control::Acknowledge { inject } => {
                match self.injects.iter().find(|i| &i.id == inject) {
                    None => Err(ControlRefusal::NotFound(format!(
                        "this drill has no inject {inject:?}"
                    ))),
                    Some(state) if state.fired_at_s.is_none() => Err(ControlRefusal::Conflict(
                        format!("inject {inject} has not happened yet"),
                    )),
                    Some(_) => Ok(()),
                }
            }
            _ => Ok(()),
        }?;
        Ok(role)
    }

    fn check_phase(&self, control: &Control) -> Result<(), ControlRefusal> {
        let phase = self.phase;
        let wrong = |needed: &str| {
            Err(ControlRefusal::Conflict(format!(
                "the drill is {}: {} needs it {needed}",
                phase.word(),
                control.word()
            )))
        };
        match (control, phase) {
            (_, ExercisePhase::Ended) => Err(ControlRefusal::Conflict(
                "the drill has ended: nothing changes it any more".into(),
            )),
            (Control::Start, ExercisePhase::Ready) => Ok(()),
            (Control::Start, _) => wrong("ready (it starts once)"),
            (Control::Pause, ExercisePhase::Running) => Ok(()),
            (Control::Pause, _) => wrong("running"),
            (Control::Resume, ExercisePhase::Paused) => Ok(()),
            (Control::Resume, _) => wrong("paused"),
            _ => Ok(()),
        }
    }

    /// Applies a judged control by `by` at exercise second `t_s`: the record of it, and what
    /// it changes in the drill itself (phase, speed, messages, notes). At the end, the
    /// report files are written beside the recording.
    pub fn apply(&mut self, t_s: f64, by: &str, control: &Control) {
        self.record(RunRecord::Control {
            t_s,
            by: by.to_string(),
            control: control.clone(),
        });
        match control {
            Control::Start | Control::Resume => self.phase = ExercisePhase::Running,
            Control::Pause => self.phase = ExercisePhase::Paused,
            Control::Speed { speed } => self.speed = *speed,
            Control::Message { text } => {
                let message = ExerciseMessage {
                    at_s: t_s,
                    from: by.to_string(),
                    text: text.clone(),
                };
                self.record(RunRecord::Message { t_s, message });
            }
            Control::Annotate { tone, text } => {
                let annotation = Annotation {
                    at_s: t_s,
                    author: by.to_string(),
                    tone: *tone,
                    text: text.clone(),
                };
                self.record(RunRecord::Annotation { t_s, annotation });
            }
            Control::End => {
                self.note_standing(t_s);
                self.phase = ExercisePhase::Ended;
                self.write_report();
            }
            Control::NextInject | Control::Inject { .. } | Control::Acknowledge { .. } => {}
        }
        self.note_standing(t_s);
    }

    /// Names a custom inject firing at `t_s` (`custom-N`) and joins it to the drill's
    /// injects (same index as the simulation's, where the server adds it); answers its id.
    pub fn add_custom(&mut self, t_s: f64, inject: &Inject) -> String {
        self.customs += 1;
        let id = format!("custom-{}", self.customs);
        let mut state = inject.state();
        state.id = id.clone();
        state.at_s = t_s;
        self.injects.push(state);
        id
    }

    fn write_report(&mut self) {
        let report = self.tracker.report();
        let json = serde_json::to_string_pretty(&report).expect("a report serializes");
        let markdown = protocol::exercise::markdown::report_markdown(&report);
        for (suffix, contents) in [("report.md", markdown), ("report.json", json)] {
            match self.recorder.write_beside(suffix, &contents) {
                Ok(path) => self.report_files.push(path),
                Err(error) => tracing::error!(%error, suffix, "cannot write the exercise report"),
            }
        }
    }
}

/// An inject the facilitator adds, checked like one of a scenario file: `kind` and `target`
/// as files write them, a duration (the kind's default when `None`), a magnitude.
pub fn custom_inject(control: &Control, topology: &Topology) -> Result<Inject, ControlRefusal> {
    let Control::Inject {
        kind,
        target,
        duration_s,
        magnitude,
        narrative,
    } = control
    else {
        return Err(ControlRefusal::Invalid("not an inject".into()));
    };
    // Written as a one-inject scenario, it is validated by the very rules of scenario files.
    let mut inject = toml::Table::new();
    inject.insert("at".into(), "0s".into());
    inject.insert("kind".into(), kind.as_str().into());
    if !target.is_empty() {
        inject.insert("target".into(), target.as_str().into());
    }
    if let Some(seconds) = duration_s {
        if !(seconds.is_finite() && *seconds >= 1.0) {
            return Err(ControlRefusal::Invalid(format!(
                "duration_s must be at least 1 second, not {seconds}"
            )));
        }
        inject.insert("duration".into(), format_duration(*seconds).into());
    }
    if let Some(magnitude) = magnitude {
        inject.insert("magnitude".into(), (*magnitude).into());
    }
    if !narrative.is_empty() {
        inject.insert("narrative".into(), narrative.as_str().into());
    }
    let mut file = toml::Table::new();
    file.insert("name".into(), "custom".into());
    file.insert("inject".into(), vec![toml::Value::Table(inject)].into());
    let text = toml::to_string(&file).map_err(|e| ControlRefusal::Invalid(e.to_string()))?;
    let mut scenario = Scenario::parse("custom inject", &text, topology)
        .map_err(|error| ControlRefusal::Invalid(error.reason))?;
    Ok(scenario.injects.remove(0))
}

fn check_required(text: &str) -> Result<(), ControlRefusal> {
    if text.trim().is_empty() {
        return Err(ControlRefusal::Invalid("the text must not be empty".into()));
    }
    Ok(())
}

fn check_text(field: &str, text: &str, lines: Lines) -> Result<(), ControlRefusal> {
    check_printable(field, text, lines).map_err(ControlRefusal::Invalid)?;
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ControlRefusal::Invalid(format!(
            "the {field} must be at most {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}
