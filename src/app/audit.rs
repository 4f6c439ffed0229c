//! The audit log held by the console: merged from pages and events, one entry per id.

use super::{App, AuditRow, Effect, SourcedAudit};
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

    /// Merges entries into the log, one per id; the selection stays on the entry it was on
    /// while newer entries arrive above it.
    pub(super) fn add_audit(&mut self, source: &str, entries: Vec<AuditEntry>) {
        let selected = self.selected_audit_entry();
        self.merge_audit(source, entries);
        if let Some(row) =
            selected.and_then(|held| self.audit_view().iter().position(|row| held.is(row)))
        {
            self.selection.audit_row = row;
        }
    }

    fn selected_audit_entry(&self) -> Option<HeldRow> {
        Some(match self.audit_view().get(self.selection.audit_row)? {
            AuditRow::Local(sent) => HeldRow::Sent {
                id: sent.id,
                key: sent.key.clone(),
            },
            AuditRow::Silence(sent) => HeldRow::Silence {
                local_id: sent.order.local_id,
            },
            AuditRow::Server(audited) => HeldRow::Logged {
                source: audited.source.clone(),
                id: audited.entry.id,
            },
        })
    }

    fn merge_audit(&mut self, source: &str, entries: Vec<AuditEntry>) {
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

/// The audit row under the selection, found again after a merge; a command of this console
/// becomes the server's entry with its idempotency key once logged.
enum HeldRow {
    Sent { id: u64, key: Option<String> },
    Silence { local_id: u64 },
    Logged { source: String, id: u64 },
}

impl HeldRow {
    fn is(&self, row: &AuditRow) -> bool {
        match (self, row) {
            (HeldRow::Sent { id, .. }, AuditRow::Local(sent)) => sent.id == *id,
            (HeldRow::Sent { key, .. }, AuditRow::Server(audited)) => {
                key.is_some() && audited.entry.idempotency_key == *key
            }
            (HeldRow::Logged { source, id }, AuditRow::Server(audited)) => {
                audited.source == *source && audited.entry.id == *id
            }
            (HeldRow::Silence { local_id }, AuditRow::Silence(sent)) => {
                sent.order.local_id == *local_id
            }
            _ => false,
        }
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
