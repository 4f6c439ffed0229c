//! Commands no source of the context can perform on a target, refused with the reason where
//! commands are prepared: said, never hidden (a region only a metrics source reads is on
//! screen like the others, but nothing here can drain it).

use super::App;
use crate::domain::command::Verb;

impl App {
    /// Why no source here can perform `verb` (any command: `None`) on `target_id`, when only
    /// a metrics or gateway source reads it; `None` when a source that acts has it, or nothing reads it.
    pub fn no_source_can(&self, target_id: &str, verb: Option<Verb>) -> Option<String> {
        let acted_on = self
            .sources
            .iter()
            .filter_map(|s| s.snapshot.as_ref())
            .any(|s| {
                s.regions.iter().any(|r| r.id == target_id)
                    || s.providers.iter().any(|p| p.id == target_id)
                    || s.services.iter().any(|x| x.id == target_id)
            });
        if acted_on {
            return None;
        }
        let reader = self.sources.iter().find(|s| {
            s.measured
                .as_ref()
                .is_some_and(|m| m.region(target_id).is_some() || m.provider(target_id).is_some())
        })?;
        // A gateway joins the merge as a metrics source does: name the system that reads it.
        let system = match reader.measured.as_ref().and_then(|m| m.gateway.as_ref()) {
            Some(_) => "LiteLLM",
            None => "Prometheus",
        };
        Some(format!(
            "only {system} ({}) reads {target_id}: no source here can {} it",
            reader.name,
            verb_phrase(verb)
        ))
    }
}

fn verb_phrase(verb: Option<Verb>) -> &'static str {
    match verb {
        None => "act on",
        Some(Verb::Drain) => "drain",
        Some(Verb::Undrain) => "undrain",
        Some(Verb::Breaker) => "change the breaker of",
        Some(Verb::Promote) => "promote a replica of",
        Some(Verb::Degrade) => "degrade",
        Some(Verb::Weights) => "set the weights of",
    }
}
