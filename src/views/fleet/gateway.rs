//! What a gateway source (LiteLLM) says about the selected region or provider, under its
//! provenance and health line: each deployment as a breaker (open while cooled down, with
//! why and until when; unknown before any call) and what it spent, the routes through them
//! with their fallbacks, and a breaker the protocol v1 source reports otherwise, said as a
//! disagreement.

use chrono::{DateTime, Utc};
use ratatui::style::Style;
use ratatui::text::Line;

use crate::app::App;
use crate::domain::fleet::Freshness;
use crate::domain::gateway::{DeploymentState, GatewayDeployment, GatewayFacts};
use crate::theme::Theme;
use protocol::BreakerState;
use protocol::sanitize::clean;

/// The lines of `gateway` about `region` (or the provider `provider`); greyed unless `live`.
pub(super) fn lines(
    app: &App,
    theme: &Theme,
    gateway: &GatewayFacts,
    region: &str,
    provider: Option<&str>,
    live: bool,
) -> Vec<Line<'static>> {
    let grey = |style: Style| if live { style } else { theme.stale };
    let deployments: Vec<&GatewayDeployment> = gateway.deployments_of(region, provider).collect();
    let mut lines: Vec<Line<'static>> = deployments
        .iter()
        .flat_map(|d| {
            let (text, style) = deployment(theme, d, app.wall);
            let usage = crate::views::gateway_spend::usage_text(d);
            std::iter::once(Line::styled(text, grey(style)))
                .chain(usage.map(|text| Line::styled(text, grey(theme.dim))))
        })
        .collect();
    if let Some(id) = provider
        && live
        && let Some((source, theirs)) = native_breaker(app, id)
    {
        let ours: Vec<BreakerState> = deployments
            .iter()
            .filter_map(|d| d.breaker(app.wall))
            .collect();
        if !ours.is_empty() && !ours.contains(&theirs) {
            lines.push(Line::styled(
                format!(
                    "≠ {source} says breaker {}: the sources disagree",
                    theirs.word()
                ),
                theme.warning,
            ));
        }
    }
    for route in gateway.routes_through(&deployments) {
        let members: Vec<String> = (route.deployments.iter())
            .map(|id| {
                let mark = gateway
                    .deployments
                    .iter()
                    .find(|d| &d.id == id)
                    .map_or("?", |d| symbol(d.breaker(app.wall)));
                format!("{} {mark}", clean(id))
            })
            .collect();
        let mut text = format!(
            "route {} ({}): {}",
            clean(&route.group),
            clean(&gateway.routing_strategy),
            members.join(", ")
        );
        if !route.fallbacks.is_empty() {
            let fallbacks: Vec<String> = (route.fallbacks.iter())
                .map(|group| match route.served.get(group) {
                    Some(calls) => format!("{} (served {calls})", clean(group)),
                    None => clean(group).into_owned(),
                })
                .collect();
            text.push_str(&format!(" → fallback {}", fallbacks.join(" → ")));
        }
        lines.push(Line::styled(text, grey(theme.text)));
    }
    if !deployments.is_empty() {
        let fails = gateway
            .allowed_fails
            .map_or("?".to_string(), |n| n.to_string());
        let cooldown = gateway
            .cooldown_s
            .map_or("?".to_string(), |s| format!("{s:.0}s"));
        lines.push(Line::styled(
            format!("cooldown past allowed_fails {fails} a minute, for cooldown_time {cooldown}"),
            grey(theme.dim),
        ));
    }
    lines
}

/// One deployment as a breaker line: what it serves, its state, why and until when.
fn deployment(theme: &Theme, d: &GatewayDeployment, now: DateTime<Utc>) -> (String, Style) {
    let head = format!(
        "{} {} · {} → {}",
        symbol(d.breaker(now)),
        clean(&d.id),
        clean(&d.group),
        clean(&d.model)
    );
    let cause = d.cooldown.as_ref().map(|c| {
        let why = c
            .status
            .as_ref()
            .map_or("failures".to_string(), |s| format!("{}s", clean(s)));
        let until = c.until.map_or("cooldown_time unknown".to_string(), |u| {
            u.format("%H:%M:%S").to_string()
        });
        (why, until)
    });
    let (said, style) = match (d.breaker(now), cause) {
        (None, _) => (d.state.word().to_string(), theme.health_unknown),
        (Some(BreakerState::Open), Some((why, until))) => (
            format!("breaker open: cooled down after {why}, until {until} at the latest"),
            theme.breaker_open,
        ),
        (Some(BreakerState::HalfOpen), Some((why, until))) => (
            format!(
                "breaker half-open: cooled down after {why}, over since {until}; the next call \
                 tries it"
            ),
            theme.breaker_half_open,
        ),
        (Some(state), _) if d.state == DeploymentState::PartialOutage => (
            format!("breaker {}: some calls fail (partial outage)", state.word()),
            theme.health_degraded,
        ),
        (Some(state), _) => (
            format!("breaker {} ({})", state.word(), d.state.word()),
            if state == BreakerState::Closed {
                theme.health_ok
            } else {
                theme.breaker_open
            },
        ),
    };
    (format!("{head}: {said}"), style)
}

fn symbol(breaker: Option<BreakerState>) -> &'static str {
    match breaker {
        None => "?",
        Some(BreakerState::Closed) => "●",
        Some(BreakerState::Open) => "✖",
        Some(BreakerState::HalfOpen) => "◐",
    }
}

/// The breaker a live protocol v1 source reports for the provider `id`, with its name.
fn native_breaker<'a>(app: &'a App, id: &str) -> Option<(&'a str, BreakerState)> {
    app.sources
        .iter()
        .filter(|s| s.freshness(app.now) == Freshness::Fresh)
        .find_map(|s| {
            let provider = s.snapshot.as_ref()?.providers.iter().find(|p| p.id == id)?;
            Some((s.name.as_str(), provider.breaker.state))
        })
}

/// A gateway provider's cell in the matrix when a deployment's breaker is not closed: that
/// is what routing acts on, as for a protocol v1 provider.
pub(super) fn cell(
    gateway: &GatewayFacts,
    provider: &str,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    let breakers: Vec<BreakerState> = gateway
        .deployments_of("", Some(provider))
        .filter_map(|d| d.breaker(now))
        .collect();
    if breakers.contains(&BreakerState::Open) {
        Some("✖ open")
    } else if breakers.contains(&BreakerState::HalfOpen) {
        Some("◐ half")
    } else {
        None
    }
}
