//! What the metrics sources (Prometheus) say about the selected region or provider, under
//! what the protocol v1 source says: each source's facts with its name and their age, a
//! health that disagrees said as a disagreement, and the alerts firing on it. A source that
//! is down or late has its lines greyed; the others stay live.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};

use super::Legend;
use super::columns::Columns;
use super::health_style;
use crate::app::{App, MeasuredRow};
use crate::domain::fleet::{Freshness, seen_health};
use crate::domain::measured::{FactKind, Facts, FiringAlert};
use crate::format::{ms, pct, rps};
use crate::theme::Theme;
use crate::views::{fit, metrics_source};
use protocol::Health;
use protocol::sanitize::clean;

/// The lines of every metrics source that knows `region` (or the provider `provider`, an
/// id `vendor@region`); `native` is the health the protocol v1 source reports, if it does.
pub(super) fn lines(
    app: &App,
    theme: &Theme,
    region: &str,
    provider: Option<&str>,
    native: Option<(&str, Health)>,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (index, source) in app.sources.iter().enumerate() {
        let Some(measured) = &source.measured else {
            continue;
        };
        let facts = match provider {
            Some(id) => measured.provider(id).map(|p| (&p.facts, p.health)),
            None => measured.region(region).map(|r| (&r.facts, r.health)),
        };
        let alerts: Vec<&FiringAlert> = measured.alerts_on(region, provider).collect();
        if facts.is_none() && alerts.is_empty() {
            continue;
        }
        let freshness = source.freshness(app.now);
        let live = freshness == Freshness::Fresh;
        let style = if live { theme.text } else { theme.stale };
        let read_at = (facts.and_then(|f| f.0.values().map(|f| f.at).max()))
            .or(measured.gateway.as_ref().map(|g| g.read_at));
        lines.push(Line::styled(
            metrics_source::provenance(app, source, read_at),
            if live { theme.dim } else { theme.stale },
        ));
        if let Some((facts, reported)) = facts {
            let health = seen_health(reported, freshness);
            let mut said = format!("{} {}", health.symbol(), health.word());
            if health != reported {
                said.push_str(&format!(" (last read {})", reported.word()));
            }
            if let Some((name, theirs)) = native
                && live
                && theirs != reported
                && reported != Health::Unknown
            {
                said.push_str(&format!(
                    "  ≠ {name} says {}: the sources disagree",
                    theirs.word()
                ));
            }
            let health_line = if live {
                health_style(theme, health)
            } else {
                theme.stale
            };
            lines.push(Line::styled(said, health_line));
            match &measured.gateway {
                Some(gateway) => lines.extend(super::gateway::lines(
                    app, theme, gateway, region, provider, live,
                )),
                None => lines.push(Line::styled(fact_text(facts), style)),
            }
        }
        for alert in alerts {
            let alert_style = if live { theme.warning } else { theme.stale };
            let since = alert.started_at.format("%H:%M:%S");
            let silenced = app
                .silenced_note(index, alert)
                .map_or(String::new(), |note| format!(", {note}"));
            lines.push(Line::styled(
                format!("! {} (firing since {since}{silenced})", alert.notice().text),
                alert_style,
            ));
        }
    }
    lines
}

/// The detail pane of a region only a metrics source reads (or one of its providers): that
/// no source here can act on it, then what each metrics source read.
pub(super) fn draw_detail(
    app: &App,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    row: MeasuredRow,
) {
    let Some(measured) = &app.source(row.source).measured else {
        return;
    };
    let region = &measured.regions[row.region].id;
    let provider = (app.selection.fleet_col.checked_sub(1))
        .and_then(|v| app.visible.vendors.get(v))
        .map(|vendor| format!("{vendor}@{region}"))
        .filter(|id| measured.provider(id).is_some());
    let shown = provider.as_deref().unwrap_or(region);
    let mut lines: Vec<Line> = app
        .read_only_refusal(None, Some(shown))
        .map(|refusal| Line::styled(refusal, theme.dim))
        .into_iter()
        .collect();
    lines.extend(self::lines(app, theme, region, provider.as_deref(), None));
    lines.extend(crate::views::slo_burn::source_lines(
        app,
        theme,
        app.source(row.source),
    ));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(format!(" {} ", clean(shown)), theme.title));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

