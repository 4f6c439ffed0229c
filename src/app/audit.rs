//! The audit log held by the console: merged from pages and events, one entry per id.

use super::{App, Effect, SourcedAudit};
use protocol::commands::AuditEntry;

impl App {
    /// Audit events are not replayed after a reconnection: once the log is shown, a new
    /// stream asks for every entry since the newest one held from this source.
    pub(super) fn refetch_audit(&self, source: &str) -> Option<Effect> {
        self.audit_requested.then(|| Effect::FetchAudit {
            source: source.to_string(),
            newer_than: self
                .audit
                .iter()
                .filter(|a| a.source == source)
                .map(|a| a.entry.id)
                .max(),
        })
    }

    pub(super) fn add_audit(&mut self, source: &str, entries: Vec<AuditEntry>) {
        for entry in entries {
            if !self
                .audit
                .iter()
                .any(|a| a.source == source && a.entry.id == entry.id)
            {
                self.audit.push(SourcedAudit {
                    source: source.to_string(),
                    entry,
                });
            }
        }
        self.audit.sort_by(|a, b| {
            b.entry
                .at
                .cmp(&a.entry.at)
                .then(b.entry.id.cmp(&a.entry.id))
        });
        self.audit.truncate(super::AUDIT_KEPT);
    }
}
