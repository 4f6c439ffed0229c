//! Lines that scroll under fixed ones, as the confirmations draw what is not essential: when
//! they do not fit, the last row says how many rows are hidden above and below, and which keys
//! show them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::keymap::{self, Action, Layer};
use crate::theme::Theme;

/// Rows `lines` take once wrapped at `width` columns.
pub fn wrapped_rows(lines: &[Line], width: u16) -> u16 {
    let width = usize::from(width).max(1);
    lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(width))
        .sum::<usize>() as u16
}

/// Draws `lines` (taking `rows` rows wrapped) in `area` from row `scroll`, clamped to the
/// content; `layer` names the keys that scroll.
pub fn draw_scrolling(
    lines: Vec<Line>,
    rows: u16,
    scroll: u16,
    layer: Layer,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let overflows = rows > area.height;
    let [area, more_area] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(u16::from(overflows)),
    ])
    .areas(area);
    let hidden_rows = rows.saturating_sub(area.height);
    let scroll = scroll.min(hidden_rows);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
    if overflows {
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!(
                    "  ⋯ {} rows above, {} below · {}/{} scroll",
                    scroll,
                    hidden_rows - scroll,
                    keymap::keys_for(layer, Action::PageUp),
                    keymap::keys_for(layer, Action::PageDown),
                ),
                theme.accent,
            )),
            more_area,
        );
    }
}

/// `text`'s lines cut into rows of at most `width` characters, so that every row of a long
/// text is counted and can be scrolled to.
pub fn hard_wrapped(text: &str, width: u16) -> Vec<String> {
    let width = usize::from(width).max(1);
    text.lines()
        .flat_map(|line| {
            let chars: Vec<char> = line.chars().collect();
            if chars.is_empty() {
                return vec![String::new()];
            }
            chars
                .chunks(width)
                .map(|row| row.iter().collect())
                .collect::<Vec<String>>()
        })
        .collect()
}
