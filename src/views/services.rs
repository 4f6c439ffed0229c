//! Services view: redundancy tier, error budget and spend per hour, replicas with standby
//! readiness, degraded modes, and the routes that carry each service; the selected service's
//! posture (criticality, SLO, burn, blast radius, spend, ROI) and findings in its pane.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use super::fleet::{headroom_style, health_style};
use crate::app::{App, ListMap, View};
use crate::domain::cost::{CostReport, ServiceCost, context_audit};
use crate::domain::fleet::{Freshness, seen_health};
use crate::format::{PostureText, burn, control, money, pct, posture_texts, rps};
use crate::theme::Theme;
use protocol::readiness::standby_word;
use protocol::sanitize::clean;
use protocol::{ReplicaRole, Service};

/// Width from which the list shows each service's budget and spend.
const POSTURE_COLUMNS_FROM: u16 = 100;

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let [list, detail] = Layout::vertical([
        Constraint::Length(list_height(app, area)),
        Constraint::Min(0),
    ])
    .areas(area);
    // Each source's cost audit, once per frame for the list and the pane alike.
    let reports = cost_reports(app);
    draw_list(app, &reports, theme, frame, list);
    draw_detail(app, &reports, theme, frame, detail);
}

/// The list takes the rows it needs, at most half the body; the detail pane gets the rest.
fn list_height(app: &App, body: Rect) -> u16 {
    (app.visible.services.len() as u16 + 3)
        .min(body.height / 2)
        .max(4)
}

fn list_rows(area: Rect) -> usize {
    area.height.saturating_sub(3) as usize
}

fn draw_list(
    app: &App,
    reports: &[Option<CostReport>],
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(" Services ", theme.title));
    if app.visible.services.is_empty() {
        let text = if app.filter.query.is_empty() {
            "No services reported yet."
        } else {
            "No service matches the filter."
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.dim)).block(block),
            area,
        );
        return;
    }
    let height = list_rows(area);
    let offset = super::scroll_offset(app.selection.service_row, height);
    // The budget and spend columns where some source or the config knows a posture, and
    // the list is wide enough to keep the names whole (the pane below has them anyway).
    let posture = app.has_posture() && area.width >= POSTURE_COLUMNS_FROM;
    let mut columns = vec![
        Constraint::Length(16),
        Constraint::Length(14),
        Constraint::Length(10),
    ];
    if posture {
        columns.extend([Constraint::Length(10), Constraint::Length(7)]);
    }
    columns.extend([Constraint::Min(24), Constraint::Fill(1)]);
    let widths = super::column_widths(&columns, area.width.saturating_sub(2));
    // What does not fit its column ends in `…`; the pane below has the service in full.
    let fit = |text: &str, column: usize| super::fit(text, widths[column]);
    let rows: Vec<Row> = app
        .visible
        .services
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(index, &row)| {
            let service = app.service_at(row);
            let health = seen_health(service.health, app.source(row.source).freshness(app.now));
            let row_style = if index == app.selection.service_row {
                theme.selection
            } else {
                theme.text
            };
            let cost = reports[row.source]
                .as_ref()
                .and_then(|r| r.service(&service.id));
            let mut name = clean(&service.id).into_owned();
            if super::alerts::service_marked(app, &service.id) {
                name.push_str(" !");
            }
            if cost.is_some_and(|c| !c.findings.is_empty()) {
                name.push_str(" ⚠");
            }
            let mut cells = vec![
                Cell::from(fit(&name, 0)),
                Cell::from(fit(service.tier.word(), 1)),
                Cell::from(fit(&format!("{} {}", health.symbol(), health.word()), 2))
                    .style(health_style(theme, health)),
            ];
            if posture {
                let spend = cost.and_then(|c| c.spend.total_per_hour());
                cells.push(Cell::from(fit(&budget_summary(cost), 3)));
                cells.push(Cell::from(fit(&money(spend), 4)));
            }
            let next = cells.len();
            cells.push(Cell::from(fit(&readiness_summary(service), next)));
            cells.push(Cell::from(fit(&modes_summary(service), next + 1)));
            Row::new(cells).style(row_style)
        })
        .collect();
    let header = match posture {
        true => vec![
            "SERVICE", "TIER", "HEALTH", "BUDGET", "$/h", "REPLICAS", "MODES",
        ],
        false => vec!["SERVICE", "TIER", "HEALTH", "REPLICAS", "MODES"],
    };
    let header = Row::new(header).style(theme.dim);
    frame.render_widget(
        Table::new(rows, super::lengths(&widths))
            .header(header)
            .block(block)
            .column_spacing(1),
        area,
    );
}

