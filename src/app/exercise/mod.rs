//! A tabletop exercise run by a source (a lab started with `--exercise`): the drill as the
//! source last said (its worker reads it at connect, on each `exercise.changed` and, while the
//! stream is down, every few seconds), what is new in it (an inject or a message goes to the
//! timeline, a banner and the bell), and the after-action report once it has ended. The
//! controls (the facilitator's, a player's acknowledgement) are in `controls.rs`.

mod controls;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::{App, Effect, Level, Overlay, View};
use protocol::exercise::report::ExerciseReport;
use protocol::exercise::{ExercisePhase, ExerciseState, clock_label};
use protocol::sanitize::clean;

pub use controls::{ControlOrder, EndDrill, SentControl};

/// How long the banner of a new inject or message stays over the views.
pub const BANNER_FOR: Duration = Duration::from_secs(30);

/// The drill as this console knows it.
pub struct Exercise {
    /// The source that runs it.
    pub source: String,
    /// What the source said last.
    pub state: ExerciseState,
    /// When it said it: the clock runs on from there while the drill runs.
    pub read_at: Instant,
    /// Why the last read failed, while reads fail.
    pub read_error: Option<String>,
    /// The newest inject or message, over the views until `until`.
    pub banner: Option<(String, Instant)>,
    /// Rows the view is scrolled down by.
    pub scroll: usize,
    /// Controls sent and not answered yet.
    pub pending: Vec<SentControl>,
    /// What became of the last control answered.
    pub last_outcome: Option<(Level, String)>,
    /// The report once the drill has ended: its Markdown, or why it could not be read.
    pub report: Option<Result<String, String>>,
    report_asked: bool,
    /// Injects (by id) and messages (by count) already told.
    told_injects: HashSet<String>,
    told_messages: usize,
    /// Injects this console acknowledged.
    acknowledged: HashSet<String>,
    /// A replay's drill, at the replay's clock.
    replayed: bool,
}

impl Exercise {
    fn new(source: String, state: ExerciseState, now: Instant) -> Exercise {
        Exercise {
            source,
            state,
            read_at: now,
            read_error: None,
            banner: None,
            scroll: 0,
            pending: Vec::new(),
            last_outcome: None,
            report: None,
            report_asked: false,
            told_injects: HashSet::new(),
            told_messages: 0,
            acknowledged: HashSet::new(),
            replayed: false,
        }
    }

    /// The exercise clock at `now`: it runs on at the drill's speed from the last read while
    /// the drill runs, and stands still otherwise (and in a replay, whose clock moves it).
    pub fn clock_s(&self, now: Instant) -> f64 {
        match self.state.phase {
            ExercisePhase::Running if !self.replayed => {
                let since = now.saturating_duration_since(self.read_at).as_secs_f64();
                self.state.clock_s + since * self.state.speed
            }
            _ => self.state.clock_s,
        }
    }

    /// Where the lab wrote the report (beside its recording), as the lab's machine names it.
    pub fn report_path(&self) -> Option<String> {
        let recording = self.state.recording.as_deref()?;
        let stem = recording.strip_suffix(".jsonl").unwrap_or(recording);
        Some(format!("{}.report.md", clean(stem)))
    }

    /// The injects fired and the messages sent since the last read, as timeline lines; they
    /// count as told from now on.
    fn news(&mut self) -> Vec<String> {
        let mut news = Vec::new();
        for inject in &self.state.injects {
            let Some(fired) = inject.fired_at_s else {
                continue;
            };
            if !self.told_injects.insert(inject.id.clone()) {
                continue;
            }
            let said = if inject.narrative.is_empty() {
                &inject.summary
            } else {
                &inject.narrative
            };
            news.push(format!(
                "⚑ DRILL {} inject {}: {}",
                clock_label(fired),
                clean(&inject.id),
                clean(said)
            ));
        }
        for message in self.state.messages.iter().skip(self.told_messages) {
            news.push(format!(
                "✉ DRILL {} message from {}: {}",
                clock_label(message.at_s),
                clean(&message.from),
                clean(&message.text)
            ));
        }
        self.told_messages = self.told_messages.max(self.state.messages.len());
        news
    }
}

impl App {
    /// What a source's worker read of its drill: the drill, `None` when it runs none (404), or
    /// why it could not be read.
    pub(super) fn on_exercise(
        &mut self,
        index: usize,
        read: Result<Option<Box<ExerciseState>>, String>,
    ) -> Vec<Effect> {
        let source = self.sources[index].name.clone();
        if let Some(held) = &self.exercise
            && held.source != source
        {
            // One drill at a time: the console follows the first source that ran one.
            if matches!(read, Ok(Some(_))) {
                tracing::warn!(%source, held = %held.source, "a second source runs a drill");
            }
            return Vec::new();
        }
        match read {
            Ok(Some(state)) => self.exercise_read(source, *state),
            Ok(None) => {
                if self.exercise.take().is_some() {
                    self.log(
                        Some(&source),
                        Level::Warning,
                        "the drill is over: the source runs none now".into(),
                    );
                }
                Vec::new()
            }
            Err(error) => {
                let error = clean(&error).into_owned();
                if let Some(exercise) = &mut self.exercise
                    && exercise.read_error.as_ref() != Some(&error)
                {
                    exercise.read_error = Some(error.clone());
                    self.log(
                        Some(&source),
                        Level::Error,
                        format!("drill not read: {error}"),
                    );
                }
                Vec::new()
            }
        }
    }

