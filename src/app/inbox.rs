//! Escalated tasks as the console knows them: every summary from every source, the newest
//! revision of each kept (events may repeat after a stream resumes).

use std::collections::HashMap;

use super::App;
use crate::api::escalations::EscalationSummary;
use crate::sources::EscalationEvent;

#[derive(Default)]
pub struct Inbox {
    /// By `(source, escalation id)`.
    pub items: HashMap<(String, String), EscalationSummary>,
}

impl Inbox {
    /// Keeps `summary` unless a newer revision of it is already known.
    pub fn upsert(&mut self, source: &str, summary: EscalationSummary) {
        let key = (source.to_string(), summary.id.clone());
        match self.items.get(&key) {
            Some(known) if known.revision >= summary.revision => {}
            _ => {
                self.items.insert(key, summary);
            }
        }
    }
}

impl App {
    pub(super) fn on_escalation_event(&mut self, source: &str, event: EscalationEvent) {
        self.inbox.upsert(source, event.summary);
    }
}
