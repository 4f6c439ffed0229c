//! PLACEHOLDER until i13-score's tracker is merged (the branch replaces this file): folds a
//! recording into the live state and the report, without scoring objectives yet.

use super::record::{RunHeader, RunRecord};
use super::report::ExerciseReport;
use super::{
    Annotation, Control, ExerciseMessage, ExercisePhase, ExerciseRole, ExerciseState, InjectState,
    ObjectiveState, ObjectiveStatus, Score,
};

pub struct Tracker {
    header: RunHeader,
    phase: ExercisePhase,
    speed: f64,
    clock_s: f64,
    injects: Vec<InjectState>,
    messages: Vec<ExerciseMessage>,
    notes: Vec<Annotation>,
}

impl Tracker {
    pub fn new(header: RunHeader) -> Tracker {
        Tracker {
            injects: header.injects.clone(),
            header,
            phase: ExercisePhase::Ready,
            speed: 1.0,
            clock_s: 0.0,
            messages: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn feed(&mut self, record: &RunRecord) {
        self.advance_to(record.t_s());
        match record {
            RunRecord::Inject { inject, .. } => {
                match self.injects.iter_mut().find(|i| i.id == inject.id) {
                    Some(known) => *known = inject.clone(),
                    None => self.injects.push(inject.clone()),
                }
            }
            RunRecord::Message { message, .. } => self.messages.push(message.clone()),
            RunRecord::Annotation { annotation, .. } => self.notes.push(annotation.clone()),
            RunRecord::Control { control, .. } => match control {
                Control::Start | Control::Resume => self.phase = ExercisePhase::Running,
                Control::Pause => self.phase = ExercisePhase::Paused,
                Control::Speed { speed } => self.speed = *speed,
                Control::End => self.phase = ExercisePhase::Ended,
                _ => {}
            },
            _ => {}
        }
    }

    pub fn advance_to(&mut self, t_s: f64) {
        self.clock_s = self.clock_s.max(t_s);
    }

    pub fn state(&self, you: ExerciseRole) -> ExerciseState {
        let facilitator = you == ExerciseRole::Facilitator;
        let ended = self.phase == ExercisePhase::Ended;
        let injects = self
            .injects
            .iter()
            .filter(|i| facilitator || i.fired_at_s.is_some())
            .cloned()
            .map(|mut i| {
                if !facilitator {
                    i.facilitator_note = None;
                }
                i
            })
            .collect();
        ExerciseState {
            scenario: self.header.scenario.clone(),
            description: self.header.description.clone(),
            briefing: self.header.briefing.clone(),
            phase: self.phase,
            clock_s: self.clock_s,
            speed: self.speed,
            you,
            injects,
            messages: self.messages.clone(),
            notes: if facilitator || ended {
                self.notes.clone()
            } else {
                Vec::new()
            },
            objectives: self.objectives(),
            measures: Vec::new(),
            sla_breaches: 0,
            risky_actions: Vec::new(),
            score: self.score(),
            recording: None,
        }
    }

    pub fn report(&self) -> ExerciseReport {
        ExerciseReport {
            run_id: self.header.run_id.clone(),
            scenario: self.header.scenario.clone(),
            description: self.header.description.clone(),
            seed: self.header.seed,
            created_at: self.header.created_at,
            duration_s: self.clock_s,
            ended: self.phase == ExercisePhase::Ended,
            players: self.header.players.clone(),
            score: self.score(),
            objectives: self.objectives(),
            measures: Vec::new(),
            sla_breaches: 0,
            escalations_opened: 0,
            escalations_closed: 0,
            risky_actions: Vec::new(),
            timeline: Vec::new(),
            series: Vec::new(),
            went_well: Vec::new(),
            to_improve: Vec::new(),
        }
    }

    fn objectives(&self) -> Vec<ObjectiveState> {
        (self.header.objectives.iter())
            .map(|o| ObjectiveState {
                id: o.id.clone(),
                title: o.title.clone(),
                weight: o.weight,
                deadline_s: None,
                status: ObjectiveStatus::Pending,
            })
            .collect()
    }

    fn score(&self) -> Score {
        Score {
            earned: 0,
            possible: self.header.objectives.iter().map(|o| o.weight).sum(),
        }
    }
}
