//! The fleet view's detail pane: the facts of the selected region or provider, and the
//! history of its latency and failure rates beside them (wide screens) or under them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::{headroom_style, health_style, history, measured, reports};
use crate::app::{App, RegionRow};
use crate::domain::fleet::{
    Freshness, STALE_AFTER, SourceData, history_key_provider, history_key_region, seen_health,
};
use crate::format::{age, control, ms, pct, rps};
use crate::theme::Theme;
use protocol::sanitize::clean;
use protocol::{BreakerState, Latency, Provider, Region};

/// Inner width from which the detail pane shows history beside the facts.
const WIDE_DETAIL: u16 = 110;
/// Columns between the facts and the charts beside them.
const GAP: u16 = 2;

pub(super) fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(row) = app.selected_region() else {
        if let Some(row) = app.selected_measured() {
            measured::draw_detail(app, theme, frame, area, row);
        }
        return;
    };
    let source = app.source(row.source);
    let freshness = source.freshness(app.now);
    let region = app.region_at(row);
    let vendor = (app.selection.fleet_col.checked_sub(1)).and_then(|v| app.visible.vendors.get(v));
    // Each source that reports the selection, with its own facts (the row's source first).
    let providers = vendor.map_or(Vec::new(), |vendor| app.provider_reports(row, vendor));
    let provider = providers.first().map(|&(_, p)| p);
    let (title, mut lines, history_key) = match (vendor, provider) {
        (Some(vendor), Some(p)) => {
            let parts = (providers.iter())
                .map(|&(source, p)| (source, provider_lines(app, theme, source, p)))
                .collect();
            let mut lines = reports::each_source(app, theme, parts);
            let said = reports::provider_disagreements(app, row, vendor);
            lines.extend(reports::disagreement_lines(said, theme));
            let title = format!(" {} · {} ", clean(&p.id), clean(&p.model));
            (title, lines, history_key_provider(&p.id))
        }
        _ => {
            let parts = (app.region_reports(row).into_iter())
                .map(|r| (r.source, region_lines(app, theme, r, app.region_at(r))))
                .collect();
            let mut lines = reports::each_source(app, theme, parts);
            let said = reports::region_disagreements(app, row);
            lines.extend(reports::disagreement_lines(said, theme));
            (
                format!(" {} ", clean(&region.id)),
                lines,
                history_key_region(&region.id),
            )
        }
    };
    // Only a live report can disagree: a stale one is already said to be unknown.
    let native = (freshness == Freshness::Fresh).then(|| {
        let health = provider.map_or(region.health, |p| p.health);
        (source.name.as_str(), health)
    });
    let provider_id = provider.map(|p| p.id.as_str());
    lines.extend(measured::lines(app, theme, &region.id, provider_id, native));

    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(title, theme.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let facts = Paragraph::new(lines).wrap(Wrap { trim: false });
    let samples = source.history.get(&history_key);
    let history = history::History::of(app, row.source, samples);
    // Wide screens put the history beside the facts; narrow ones under them, with the rows
    // the facts leave. The facts never give up rows to the charts.
    let (facts_area, history_area) = if inner.width >= WIDE_DETAIL {
        let [facts_area, _, history_area] = Layout::horizontal([
            Constraint::Percentage(55),
            Constraint::Length(GAP),
            Constraint::Fill(1),
        ])
        .areas(inner);
        (facts_area, history_area)
    } else {
        let facts_rows = (facts.line_count(inner.width) as u16).min(inner.height);
        let [facts_area, history_area] =
            Layout::vertical([Constraint::Length(facts_rows), Constraint::Fill(1)]).areas(inner);
        (facts_area, history_area)
    };
    draw_facts(facts, theme, frame, facts_area);
    history.draw(theme, frame, history_area, inner.width >= WIDE_DETAIL);
}

/// The facts in `area`; when they do not fit, the last row says how many are out of sight
/// rather than cutting them silently.
fn draw_facts(facts: Paragraph, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = facts.line_count(area.width) as u16;
    if rows <= area.height || area.height == 0 {
        frame.render_widget(facts, area);
        return;
    }
    let [shown, more] = Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    frame.render_widget(facts, shown);
    let hidden = rows - shown.height;
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!("⋯ {hidden} more rows: a taller window shows them"),
            theme.accent,
        )),
        more,
    );
}

/// Latency percentiles and failure rates, alike for regions and providers.
fn traffic_line<'a>(latency: &Latency, error_rate: f64, rate_limited_rate: f64) -> Line<'a> {
    Line::from(format!(
        "latency p50 {}  p95 {}  p99 {}   errors {}  429s {}",
        ms(latency.p50_ms),
        ms(latency.p95_ms),
        ms(latency.p99_ms),
        pct(error_rate),
        pct(rate_limited_rate)
    ))
}

