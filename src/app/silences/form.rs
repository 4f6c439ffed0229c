//! The confirmation of a silence: for a firing alert, the matchers from its labels (what it
//! is about in, the rest offered, never none), how long, and why; for an active silence, why
//! it is expired. Enter sends it as a [`super::SilenceOrder`].

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;

use super::super::{App, Effect, Level, Overlay, View};
use super::{Matcher, Silence, SilenceAction};
use crate::domain::command::{duration_text, parse_duration_s};
use crate::domain::measured::FiringAlert;
use crate::keymap::{Action, Layer};
use crate::sources::prometheus::silences::MAX_SILENCE;

/// What a new silence lasts unless the engineer says otherwise: long enough to work on the
/// cause, short enough that a forgotten one does not hide the next outage.
pub const DEFAULT_SILENCE: Duration = Duration::from_secs(3600);

/// The label names whose matchers a new silence starts with (the others are offered, off):
/// the alert and what it is about, as the source's labels name them.
fn starts_on(name: &str, alert: &FiringAlert) -> bool {
    let about = |value: &Option<String>| {
        value
            .as_ref()
            .is_some_and(|v| alert.labels.get(name) == Some(v))
    };
    name == "alertname"
        || about(&alert.target.region)
        || about(&alert.target.provider)
        || about(&alert.target.service)
}

/// How long a silence of `text` (`90s`, `20m`, `1h30m`) lasts, or why it cannot: from one
/// second to [`MAX_SILENCE`], whoever asks (the form, `switchboard silences create`).
pub fn silence_length(text: &str) -> Result<Duration, String> {
    let length = Duration::from_secs(parse_duration_s(text)?);
    if length.is_zero() || length > MAX_SILENCE {
        return Err(format!(
            "a silence lasts from 1 second to {}",
            duration_text(MAX_SILENCE.as_secs())
        ));
    }
    Ok(length)
}

/// A matcher of the alert's labels, in the silence or left out.
#[derive(Clone, Debug, PartialEq)]
pub struct MatcherChoice {
    pub matcher: Matcher,
    pub on: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SilenceFocus {
    Reason,
    Duration,
    Matchers,
}

/// What the form does.
pub enum SilenceFormKind {
    Create {
        /// The alert it was opened on (`alertname`), for the title.
        alert: String,
        choices: Vec<MatcherChoice>,
        /// The choice under the cursor.
        selected: usize,
        duration: Box<TextArea<'static>>,
    },
    Expire {
        silence: Silence,
    },
}

/// The confirmation of a silence to create or expire.
pub struct SilenceForm {
    pub source: usize,
    pub kind: SilenceFormKind,
    pub reason: TextArea<'static>,
    pub focus: SilenceFocus,
    /// Why it cannot be sent yet.
    pub problem: Option<String>,
}

fn input(text: &str, placeholder: &str) -> TextArea<'static> {
    let mut area = TextArea::new(vec![text.to_string()]);
    area.set_placeholder_text(placeholder);
    area.move_cursor(ratatui_textarea::CursorMove::End);
    area
}

fn text_of(area: &TextArea) -> String {
    area.lines().join(" ").trim().to_string()
}

impl SilenceForm {
    /// The matchers the silence will have, as the form stands.
    pub fn matchers(&self) -> Vec<Matcher> {
        match &self.kind {
            SilenceFormKind::Create { choices, .. } => (choices.iter())
                .filter(|c| c.on)
                .map(|c| c.matcher.clone())
                .collect(),
            SilenceFormKind::Expire { silence } => silence.matchers.clone(),
        }
    }

    /// How long the silence lasts, or why the field cannot say.
    pub fn duration(&self) -> Result<Duration, String> {
        let SilenceFormKind::Create { duration, .. } = &self.kind else {
            return Ok(Duration::ZERO);
        };
        silence_length(&text_of(duration))
    }

    pub fn reason(&self) -> String {
        text_of(&self.reason)
    }

    fn fields(&self) -> &'static [SilenceFocus] {
        match self.kind {
            SilenceFormKind::Create { .. } => &[
                SilenceFocus::Reason,
                SilenceFocus::Duration,
                SilenceFocus::Matchers,
            ],
            SilenceFormKind::Expire { .. } => &[SilenceFocus::Reason],
        }
    }
}

