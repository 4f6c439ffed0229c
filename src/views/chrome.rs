//! Header with tabs, banners for what the console cannot see, key hints, status bar.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::clock;
use crate::app::{App, Level, View};
use crate::domain::fleet::{Connection, Freshness};
use crate::format::{age, thousands};
use crate::keymap::{self, Action, Layer};
use crate::theme::Theme;
use protocol::commands::OperationState;
use protocol::sanitize::clean;

const BRAND: &str = " Switchboard ";
/// Banners shown at most; the rest are counted on the last one.
const MAX_BANNERS: usize = 3;

/// The brand, when the header has room for it beside the name of every tab (their padding may
/// be cut): a seventh tab, the Exercise view's, takes its place at 80 columns.
fn brand(app: &App, width: u16) -> &'static str {
    let tabs: usize = (app.views().into_iter())
        .map(|v| tab_label(v).chars().count() + 1)
        .sum();
    // The last tab's padding and the space after it.
    let cuttable = 2;
    if BRAND.chars().count() + tabs <= usize::from(width) + cuttable {
        BRAND
    } else {
        ""
    }
}

/// `(view, first column, one past the last column)` of each tab the header offers.
fn tab_positions(app: &App, width: u16) -> Vec<(View, u16, u16)> {
    let mut x = brand(app, width).chars().count() as u16;
    app.views()
        .into_iter()
        .map(|view| {
            let width = tab_label(view).chars().count() as u16;
            let pos = (view, x, x + width);
            x += width + 1;
            pos
        })
        .collect()
}

/// The tab of `view`, with the number key that shows it.
fn tab_label(view: View) -> String {
    format!(" {} {} ", view.key(), view.title())
}

/// Each tab and the cells it covers in `header`, for the mouse.
pub fn tab_areas(app: &App, header: Rect) -> Vec<(View, Rect)> {
    tab_positions(app, header.width)
        .into_iter()
        .map(|(view, start, end)| (view, Rect::new(start, header.y, end - start, 1)))
        .collect()
}