    /// The drill as `source` says it now: what is new is told, the briefing shows the first
    /// time, and the report is asked for once it has ended.
    pub(super) fn exercise_read(&mut self, source: String, state: ExerciseState) -> Vec<Effect> {
        let now = self.now;
        let first = self.exercise.is_none();
        let exercise = self
            .exercise
            .get_or_insert_with(|| Exercise::new(source.clone(), state.clone(), now));
        let phase_was = exercise.state.phase;
        exercise.state = state;
        exercise.read_at = now;
        let recovered = exercise.read_error.take().is_some();
        let news = exercise.news();
        let phase = exercise.state.phase;
        let ask_report = phase == ExercisePhase::Ended && !exercise.report_asked;
        exercise.report_asked |= ask_report;
        if !first && let Some(latest) = news.last() {
            exercise.banner = Some((latest.clone(), now + BANNER_FOR));
        }
        let briefing = !exercise.state.briefing.trim().is_empty();
        let scenario = clean(&exercise.state.scenario).into_owned();
        let you = exercise.state.you;
        if recovered {
            self.log(Some(&source), Level::Info, "drill read again".into());
        }
        if first {
            self.log(
                Some(&source),
                Level::Info,
                format!(
                    "drill {scenario} joined as {} ({})",
                    you.word(),
                    phase.word()
                ),
            );
            if briefing {
                self.overlays.open(Overlay::Briefing { scroll: 0 });
            }
        } else if phase != phase_was {
            self.log(
                Some(&source),
                Level::Info,
                format!("drill {scenario} {}", phase.word()),
            );
        }
        let mut effects = Vec::new();
        for line in &news {
            self.log(Some(&source), Level::Warning, line.clone());
        }
        // Joining late, the injects so far are history: no bell for them.
        if !first && let Some(latest) = news.last() {
            effects.push(Effect::Notify {
                title: format!("Drill {scenario}"),
                body: latest.clone(),
            });
        }
        if ask_report {
            effects.push(Effect::FetchExerciseReport { source });
        }
        self.dirty = true;
        effects
    }

    /// A replay's drill at the replay's clock, as its facilitator saw it then, and its report
    /// once it has ended: shown as a live drill is, without news, banners or bells (the
    /// replay's timeline has the injects and messages already).
    pub(super) fn exercise_replayed(
        &mut self,
        source: &str,
        state: ExerciseState,
        report: Option<String>,
    ) {
        let now = self.now;
        let exercise = self
            .exercise
            .get_or_insert_with(|| Exercise::new(source.to_string(), state.clone(), now));
        exercise.replayed = true;
        exercise.state = state;
        exercise.read_at = now;
        exercise.report = report.map(Ok);
        self.dirty = true;
    }

    /// The report of the ended drill, as `source` gave it: shown in the Exercise view.
    pub(super) fn exercise_report_loaded(
        &mut self,
        source: &str,
        result: Result<ExerciseReport, String>,
    ) {
        if self.exercise.as_ref().is_none_or(|e| e.source != source) {
            return;
        }
        let shown = result
            // The lab's own renderer: the view shows what the lab wrote to `.report.md`.
            .map(|report| protocol::exercise::markdown::report_markdown(&report))
            .map_err(|error: String| clean(&error).into_owned());
        if let Err(error) = &shown {
            let error = format!("drill report not read: {error}");
            self.log(Some(source), Level::Error, error);
        }
        if let Some(exercise) = self.exercise.as_mut() {
            exercise.report = Some(shown);
        }
        self.dirty = true;
    }

    /// Scrolls the Exercise view (the report is long).
    pub(super) fn scroll_exercise(&mut self, delta: isize) {
        if let Some(exercise) = &mut self.exercise {
            exercise.scroll = exercise.scroll.saturating_add_signed(delta);
        }
    }

    /// The banner of the newest inject or message, while it is news.
    pub fn exercise_banner(&self) -> Option<&str> {
        let (text, until) = self.exercise.as_ref()?.banner.as_ref()?;
        (*until > self.now).then_some(text.as_str())
    }

    /// The views the tabs offer: the Exercise view while a source runs a drill, the Approvals
    /// view while a source has requests of the two-person rule, the Cost view while a source
    /// reports a service's posture or the context prices one.
    pub fn views(&self) -> Vec<View> {
        View::ALL
            .into_iter()
            .filter(|v| *v != View::Exercise || self.exercise.is_some())
            .filter(|v| *v != View::Approvals || self.has_approvals())
            .filter(|v| *v != View::Cost || self.has_posture())
            .collect()
    }

    /// Whether anything knows a service's posture: a source's report, the context's `[cost]`
    /// or a metrics source measuring a service's SLO.
    pub fn has_posture(&self) -> bool {
        !self.cost.services.is_empty()
            || (self.sources.iter().filter_map(|s| s.snapshot.as_ref()))
                .flat_map(|s| &s.services)
                .any(|s| s.posture.is_some())
            || (self.sources.iter().filter_map(|s| s.measured.as_ref()))
                .any(|m| !m.services.is_empty())
    }
}
