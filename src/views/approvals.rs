//! Approvals view: the commands the sources' two-person rule holds, pending first (who asks,
//! what, why it needs a second approver, how long it has waited, when it expires), then the
//! decided ones (who decided, how it ended). Under the list, the selected request in full: the
//! requester's reason, the preflight they saw and, while it waits, the preflight now on the live fleet and what
//! changed between the two.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use super::chrome::level_style;
use crate::app::{App, ListMap, SourcedRequest, View, command_words, decision_words};
use crate::domain::approval::{review, verdict_word};
use crate::format::age;
use crate::theme::Theme;
use protocol::approvals::{ApprovalRequest, ApprovalState};
use protocol::commands::PreflightSeen;
use protocol::sanitize::clean;

/// Rows the list takes at most; the selected request's detail gets the rest.
const LIST_ROWS: u16 = 8;

/// Draws the view; answers where the list's rows landed, for the mouse.
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) -> ListMap {
    let rows = app.approvals.rows();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(
            format!(
                " Approvals ({} waiting, {} decided) ",
                app.approvals.waiting(),
                rows.len() - app.approvals.waiting()
            ),
            theme.title,
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let list_rows = (rows.len() as u16 + 1).min(LIST_ROWS).min(inner.height / 2);
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Length(list_rows), Constraint::Min(1)]).areas(inner);
    draw_list(app, theme, frame, list_area);
    // Under the list's header row.
    let list = super::list_map(
        View::Approvals,
        list_area,
        list_area.y + 1,
        list_area.height.saturating_sub(1),
        app.approvals.selected,
        rows.len(),
    );
    // A blank row between the list and the detail.
    let mut lines = vec![Line::raw("")];
    if let Some((level, outcome)) = &app.approvals.last_outcome {
        lines.push(Line::styled(
            clean(outcome).into_owned(),
            level_style(theme, *level),
        ));
    }
    for (source, error) in &app.approvals.read_errors {
        let text = format!("✖ {source}: approval requests not read: {}", clean(error));
        lines.push(Line::styled(text, theme.error));
    }
    if let Some(selected) = app.approvals.selected() {
        lines.extend(detail(app, theme, selected));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }),
        detail_area,
    );
    list
}

fn draw_list(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = app.approvals.rows();
    let height = area.height.saturating_sub(1) as usize;
    let offset = super::scroll_offset(app.approvals.selected, height);
    let widths = super::column_widths(
        &[
            Constraint::Length(11),
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Length(26),
            Constraint::Fill(1),
            Constraint::Length(6),
            Constraint::Length(9),
        ],
        area.width,
    );
    let fit = |text: &str, column: usize| super::fit(text, widths[column]);
    let table_rows: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(index, held)| {
            let request = &held.request;
            let clock = source_clock(app, &held.source);
            let (state, style) = state_cell(theme, request.state);
            let (why, expires) = if request.state == ApprovalState::Pending {
                (
                    clean(&request.why_approval).into_owned(),
                    until(clock, request.expires_at),
                )
            } else {
                (decision_words(request), "—".to_string())
            };
            let row_style = if index == app.approvals.selected {
                theme.selection
            } else {
                theme.text
            };
            Row::new(vec![
                Cell::from(fit(state, 0)).style(style),
                Cell::from(fit(&clean(&request.id), 1)),
                Cell::from(fit(&clean(&request.requested_by), 2)),
                Cell::from(fit(&command_words(request), 3)),
                Cell::from(fit(&why, 4)),
                Cell::from(fit(&since(clock, request.requested_at), 5)),
                Cell::from(fit(&expires, 6)),
            ])
            .style(row_style)
        })
        .collect();
    let header = Row::new([
        "STATE",
        "ID",
        "WHO",
        "WHAT",
        "WHY / OUTCOME",
        "AGE",
        "EXPIRES",
    ])
    .style(theme.dim);
    frame.render_widget(
        Table::new(table_rows, super::lengths(&widths))
            .header(header)
            .column_spacing(1),
        area,
    );
}

