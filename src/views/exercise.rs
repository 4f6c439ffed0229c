//! The Exercise view: a tabletop drill's clock, phase, speed and score; its injects (fired with
//! their T+ and detect / mitigate / recover times; upcoming ones and the scenario's notes for the
//! facilitator), objectives (pending, met at T+mm:ss, missed and why), SLA breaches, risky
//! actions, messages and notes; the after-action report once it has ended. Also the briefing
//! and the end's confirmation, drawn over the views.
//!
//! The view draws an [`ExerciseScreen`], built from whatever holds the drill (the console's
//! live state, or a replay), so both show a drill the same way.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::chrome::level_style;
use super::overlays::centered;
use crate::app::{App, EndDrill, Level};
use crate::theme::Theme;
use protocol::exercise::{
    ExercisePhase, ExerciseRole, ExerciseState, InjectState, ObjectiveStatus, Tone, clock_label,
};
use protocol::sanitize::clean;

/// What the view draws: a drill and what is known about it.
pub struct ExerciseScreen<'a> {
    pub state: &'a ExerciseState,
    /// The exercise clock now (the state's own, run on while the drill runs).
    pub clock_s: f64,
    /// Lines about the drill itself, before its content: what is not known (a failed read and
    /// its age), controls on their way, the last control's outcome.
    pub notices: Vec<(Level, String)>,
    /// The after-action report's Markdown once the drill has ended, or why it is missing.
    pub report: Option<&'a Result<String, String>>,
    /// Where the report was written, on the machine that ran the drill.
    pub report_path: Option<String>,
    /// Rows scrolled down.
    pub scroll: usize,
    /// A replay's drill: it shows what the facilitator saw, not what the user may do.
    pub replayed: bool,
}

/// The console's drill as the view draws it.
pub fn screen_of(app: &App) -> Option<ExerciseScreen<'_>> {
    let exercise = app.exercise.as_ref()?;
    let mut notices = Vec::new();
    if let Some(error) = &exercise.read_error {
        let age = crate::format::age(app.now.saturating_duration_since(exercise.read_at));
        notices.push((
            Level::Error,
            format!("✖ drill not read: {error}; shown as of {age} ago"),
        ));
    }
    for sent in &exercise.pending {
        notices.push((Level::Info, format!("… sending {}", sent.control.word())));
    }
    notices.extend(exercise.last_outcome.clone());
    Some(ExerciseScreen {
        state: &exercise.state,
        clock_s: exercise.clock_s(app.now),
        notices,
        report: exercise.report.as_ref(),
        report_path: exercise.report_path(),
        scroll: exercise.scroll,
        replayed: app.replay.is_some(),
    })
}

/// Draws the console's drill; returns how far it can scroll.
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) -> usize {
    match screen_of(app) {
        Some(screen) => draw_screen(&screen, theme, frame, area),
        None => {
            let text = "No drill: no source runs a tabletop exercise.";
            frame.render_widget(Paragraph::new(Line::styled(text, theme.dim)), area);
            0
        }
    }
}

/// Draws `screen` over `area`; returns the last row it can be scrolled to.
pub fn draw_screen(screen: &ExerciseScreen, theme: &Theme, frame: &mut Frame, area: Rect) -> usize {
    let state = screen.state;
    let title = format!(
        " Drill {} · {} · {} ",
        clean(&state.scenario),
        clock_label(screen.clock_s),
        state.phase.word()
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(title, theme.title));
    let inner = block.inner(area);
    let lines = lines(screen, theme);
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    let rows = paragraph.line_count(inner.width);
    let max = rows.saturating_sub(usize::from(inner.height));
    let scroll = screen.scroll.min(max);
    frame.render_widget(paragraph.block(block).scroll((scroll as u16, 0)), area);
    max
}