/// Each source's cost audit, by source index (`None` without a snapshot).
fn cost_reports(app: &App) -> Vec<Option<CostReport>> {
    let mut reports = vec![None; app.sources.len()];
    for (index, report) in context_audit(&app.sources, app.now, &app.cost) {
        reports[index] = Some(report);
    }
    reports
}

/// `65% 0.42x`: the error budget left and the 1 h burn rate; `?` for what is unknown.
fn budget_summary(cost: Option<&ServiceCost>) -> String {
    match cost {
        Some(cost) if cost.slo.is_some() => format!(
            "{} {}",
            cost.budget_left.map_or("?".to_string(), pct),
            burn(cost.burn_rate_1h)
        ),
        _ => "?".to_string(),
    }
}

/// `1/1 active · warm ✗` — enough to see at a glance whether failover would work.
fn readiness_summary(service: &Service) -> String {
    let active: Vec<_> = service
        .replicas
        .iter()
        .filter(|r| r.role == ReplicaRole::Active)
        .collect();
    let ready = active.iter().filter(|r| r.ready).count();
    let standbys: Vec<String> = service
        .replicas
        .iter()
        .filter(|r| r.role.is_standby())
        .map(|r| {
            format!(
                "{} {}",
                standby_word(r.role),
                if r.ready { "✓" } else { "✗" }
            )
        })
        .collect();
    let standbys = if standbys.is_empty() {
        "no standby".to_string()
    } else {
        standbys.join(" ")
    };
    format!("{ready}/{} active · {standbys}", active.len())
}

