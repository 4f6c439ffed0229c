//! What the metrics sources (Prometheus) read of a service's SLO: its target and window, the
//! burn rate of each alert window, the level they reach (page, ticket), the budget left and
//! when the 1 h burn spends it, under the source's name and the age of the read. A window
//! not read shows `?`; a source down or late greys its lines and says so.

use ratatui::text::Line;

use crate::app::App;
use crate::domain::fleet::{Freshness, SourceData};
use crate::domain::measured::{BurnLevel, BurnWindow, ServiceFacts};
use crate::format::{age, burn, pct, target};
use crate::theme::Theme;
use protocol::sanitize::clean;

/// The SLO lines of every metrics source that reads service `id`.
pub fn service_lines(app: &App, theme: &Theme, id: &str) -> Vec<Line<'static>> {
    let read = app.sources.iter().filter_map(|source| {
        let facts = source.measured.as_ref()?.service(id)?;
        Some((source, facts))
    });
    read.flat_map(|(source, facts)| lines(app, theme, source, facts, None))
        .collect()
}

/// The SLO lines of every service source `source` reads, each headed by its name.
pub fn source_lines(app: &App, theme: &Theme, source: &SourceData) -> Vec<Line<'static>> {
    let Some(measured) = &source.measured else {
        return Vec::new();
    };
    (measured.services.iter())
        .flat_map(|facts| lines(app, theme, source, facts, Some(&facts.service)))
        .collect()
}

fn lines(
    app: &App,
    theme: &Theme,
    source: &SourceData,
    facts: &ServiceFacts,
    named: Option<&str>,
) -> Vec<Line<'static>> {
    let live = source.freshness(app.now) == Freshness::Fresh;
    let grey = |style| if live { style } else { theme.stale };
    let name = named.map_or(String::new(), |n| format!("{} ", clean(n)));
    let head = format!(
        "{name}SLO {} over {} · {}",
        target(facts.slo.target),
        clean(&facts.window),
        super::metrics_source::provenance(app, source, facts.read_at())
    );
    let burns: Vec<String> = BurnWindow::ALL
        .into_iter()
        .map(|window| format!("{} {}", window.name(), burn(facts.burn_rate(window))))
        .collect();
    let level = facts.level();
    let (said, style) = match level {
        BurnLevel::Page => (
            format!("PAGE: 1h and 5m burn above {}x", facts.thresholds.page),
            theme.health_down,
        ),
        BurnLevel::Ticket => (
            format!("TICKET: 6h and 30m burn above {}x", facts.thresholds.ticket),
            theme.warning,
        ),
        BurnLevel::Quiet => ("no alert".to_string(), theme.health_ok),
        BurnLevel::Unknown => (
            "alert level unknown: a window was not read".to_string(),
            theme.health_unknown,
        ),
    };
    let mut budget = match facts.budget_left {
        Some(left) => format!("budget {} left", pct(left.value.max(0.0))),
        None => "budget left —".to_string(),
    };
    if let Some(seconds) = facts.exhausted_in_s() {
        let spent = std::time::Duration::from_secs_f64(seconds.clamp(0.0, 1e9));
        budget.push_str(&if seconds <= 0.0 {
            ", spent".to_string()
        } else {
            format!(", spent in {} at the 1h burn", age(spent))
        });
    }
    vec![
        Line::styled(head, grey(theme.dim)),
        Line::styled(format!("  burn {}", burns.join("  ")), grey(theme.text)),
        Line::styled(format!("  {said} · {budget}"), grey(style)),
    ]
}
