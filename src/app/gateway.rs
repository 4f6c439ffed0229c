//! A gateway source (a LiteLLM proxy) in the console: its reads join the merge as a metrics
//! source's facts do (its providers and regions, each with its source and age), its
//! cooldowns and fallbacks enter the timeline; what it cannot do is refused in `refusals.rs`.

use std::time::Duration;

use super::{App, Level};
use crate::domain::fleet::SourceData;
use crate::domain::gateway::GatewayFacts;
use crate::sources::prometheus::FleetFacts;

impl App {
    /// Adds a gateway source polled every `poll_interval`, after the protocol v1 sources;
    /// called by the runner before the first message.
    pub fn add_gateway_source(&mut self, name: &str, url: &str, poll_interval: Duration) {
        let mut source = SourceData::metrics(name, url, poll_interval);
        if let Some(measured) = &mut source.measured {
            measured.gateway = Some(GatewayFacts::default());
        }
        self.sources.push(source);
        self.refresh_visible();
    }

    /// A gateway's read: its providers and regions replace its last ones in the merge, and
    /// what changed since (a cooldown begun or over, a fallback serving) is told once.
    pub(super) fn on_gateway(&mut self, index: usize, read: GatewayFacts) {
        let name = self.sources[index].name.clone();
        let facts = FleetFacts {
            source: name.clone(),
            regions: read.regions(),
            providers: read.providers(),
            services: Vec::new(),
            failed: Vec::new(),
            unplaced: read.unplaced(),
        };
        self.on_measured(index, facts);
        let Some(measured) = self.sources[index].measured.as_mut() else {
            return;
        };
        let before = measured.gateway.replace(read);
        let (before, after) = (before.unwrap_or_default(), measured.gateway.as_ref());
        let news = after.map(|after| news(&before, after)).unwrap_or_default();
        for (level, text) in news {
            self.log(Some(&name), level, text);
        }
    }
}

/// What changed between two reads of a gateway, for the timeline.
fn news(before: &GatewayFacts, after: &GatewayFacts) -> Vec<(Level, String)> {
    let mut news = Vec::new();
    for deployment in &after.deployments {
        let held = before.deployments.iter().find(|d| d.id == deployment.id);
        let held_cooldown = held.and_then(|d| d.cooldown.as_ref());
        let place = deployment
            .provider_id()
            .unwrap_or_else(|| "no region".to_string());
        match (&deployment.cooldown, held_cooldown) {
            (Some(now), held) if held != Some(now) => {
                let why = now
                    .status
                    .as_ref()
                    .map_or("failures".to_string(), |s| format!("{s}s"));
                let until = now.until.map_or("its cooldown ends".to_string(), |u| {
                    format!("{} at the latest", u.format("%H:%M:%S"))
                });
                news.push((
                    Level::Warning,
                    format!(
                        "deployment {} ({place}) cooled down after {why}: the router sends it \
                         nothing until {until}",
                        deployment.id
                    ),
                ));
            }
            (None, Some(_)) => news.push((
                Level::Info,
                format!(
                    "✓ deployment {} ({place}) out of cooldown: {}",
                    deployment.id,
                    deployment.state.word()
                ),
            )),
            _ => {}
        }
    }
    for route in &after.routes {
        let held = before.routes.iter().find(|r| r.group == route.group);
        for (fallback, calls) in &route.served {
            let was = held.and_then(|r| r.served.get(fallback)).copied();
            if was.is_some_and(|was| was < *calls) || (was.is_none() && !before.routes.is_empty()) {
                news.push((
                    Level::Warning,
                    format!(
                        "model group {} served by its fallback {fallback}: {calls} calls since \
                         the proxy started",
                        route.group
                    ),
                ));
            }
        }
    }
    news
}