fn modes_summary(service: &Service) -> String {
    if service.degraded_modes.is_empty() {
        "none".to_string()
    } else {
        service
            .degraded_modes
            .iter()
            .map(|m| m.mode.word())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The list's rows as `draw` lays them out over `body`, for the mouse.
pub fn list_map(app: &App, body: Rect) -> ListMap {
    let list = Rect {
        height: list_height(app, body),
        ..body
    };
    // Under the border and the header row.
    super::list_map(
        View::Services,
        body,
        body.y + 2,
        list_rows(list) as u16,
        app.selection.service_row,
        app.visible.services.len(),
    )
}

fn draw_detail(
    app: &App,
    reports: &[Option<CostReport>],
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let Some(row) = app.selected_service() else {
        return;
    };
    let service = app.service_at(row);
    // A Patroni cluster knows its members, not load, modes or routes: its own lines say it.
    if app.source(row.source).patroni.is_some() {
        let lines = super::patroni::lines(app, theme, &service.id);
        return draw_detail_block(theme, frame, area, &service.id, lines);
    }
    let source = app.source(row.source);
    let mut lines = Vec::new();
    // A service another source reports too: each source's facts say whose they are and how
    // old, so that its Patroni members below are not read as the same report.
    let reported_elsewhere = (app.sources.iter().enumerate())
        .filter(|(index, _)| *index != row.source)
        .filter_map(|(_, other)| other.snapshot.as_ref())
        .any(|other| other.services.iter().any(|s| s.id == service.id));
    if reported_elsewhere {
        lines.push(Line::from(super::fleet::provenance(app, theme, source)));
    }
    lines.push(Line::from(format!(
        "{} · demand {} rps",
        service.tier.word(),
        rps(service.demand_rps)
    )));
    lines.extend(super::alerts::service_lines(app, theme, &service.id));
    lines.extend(super::slo_burn::service_lines(app, theme, &service.id));
    let own_from = lines.len();
    if let Some(cost) = reports[row.source]
        .as_ref()
        .and_then(|r| r.service(&service.id))
    {
        lines.extend(posture_lines(cost, theme, app.wall));
    }
    lines.push(Line::styled("replicas", theme.dim));
    for replica in &service.replicas {
        let headroom = if replica.capacity_rps > 0.0 {
            1.0 - replica.load_rps / replica.capacity_rps
        } else {
            0.0
        };
        lines.push(Line::from(vec![
            Span::raw(format!(
                "  {:<9} {:<13} ",
                clean(&replica.region),
                replica.role.word()
            )),
            Span::styled(
                if replica.ready {
                    "✓ ready    "
                } else {
                    "✗ not ready"
                },
                if replica.ready {
                    theme.health_ok
                } else {
                    theme.health_down
                },
            ),
            Span::raw(format!(
                "  lag {:<6} {:>5}/{:<5}rps  room ",
                super::lag_text(replica.replication_lag_s),
                rps(replica.load_rps),
                rps(replica.capacity_rps)
            )),
            Span::styled(pct(headroom), headroom_style(theme, headroom)),
        ]));
    }
    lines.push(Line::styled("degraded modes", theme.dim));
    if service.degraded_modes.is_empty() {
        lines.push(Line::from("  none active"));
    }
    let at = source.snapshot.as_ref().map(|s| s.generated_at);
    for mode in &service.degraded_modes {
        let when = at
            .map(|now| {
                control(
                    &mode.control.set_by,
                    &mode.control.reason,
                    mode.control.expires_at,
                    now,
                )
            })
            .unwrap_or_default();
        lines.push(Line::styled(
            format!(
                "  {} since {} {when}",
                mode.mode.word(),
                mode.control.since.format("%H:%M:%S")
            ),
            theme.warning,
        ));
    }
    let own_to = lines.len();
    lines.extend(super::patroni::lines(app, theme, &service.id));
    let routes_from = lines.len();
    if let Some(snapshot) = source.snapshot.as_ref() {
        lines.push(Line::styled("routes (provider#rank share)", theme.dim));
        let before = lines.len();
        for gateway in &snapshot.gateways {
            let routes: Vec<String> = gateway
                .routes
                .iter()
                .filter(|r| r.service == service.id)
                .map(|r| format!("{}#{} {}", clean(&r.provider), r.rank, pct(r.share)))
                .collect();
            if !routes.is_empty() {
                lines.push(Line::from(format!(
                    "  {:<10} {}",
                    clean(&gateway.region),
                    routes.join("  ")
                )));
            }
        }
        if lines.len() == before {
            lines.push(Line::from("  none reported"));
        }
    }
    // The row's source gone stale greys its own facts only: the alerts and Patroni's lines
    // say their own age.
    if source.freshness(app.now) != Freshness::Fresh {
        let (own, routes) = lines.split_at_mut(routes_from);
        for line in own[own_from..own_to].iter_mut().chain(routes) {
            *line = greyed(std::mem::take(line), theme);
        }
    }
    draw_detail_block(theme, frame, area, &service.id, lines);
}

/// The service's posture (see [`posture_texts`]), each line styled by what it is.
fn posture_lines(
    cost: &ServiceCost,
    theme: &Theme,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Line<'static>> {
    (posture_texts(cost, now).into_iter())
        .map(|(kind, text)| {
            let style = match kind {
                PostureText::Figures => ratatui::style::Style::default(),
                PostureText::Source => theme.dim,
                PostureText::Stale => theme.stale,
                PostureText::Finding => theme.warning,
            };
            Line::styled(text, style)
        })
        .collect()
}

fn greyed(line: Line<'static>, theme: &Theme) -> Line<'static> {
    let spans = (line.spans.into_iter()).map(|span| span.style(theme.stale));
    Line::from(spans.collect::<Vec<_>>()).style(theme.stale)
}

fn draw_detail_block(theme: &Theme, frame: &mut Frame, area: Rect, id: &str, lines: Vec<Line>) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(format!(" {} ", clean(id)), theme.title));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}