fn region_lines<'a>(app: &App, theme: &Theme, row: RegionRow, r: &Region) -> Vec<Line<'a>> {
    let freshness = app.source(row.source).freshness(app.now);
    let health = seen_health(r.health, freshness);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("{} {}", health.symbol(), health.word()),
                health_style(theme, health),
            ),
            Span::raw(if health != r.health {
                format!(" (last reported {})", r.health.word())
            } else {
                String::new()
            }),
        ]),
        traffic_line(&r.latency, r.error_rate, r.rate_limited_rate),
        Line::from(vec![
            Span::raw(format!(
                "load {}/{} rps  headroom ",
                rps(r.load_rps),
                rps(r.capacity_rps)
            )),
            Span::styled(pct(r.headroom()), headroom_style(theme, r.headroom())),
            Span::raw(format!("  traffic share {}", pct(r.traffic_share))),
        ]),
    ];
    let snapshot = app.source(row.source).snapshot.as_ref();
    if let (Some(drain), Some(s)) = (&r.drain, snapshot) {
        lines.insert(
            1,
            Line::styled(
                format!(
                    "⇣ DRAINED {}",
                    control(
                        &drain.set_by,
                        &drain.reason,
                        drain.expires_at,
                        s.generated_at
                    )
                ),
                theme.warning,
            ),
        );
    }
    let fallback = snapshot
        .and_then(|s| s.gateways.iter().find(|g| g.region == r.id))
        .and_then(|g| g.last_fallback.as_ref());
    if let Some(fb) = fallback {
        lines.push(Line::styled(
            format!(
                "last fallback {} {}: {} → {} ({})",
                fb.at.format("%H:%M:%S"),
                clean(&fb.service),
                clean(&fb.from),
                clean(&fb.to),
                clean(&fb.reason)
            ),
            theme.warning,
        ));
    }
    let open: Vec<String> = snapshot
        .map(|s| {
            s.providers
                .iter()
                .filter(|p| p.region == r.id && p.breaker.state != BreakerState::Closed)
                .map(|p| format!("{} {}", clean(&p.id), p.breaker.state.word()))
                .collect()
        })
        .unwrap_or_default();
    if !open.is_empty() {
        lines.push(Line::styled(
            format!("breakers not closed: {}", open.join(", ")),
            theme.breaker_open,
        ));
    }
    lines
}

fn provider_lines<'a>(app: &App, theme: &Theme, source: usize, p: &Provider) -> Vec<Line<'a>> {
    let freshness = app.source(source).freshness(app.now);
    let health = seen_health(p.health, freshness);
    let breaker_style = match p.breaker.state {
        BreakerState::Closed => theme.health_ok,
        BreakerState::Open => theme.breaker_open,
        BreakerState::HalfOpen => theme.breaker_half_open,
    };
    let mut breaker = format!("breaker {}", p.breaker.state.word());
    if let Some(reason) = &p.breaker.reason {
        breaker.push_str(&format!(": {}", clean(reason)));
    }
    if let Some(until) = p.breaker.until {
        breaker.push_str(&format!(" (until {})", until.format("%H:%M:%S")));
    }
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("{} {}", health.symbol(), health.word()),
                health_style(theme, health),
            ),
            Span::raw(format!("   cost tier {}", clean(&p.cost_tier))),
        ]),
        Line::styled(breaker, breaker_style),
        traffic_line(&p.latency, p.error_rate, p.rate_limited_rate),
        Line::from(format!(
            "load {} rps  rate-limit headroom {}  share of region {}",
            rps(p.load_rps),
            pct(p.rate_limit_headroom),
            pct(p.traffic_share)
        )),
    ];
    if let Some(snapshot) = app.source(source).snapshot.as_ref() {
        let at = snapshot.generated_at;
        if let Some(q) = &p.quarantine {
            lines.insert(
                2,
                Line::styled(
                    format!(
                        "✖ QUARANTINED {}",
                        control(&q.set_by, &q.reason, q.expires_at, at)
                    ),
                    theme.breaker_open,
                ),
            );
        }
        if let Some(pin) = &p.pinned {
            lines.insert(
                2,
                Line::styled(
                    format!(
                        "⊙ PINNED: the breaker will not trip, {}",
                        control(&pin.set_by, &pin.reason, pin.expires_at, at)
                    ),
                    theme.warning,
                ),
            );
        }
        let routes: Vec<String> = snapshot
            .gateways
            .iter()
            .flat_map(|g| g.routes.iter())
            .filter(|r| r.provider == p.id)
            .map(|r| {
                format!(
                    "{} rank {} w{} carries {}",
                    clean(&r.service),
                    r.rank,
                    r.weight,
                    pct(r.share)
                )
            })
            .collect();
        if !routes.is_empty() {
            lines.push(Line::from(format!("routes: {}", routes.join(" · "))));
        }
    }
    lines
}

/// `source lab · live, updated within 15s`, or how old what it last said is; in a replay,
/// `source replay · recorded at T+01:35`.
pub(in crate::views) fn provenance(app: &App, theme: &Theme, source: &SourceData) -> Span<'static> {
    if let Some(recorded) = crate::views::replay::recorded(app, &source.name) {
        return Span::styled(format!("source {} · {recorded}", source.name), theme.dim);
    }
    match (source.freshness(app.now), source.age(app.now)) {
        // Fresh data is at most STALE_AFTER old: a count of seconds below that would only
        // flicker with each event.
        (Freshness::Fresh, Some(_)) => Span::styled(
            format!(
                "source {} · live, updated within {}",
                source.name,
                age(STALE_AFTER)
            ),
            theme.dim,
        ),
        (_, Some(a)) => Span::styled(
            format!(
                "source {} · STALE: last known {} ago, may have changed",
                source.name,
                age(a)
            ),
            theme.stale,
        ),
        (_, None) => Span::styled(format!("source {} · no data", source.name), theme.stale),
    }
}