pub fn draw_header(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::styled(brand(app, area.width), theme.title)];
    for view in app.views() {
        let style = if view == app.view {
            theme.selection
        } else {
            theme.dim
        };
        spans.push(Span::styled(tab_label(view), style));
        spans.push(Span::raw(" "));
    }
    let query = app.filter_query();
    if app.filter.editing || !query.is_empty() {
        let cursor = if app.filter.editing { "▏" } else { "" };
        spans.push(Span::styled(
            format!(" /{}{cursor}", clean(query)),
            theme.accent,
        ));
        if app.view == View::Fleet && app.visible.fleet_filter_unmatched {
            spans.push(Span::styled(" (no match)", theme.warning));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// What the console does not know or could not do, one line each, worst first.
pub fn banner_lines(app: &App) -> Vec<(Level, String)> {
    let mut lines = Vec::new();
    // The drill's newest inject or message: what the players must react to.
    if let Some(news) = app.exercise_banner() {
        lines.push((Level::Warning, format!("{news} (7: Exercise)")));
    }
    // A command waiting for a second operator, or the requester's answer: one of them acts.
    if let Some((level, news)) = app.approval_banner() {
        lines.push((level, news.to_string()));
    }
    for source in &app.sources {
        // The replay bar says what a replay's source shows and how old it is.
        if app.replay.as_ref().is_some_and(|r| r.source == source.name) {
            continue;
        }
        let freshness = source.freshness(app.now);
        // The age and the retry come first: long error texts are cut at the screen's edge.
        let data = match freshness {
            Freshness::NoData => "no data yet".to_string(),
            Freshness::Stale(a) => format!("data {} old", age(a)),
            Freshness::Fresh => continue,
        };
        let line = match &source.connection {
            Connection::Down {
                error,
                kind,
                retry_at,
            } => {
                let retry = match retry_at.saturating_duration_since(app.now) {
                    wait if wait.is_zero() => "retrying now".to_string(),
                    wait => format!("retry in {}", age(wait)),
                };
                // What kind of failure comes first: a refused login is not a lost network.
                (
                    Level::Error,
                    format!(
                        "✖ {}: {}, {data}, {retry}: {}",
                        source.name,
                        kind.headline(),
                        clean(error)
                    ),
                )
            }
            Connection::Connecting { attempt } => (
                Level::Warning,
                format!("◌ {} connecting (attempt {attempt}), {data}", source.name),
            ),
            Connection::Live => (
                Level::Warning,
                format!("? {} stale: no update, {data}", source.name),
            ),
        };
        lines.push(line);
    }
    // Long operations stay in view until they end: an operator must not forget one is running.
    for source in &app.sources {
        let running = source
            .snapshot
            .iter()
            .flat_map(|s| &s.operations)
            .filter(|o| o.state == OperationState::Running);
        for op in running {
            let eta = op
                .eta
                .map(|e| format!(", eta {}", e.format("%H:%M:%S")))
                .unwrap_or_default();
            lines.push((
                Level::Info,
                format!(
                    "⧗ {} {}: {}{eta} — {}",
                    clean(&op.kind),
                    clean(&op.target),
                    crate::format::pct(op.progress),
                    clean(&op.message)
                ),
            ));
        }
    }
    // A problem banner (e.g. the console runs on defaults) wraps rather than losing its
    // end; the hints name the key that dismisses it.
    lines.extend(
        app.problems
            .iter()
            .map(|p| (Level::Warning, format!("⚠ {}", clean(p)))),
    );
    if lines.len() > MAX_BANNERS {
        let hidden = lines.len() - (MAX_BANNERS - 1);
        lines.truncate(MAX_BANNERS - 1);
        lines.push((
            Level::Warning,
            format!("… and {hidden} more (see the timeline, key 3)"),
        ));
    }
    lines
}

/// The banners cut into rows of `width` characters: a long one continues on the next row
/// rather than losing its end.
fn banner_rows_at(app: &App, width: u16) -> Vec<(Level, String)> {
    let width = usize::from(width).max(1);
    banner_lines(app)
        .into_iter()
        .flat_map(|(level, text)| {
            let chars: Vec<char> = text.chars().collect();
            let rows: Vec<(Level, String)> = chars
                .chunks(width)
                .map(|row| (level, row.iter().collect()))
                .collect();
            rows
        })
        .collect()
}

/// Rows the banners take at `width`.
pub fn banner_rows(app: &App, width: u16) -> u16 {
    banner_rows_at(app, width).len() as u16
}

pub fn draw_banners(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = banner_rows_at(app, area.width)
        .into_iter()
        .map(|(level, text)| Line::styled(text, level_style(theme, level)))
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

pub fn level_style(theme: &Theme, level: Level) -> Style {
    match level {
        Level::Info => theme.text,
        Level::Warning => theme.warning,
        Level::Error => theme.error,
    }
}

pub fn draw_hints(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    if let Some(flash) = &app.flash {
        let line = Line::styled(
            format!(" {}", clean(&flash.text)),
            level_style(theme, flash.level),
        );
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let layer = app.top_layer();
    // Esc reaches the global layer from the views that do not bind it themselves.
    if !app.problems.is_empty() && matches!(layer, Layer::Global | Layer::Inbox) {
        spans.push(Span::styled(
            format!(" {}", keymap::keys_for(Layer::Global, Action::ClearFilter)),
            theme.warning,
        ));
        spans.push(Span::styled(" dismiss banner ", theme.warning));
    }
    let replay_keys = app.replay.is_some() && (layer == Layer::Global || layer.falls_through());
    let hints = if replay_keys {
        keymap::replay_hints(layer)
    } else {
        keymap::hints(layer, app.can_mutate())
    };
    for (keys, what) in hints {
        spans.push(Span::styled(format!(" {keys}"), theme.accent));
        spans.push(Span::styled(format!(" {what} "), theme.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub fn draw_status(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    if app.context.lab {
        spans.push(Span::styled(" LAB ", theme.accent.patch(theme.selection)));
    }
    spans.push(Span::styled(
        format!(" {} ", app.context.name),
        theme.status_bar,
    ));
    // A replay signs in to nothing: it says what it is instead of who the user is.
    let (who, style) = match (app.identity(), &app.replay) {
        (Some(who), _) => (
            format!(" {} ({}) ", clean(&who.name), who.role.word()),
            theme.status_bar,
        ),
        (None, Some(_)) => (
            format!(" {} ", super::replay::READ_ONLY_BADGE),
            theme.warning,
        ),
        (None, None) => (" identity unknown ".to_string(), theme.status_bar),
    };
    if app.context.read_only && app.replay.is_none() {
        spans.push(Span::styled(" READ-ONLY ", theme.warning));
    }
    spans.push(Span::styled(who, style));
    if let Some(exercise) = &app.exercise {
        let drill = format!(
            " EXERCISE {} {} {} ",
            clean(&exercise.state.scenario),
            protocol::exercise::clock_label(exercise.clock_s(app.now)),
            exercise.state.phase.word()
        );
        spans.push(Span::styled(drill, theme.accent.patch(theme.selection)));
    }
    for source in &app.sources {
        let (text, style) = match (&source.connection, source.freshness(app.now)) {
            // No revision number: it moves with every event, also the clock-only ones of a
            // quiet fleet, and tells the operator nothing "live" does not.
            (Connection::Live, Freshness::Fresh) if app.replay.is_some() => {
                (format!(" ● {} recorded ", source.name), theme.health_ok)
            }
            (Connection::Live, Freshness::Fresh) => {
                (format!(" ● {} live ", source.name), theme.health_ok)
            }
            (Connection::Down { kind, .. }, _) => (
                format!(" ✖ {} {} ", source.name, kind.short()),
                theme.health_down,
            ),
            (Connection::Connecting { .. }, _) => (
                format!(" ◌ {} connecting ", source.name),
                theme.health_unknown,
            ),
            (Connection::Live, _) => (format!(" ? {} stale ", source.name), theme.stale),
        };
        spans.push(Span::styled(text, style));
    }
    let open = app.inbox.open_count();
    if open > 0 {
        spans.push(Span::styled(format!(" ✉ {open} "), theme.status_bar));
        let near = app.inbox.p1_near_breach(&app.source_clocks());
        if near > 0 {
            spans.push(Span::styled(format!(" ! {near} P1 "), theme.error));
        }
    }
    let waiting = app.approvals.waiting();
    if waiting > 0 {
        spans.push(Span::styled(
            format!(" ⚖ {waiting} waiting "),
            theme.warning,
        ));
    }
    if let Some(progress) = load_progress(app) {
        spans.push(Span::styled(progress, theme.status_bar));
    }
    let lab_seed = app
        .sources
        .iter()
        .find_map(|s| s.lab())
        .map(|lab| format!(" seed {} ", lab.seed));
    let (source_clocks, utc) = clocks(app);
    // The clocks of the sources outrank the wall clock, and that the seed, when the bar is short.
    let used: usize = spans.iter().map(|s| s.width()).sum::<usize>() + width(&source_clocks);
    let mut optional = [Some(utc), lab_seed];
    for last in (0..optional.len()).rev() {
        if used + optional_width(&optional) <= usize::from(area.width) {
            break;
        }
        optional[last] = None;
    }
    let [utc, lab_seed] = optional;
    if let Some(seed) = lab_seed {
        spans.push(Span::styled(seed, theme.dim));
    }
    let right: Vec<String> = source_clocks.into_iter().chain(utc).collect();
    let used: usize = spans.iter().map(|s| s.width()).sum::<usize>() + width(&right);
    let pad = usize::from(area.width).saturating_sub(used);
    spans.push(Span::styled(" ".repeat(pad), theme.status_bar));
    spans.extend(right.into_iter().map(|c| Span::styled(c, theme.status_bar)));
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.status_bar),
        area,
    );
}

/// How far the inbox loads are, e.g. ` loading 34,000/100,000 ` (escalations), once known.
fn load_progress(app: &App) -> Option<String> {
    let loads: Vec<_> = (0..app.sources.len())
        .map(|i| app.inbox.source_load(i))
        .filter(|load| load.loading)
        .collect();
    if loads.is_empty() {
        return None;
    }
    let received: u64 = loads.iter().map(|load| load.received).sum();
    // Said once every loading source has told how long its list is (with its first page);
    // until then the inbox says it is loading.
    let expected: u64 = loads
        .iter()
        .map(|load| load.expected)
        .sum::<Option<u64>>()?;
    // Short: on an 80-column bar it follows the identity, the sources and the open count.
    Some(format!(
        " loading {}/{} ",
        thousands(received),
        thousands(expected.max(received))
    ))
}

/// The clock of each source that runs its own time (a lab faster or slower than real time),
/// labelled with its name and speed, and the wall clock in UTC: the clock of the sources on
/// real time and of the console's own news.
fn clocks(app: &App) -> (Vec<String>, String) {
    let simulated = (0..app.sources.len())
        .filter(|&i| clock::runs_own_time(app, i))
        .map(|i| {
            format!(
                " {} {} ",
                clock::label(app, i),
                clock::time(app.source_clock(i))
            )
        })
        .collect();
    (simulated, format!(" {} UTC ", clock::time(app.wall)))
}

fn width(texts: &[String]) -> usize {
    texts.iter().map(|t| t.chars().count()).sum()
}

fn optional_width(texts: &[Option<String>]) -> usize {
    texts.iter().flatten().map(|t| t.chars().count()).sum()
}
