//! Cost view: the cost audit of each source (as `switchboard cost report` prints it): per
//! service its criticality, SLO, budget and burn, what its redundancy and provider paths cost
//! per hour, its blast radius and ROI; then spend by tier, idle standbys and the findings.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::App;
use crate::domain::cost::CostReport;
use crate::domain::fleet::Freshness;
use crate::format::{COST_COLUMNS, cost_cells, cost_row, summary_lines};
use crate::theme::Theme;
use protocol::sanitize::clean;

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let widths = super::column_widths(
        &COST_COLUMNS.map(|(_, width)| Constraint::Length(width as u16)),
        area.width.saturating_sub(2),
    );
    // Cut to the columns the terminal leaves (ending in `…`), then padded as the CLI pads.
    let row = |cells: [String; 11]| -> String {
        let fitted: Vec<String> = (cells.iter().zip(&widths))
            .map(|(cell, width)| super::fit(cell, *width))
            .collect();
        cost_row(&fitted, widths.iter().map(|w| usize::from(*w)))
    };
    let mut lines = Vec::new();
    for source in &app.sources {
        let Some(snapshot) = source.snapshot.as_ref() else {
            continue;
        };
        let report = CostReport::of(snapshot, &app.cost);
        let stale = source.freshness(app.now) != Freshness::Fresh;
        let style = |normal| if stale { theme.stale } else { normal };
        let mut title = format!(
            "{} · as of {}",
            clean(&source.name),
            snapshot.generated_at.format("%H:%M:%S")
        );
        if stale {
            title.push_str(" · stale: figures as last read");
        }
        lines.push(Line::styled(title, theme.title));
        lines.push(Line::styled(
            row(COST_COLUMNS.map(|(name, _)| name.to_string())),
            theme.dim,
        ));
        for service in &report.services {
            lines.push(Line::styled(row(cost_cells(service)), style(theme.text)));
        }
        for text in summary_lines(&report) {
            let warned = text.starts_with("  ⚠");
            lines.push(Line::from(Span::styled(
                text,
                style(if warned { theme.warning } else { theme.text }),
            )));
        }
        lines.push(Line::default());
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(" Cost and posture ", theme.title));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
