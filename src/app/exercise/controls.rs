//! Controls of a drill from keys and the palette: the facilitator's (start, pause, resume,
//! speed, next inject, a custom inject, a message, a note, end after a confirmation) and a
//! player's acknowledgement of an inject. Each goes to the runner as one order; the runner
//! sends it under its own idempotency key (the same key on every retry) and its answer, the
//! drill as it is now, comes back as a message. Refusals and failures are said, never
//! swallowed.

use crossterm::event::KeyEvent;
use ratatui_textarea::TextArea;

use super::super::palette::PaletteEntry;
use super::super::{App, Effect, Level, Overlay, PaletteState};
use crate::keymap::{Action, Drill, Layer};
use protocol::exercise::{
    Control, ControlRequest, ExercisePhase, ExerciseRole, ExerciseState, MAX_TEXT_CHARS, Tone,
};
use protocol::sanitize::clean;

/// A control for the runner to send to the drill's source.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlOrder {
    /// This console's id of the control: its answer comes back under it.
    pub id: u64,
    pub source: String,
    pub request: ControlRequest,
}

/// A control sent and not answered yet.
#[derive(Clone, Debug, PartialEq)]
pub struct SentControl {
    pub id: u64,
    pub control: Control,
}

/// The confirmation that ends the drill, with the reason typed so far.
pub struct EndDrill {
    pub reason: TextArea<'static>,
}

impl App {
    /// A control of the drill from a key (`args` empty) or the palette (`args`: the words
    /// after the command's name).
    pub(in crate::app) fn drill(&mut self, drill: Drill, args: &str) -> Vec<Effect> {
        let Some(exercise) = &self.exercise else {
            self.flash(
                Level::Warning,
                "no drill: no source runs a tabletop exercise (lab serve --exercise SCENARIO)",
            );
            return Vec::new();
        };
        let (phase, speed) = (exercise.state.phase, exercise.state.speed);
        let latest = exercise.latest_unacknowledged();
        if let Some(why) = refusal(drill, &exercise.state, self.drill_read_only()) {
            self.flash(Level::Warning, why);
            return Vec::new();
        }
        let args = args.trim();
        if args.is_empty() && drill.takes_text() && drill != Drill::Acknowledge {
            self.ask_for_text(drill);
            return Vec::new();
        }
        let control = match drill {
            Drill::Briefing => {
                self.overlays.open(Overlay::Briefing { scroll: 0 });
                return Vec::new();
            }
            Drill::End => {
                self.overlays.open(Overlay::EndDrill(Box::new(EndDrill {
                    reason: TextArea::default(),
                })));
                return Vec::new();
            }
            Drill::Toggle => match phase {
                ExercisePhase::Ready => Control::Start,
                ExercisePhase::Running => Control::Pause,
                ExercisePhase::Paused => Control::Resume,
                ExercisePhase::Ended => {
                    self.flash(Level::Warning, "the drill has ended");
                    return Vec::new();
                }
            },
            Drill::Start => Control::Start,
            Drill::Pause => Control::Pause,
            Drill::Resume => Control::Resume,
            Drill::Faster => Control::Speed { speed: speed * 2.0 },
            Drill::Slower => Control::Speed { speed: speed / 2.0 },
            Drill::Speed => match args.parse::<f64>() {
                Ok(speed) if speed.is_finite() && speed > 0.0 => Control::Speed { speed },
                _ => {
                    self.flash(
                        Level::Warning,
                        format!("drill-speed wants a positive number, e.g. 4, not {args:?}"),
                    );
                    return Vec::new();
                }
            },
            Drill::NextInject => Control::NextInject,
            Drill::Inject => inject(args),
            Drill::Message => Control::Message {
                text: args.to_string(),
            },
            Drill::Note => note(args),
            Drill::Acknowledge => {
                let named = (!args.is_empty()).then(|| args.to_string());
                match named.or(latest) {
                    Some(inject) => Control::Acknowledge { inject },
                    None => {
                        self.flash(Level::Warning, "no inject to acknowledge yet");
                        return Vec::new();
                    }
                }
            }
        };
        self.send_control(control, String::new())
    }