impl App {
    /// `s` or `:silence`: the form for the alert under the selection (one not yet silenced
    /// first), with its labels as matchers.
    pub(in crate::app) fn start_silence(&mut self) {
        if let Some(refusal) = self.silence_refusal() {
            self.flash(Level::Warning, refusal);
            return;
        }
        let alerts = self.selected_alerts();
        let chosen = (alerts.iter())
            .find(|(_, a)| a.silenced_by.is_empty())
            .or(alerts.first())
            .map(|(source, alert)| (*source, (*alert).clone()));
        let Some((source, alert)) = chosen else {
            let problem = match self.view {
                View::Timeline => "select a firing alert's entry first",
                _ => {
                    "no alert fires here: select an alert in the timeline, or a region, provider or service marked !"
                }
            };
            self.flash(Level::Warning, problem);
            return;
        };
        if self.sources[source]
            .measured
            .as_ref()
            .is_some_and(|m| m.alerts_error.is_some())
        {
            // Still sent: Alertmanager may answer now; but the engineer knows what they see.
            self.flash(
                Level::Warning,
                "the alerts could not be read lately: they are as last read",
            );
        }
        let choices = (alert.labels.iter())
            .map(|(name, value)| MatcherChoice {
                matcher: Matcher::equals(name, value),
                on: starts_on(name, &alert),
            })
            .collect();
        let form = SilenceForm {
            source,
            kind: SilenceFormKind::Create {
                alert: alert.name,
                choices,
                selected: 0,
                duration: Box::new(input(
                    &duration_text(DEFAULT_SILENCE.as_secs()),
                    "e.g. 2h, 30m, 1d",
                )),
            },
            reason: input("", "why? (required, kept in the journal and the timeline)"),
            focus: SilenceFocus::Reason,
            problem: None,
        };
        self.overlays.open(Overlay::Silence(Box::new(form)));
    }

    pub(super) fn start_expire(&mut self, source: usize, selected: usize) {
        if let Some(refusal) = self.silence_refusal() {
            self.flash(Level::Warning, refusal);
            return;
        }
        let Some(silence) = self.silences_of(source).get(selected).cloned() else {
            self.flash(Level::Warning, "no silence selected");
            return;
        };
        let form = SilenceForm {
            source,
            kind: SilenceFormKind::Expire { silence },
            reason: input("", "why? (required, kept in the journal and the timeline)"),
            focus: SilenceFocus::Reason,
            problem: None,
        };
        self.overlays.open(Overlay::Silence(Box::new(form)));
    }

    pub(in crate::app) fn perform_in_silence_form(&mut self, action: Action) -> Vec<Effect> {
        let Some(form) = self.overlays.silence_form_mut() else {
            return Vec::new();
        };
        let fields = form.fields();
        let at = fields.iter().position(|f| *f == form.focus).unwrap_or(0);
        match action {
            Action::Accept => return self.submit_silence(),
            Action::NextField => form.focus = fields[(at + 1) % fields.len()],
            Action::PrevField => form.focus = fields[(at + fields.len() - 1) % fields.len()],
            Action::Up | Action::Down => {
                if let (
                    SilenceFocus::Matchers,
                    SilenceFormKind::Create {
                        choices, selected, ..
                    },
                ) = (form.focus, &mut form.kind)
                {
                    *selected = match action {
                        Action::Up => selected.saturating_sub(1),
                        _ => (*selected + 1).min(choices.len().saturating_sub(1)),
                    };
                }
            }
            _ => self.overlays.close(Layer::Silence),
        }
        Vec::new()
    }

    /// Typing in the form: into the focused field; on the matchers, space takes the one
    /// under the cursor in or out.
    pub(in crate::app) fn silence_input(&mut self, key: KeyEvent) {
        let Some(form) = self.overlays.silence_form_mut() else {
            return;
        };
        form.problem = None;
        match (form.focus, &mut form.kind) {
            (SilenceFocus::Reason, _) => {
                form.reason.input(key);
            }
            (SilenceFocus::Duration, SilenceFormKind::Create { duration, .. }) => {
                duration.input(key);
            }
            (
                SilenceFocus::Matchers,
                SilenceFormKind::Create {
                    choices, selected, ..
                },
            ) => {
                if key.code == KeyCode::Char(' ')
                    && let Some(choice) = choices.get_mut(*selected)
                {
                    choice.on = !choice.on;
                }
            }
            _ => {}
        }
    }

    /// Enter in the form: send if everything holds, else say what is missing.
    fn submit_silence(&mut self) -> Vec<Effect> {
        let operator = self.identity().map(|w| w.name.clone());
        let Some(form) = self.overlays.silence_form_mut() else {
            return Vec::new();
        };
        let reason = form.reason();
        let matchers = form.matchers();
        let action = match &form.kind {
            SilenceFormKind::Create { .. } => form
                .duration()
                .map(|duration| SilenceAction::Create { matchers, duration }),
            SilenceFormKind::Expire { silence } => Ok(SilenceAction::Expire {
                id: silence.id.clone(),
            }),
        };
        let problem = match &action {
            Err(problem) => Some(problem.clone()),
            Ok(SilenceAction::Create { matchers, .. }) if matchers.is_empty() => Some(
                "keep at least one matcher (space): without any the silence would mute everything"
                    .to_string(),
            ),
            _ if reason.is_empty() => {
                Some("a reason is required: it goes to the journal and the timeline".to_string())
            }
            _ => None,
        };
        let action = match action {
            Ok(action) if problem.is_none() => action,
            _ => {
                form.problem = problem;
                return Vec::new();
            }
        };
        let source = form.source;
        self.overlays.close(Layer::Silence);
        self.send_silence(source, action, reason, operator)
    }
}
