//! A region (or provider) that several protocol v1 sources report (two labs, a lab and a
//! native gateway) is one row of the matrix: its detail holds each source's facts under the
//! source's name and age, a source that is down or late greys only its own lines, and where
//! the live reports differ it is written out, never resolved silently.

use ratatui::style::Style;
use ratatui::text::Line;

use crate::app::{App, RegionRow};
use crate::domain::fleet::Freshness;
use crate::theme::Theme;
use protocol::sanitize::clean;
use protocol::{Health, Provider, Region};

/// The matrix's mark on a row or cell whose live reports disagree.
pub(super) const DISAGREE: (&str, &str) = ("≠", "sources disagree");

/// Each source's lines under its provenance; when several sources report it, a source that is
/// not live has its own lines greyed.
pub(super) fn each_source(
    app: &App,
    theme: &Theme,
    parts: Vec<(usize, Vec<Line<'static>>)>,
) -> Vec<Line<'static>> {
    // Alone, a late source's age is said on its line and everywhere else on screen.
    let several = parts.len() > 1;
    let mut lines = Vec::new();
    for (source, mut own) in parts {
        let source = app.source(source);
        lines.push(Line::from(super::provenance(app, theme, source)));
        if several && source.freshness(app.now) != Freshness::Fresh {
            own.iter_mut().for_each(|line| grey(line, theme.stale));
        }
        lines.extend(own);
    }
    lines
}

fn grey(line: &mut Line<'static>, stale: Style) {
    line.style = stale;
    line.spans.iter_mut().for_each(|span| span.style = stale);
}

/// The live reports of `row`'s region, with their source's name.
fn live_regions(app: &App, row: RegionRow) -> Vec<(&str, &Region)> {
    (app.region_reports(row).into_iter())
        .filter(|r| app.source(r.source).freshness(app.now) == Freshness::Fresh)
        .map(|r| (app.source(r.source).name.as_str(), app.region_at(r)))
        .collect()
}

/// The live reports of the provider `vendor` in `row`'s region, with their source's name.
fn live_providers<'a>(app: &'a App, row: RegionRow, vendor: &str) -> Vec<(&'a str, &'a Provider)> {
    (app.provider_reports(row, vendor).into_iter())
        .filter(|(source, _)| app.source(*source).freshness(app.now) == Freshness::Fresh)
        .map(|(source, p)| (app.source(source).name.as_str(), p))
        .collect()
}

/// Where the live reports of `row`'s region differ from the first: health, drained or not.
pub(super) fn region_disagreements(app: &App, row: RegionRow) -> Vec<String> {
    let reports = live_regions(app, row);
    let Some((first, ours)) = reports.first() else {
        return Vec::new();
    };
    let drained = |r: &Region| {
        if r.drain.is_some() {
            "drained"
        } else {
            "not drained"
        }
    };
    let id = clean(&ours.id);
    let mut said = Vec::new();
    for (name, theirs) in &reports[1..] {
        if let Some(text) = differ(ours.health, name, theirs.health, Health::word) {
            said.push(format!("≠ {first} says {id} is {text}"));
        }
        if let Some(text) = differ(ours, name, theirs, |r| drained(r)) {
            said.push(format!("≠ {first} says {id} is {text}"));
        }
    }
    said
}

/// Where the live reports of the provider differ from the first: health, breaker.
pub(super) fn provider_disagreements(app: &App, row: RegionRow, vendor: &str) -> Vec<String> {
    let reports = live_providers(app, row, vendor);
    let Some((first, ours)) = reports.first() else {
        return Vec::new();
    };
    let breaker = |p: &Provider| format!("breaker {}", p.breaker.state.word());
    let id = clean(&ours.id);
    let mut said = Vec::new();
    for (name, theirs) in &reports[1..] {
        if let Some(text) = differ(ours.health, name, theirs.health, Health::word) {
            said.push(format!("≠ {first} says {id} is {text}"));
        }
        if let Some(text) = differ(ours, name, theirs, |p| breaker(p)) {
            said.push(format!("≠ {first} says {text}"));
        }
    }
    said
}

/// `ok, lab-b says degraded: the sources disagree` when the two say different things.
fn differ<T, W: PartialEq + std::fmt::Display>(
    ours: T,
    name: &str,
    theirs: T,
    word: impl Fn(T) -> W,
) -> Option<String> {
    let (ours, theirs) = (word(ours), word(theirs));
    (ours != theirs).then(|| format!("{ours}, {name} says {theirs}: the sources disagree"))
}

/// The disagreements as lines of the detail pane.
pub(super) fn disagreement_lines(said: Vec<String>, theme: &Theme) -> Vec<Line<'static>> {
    said.into_iter()
        .map(|text| Line::styled(text, theme.warning))
        .collect()
}
