//! Fleet view: region x provider health matrix, and the detail of the selected cell with
//! its recent history (`detail`, `history`).

mod detail;
mod history;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use crate::app::{App, ListMap, MatrixColumns, ProviderCell, RegionRow, View};
use crate::domain::fleet::{Freshness, seen_health};
use crate::format::{ms, pct};
use crate::theme::Theme;
use protocol::sanitize::clean;
use protocol::{BreakerState, Health, Provider};

/// Widths of the region's own columns: name, health, p95, errors, 429s, share, headroom.
const REGION_COLUMNS: [u16; 7] = [9, 10, 6, 6, 6, 6, 6];
const REGION_HEADERS: [&str; 7] = ["REGION", "HEALTH", "P95", "ERR", "429", "SHARE", "ROOM"];
/// Columns dropped first when the screen is narrow (share, then 429s): the detail pane has
/// them. Headroom always stays: an overloaded region must show at every width.
const OPTIONAL_COLUMNS: [usize; 2] = [5, 4];
const MIN_PROVIDER_WIDTH: u16 = 7;
/// Headroom under this is low (a region's capacity, a provider's rate limit).
const LOW_HEADROOM: f64 = 0.2;
/// A provider held open by hand, where the cell has room for the word ("✖ held" where not).
const QUARANTINED: &str = "✖ quarantined";
/// Provider cells this wide also show the provider's p95.
const WIDE_PROVIDER_WIDTH: u16 = 16;

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let [matrix, detail] = Layout::vertical([
        Constraint::Length(matrix_height(app, area)),
        Constraint::Min(0),
    ])
    .areas(area);
    draw_matrix(app, theme, frame, matrix);
    detail::draw(app, theme, frame, detail);
}

/// The matrix takes the rows it needs, leaving the detail pane at least a few.
fn matrix_height(app: &App, body: Rect) -> u16 {
    (app.visible.regions.len() as u16 + 3)
        .max(4)
        .min(body.height.saturating_sub(6).max(4))
}

struct Columns {
    /// Indices into REGION_COLUMNS that fit.
    region: Vec<usize>,
    provider_width: u16,
}

fn columns(width: u16, vendors: usize) -> Columns {
    let inner = width.saturating_sub(2);
    let mut region: Vec<usize> = (0..REGION_COLUMNS.len()).collect();
    let needed = |region: &[usize]| -> u16 {
        region.iter().map(|&i| REGION_COLUMNS[i] + 1).sum::<u16>()
            + vendors as u16 * (MIN_PROVIDER_WIDTH + 1)
    };
    for optional in OPTIONAL_COLUMNS {
        if needed(&region) > inner {
            region.retain(|&i| i != optional);
        }
    }
    let used: u16 = region.iter().map(|&i| REGION_COLUMNS[i] + 1).sum();
    let provider_width = if vendors == 0 {
        0
    } else {
        (inner.saturating_sub(used) / vendors as u16)
            .saturating_sub(1)
            .clamp(MIN_PROVIDER_WIDTH, 24)
    };
    Columns {
        region,
        provider_width,
    }
}

fn draw_matrix(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(" Regions × providers ", theme.title));
    if app.visible.regions.is_empty() {
        let text = if app.sources.iter().any(|s| s.snapshot.is_some()) {
            "No region matches the filter."
        } else {
            "Waiting for the first snapshot…"
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.dim)).block(block),
            area,
        );
        return;
    }
    let cols = columns(area.width, app.visible.vendors.len());
    let mut widths: Vec<Constraint> = cols
        .region
        .iter()
        .map(|&i| Constraint::Length(REGION_COLUMNS[i]))
        .collect();
    widths.extend(
        app.visible
            .vendors
            .iter()
            .map(|_| Constraint::Length(cols.provider_width)),
    );

    let mut header: Vec<Cell> = cols
        .region
        .iter()
        .map(|&i| Cell::from(REGION_HEADERS[i]))
        .collect();
    header.extend(
        app.visible
            .vendors
            .iter()
            .map(|v| Cell::from(clean(v).to_uppercase())),
    );

    let visible_rows = area.height.saturating_sub(3) as usize;
    let offset = super::scroll_offset(app.selection.fleet_row, visible_rows);
    let rows: Vec<Row> = app
        .visible
        .regions
        .iter()
        .enumerate()
        .skip(offset)
        .take(visible_rows)
        .map(|(index, &row)| matrix_row(app, theme, &cols, index, row))
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim))
        .block(block)
        .column_spacing(1);
    frame.render_widget(table, area);
}

