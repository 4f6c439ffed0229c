//! Inbox view: escalated tasks waiting for a person, soonest SLA deadline first. Only the
//! rows on screen are formatted, so a queue of 100,000 tasks draws like one of ten. A task
//! opened from it is drawn by `task.rs` in its place.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::escalation_text::{Urgency, holder_text, sla_text};
use crate::app::{App, InboxItem, ListMap, SLA_WARNING, View};
use crate::format::{age, plural};
use crate::theme::Theme;
use protocol::escalations::Priority;
use protocol::sanitize::clean;

/// Rows above the first task: the table's header.
const HEADER_ROWS: u16 = 1;
/// Wide enough for the input preview column.
const WIDE: u16 = 120;
/// The source column, shown when the tasks come from several sources.
const SOURCE_WIDTH: u16 = 12;

/// An age in at most five characters: `45s`, `3m04s`, `57m`, `2h05m`, `4d05h`.
fn short_age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        600..3600 => format!("{}m", s / 60),
        86400.. => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
        _ => age(d),
    }
}

fn urgency_style(theme: &Theme, urgency: Urgency) -> Style {
    match urgency {
        Urgency::Calm => theme.text,
        Urgency::Near => theme.warning,
        Urgency::Breached => theme.error,
    }
}

fn priority_style(theme: &Theme, priority: Priority) -> Style {
    match priority {
        Priority::P1 => theme.error,
        Priority::P2 => theme.warning,
        Priority::P3 | Priority::P4 => theme.text,
    }
}

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let clocks = app.source_clocks();
    let rows = app.inbox.rows();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(title(app, &clocks, theme));
    if rows.is_empty() {
        let loads: Vec<_> = (0..app.sources.len())
            .map(|i| app.inbox.source_load(i))
            .collect();
        let failure = app.sources.iter().zip(&loads).find_map(|(source, load)| {
            load.error
                .as_ref()
                .map(|e| format!("{}: cannot list escalations: {e}", source.name))
        });
        let (text, style) = if app.inbox.matching() {
            ("Matching…".to_string(), theme.dim)
        } else if app.inbox.open_count() > 0 {
            (
                "No open task matches the filter (esc clears it).".to_string(),
                theme.dim,
            )
        } else if let Some(failure) = failure {
            (failure, theme.error)
        } else if app.replay.is_some() {
            (super::replay::NO_TASKS.to_string(), theme.dim)
        } else if loads.iter().any(|l| !l.loaded) {
            ("Loading the escalation queue…".to_string(), theme.dim)
        } else {
            (
                "No task waits for a person. New escalations appear here as they happen."
                    .to_string(),
                theme.dim,
            )
        };
        frame.render_widget(Paragraph::new(Span::styled(text, style)).block(block), area);
        return;
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let height = inner.height.saturating_sub(HEADER_ROWS) as usize;
    let selected = app.inbox.selected_index().unwrap_or(0);
    let offset = super::scroll_offset(selected, height);
    let wide = inner.width >= WIDE;
    let end = (offset + height).min(rows.len());
    let mut constraints = vec![
        Constraint::Length(3),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(14),
        Constraint::Length(16),
        Constraint::Length(5),
        Constraint::Length(18),
    ];
    let mut header = vec!["PRI", "SLA", "ID", "SERVICE", "REASON", "AGE", "ASSIGNEE"];
    // Tasks of several sources (a lab beside Temporal) say whose they are.
    if app.sources.len() > 1 {
        constraints.push(Constraint::Length(SOURCE_WIDTH));
        header.push("SOURCE");
    }
    if wide {
        constraints.push(Constraint::Fill(1));
        header.push("INPUT");
    } else {
        constraints[6] = Constraint::Fill(1);
    }
    let widths = super::column_widths(&constraints, inner.width);
    // Only the rows on screen are formatted.
    let table_rows: Vec<Row> = rows[offset..end]
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let item = app.inbox.item(key.slot);
            let style = if offset + i == selected {
                theme.selection
            } else {
                theme.text
            };
            row(app, item, &clocks, theme, &widths).style(style)
        })
        .collect();
    frame.render_widget(
        Table::new(table_rows, super::lengths(&widths))
            .header(Row::new(header).style(theme.dim))
            .column_spacing(1),
        inner,
    );
}

fn title<'a>(app: &App, clocks: &[DateTime<Utc>], theme: &Theme) -> Span<'a> {
    let open = app.inbox.open_count();
    let mut text = format!(" Inbox · {open} open {}", plural(open, "task", "tasks"));
    let near = app.inbox.p1_near_breach(clocks);
    if near > 0 {
        text.push_str(&format!(
            " · {near} P1 breached or due within {}m",
            SLA_WARNING.num_minutes()
        ));
    }
    if !app.inbox.query().is_empty() {
        text.push_str(&format!(" · {} match", app.inbox.rows().len()));
        if app.inbox.matching() {
            text.push_str(" (matching…)");
        }
    }
    if (0..app.sources.len()).any(|i| app.inbox.source_load(i).loading) {
        text.push_str(" · loading…");
    }
    // During an outage the counts are the last known ones: say how old.
    let oldest = app
        .sources
        .iter()
        .filter_map(|s| match s.freshness(app.now) {
            crate::domain::fleet::Freshness::Stale(a) => Some(a),
            _ => None,
        })
        .max();
    if let Some(a) = oldest {
        text.push_str(&format!(" · ? stale, as of {} ago", age(a)));
    }
    text.push_str(" · by SLA ");
    Span::styled(text, if near > 0 { theme.error } else { theme.title })
}

/// A task's row; texts that do not fit their column (`widths`) end in `…`.
fn row<'a>(
    app: &App,
    item: &InboxItem,
    clocks: &[DateTime<Utc>],
    theme: &Theme,
    widths: &[u16],
) -> Row<'a> {
    let summary = &item.summary();
    let now = clocks.get(item.source).copied().unwrap_or(app.wall);
    let (sla, urgency) = sla_text(summary.sla_deadline, now);
    let waited = (now - summary.created_at).to_std().unwrap_or_default();
    let holder = holder_text(summary, app.my_name(item.source));
    let fit = |text: &str, column: usize| super::fit(text, widths[column]);
    let mut cells = vec![
        Cell::from(summary.priority.word().to_uppercase())
            .style(priority_style(theme, summary.priority)),
        Cell::from(fit(&sla, 1)).style(urgency_style(theme, urgency)),
        Cell::from(fit(&clean(&summary.id), 2)),
        Cell::from(fit(&clean(&summary.service), 3)),
        Cell::from(fit(summary.reason.word(), 4)),
        Cell::from(fit(&short_age(waited), 5)),
        match holder {
            Some(text) => Cell::from(fit(&text, 6)),
            None => Cell::from("—").style(theme.dim),
        },
    ];
    let mut next = 7;
    if app.sources.len() > 1
        && let (Some(&width), Some(source)) = (widths.get(next), app.sources.get(item.source))
    {
        cells.push(Cell::from(super::fit(&source.name, width)).style(theme.dim));
        next += 1;
    }
    if let Some(&input) = widths.get(next) {
        cells.push(Cell::from(super::fit(&clean(&summary.input_preview), input)).style(theme.dim));
    }
    Row::new(cells)
}

/// The table's task rows as `draw` lays them out over `body`, for the mouse.
pub fn list_map(app: &App, body: Rect) -> ListMap {
    super::list_map(
        View::Inbox,
        body,
        body.y + 1 + HEADER_ROWS,
        body.height.saturating_sub(2 + HEADER_ROWS),
        app.inbox.selected_index().unwrap_or(0),
        app.inbox.rows().len(),
    )
}