    /// Opens the palette on the command, for its text to be typed after it.
    fn ask_for_text(&mut self, drill: Drill) {
        let mut palette = PaletteState::open(&mut self.matcher, false);
        palette.entries = vec![PaletteEntry {
            action: Action::Drill(drill),
            keys: String::new(),
            refused: None,
        }];
        palette.input = format!("{} ", drill.command_name());
        palette.rematch(&mut self.matcher);
        self.overlays.open(Overlay::Palette(palette));
    }

    /// Lists the drill's controls in the palette while there is a drill, those the user may
    /// not use with why.
    pub(in crate::app) fn add_drill_entries(&self, palette: &mut PaletteState) {
        let Some(exercise) = &self.exercise else {
            return;
        };
        for (action, keys) in crate::keymap::drill_palette_actions() {
            let Action::Drill(drill) = action else {
                continue;
            };
            palette.entries.push(PaletteEntry {
                action,
                keys,
                refused: refusal(drill, &exercise.state, self.drill_read_only()),
            });
        }
    }

    /// Why this console may not control a drill at all, if it may not.
    fn drill_read_only(&self) -> Option<&'static str> {
        if self.replay.is_some() {
            Some(super::super::replay::READ_ONLY)
        } else if self.context.read_only {
            Some("read-only: this console does not control the drill")
        } else {
            None
        }
    }

    fn send_control(&mut self, control: Control, reason: String) -> Vec<Effect> {
        let Some(exercise) = &mut self.exercise else {
            return Vec::new();
        };
        let too_long = match &control {
            Control::Message { text } | Control::Annotate { text, .. } => text,
            Control::Inject { narrative, .. } => narrative,
            _ => &reason,
        };
        if too_long.chars().count() > MAX_TEXT_CHARS || reason.chars().count() > MAX_TEXT_CHARS {
            self.flash(
                Level::Warning,
                format!("too long for the drill: at most {MAX_TEXT_CHARS} characters"),
            );
            return Vec::new();
        }
        self.next_control_id += 1;
        let id = self.next_control_id;
        exercise.pending.push(SentControl {
            id,
            control: control.clone(),
        });
        vec![Effect::ControlExercise(ControlOrder {
            id,
            source: exercise.source.clone(),
            request: ControlRequest { control, reason },
        })]
    }

    /// The source's answer to control `id`: the drill as it is now, or why it was not done.
    pub(in crate::app) fn exercise_controlled(
        &mut self,
        id: u64,
        result: Result<ExerciseState, String>,
    ) -> Vec<Effect> {
        let Some(exercise) = &mut self.exercise else {
            return Vec::new();
        };
        let Some(at) = exercise.pending.iter().position(|s| s.id == id) else {
            return Vec::new();
        };
        let control = exercise.pending.remove(at).control;
        let source = exercise.source.clone();
        match result {
            Ok(state) => {
                if let Control::Acknowledge { inject } = &control {
                    exercise.acknowledged.insert(inject.clone());
                }
                exercise.last_outcome = Some((Level::Info, format!("✓ {}", said(&control))));
                self.exercise_read(source, state)
            }
            Err(error) => {
                let text = format!("✖ {} failed: {}", said(&control), clean(&error));
                exercise.last_outcome = Some((Level::Error, text.clone()));
                self.log(Some(&source), Level::Error, text.clone());
                self.flash = Some(super::super::Flash {
                    level: Level::Error,
                    text,
                    until: self.now + super::super::FLASH_FOR,
                });
                self.dirty = true;
                Vec::new()
            }
        }
    }

    /// Keys of the briefing.
    pub(in crate::app) fn perform_in_briefing(&mut self, action: Action) {
        let scroll = self.overlays.iter().find_map(|o| match o {
            Overlay::Briefing { scroll } => Some(*scroll),
            _ => None,
        });
        let Some(scroll) = scroll else {
            return;
        };
        let scroll = match action {
            Action::Down => scroll + 1,
            Action::Up => scroll.saturating_sub(1),
            _ => {
                self.overlays.close(Layer::Briefing);
                return;
            }
        };
        self.overlays.open(Overlay::Briefing { scroll });
    }

    /// Keys of the end's confirmation: Enter ends the drill, Esc keeps it going.
    pub(in crate::app) fn perform_in_end_drill(&mut self, action: Action) -> Vec<Effect> {
        let Some(form) = self.overlays.end_drill() else {
            return Vec::new();
        };
        let reason = clean(form.reason.lines().join(" ").trim()).into_owned();
        self.overlays.close(Layer::EndDrill);
        match action {
            Action::Accept => self.send_control(Control::End, reason),
            _ => Vec::new(),
        }
    }

    /// Typing the reason of the end.
    pub(in crate::app) fn end_drill_input(&mut self, key: KeyEvent) {
        if let Some(form) = self.overlays.end_drill_mut() {
            form.reason.input(key);
        }
    }
}

