//! The alerts that metrics sources (Alertmanager) match to a service by its label: the
//! services view marks the service `!` and lists them in its detail pane, each with its
//! source, since when it fires and, when silenced, until when and by whom.

use ratatui::text::Line;

use crate::app::App;
use crate::domain::fleet::Freshness;
use crate::theme::Theme;
use protocol::sanitize::clean;

/// Whether a live metrics source has an alert firing on service `id`.
pub fn service_marked(app: &App, id: &str) -> bool {
    app.sources
        .iter()
        .filter(|s| s.freshness(app.now) == Freshness::Fresh)
        .filter_map(|s| s.measured.as_ref())
        .any(|m| m.alerts_on_service(id).next().is_some())
}

/// One line per alert firing on service `id`, greyed when its source is not live.
pub fn service_lines(app: &App, theme: &Theme, id: &str) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (index, source) in app.sources.iter().enumerate() {
        let Some(measured) = &source.measured else {
            continue;
        };
        let live = source.freshness(app.now) == Freshness::Fresh;
        for alert in measured.alerts_on_service(id) {
            let silenced = app
                .silenced_note(index, alert)
                .map_or(String::new(), |note| format!(", {note}"));
            let stale = if live { "" } else { " · STALE" };
            lines.push(Line::styled(
                format!(
                    "! {} (source {}{stale}, firing since {}{silenced})",
                    clean(&alert.notice().text),
                    clean(&source.name),
                    alert.started_at.format("%H:%M:%S")
                ),
                if live { theme.warning } else { theme.stale },
            ));
        }
    }
    lines
}