fn matrix_row<'a>(
    app: &'a App,
    theme: &Theme,
    cols: &Columns,
    index: usize,
    row: RegionRow,
) -> Row<'a> {
    let region = app.region_at(row);
    let freshness = app.source(row.source).freshness(app.now);
    let selected_row = index == app.selection.fleet_row;
    let select = |style: Style, col: usize| {
        if selected_row && app.selection.fleet_col == col {
            style.patch(theme.selection)
        } else {
            style
        }
    };
    let fresh = freshness == Freshness::Fresh;
    let num = |text: String| Cell::from(text).style(if fresh { theme.text } else { theme.stale });
    let mut cells: Vec<Cell> = Vec::new();
    for &i in &cols.region {
        cells.push(match i {
            0 => Cell::from(clean(&region.id).into_owned()).style(select(theme.text, 0)),
            // A drained region serves nothing by choice: that says more than its health.
            1 if region.drain.is_some() && freshness == Freshness::Fresh => {
                Cell::from("⇣ drained").style(select(theme.warning, 0))
            }
            1 => health_cell(region.health, freshness).style(select(
                health_style(theme, seen_health(region.health, freshness)),
                0,
            )),
            2 => num(ms(region.latency.p95_ms)),
            3 => num(pct(region.error_rate)),
            4 => num(pct(region.rate_limited_rate)),
            5 => num(pct(region.traffic_share)),
            _ => Cell::from(pct(region.headroom())).style(if fresh {
                headroom_style(theme, region.headroom())
            } else {
                theme.stale
            }),
        });
    }
    for (v, vendor) in app.visible.vendors.iter().enumerate() {
        let cell = match app.provider_cell(row, vendor) {
            ProviderCell::Absent => Cell::from("—").style(select(theme.dim, v + 1)),
            ProviderCell::Present(p) => {
                let (text, style) = provider_summary(theme, p, freshness, cols.provider_width);
                Cell::from(text).style(select(style, v + 1))
            }
        };
        cells.push(cell);
    }
    Row::new(cells)
}

fn health_cell(reported: Health, freshness: Freshness) -> Cell<'static> {
    match freshness {
        Freshness::Fresh => Cell::from(format!("{} {}", reported.symbol(), reported.word())),
        Freshness::Stale(_) => Cell::from(format!("? {}?", short_health(reported))),
        Freshness::NoData => Cell::from("? unknown"),
    }
}

/// A provider's cell: the breaker when it is not closed (that is what routing acts on),
/// else its health; both as symbol + word.
fn provider_summary(
    theme: &Theme,
    p: &Provider,
    freshness: Freshness,
    width: u16,
) -> (String, Style) {
    if freshness != Freshness::Fresh {
        return (format!("? {}?", short_state(p)), theme.stale);
    }
    let quarantined = if width >= QUARANTINED.chars().count() as u16 {
        QUARANTINED
    } else {
        "✖ held"
    };
    let (symbol_word, style) = match p.breaker.state {
        BreakerState::Open if p.quarantine.is_some() => {
            (quarantined.to_string(), theme.breaker_open)
        }
        BreakerState::Open => ("✖ open".to_string(), theme.breaker_open),
        BreakerState::HalfOpen => ("◐ half".to_string(), theme.breaker_half_open),
        // Near its rate limit, a working provider is about to refuse traffic: say so in the
        // cell, which shows at every width (the headroom is in the detail pane).
        BreakerState::Closed
            if p.health != Health::Down && p.rate_limit_headroom < LOW_HEADROOM =>
        {
            (
                "▲ limit".to_string(),
                headroom_style(theme, p.rate_limit_headroom),
            )
        }
        BreakerState::Closed => (
            format!("{} {}", p.health.symbol(), short_health(p.health)),
            health_style(theme, p.health),
        ),
    };
    if width >= WIDE_PROVIDER_WIDTH {
        (format!("{symbol_word} {}", ms(p.latency.p95_ms)), style)
    } else {
        (symbol_word, style)
    }
}

fn short_state(p: &Provider) -> &'static str {
    match p.breaker.state {
        BreakerState::Open => "open",
        BreakerState::HalfOpen => "half",
        BreakerState::Closed => short_health(p.health),
    }
}

/// Words short enough for a matrix cell; the legend and detail pane use the full ones.
fn short_health(h: Health) -> &'static str {
    match h {
        Health::Ok => "ok",
        Health::Degraded => "degr",
        Health::Down => "down",
        Health::Unknown => "unkn",
    }
}

pub fn health_style(theme: &Theme, h: Health) -> Style {
    match h {
        Health::Ok => theme.health_ok,
        Health::Degraded => theme.health_degraded,
        Health::Down => theme.health_down,
        Health::Unknown => theme.health_unknown,
    }
}

pub fn headroom_style(theme: &Theme, headroom: f64) -> Style {
    if headroom < 0.0 {
        theme.headroom_overloaded
    } else if headroom < LOW_HEADROOM {
        theme.headroom_low
    } else {
        theme.headroom_ok
    }
}

/// The matrix's rows and columns as `draw` lays them out over `body`, for the mouse.
pub fn matrix_map(app: &App, body: Rect) -> ListMap {
    let height = matrix_height(app, body);
    let vendors = app.visible.vendors.len();
    let cols = columns(body.width, vendors);
    ListMap {
        columns: Some(MatrixColumns {
            x: body.x + 1,
            region_width: cols.region.iter().map(|&i| REGION_COLUMNS[i] + 1).sum(),
            cell_width: cols.provider_width + 1,
            vendors,
        }),
        // Under the border and the header row, above the bottom border.
        ..super::list_map(
            View::Fleet,
            body,
            body.y + 2,
            height.saturating_sub(3),
            app.selection.fleet_row,
            app.visible.regions.len(),
        )
    }
}