fn lines<'a>(screen: &'a ExerciseScreen, theme: &Theme) -> Vec<Line<'a>> {
    let state = screen.state;
    let facilitator = state.you == ExerciseRole::Facilitator;
    let mut out = vec![headline(screen, theme)];
    if !state.description.is_empty() {
        out.push(Line::styled(
            clean(&state.description).into_owned(),
            theme.dim,
        ));
    }
    out.extend(
        (screen.notices.iter()).map(|(level, text)| {
            Line::styled(clean(text).into_owned(), level_style(theme, *level))
        }),
    );
    out.push(heading("Injects", theme));
    let mut fired: Vec<&InjectState> = state
        .injects
        .iter()
        .filter(|i| i.fired_at_s.is_some())
        .collect();
    fired.sort_by(|a, b| {
        a.fired_at_s
            .partial_cmp(&b.fired_at_s)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    if fired.is_empty() {
        out.push(Line::styled("  none fired yet", theme.dim));
    }
    for inject in fired {
        out.extend(inject_lines(screen, inject, theme));
    }
    let upcoming: Vec<&InjectState> = state
        .injects
        .iter()
        .filter(|i| i.fired_at_s.is_none())
        .collect();
    if facilitator && !upcoming.is_empty() {
        let who = if screen.replayed {
            "the facilitator saw"
        } else {
            "you see"
        };
        out.push(Line::styled(
            format!("  upcoming (only {who} these):"),
            theme.dim,
        ));
        for inject in upcoming {
            out.extend(inject_lines(screen, inject, theme));
        }
    }
    out.push(heading(
        &format!(
            "Objectives · score {}/{}",
            state.score.earned, state.score.possible
        ),
        theme,
    ));
    if state.objectives.is_empty() {
        out.push(Line::styled("  none", theme.dim));
    }
    for objective in &state.objectives {
        let (mark, style) = match &objective.status {
            ObjectiveStatus::Pending => {
                let by = objective
                    .deadline_s
                    .map(|d| format!("pending, by {}", clock_label(d)))
                    .unwrap_or_else(|| "pending".into());
                (by, theme.text)
            }
            ObjectiveStatus::Met { at_s } => {
                (format!("✓ met at {}", clock_label(*at_s)), theme.health_ok)
            }
            ObjectiveStatus::Missed { at_s, .. } => {
                (format!("✖ missed at {}", clock_label(*at_s)), theme.error)
            }
        };
        out.push(Line::from(vec![
            Span::styled(format!("  {mark:<20} "), style),
            Span::raw(format!(
                "{} (weight {})",
                clean(&objective.title),
                objective.weight
            )),
        ]));
        if let ObjectiveStatus::Missed { why, .. } = &objective.status {
            out.push(Line::styled(
                format!("      why: {}", clean(why)),
                theme.error,
            ));
        }
    }
    let breaches = match state.sla_breaches {
        0 => ("SLA breaches: none".to_string(), theme.text),
        n => (format!("SLA breaches: {n}"), theme.error),
    };
    out.push(Line::raw(""));
    out.push(Line::styled(breaches.0, breaches.1));
    out.push(heading("Risky actions", theme));
    if state.risky_actions.is_empty() {
        out.push(Line::styled("  none", theme.dim));
    }
    for risky in &state.risky_actions {
        let forced = if risky.forced { " FORCED" } else { "" };
        out.push(Line::styled(
            format!(
                "  {} {} {} {}{forced}: {}",
                clock_label(risky.at_s),
                clean(&risky.actor),
                clean(&risky.action),
                clean(&risky.target),
                clean(&risky.reason)
            ),
            theme.warning,
        ));
        for finding in &risky.findings {
            out.push(Line::styled(
                format!("      past: {}", clean(finding)),
                theme.dim,
            ));
        }
    }
    out.push(heading("Messages", theme));
    if state.messages.is_empty() {
        out.push(Line::styled("  none", theme.dim));
    }
    for message in &state.messages {
        out.push(Line::raw(format!(
            "  {} {}: {}",
            clock_label(message.at_s),
            clean(&message.from),
            clean(&message.text)
        )));
    }
    if facilitator || !state.notes.is_empty() {
        out.push(heading("Notes", theme));
        if state.notes.is_empty() {
            let text = if screen.replayed {
                "  none"
            } else {
                "  none (o adds one: + went well, - to improve)"
            };
            out.push(Line::styled(text, theme.dim));
        }
        for note in &state.notes {
            let tone = match note.tone {
                Tone::WentWell => "+",
                Tone::ToImprove => "-",
                Tone::Note => "·",
            };
            out.push(Line::raw(format!(
                "  {} {tone} {}: {}",
                clock_label(note.at_s),
                clean(&note.author),
                clean(&note.text)
            )));
        }
    }
    if state.phase == ExercisePhase::Ended {
        out.extend(report_lines(screen, theme));
    }
    out
}

/// Clock, phase, speed, score, breaches and who the user is, in one line.
fn headline<'a>(screen: &ExerciseScreen, theme: &Theme) -> Line<'a> {
    let state = screen.state;
    let phase_style = match state.phase {
        ExercisePhase::Running => theme.health_ok,
        ExercisePhase::Paused | ExercisePhase::Ready => theme.warning,
        ExercisePhase::Ended => theme.dim,
    };
    let percent = match state.score.possible {
        0 => String::new(),
        possible => format!(
            " ({:.0}%)",
            100.0 * f64::from(state.score.earned) / f64::from(possible)
        ),
    };
    let who = if screen.replayed {
        format!("replay: as the {} saw it", state.you.word())
    } else {
        format!("you: {}", state.you.word())
    };
    Line::from(vec![
        Span::styled(clock_label(screen.clock_s), theme.title),
        Span::styled(
            format!(" {} ", state.phase.word().to_uppercase()),
            phase_style,
        ),
        Span::raw(format!(
            " speed ×{} · score {}/{}{percent} · SLA breaches {} · {who}",
            state.speed, state.score.earned, state.score.possible, state.sla_breaches,
        )),
    ])
}

fn heading<'a>(text: &str, theme: &Theme) -> Line<'a> {
    Line::styled(text.to_string(), theme.title)
}

fn inject_lines<'a>(screen: &ExerciseScreen, inject: &InjectState, theme: &Theme) -> Vec<Line<'a>> {
    let (when, style) = match inject.fired_at_s {
        Some(fired) => (format!("⚑ {}", clock_label(fired)), theme.warning),
        None => (format!("◌ {}", clock_label(inject.at_s)), theme.dim),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("  {when} "), style),
        Span::raw(format!(
            "{} · {} {} · {}",
            clean(&inject.id),
            clean(&inject.kind),
            clean(&inject.target),
            clean(&inject.summary)
        )),
    ])];
    if !inject.narrative.is_empty() {
        lines.push(Line::raw(format!("      “{}”", clean(&inject.narrative))));
    }
    if let Some(measures) = screen.state.measures.iter().find(|m| m.inject == inject.id) {
        let took = |s: Option<f64>| s.map_or_else(|| "—".to_string(), seconds_label);
        lines.push(Line::styled(
            format!(
                "      detect {} · mitigate {} · recover {}",
                took(measures.detect_s),
                took(measures.mitigate_s),
                took(measures.recover_s)
            ),
            theme.text,
        ));
    }
    if let Some(note) = &inject.facilitator_note {
        lines.push(Line::styled(
            format!("      note: {}", clean(note)),
            theme.accent,
        ));
    }
    lines
}

