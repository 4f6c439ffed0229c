//! Fleet view: region x provider health matrix, and the detail of the selected cell with
//! its recent history (`detail`, `history`).

mod columns;
mod detail;
mod gateway;
mod history;
mod measured;
mod reports;

pub(super) use detail::provenance;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::fit;
use crate::app::{App, ListMap, MatrixColumns, ProviderCell, RegionRow, View};
use crate::domain::fleet::{Freshness, seen_health};
use crate::format::{ms, pct};
use crate::keymap::{self, Action, Layer};
use crate::theme::Theme;
use columns::{Columns, REGION_HEADERS};
use protocol::sanitize::clean;
use protocol::{BreakerState, Health, Provider};

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
    let rows = app.visible.regions.len() + app.visible.measured_only.len();
    (rows as u16 + 3)
        .max(4)
        .min(body.height.saturating_sub(6).max(4))
}

/// The matrix's columns over `width`: the provider window scrolled as the selection asks.
fn matrix_columns(app: &App, width: u16) -> Columns {
    let longest_name = app
        .visible
        .regions
        .iter()
        .map(|&row| {
            let region = app.region_at(row);
            let fresh = app.source(row.source).freshness(app.now) == Freshness::Fresh;
            let marked = measured::mark(app, &region.id, None, fresh.then_some(region.health))
                .is_some()
                || !reports::region_disagreements(app, row).is_empty();
            // A marked name (` !`, ` ≠`) takes two more columns.
            clean(&region.id).chars().count() + if marked { 2 } else { 0 }
        })
        .chain(app.visible.measured_only.iter().filter_map(|m| {
            let measured = app.source(m.source).measured.as_ref()?;
            Some(clean(&measured.regions[m.region].id).chars().count())
        }))
        .max()
        .unwrap_or(0);
    Columns::new(
        width.saturating_sub(2),
        longest_name,
        app.visible.vendors.len(),
        app.selection.fleet_first_vendor,
        app.selection.fleet_col,
    )
}

/// The short words the matrix drew, spelled out in its bottom border.
#[derive(Default)]
struct Legend(Vec<(&'static str, &'static str)>);

impl Legend {
    /// Uses `short` for `word`, and says so in the legend.
    fn short(&mut self, short: &'static str, word: &'static str) -> &'static str {
        self.note(short, word);
        short
    }

    /// Says in the legend what `mark` means.
    fn note(&mut self, mark: &'static str, meaning: &'static str) {
        if !self.0.iter().any(|(s, _)| *s == mark) {
            self.0.push((mark, meaning));
        }
    }

    fn text(mut self) -> Option<String> {
        self.0.sort_unstable();
        let entries: Vec<String> = self.0.iter().map(|(s, w)| format!("{s} {w}")).collect();
        (!entries.is_empty()).then(|| format!(" {} ", entries.join(" · ")))
    }
}

/// How many provider columns are hidden on each side, how many of their cells need a look,
/// and the keys that bring them in view, for the matrix's border:
/// ` ◀ 2 more · ←/h →/l scroll · (1 not ok) 3 more ▶ `.
fn scroll_indicator(app: &App, cols: &Columns) -> Option<(String, bool)> {
    let (left, right) = (cols.hidden_left(), cols.hidden_right());
    if left + right == 0 {
        return None;
    }
    let vendors = &app.visible.vendors;
    let not_ok = |hidden: &[String]| match trouble(app, hidden) {
        0 => String::new(),
        n => format!("({n} not ok)"),
    };
    let (left_trouble, right_trouble) = (
        not_ok(&vendors[..cols.first_vendor]),
        not_ok(&vendors[cols.drawn().end..]),
    );
    let warn = !(left_trouble.is_empty() && right_trouble.is_empty());
    let mut parts = Vec::new();
    if left > 0 {
        parts.push(
            format!("◀ {left} more {left_trouble}")
                .trim_end()
                .to_string(),
        );
    }
    parts.push(format!(
        "{} {} scroll",
        keymap::keys_for(Layer::Global, Action::Left),
        keymap::keys_for(Layer::Global, Action::Right)
    ));
    if right > 0 {
        parts.push(
            format!("{right_trouble} {right} more ▶")
                .trim_start()
                .to_string(),
        );
    }
    Some((format!(" {} ", parts.join(" · ")), warn))
}

