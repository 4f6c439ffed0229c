//! Timeline view: scenario injects and the console's own connection events, newest first.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::chrome::level_style;
use crate::app::App;
use crate::theme::Theme;
use protocol::sanitize::clean;

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(
            format!(" Timeline ({} events) ", app.timeline.len()),
            theme.title,
        ));
    let height = area.height.saturating_sub(2) as usize;
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
                Span::styled(format!("{} ", entry.at.format("%H:%M:%S")), theme.dim),
                Span::styled(format!("{:<8} ", clean(&entry.source)), theme.accent),
                Span::styled(clean(&entry.text).into_owned(), style),
            ])
        })
        .collect();
    let body = if lines.is_empty() {
        Paragraph::new(Span::styled("Nothing has happened yet.", theme.dim))
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(body.block(block), area);
}