/// Seconds as people read them: `45s`, `3m05s`.
pub fn seconds_label(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        _ => format!("{}m{:02}s", s / 60, s % 60),
    }
}

fn report_lines<'a>(screen: &ExerciseScreen, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = vec![heading("After-action report", theme)];
    if let Some(path) = &screen.report_path {
        lines.push(Line::styled(
            format!("  written to {path} (and .report.json)"),
            theme.dim,
        ));
    }
    match screen.report {
        None => lines.push(Line::styled("  reading the report…", theme.dim)),
        Some(Err(why)) => lines.push(Line::styled(
            format!("  not read: {}", clean(why)),
            theme.error,
        )),
        Some(Ok(markdown)) => lines.extend(markdown.lines().map(|line| {
            let style: Style = if line.starts_with('#') {
                theme.title
            } else {
                theme.text
            };
            Line::styled(clean(line).into_owned(), style)
        })),
    }
    lines
}

/// The briefing over the views, scrolled by `scroll` rows.
pub fn draw_briefing(app: &App, scroll: usize, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(exercise) = &app.exercise else {
        return;
    };
    let state = &exercise.state;
    let popup = centered(area, 76, area.height.saturating_sub(4));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(Span::styled(
            format!(
                " Briefing: {} (esc closes, b reopens it in 7) ",
                clean(&state.scenario)
            ),
            theme.title,
        ));
    let who = if app.replay.is_some() {
        "Replay: the briefing the players were given.".to_string()
    } else {
        format!("You are {} in this drill.", state.you.word())
    };
    let mut lines = vec![Line::styled(who, theme.accent)];
    lines.push(Line::raw(""));
    lines.extend(
        state
            .briefing
            .lines()
            .map(|line| Line::raw(clean(line).into_owned())),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0))
            .block(block),
        popup,
    );
}

/// The confirmation that ends the drill.
pub fn draw_end(form: &EndDrill, theme: &Theme, frame: &mut Frame, area: Rect) {
    let popup = centered(area, 70, 6);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.warning)
        .title(Span::styled(
            " End the drill? enter ends it, esc keeps it going ",
            theme.title,
        ));
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let [what, input] =
        Layout::vertical([Constraint::Length(2), Constraint::Length(1)]).areas(inner);
    frame.render_widget(
        Paragraph::new(Line::styled(
            "Scoring stops and the report is written; players can no longer act. Why (optional):",
            theme.text,
        ))
        .wrap(Wrap { trim: false }),
        what,
    );
    frame.render_widget(&form.reason, input);
}