/// Cells of these vendors, over every region shown, whose provider is not plainly working:
/// a breaker not closed, a health not ok, or near its rate limit. Stale cells are not
/// counted: the banner already says the source is stale.
fn trouble(app: &App, vendors: &[String]) -> usize {
    app.visible
        .regions
        .iter()
        .filter(|&&row| app.source(row.source).freshness(app.now) == Freshness::Fresh)
        .map(|&row| {
            vendors
                .iter()
                .filter(|vendor| match app.provider_cell(row, vendor) {
                    ProviderCell::Present(p) => {
                        p.breaker.state != BreakerState::Closed
                            || p.health != Health::Ok
                            || p.rate_limit_headroom < LOW_HEADROOM
                    }
                    ProviderCell::Absent => false,
                })
                .count()
        })
        .sum()
}

fn draw_matrix(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let title = Span::styled(" Regions × providers ", theme.title);
    if app.visible.regions.is_empty() && app.visible.measured_only.is_empty() {
        let text = if app.sources.iter().any(|s| s.snapshot.is_some()) {
            "No region matches the filter."
        } else {
            "Waiting for the first snapshot…"
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border)
            .title(title);
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.dim)).block(block),
            area,
        );
        return;
    }
    let cols = matrix_columns(app, area.width);
    let vendors = &app.visible.vendors[cols.drawn()];
    let mut header: Vec<Cell> = REGION_HEADERS.iter().map(|h| Cell::from(*h)).collect();
    header.extend(
        vendors
            .iter()
            .map(|v| Cell::from(fit(&clean(v).to_uppercase(), cols.provider_width))),
    );

    let visible_rows = area.height.saturating_sub(3) as usize;
    let offset = super::scroll_offset(app.selection.fleet_row, visible_rows);
    let mut legend = Legend::default();
    let mut rows: Vec<Row> = Vec::new();
    // The regions only a metrics source reads come last, selectable like the others.
    for index in (offset..app.visible.fleet_rows()).take(visible_rows) {
        rows.push(match app.visible.regions.get(index) {
            Some(&row) => matrix_row(app, theme, &cols, &mut legend, index, row),
            None => {
                let row = app.visible.measured_only[index - app.visible.regions.len()];
                measured::matrix_row(app, theme, &cols, &mut legend, index, row)
            }
        });
    }
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(title);
    if let Some((more, warn)) = scroll_indicator(app, &cols) {
        let style = if warn { theme.warning } else { theme.accent };
        block = block.title_top(Line::styled(more, style).right_aligned());
    }
    if let Some(legend) = legend.text() {
        block = block.title_bottom(Line::styled(legend, theme.dim).right_aligned());
    }
    let table = Table::new(rows, cols.constraints())
        .header(Row::new(header).style(theme.dim))
        .block(block)
        .column_spacing(1);
    frame.render_widget(table, area);
}

fn matrix_row<'a>(
    app: &'a App,
    theme: &Theme,
    cols: &Columns,
    legend: &mut Legend,
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
    let widths = cols.region_widths();
    let num = |text: String, col: usize| {
        Cell::from(fit(&text, widths[col])).style(if fresh { theme.text } else { theme.stale })
    };
    // A drained region serves nothing by choice: that says more than its health.
    let health = if region.drain.is_some() && fresh {
        let word = if cols.health_words {
            "drained"
        } else {
            legend.short("drain", "drained")
        };
        Cell::from(format!("⇣ {word}")).style(select(theme.warning, 0))
    } else {
        health_cell(region.health, freshness, cols.health_words, legend).style(select(
            health_style(theme, seen_health(region.health, freshness)),
            0,
        ))
    };
    let native = fresh.then_some(region.health);
    let disagree = !reports::region_disagreements(app, row).is_empty();
    let mark = disagree.then_some(reports::DISAGREE);
    let name = match mark.or_else(|| measured::mark(app, &region.id, None, native)) {
        Some((mark, meaning)) => {
            legend.note(mark, meaning);
            format!("{} {mark}", clean(&region.id))
        }
        None => clean(&region.id).into_owned(),
    };
    let mut cells = vec![
        Cell::from(fit(&name, widths[0])).style(select(theme.text, 0)),
        health,
        num(ms(region.latency.p95_ms), 2),
        num(pct(region.error_rate), 3),
        num(pct(region.rate_limited_rate), 4),
        num(pct(region.traffic_share), 5),
        Cell::from(fit(&pct(region.headroom()), widths[6])).style(if fresh {
            headroom_style(theme, region.headroom())
        } else {
            theme.stale
        }),
    ];
    for v in cols.drawn() {
        let vendor = &app.visible.vendors[v];
        let cell = match app.provider_reports(row, vendor).first() {
            None => Cell::from("—").style(select(theme.dim, v + 1)),
            Some(&(source, p)) => {
                // The first source that reports it: the row's own, or another where it has none.
                let freshness = app.source(source).freshness(app.now);
                let fresh = freshness == Freshness::Fresh;
                let (mut text, style) =
                    provider_summary(theme, p, freshness, cols.provider_width, legend);
                let native = fresh.then_some(p.health);
                let disagree = !reports::provider_disagreements(app, row, vendor).is_empty();
                let mark = disagree.then_some(reports::DISAGREE);
                let mark = mark.or_else(|| measured::mark(app, &p.region, Some(&p.id), native));
                if let Some((mark, meaning)) = mark {
                    legend.note(mark, meaning);
                    text = format!("{mark}{text}");
                }
                Cell::from(fit(&text, cols.provider_width)).style(select(style, v + 1))
            }
        };
        cells.push(cell);
    }
    Row::new(cells)
}