/// What the matrix marks on a region or provider cell whose live metrics sources see it
/// otherwise than the live protocol v1 report (`native`): `!` an alert fires on it, `≠` a
/// health that disagrees. The detail pane says which source says what.
pub(super) fn mark(
    app: &App,
    region: &str,
    provider: Option<&str>,
    native: Option<Health>,
) -> Option<(&'static str, &'static str)> {
    let live = app
        .sources
        .iter()
        .filter(|s| s.freshness(app.now) == Freshness::Fresh)
        .filter_map(|s| s.measured.as_ref());
    let mut disagree = false;
    for measured in live {
        if measured.alerts_on(region, provider).next().is_some() {
            return Some(("!", "alert firing"));
        }
        let reported = match provider {
            Some(id) => measured.provider(id).map(|p| p.health),
            None => measured.region(region).map(|r| r.health),
        };
        disagree |= matches!((reported, native), (Some(theirs), Some(ours))
            if theirs != ours && theirs != Health::Unknown);
    }
    disagree.then_some(("≠", "sources disagree"))
}

/// The facts read, each in its unit; one not read says so rather than showing zero.
fn fact_text(facts: &Facts) -> String {
    FactKind::ALL
        .into_iter()
        .map(|kind| {
            let value = facts.get(&kind).map(|f| f.value);
            let shown = match (kind, value) {
                (_, None) => "—".to_string(),
                (FactKind::P50Ms | FactKind::P95Ms | FactKind::P99Ms, Some(v)) => ms(v),
                (FactKind::LoadRps, Some(v)) => format!("{} rps", rps(v)),
                (_, Some(v)) => pct(v),
            };
            format!("{} {shown}", label(kind))
        })
        .collect::<Vec<_>>()
        .join("  ")
}

fn label(kind: FactKind) -> &'static str {
    match kind {
        FactKind::P50Ms => "p50",
        FactKind::P95Ms => "p95",
        FactKind::P99Ms => "p99",
        FactKind::ErrorRate => "errors",
        FactKind::RateLimitedRate => "429s",
        FactKind::TrafficShare => "share",
        FactKind::LoadRps => "load",
    }
}

/// A matrix row of a region only a metrics source reads: its health and the facts it read
/// (`—` for one not read, and for the headroom no metric gives), and its providers' health.
/// Greyed when the source is not live.
pub(super) fn matrix_row<'a>(
    app: &'a App,
    theme: &Theme,
    cols: &Columns,
    legend: &mut Legend,
    index: usize,
    row: MeasuredRow,
) -> Row<'a> {
    let source = app.source(row.source);
    let Some(measured) = &source.measured else {
        return Row::new(Vec::<Cell>::new());
    };
    let region = &measured.regions[row.region];
    let freshness = source.freshness(app.now);
    let live = freshness == Freshness::Fresh;
    let style = |style| if live { style } else { theme.stale };
    let select = |style: ratatui::style::Style, col: usize| {
        if index == app.selection.fleet_row && app.selection.fleet_col == col {
            style.patch(theme.selection)
        } else {
            style
        }
    };
    let widths = cols.region_widths();
    let fact = |kind: FactKind, col: usize| {
        let text = match (kind, region.facts.get(&kind)) {
            (_, None) => "—".to_string(),
            (FactKind::P95Ms, Some(f)) => ms(f.value),
            (_, Some(f)) => pct(f.value),
        };
        Cell::from(fit(&text, widths[col])).style(style(theme.text))
    };
    let health = seen_health(region.health, freshness);
    let health_word = super::short_health(health, legend);
    let mut cells = vec![
        Cell::from(fit(&clean(&region.id), widths[0])).style(select(style(theme.text), 0)),
        Cell::from(format!("{} {health_word}", health.symbol()))
            .style(style(health_style(theme, health))),
        fact(FactKind::P95Ms, 2),
        fact(FactKind::ErrorRate, 3),
        fact(FactKind::RateLimitedRate, 4),
        fact(FactKind::TrafficShare, 5),
        Cell::from("—").style(theme.dim),
    ];
    for v in cols.drawn() {
        let vendor = &app.visible.vendors[v];
        let id = format!("{vendor}@{}", region.id);
        let breaker =
            (measured.gateway.as_ref()).and_then(|g| super::gateway::cell(g, &id, app.wall));
        let cell = match (measured.provider(&id), breaker.filter(|_| live)) {
            (Some(_), Some(text)) => {
                if text.ends_with("half") {
                    legend.note("half", "half-open");
                }
                Cell::from(fit(text, cols.provider_width)).style(theme.breaker_open)
            }
            (Some(p), None) => {
                let health = seen_health(p.health, freshness);
                let word = super::short_health(health, legend);
                Cell::from(fit(
                    &format!("{} {word}", health.symbol()),
                    cols.provider_width,
                ))
                .style(select(style(health_style(theme, health)), v + 1))
            }
            (None, _) => Cell::from("—").style(select(theme.dim, v + 1)),
        };
        cells.push(cell);
    }
    Row::new(cells)
}