impl super::Exercise {
    /// The newest fired inject this console has not acknowledged.
    fn latest_unacknowledged(&self) -> Option<String> {
        let fired = self.state.injects.iter().filter(|i| i.fired_at_s.is_some());
        fired
            .filter(|i| !self.acknowledged.contains(&i.id))
            .max_by(|a, b| {
                a.fired_at_s
                    .partial_cmp(&b.fired_at_s)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .map(|i| i.id.clone())
    }
}

/// Why the user may not do `drill` to this drill, if they may not; `read_only`: why this
/// console controls no drill, if it does not.
fn refusal(drill: Drill, state: &ExerciseState, read_only: Option<&str>) -> Option<String> {
    if drill == Drill::Briefing {
        return None;
    }
    if let Some(why) = read_only {
        return Some(why.to_string());
    }
    let you = state.you;
    if drill.facilitator_only() && you != ExerciseRole::Facilitator {
        return Some(format!(
            "only the facilitator controls the drill; you are {}",
            you.word()
        ));
    }
    if drill == Drill::Acknowledge && you == ExerciseRole::Observer {
        return Some("observers watch the drill; they do not acknowledge injects".into());
    }
    (state.phase == ExercisePhase::Ended).then(|| "the drill has ended".to_string())
}

/// `KIND [TARGET] [narrative…]` as a custom inject.
fn inject(args: &str) -> Control {
    let mut words = args.splitn(3, char::is_whitespace);
    let kind = words.next().unwrap_or_default().to_string();
    let target = words.next().unwrap_or_default().to_string();
    let narrative = words.next().unwrap_or_default().trim().to_string();
    Control::Inject {
        kind,
        target,
        duration_s: None,
        magnitude: None,
        narrative,
    }
}

/// `[+|-] TEXT` as a note: `+` went well, `-` to improve.
fn note(args: &str) -> Control {
    let (tone, text) = match args.chars().next() {
        Some('+') => (Tone::WentWell, &args[1..]),
        Some('-') => (Tone::ToImprove, &args[1..]),
        _ => (Tone::Note, args),
    };
    Control::Annotate {
        tone,
        text: text.trim().to_string(),
    }
}

/// A control in a few words, for its outcome.
fn said(control: &Control) -> String {
    match control {
        Control::Speed { speed } => format!("speed ×{speed}"),
        Control::Acknowledge { inject } => format!("acknowledge {}", clean(inject)),
        Control::Inject { kind, target, .. } => format!("inject {} {}", clean(kind), clean(target))
            .trim_end()
            .to_string(),
        other => other.word().to_string(),
    }
}
