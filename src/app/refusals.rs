//! Commands no source of the context can perform on a target, refused with the reason where
//! commands are prepared: said, never hidden. A target only a metrics source (Prometheus) or a
//! gateway (LiteLLM) reads is on screen like the others, but nothing here can drain it; a
//! context of nothing but such sources can act on nothing. Which system performs a command
//! a source *can* take (a protocol v1 source, or Patroni for its members) is
//! [`crate::domain::performer`]'s.

use super::{App, Level, PaletteState};
use crate::domain::command::{Target, Verb};
use crate::domain::fleet::SourceData;
use crate::domain::gateway;
use crate::keymap::{self, Action};

impl App {
    /// Why no source here can perform `verb` (any command: `None`) on `target_id` (none:
    /// whatever is chosen later): the context has only sources that read, or only such a
    /// source reads the target. `None` when a source that acts may have it, or nothing reads
    /// it (the caller says it is not in the fleet).
    pub fn read_only_refusal(&self, verb: Option<Verb>, target_id: Option<&str>) -> Option<String> {
        let reads_only = |s: &SourceData| s.measured.is_some();
        let is_gateway = |s: &SourceData| s.measured.as_ref().is_some_and(|m| m.gateway.is_some());
        let only_readers = !self.sources.is_empty() && self.sources.iter().all(reads_only);
        let context_refusal = || {
            if self.sources.iter().any(is_gateway) {
                return gateway_words(verb);
            }
            format!(
                "this context has only metrics sources: no source here can {} {}",
                verb_phrase(verb),
                target_id.unwrap_or("anything")
            )
        };
        // A command is refused in the context's words; a target alone (its detail) in its own.
        if only_readers && (verb.is_some() || target_id.is_none()) {
            return Some(context_refusal());
        }
        let id = target_id?;
        let acted_on = (self.sources.iter())
            .filter_map(|s| s.snapshot.as_ref())
            .any(|s| {
                s.regions.iter().any(|r| r.id == id)
                    || s.providers.iter().any(|p| p.id == id)
                    || s.services.iter().any(|x| x.id == id)
            });
        if acted_on {
            return None;
        }
        let reader = self.sources.iter().find(|s| {
            s.measured.as_ref().is_some_and(|m| {
                m.region(id).is_some()
                    || m.provider(id).is_some()
                    || (m.gateway.iter()).any(|g| g.routes.iter().any(|r| r.group == id))
            })
        });
        let Some(reader) = reader else {
            return only_readers.then(context_refusal);
        };
        if is_gateway(reader) && verb.is_some() {
            return Some(gateway_words(verb));
        }
        let system = if is_gateway(reader) {
            "LiteLLM"
        } else {
            "Prometheus"
        };
        Some(format!(
            "only {system} ({}) reads {id}: no source here can {} it",
            reader.name,
            verb_phrase(verb)
        ))
    }

    /// Says why `verb` cannot be done on `target_id`, if it cannot; true when it said so.
    pub(super) fn refused_as_read_only(
        &mut self,
        verb: Option<Verb>,
        target_id: Option<&str>,
    ) -> bool {
        match self.read_only_refusal(verb, target_id) {
            Some(why) => {
                self.flash(Level::Warning, why);
                true
            }
            None => false,
        }
    }

    /// The id of what is selected in the fleet or services view.
    pub(super) fn selected_id(&self) -> Option<String> {
        self.selected_target().map(|(_, target)| match target {
            Target::Region(id) | Target::Provider(id) | Target::Service(id) => id,
        })
    }

    /// The palette lists the commands no source here can perform on the selection with why,
    /// rather than hiding them.
    pub(super) fn note_read_only_refusals(&self, palette: &mut PaletteState) {
        let target = self.selected_id();
        for (action, keys) in keymap::palette_actions(true) {
            let Action::Run(verb) = action else {
                continue;
            };
            if let Some(why) = self.read_only_refusal(Some(verb), target.as_deref()) {
                palette.refuse(action, keys, why);
            }
        }
    }
}

/// A gateway's own words: what it lacks and what to do instead.
fn gateway_words(verb: Option<Verb>) -> String {
    verb.map_or_else(|| gateway::read_only().to_string(), gateway::refusal)
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
        Some(Verb::Standby) => "warm or cool a standby of",
        Some(Verb::Borrow) => "borrow a pool's replica into",
        Some(Verb::Return) => "give back a borrowed replica of",
    }
}
