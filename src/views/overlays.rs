//! Overlays drawn over the views: help and the command palette (the others are drawn by
//! `actions.rs` and `resolve.rs`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::app::{App, PaletteState};
use crate::keymap::{self, Layer};
use crate::theme::Theme;
use protocol::sanitize::truncate;

pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

fn layer_title(layer: Layer) -> &'static str {
    match layer {
        Layer::Global => "Everywhere",
        Layer::Filter => "While filtering (/)",
        Layer::Palette => "In the command palette (:)",
        Layer::Help => "In this help",
        Layer::Menu => "In a command menu",
        Layer::Confirm => "In a confirmation",
        Layer::Silence => "In a silence's confirmation (space: matcher in or out)",
        Layer::Silences => "In the list of silences (S)",
        Layer::Editor => "In the output editor",
        Layer::Resolve => "In a resolution's confirmation",
        Layer::Task => "In an open task (inbox, 5)",
        Layer::Inbox => "In the inbox (5)",
        Layer::Runbooks => "In the list of runbooks (6)",
        Layer::Run => "Following a runbook (6, enter on one)",
        Layer::RunInput => "In a step's skip reason or note",
        Layer::Replay => "In a replay (switchboard replay)",
        Layer::Exercise => "In the Exercise view (7, while a drill runs)",
        Layer::Approvals => "In the Approvals view (8, while a source has requests)",
        Layer::Briefing => "In a drill's briefing",
        Layer::EndDrill => "In the confirmation that ends a drill",
    }
}

const HELP_WIDTH: u16 = 76;

/// `text` in rows of at most `width` characters, broken between words (a word longer than a
/// row is cut into rows).
fn word_rows(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = vec![String::new()];
    for word in text.split(' ') {
        let last = rows.last_mut().expect("at least one row");
        let used = last.chars().count();
        if used > 0 && used + 1 + word.chars().count() > width {
            rows.push(String::new());
        } else if used > 0 {
            last.push(' ');
        }
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            let rest = word.split_off(width);
            let row = rows.last_mut().expect("at least one row");
            row.extend(word);
            rows.push(String::new());
            word = rest;
        }
        rows.last_mut().expect("at least one row").extend(word);
    }
    rows
}

/// Help opens on the keys of where the operator was (`from`), then those that work
/// everywhere, then the rest in the keymap's order.
pub fn draw_help(
    app: &App,
    scroll: usize,
    from: Layer,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let mut lines: Vec<Line> = Vec::new();
    let mut current: Option<Layer> = None;
    let mut rows = keymap::help_rows(app.can_mutate());
    // A replay's keys only mean something in a replay, and there they come first.
    rows.retain(|(layer, _, _)| *layer != Layer::Replay || app.replay.is_some());
    rows.sort_by_key(|(layer, _, _)| match layer {
        Layer::Replay => 0,
        l if *l == from => 1,
        Layer::Global => 2,
        _ => 3,
    });
    for (layer, keys, what) in rows {
        if current != Some(layer) {
            if current.is_some() {
                lines.push(Line::raw(""));
            }
            lines.push(Line::styled(layer_title(layer), theme.title));
            current = Some(layer);
        }
        // A description longer than the popup continues under itself, never cut at its edge.
        let key_column = format!("  {keys:<14}");
        let indent = key_column.chars().count();
        for (i, row) in word_rows(what, usize::from(HELP_WIDTH - 2).saturating_sub(indent))
            .into_iter()
            .enumerate()
        {
            let keys = if i == 0 {
                key_column.clone()
            } else {
                " ".repeat(indent)
            };
            lines.push(Line::from(vec![
                Span::styled(keys, theme.accent),
                Span::raw(row),
            ]));
        }
    }
    let mut prose = |text: &str, style| {
        lines.extend(
            word_rows(text, usize::from(HELP_WIDTH - 2))
                .into_iter()
                .map(|row| Line::styled(row, style)),
        );
    };
    if let Some(refusal) = app.mutation_refusal() {
        prose("", theme.text);
        prose(
            &format!("Commands that change the fleet are hidden: {refusal}."),
            theme.warning,
        );
    }
    prose("", theme.text);
    prose(
        "Symbols: ● ok  ▲ degraded  ✖ down / breaker open  ◐ half-open  ? unknown or stale  — absent",
        theme.dim,
    );
    prose(
        "Fleet matrix: short words in narrow cells are spelled out in its bottom border \
         (degr degraded, unkn unknown, half half-open, held quarantined, drain drained); \
         provider columns that do not fit are counted in its top border (◀ 2 more · 3 more ▶, \
         with how many of their cells are not ok) and scroll into view as ← → move the selection.",
        theme.dim,
    );
    prose(
        "Mouse: click a tab, a cell or a row to select it; wheel scrolls.",
        theme.dim,
    );
    let popup = centered(area, HELP_WIDTH, area.height.saturating_sub(2));
    let inner_height = popup.height.saturating_sub(2) as usize;
    let scroll = scroll.min(lines.len().saturating_sub(inner_height));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(Span::styled(" Keys (esc closes, ↑↓ scroll) ", theme.title));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll as u16, 0))
            .block(block),
        popup,
    );
}

pub fn draw_palette(palette: &PaletteState, theme: &Theme, frame: &mut Frame, area: Rect) {
    let height = (palette.matches.len() as u16 + 3).clamp(4, 14);
    let [_, row] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(height.min(area.height)),
    ])
    .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(64.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    let list_height = popup.height.saturating_sub(3) as usize;
    let offset = super::scroll_offset(palette.selected, list_height);
    let mut lines = vec![Line::from(vec![
        Span::styled(":", theme.accent),
        Span::raw(format!("{}▏", palette.input)),
    ])];
    if palette.matches.is_empty() {
        lines.push(Line::styled("no command matches", theme.dim));
    }
    for (i, &entry_index) in palette
        .matches
        .iter()
        .enumerate()
        .skip(offset)
        .take(list_height)
    {
        let entry = &palette.entries[entry_index];
        let style = if i == palette.selected {
            theme.selection
        } else {
            theme.text
        };
        let name = entry.action.command_name();
        // The keys stay whole; a description that does not fit before them ends in `…`.
        let room = usize::from(popup.width.saturating_sub(2))
            .saturating_sub(14 + 1 + entry.keys.chars().count());
        // A command refused here says why in place of what it does.
        let (describe, style) = match &entry.refused {
            Some(why) => (truncate(why, room), style.patch(theme.warning)),
            None => (truncate(entry.action.describe(), room), style),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{name:<14}{describe:<room$}"), style),
            Span::styled(format!(" {}", entry.keys), theme.dim),
        ]));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent)
        .title(Span::styled(" Commands ", theme.title));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