/// The selected request in full.
fn detail(app: &App, theme: &Theme, held: &SourcedRequest) -> Vec<Line<'static>> {
    let request = &held.request;
    let clock = source_clock(app, &held.source);
    let label = |text: &str| Span::styled(format!("{text:<10}"), theme.dim);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", clean(&request.id)), theme.title),
            Span::raw(command_words(request)),
            Span::styled(
                format!(" on {} — {}", held.source, state_words(request, clock)),
                state_cell(theme, request.state).1,
            ),
        ]),
        Line::from(vec![
            label("asked by"),
            Span::raw(format!(
                "{} {} ago: {}",
                clean(&request.requested_by),
                since(clock, request.requested_at),
                clean(&request.reason)
            )),
        ]),
        Line::from(vec![
            label("needs"),
            Span::raw(format!(
                "a second approver: {}",
                clean(&request.why_approval)
            )),
        ]),
    ];
    if let Some(decision) = &request.decision {
        lines.push(Line::from(vec![
            label("decided"),
            Span::raw(format!(
                "{} at {}",
                decision_words(request),
                decision.at.format("%H:%M:%S")
            )),
        ]));
    }
    let saw = format!("{} saw", clean(&request.requested_by));
    match &request.preflight {
        Some(seen) => lines.extend(preflight_lines(theme, &saw, seen)),
        None => lines.push(Line::from(vec![
            label("preflight"),
            Span::styled(format!("{saw} none (sent without one)"), theme.dim),
        ])),
    }
    // Once decided, the fleet has moved on (or the command ran): now says nothing of it.
    if request.state != ApprovalState::Pending {
        return lines;
    }
    let fleet = app
        .sources
        .iter()
        .find(|s| s.name == held.source)
        .and_then(|s| s.snapshot.as_ref());
    let Some(fleet) = fleet else {
        lines.push(Line::styled(
            "preflight now: no fleet from this source yet",
            theme.warning,
        ));
        return lines;
    };
    match review(request, fleet) {
        Ok(review) => {
            lines.extend(preflight_lines(theme, "now", &review.now));
            let mut changes = Vec::new();
            if let Some((then, now)) = review.verdict_changed {
                changes.push(Line::styled(
                    format!("  verdict {} → {}", verdict_word(then), verdict_word(now)),
                    theme.warning,
                ));
            }
            for added in &review.added {
                changes.push(Line::styled(format!("  + {}", clean(added)), theme.warning));
            }
            for removed in &review.removed {
                changes.push(Line::styled(format!("  − {}", clean(removed)), theme.dim));
            }
            let requester = clean(&request.requested_by);
            if changes.is_empty() {
                lines.push(Line::from(vec![
                    label("since"),
                    Span::styled(
                        format!("{requester} confirmed: nothing changed"),
                        theme.health_ok,
                    ),
                ]));
            } else {
                lines.push(Line::from(vec![
                    label("since"),
                    Span::raw(format!("{requester} confirmed, the preflight changed:")),
                ]));
                lines.extend(changes);
            }
        }
        Err(why) => lines.push(Line::styled(
            format!("preflight now: cannot rebuild the command: {}", clean(&why)),
            theme.error,
        )),
    }
    lines
}

/// `preflight alice saw: BLOCK (forced)` and its findings, one a line.
fn preflight_lines(theme: &Theme, whose: &str, seen: &PreflightSeen) -> Vec<Line<'static>> {
    let verdict = verdict_word(seen.verdict).to_uppercase();
    let forced = if seen.forced { " (forced past it)" } else { "" };
    let style = match seen.verdict {
        protocol::commands::PreflightVerdict::Ok => theme.health_ok,
        protocol::commands::PreflightVerdict::Warn => theme.warning,
        protocol::commands::PreflightVerdict::Block => theme.error,
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:<10}", "preflight"), theme.dim),
        Span::raw(format!("{whose}: ")),
        Span::styled(format!("{verdict}{forced}"), style),
    ])];
    lines.extend(
        seen.findings
            .iter()
            .map(|f| Line::raw(format!("  · {}", clean(f)))),
    );
    lines
}

fn state_cell(theme: &Theme, state: ApprovalState) -> (&'static str, Style) {
    match state {
        ApprovalState::Pending => ("⚖ waiting", theme.warning),
        ApprovalState::Approved => ("✓ approved", theme.health_ok),
        ApprovalState::Denied => ("✖ denied", theme.error),
        ApprovalState::Withdrawn => ("↩ withdrawn", theme.dim),
        ApprovalState::Expired => ("⌛ expired", theme.dim),
        ApprovalState::Failed => ("✖ failed", theme.error),
    }
}

/// `waiting, expires 14:16 (in 13m)` or how it ended.
fn state_words(request: &ApprovalRequest, clock: DateTime<Utc>) -> String {
    match request.state {
        ApprovalState::Pending => format!(
            "waiting, expires {} ({})",
            request.expires_at.format("%H:%M"),
            until(clock, request.expires_at)
        ),
        other => other.word().to_string(),
    }
}

/// The source's clock: the request's times are on it.
fn source_clock(app: &App, source: &str) -> DateTime<Utc> {
    (app.sources.iter().position(|s| s.name == source)).map_or(app.wall, |i| app.source_clock(i))
}

fn since(clock: DateTime<Utc>, at: DateTime<Utc>) -> String {
    age((clock - at).to_std().unwrap_or_default())
}

fn until(clock: DateTime<Utc>, at: DateTime<Utc>) -> String {
    match (at - clock).to_std() {
        Ok(left) if !left.is_zero() => format!("in {}", age(left)),
        _ => "now".to_string(),
    }
}