fn health_cell(
    reported: Health,
    freshness: Freshness,
    words: bool,
    legend: &mut Legend,
) -> Cell<'static> {
    match freshness {
        Freshness::Fresh if words => {
            Cell::from(format!("{} {}", reported.symbol(), reported.word()))
        }
        Freshness::Fresh => Cell::from(format!(
            "{} {}",
            reported.symbol(),
            short_health(reported, legend)
        )),
        Freshness::Stale(_) => Cell::from(format!("? {}?", short_health(reported, legend))),
        Freshness::NoData if words => Cell::from("? unknown"),
        Freshness::NoData => Cell::from(format!("? {}", short_health(Health::Unknown, legend))),
    }
}

/// A provider's cell: the breaker when it is not closed (that is what routing acts on),
/// else its health; both as symbol + word.
fn provider_summary(
    theme: &Theme,
    p: &Provider,
    freshness: Freshness,
    width: u16,
    legend: &mut Legend,
) -> (String, Style) {
    if freshness != Freshness::Fresh {
        return (format!("? {}?", short_state(p, legend)), theme.stale);
    }
    let (symbol_word, style) = match p.breaker.state {
        BreakerState::Open if p.quarantine.is_some() => {
            let text = if width >= QUARANTINED.chars().count() as u16 {
                QUARANTINED.to_string()
            } else {
                format!("✖ {}", legend.short("held", "quarantined"))
            };
            (text, theme.breaker_open)
        }
        BreakerState::Open => ("✖ open".to_string(), theme.breaker_open),
        BreakerState::HalfOpen => (
            format!("◐ {}", legend.short("half", "half-open")),
            theme.breaker_half_open,
        ),
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
            format!("{} {}", p.health.symbol(), short_health(p.health, legend)),
            health_style(theme, p.health),
        ),
    };
    if width >= WIDE_PROVIDER_WIDTH {
        (format!("{symbol_word} {}", ms(p.latency.p95_ms)), style)
    } else {
        (symbol_word, style)
    }
}

fn short_state(p: &Provider, legend: &mut Legend) -> &'static str {
    match p.breaker.state {
        BreakerState::Open => "open",
        BreakerState::HalfOpen => legend.short("half", "half-open"),
        BreakerState::Closed => short_health(p.health, legend),
    }
}

/// Words short enough for a matrix cell; the legend and the detail pane spell them out.
fn short_health(h: Health, legend: &mut Legend) -> &'static str {
    match h {
        Health::Ok => "ok",
        Health::Degraded => legend.short("degr", "degraded"),
        Health::Down => "down",
        Health::Unknown => legend.short("unkn", "unknown"),
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
    let cols = matrix_columns(app, body.width);
    ListMap {
        columns: Some(MatrixColumns {
            x: body.x + 1,
            region_width: cols.region_span(),
            cell_width: cols.provider_width + 1,
            first_vendor: cols.first_vendor,
            shown: cols.shown,
        }),
        // Under the border and the header row, above the bottom border.
        ..super::list_map(
            View::Fleet,
            body,
            body.y + 2,
            height.saturating_sub(3),
            app.selection.fleet_row,
            app.visible.fleet_rows(),
        )
    }
}
