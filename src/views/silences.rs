//! A silence's confirmation (the matchers it will have, which alerts firing now it mutes, how
//! long, why) and the list of a source's active silences.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::overlays::centered;
use super::scrolling::wrapped_rows;
use crate::app::{
    App, Matcher, SilenceFocus, SilenceForm, SilenceFormKind, SilenceList, SilenceState,
    matchers_text, mutes, until_text,
};
use crate::theme::Theme;
use protocol::sanitize::clean;

const WIDTH: u16 = 78;
/// Matchers shown at once; the list scrolls with the cursor.
const MATCHER_ROWS: usize = 8;

pub fn draw_form(app: &App, form: &SilenceForm, theme: &Theme, frame: &mut Frame, area: Rect) {
    let source = &app.source(form.source).name;
    let matchers = form.matchers();
    let mut lines: Vec<Line> = Vec::new();
    let marker = |focus: SilenceFocus| match form.focus == focus {
        true => ("▶ ", theme.accent),
        false => ("  ", theme.dim),
    };
    let title = match &form.kind {
        SilenceFormKind::Create {
            alert,
            choices,
            selected,
            ..
        } => {
            let (mark, style) = marker(SilenceFocus::Matchers);
            lines.push(Line::styled(
                format!("{mark}matchers (space: in or out) — the silence mutes what matches all:"),
                style,
            ));
            let first = selected.saturating_sub(MATCHER_ROWS - 1);
            for (i, choice) in choices.iter().enumerate().skip(first).take(MATCHER_ROWS) {
                let check = if choice.on { "[x]" } else { "[ ]" };
                let text = format!(
                    "    {check} {}",
                    matchers_text(std::slice::from_ref(&choice.matcher))
                );
                let style = match (
                    i == *selected && form.focus == SilenceFocus::Matchers,
                    choice.on,
                ) {
                    (true, _) => theme.selection,
                    (false, true) => theme.text,
                    (false, false) => theme.dim,
                };
                lines.push(Line::styled(text, style));
            }
            if choices.len() > MATCHER_ROWS {
                lines.push(Line::styled(
                    format!("    ({} labels: ↑ ↓ move)", choices.len()),
                    theme.dim,
                ));
            }
            format!(" Silence {} · source {} ", clean(alert), clean(source))
        }
        SilenceFormKind::Expire { silence } => {
            lines.push(Line::from(vec![
                Span::styled("matchers ", theme.dim),
                Span::raw(matchers_text(&silence.matchers)),
            ]));
            lines.push(Line::from(vec![
                Span::styled("made by ", theme.dim),
                Span::raw(clean(&silence.created_by).into_owned()),
                Span::styled(" · until ", theme.dim),
                Span::raw(until_text(silence.ends_at, app.wall)),
            ]));
            lines.push(Line::from(vec![
                Span::styled("comment ", theme.dim),
                Span::raw(clean(&silence.comment).into_owned()),
            ]));
            format!(
                " Expire silence {} · source {} ",
                clean(&silence.id),
                clean(source)
            )
        }
    };
    lines.push(muted_line(app, form.source, &matchers, theme));
    let inner = WIDTH.min(area.width).saturating_sub(2);
    let body_rows = wrapped_rows(&lines, inner);
    let field_rows: u16 = match form.kind {
        SilenceFormKind::Create { .. } => 2,
        SilenceFormKind::Expire { .. } => 1,
    };
    let height = body_rows + field_rows + 4;
    let popup = centered(area, WIDTH, height);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(Span::styled(title, theme.title));
    frame.render_widget(Clear, popup);
    let content = block.inner(popup);
    frame.render_widget(block, popup);
    let [body, fields, problem, keys] = Layout::vertical([
        Constraint::Length(body_rows),
        Constraint::Length(field_rows),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(content);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);

    let rows = Layout::vertical([Constraint::Length(1); 2]).split(fields);
    let field = |focus: SilenceFocus, label: &str, row: Rect, frame: &mut Frame| {
        let [label_area, input] =
            Layout::horizontal([Constraint::Length(12), Constraint::Fill(1)]).areas(row);
        let (mark, style) = marker(focus);
        frame.render_widget(
            Paragraph::new(Span::styled(format!("{mark}{label}"), style)),
            label_area,
        );
        input
    };
    let reason = field(SilenceFocus::Reason, "reason", rows[0], frame);
    frame.render_widget(&form.reason, reason);
    if let SilenceFormKind::Create { duration, .. } = &form.kind {
        let input = field(SilenceFocus::Duration, "for", rows[1], frame);
        let [text, until] =
            Layout::horizontal([Constraint::Length(12), Constraint::Fill(1)]).areas(input);
        frame.render_widget(&**duration, text);
        let ends = match form.duration() {
            Ok(length) => Span::styled(
                format!(
                    "until {}",
                    until_text(
                        app.wall + chrono::TimeDelta::from_std(length).unwrap_or_default(),
                        app.wall
                    )
                ),
                theme.dim,
            ),
            Err(problem) => Span::styled(clean(&problem).into_owned(), theme.error),
        };
        frame.render_widget(Paragraph::new(ends), until);
    }
    if let Some(text) = &form.problem {
        frame.render_widget(
            Paragraph::new(Span::styled(clean(text).into_owned(), theme.error)),
            problem,
        );
    }
    frame.render_widget(
        Paragraph::new(Span::styled(
            " enter send · tab next field · esc cancel",
            theme.dim,
        )),
        keys,
    );
}

/// Which alerts firing now the matchers mute: what the engineer is about to hide.
fn muted_line<'a>(app: &App, source: usize, matchers: &[Matcher], theme: &Theme) -> Line<'a> {
    let alerts = app.source(source).measured.iter().flat_map(|m| &m.alerts);
    let muted: Vec<String> = alerts
        .filter(|a| !matchers.is_empty() && mutes(matchers, a))
        .map(|a| match a.target.describe() {
            Some(on) => format!("{} on {on}", a.name),
            None => a.name.clone(),
        })
        .collect();
    match muted.len() {
        0 if matchers.is_empty() => {
            Line::styled("no matcher: it would mute everything", theme.error)
        }
        0 => Line::styled("mutes no alert firing now", theme.dim),
        n => Line::styled(
            format!(
                "mutes {n} alert{} firing now: {}",
                if n == 1 { "" } else { "s" },
                clean(&muted.join(", "))
            ),
            theme.warning,
        ),
    }
}

pub fn draw_list(app: &App, list: &SilenceList, theme: &Theme, frame: &mut Frame, area: Rect) {
    let source = app.source(list.source);
    let silences = app.silences_of(list.source);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(error) = app
        .silences
        .get(&source.name)
        .and_then(|r| r.error.as_ref())
    {
        lines.push(Line::styled(
            format!("not read lately: {} — as last read", clean(error)),
            theme.error,
        ));
    }
    if silences.is_empty() {
        lines.push(Line::styled("No active silence.", theme.dim));
    }
    let width = usize::from(WIDTH.min(area.width).saturating_sub(2));
    for (i, silence) in silences.iter().enumerate() {
        let pending = match silence.state {
            SilenceState::Pending => " (pending)",
            _ => "",
        };
        let text = format!(
            "until {}{pending} · by {} · {} · {}",
            until_text(silence.ends_at, app.wall),
            clean(&silence.created_by),
            matchers_text(&silence.matchers),
            clean(&silence.comment)
        );
        let style = if i == list.selected {
            theme.selection
        } else {
            theme.text
        };
        lines.push(Line::styled(super::fit(&text, width as u16), style));
    }
    lines.push(Line::styled(
        " x expire (with a reason) · esc close",
        theme.dim,
    ));
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = centered(area, WIDTH, height);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(Span::styled(
            format!(
                " Silences · source {} ({} active) ",
                clean(&source.name),
                silences.len()
            ),
            theme.title,
        ));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
