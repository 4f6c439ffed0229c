//! Cost view: the cost audit of each source (as `switchboard cost report` prints it): per
//! service its criticality, SLO, budget and burn, what its redundancy and provider paths cost
//! per hour, its blast radius and ROI; then spend by tier, idle standbys and the findings.
//! A metrics source's services no fleet source reports follow under the metrics source; then
//! the workflow steps the open escalations stop at, beside the budget of their services.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::App;
use crate::domain::cost::context_audit;
use crate::domain::fleet::Freshness;
use crate::domain::steps::step_costs;
use crate::format::{
    COST_COLUMNS, STEP_COLUMNS, cost_cells, cost_row, step_cells, steps_title, summary_lines,
};
use crate::theme::Theme;
use protocol::sanitize::clean;

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let widths = super::column_widths(
        &COST_COLUMNS.map(|(_, width)| Constraint::Length(width as u16)),
        area.width.saturating_sub(2),
    );
    let step_widths = super::column_widths(
        &STEP_COLUMNS.map(|(_, width)| Constraint::Length(width as u16)),
        area.width.saturating_sub(2),
    );
    // Cut to the columns the terminal leaves (ending in `…`), then padded as the CLI pads.
    let fitted = |cells: &[String], widths: &[u16]| -> String {
        let fitted: Vec<String> = (cells.iter().zip(widths))
            .map(|(cell, width)| super::fit(cell, *width))
            .collect();
        cost_row(&fitted, widths.iter().map(|w| usize::from(*w)))
    };
    let row = |cells: [String; 11]| fitted(&cells, &widths);
    let audits = context_audit(&app.sources, app.now, &app.cost);
    let mut lines = Vec::new();
    for (index, report) in &audits {
        let source = &app.sources[*index];
        let stale = source.freshness(app.now) != Freshness::Fresh;
        let style = |normal| if stale { theme.stale } else { normal };
        let mut title = match &source.snapshot {
            Some(snapshot) => format!(
                "{} · as of {}",
                clean(&source.name),
                snapshot.generated_at.format("%H:%M:%S")
            ),
            None => format!(
                "{} · services only it measures (no fleet source reports them)",
                clean(&source.name)
            ),
        };
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
        for text in summary_lines(report, app.wall) {
            let warned = text.starts_with("  ⚠");
            lines.push(Line::from(Span::styled(
                text,
                style(if warned { theme.warning } else { theme.text }),
            )));
        }
        lines.push(Line::default());
    }
    let clocks = app.source_clocks();
    let steps = step_costs(app.inbox.step_tallies(&clocks), &audits, &app.cost);
    if !steps.is_empty() {
        lines.push(Line::styled(steps_title(&steps), theme.title));
        lines.push(Line::styled(
            fitted(
                &STEP_COLUMNS.map(|(name, _)| name.to_string()),
                &step_widths,
            ),
            theme.dim,
        ));
        for step in &steps {
            let style = if step.findings.is_empty() {
                theme.text
            } else {
                theme.warning
            };
            lines.push(Line::styled(fitted(&step_cells(step), &step_widths), style));
        }
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(" Cost and posture ", theme.title));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
