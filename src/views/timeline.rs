//! Timeline view: scenario injects and the console's own connection events, newest first.
//! Each row's time is on the clock of its source (the title says which clocks are in use);
//! the selected entry is spelled out in full under the list, wrapped.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::chrome::level_style;
use super::clock;
use crate::app::{App, Level, TimelineEntry};
use crate::theme::Theme;
use protocol::sanitize::clean;

/// Rows under the list for the selected entry: its clock and source, then its text.
const DETAIL_ROWS: u16 = 4;

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(
            format!(
                " Timeline ({} events) · {} ",
                app.timeline.len(),
                clocks_in_use(app)
            ),
            theme.title,
        ));
    if app.timeline.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("Nothing has happened yet.", theme.dim)).block(block),
            area,
        );
        return;
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(DETAIL_ROWS)]).areas(inner);
    let height = list_area.height as usize;
    let offset = super::scroll_offset(app.selection.timeline_row, height);
    // Only the rows on screen are formatted.
    let lines: Vec<Line> = app
        .timeline
        .iter()
        .rev()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(index, entry)| {
            let style = level_style(theme, entry.level);
            let style = if index == app.selection.timeline_row {
                style.patch(theme.selection)
            } else {
                style
            };
            Line::from(vec![
                Span::styled(format!("{} ", clock::time(entry.at)), theme.dim),
                Span::styled(format!("{:<8} ", clean(&entry.source)), theme.accent),
                Span::styled(clean(&entry.text).into_owned(), style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list_area);
    let selected = app.timeline.iter().rev().nth(app.selection.timeline_row);
    if let Some(entry) = selected {
        frame.render_widget(
            Paragraph::new(detail(app, theme, entry)).wrap(Wrap { trim: false }),
            detail_area,
        );
    }
}

/// The selected entry in full: when, on which clock, from where, and all of its text.
fn detail<'a>(app: &App, theme: &Theme, entry: &'a TimelineEntry) -> Vec<Line<'a>> {
    let level = match entry.level {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Error => "error",
    };
    let mut lines = vec![
        Line::styled(
            format!(
                "{} {} · {} · {level}",
                clock::time(entry.at),
                entry_clock(app, entry),
                clean(&entry.source)
            ),
            theme.dim,
        ),
        Line::styled(
            clean(&entry.text).into_owned(),
            level_style(theme, entry.level),
        ),
    ];
    lines.extend(
        app.alert_entry_note(entry)
            .map(|note| Line::styled(note, theme.dim)),
    );
    lines
}

/// The clock an entry's time is on: its source's, or the wall's for the console's own.
fn entry_clock(app: &App, entry: &TimelineEntry) -> String {
    match app.sources.iter().position(|s| s.name == entry.source) {
        Some(index) if clock::runs_own_time(app, index) => clock::label(app, index),
        _ => "UTC".to_string(),
    }
}

/// Which clocks the rows use: `times UTC`, or `lab rows on lab ×10 time, others UTC`.
fn clocks_in_use(app: &App) -> String {
    let simulated: Vec<String> = (0..app.sources.len())
        .filter(|&i| clock::runs_own_time(app, i))
        .map(|i| {
            format!(
                "{} rows on {} time",
                app.source(i).name,
                clock::label(app, i)
            )
        })
        .collect();
    if simulated.is_empty() {
        "times UTC".to_string()
    } else {
        format!("{}, others UTC", simulated.join(", "))
    }
}
