//! The audit log held by the console: merged from pages and events, one entry per id.

use chrono::{DateTime, Utc};

use super::{App, Effect, JournalHistory, JournaledAction, SentCommand, SentSilence, SourcedAudit};
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
            AuditRow::Journaled(action) => HeldRow::Journaled {
                entry_id: action.entry_id.clone(),
            },
            AuditRow::UnreadableJournal(_) => HeldRow::UnreadableJournal,
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

/// A row of the audit view: a command of this console the server has not logged yet, a
/// silence action of this console (Alertmanager logs none of ours), an action an earlier run
/// journaled (and no server logged), the journal's unreadable lines, or a server entry.
pub enum AuditRow<'a> {
    Local(&'a SentCommand),
    Silence(&'a SentSilence),
    Journaled(&'a JournaledAction),
    UnreadableJournal(&'a JournalHistory),
    Server(&'a SourcedAudit),
}

impl App {
    /// The audit view's rows: the journal's unreadable lines when it has any, this console's
    /// commands not yet in a server log, its silence actions and what earlier runs journaled
    /// (newest first), then the servers' entries.
    pub fn audit_view(&self) -> Vec<AuditRow<'_>> {
        let logged = |key: Option<&str>| {
            key.is_some_and(|k| {
                (self.audit.iter()).any(|a| a.entry.idempotency_key.as_deref() == Some(k))
            })
        };
        let mut local: Vec<(DateTime<Utc>, AuditRow)> = (self.sent.iter())
            .filter(|s| !logged(s.key.as_deref()))
            .map(|s| (s.at, AuditRow::Local(s)))
            .chain(
                self.sent_silences
                    .iter()
                    .map(|s| (s.at, AuditRow::Silence(s))),
            )
            .collect();
        let journaled = (self.journal.actions.iter())
            .filter(|a| !logged(Some(&a.key)))
            .map(|a| (a.at, AuditRow::Journaled(a)));
        // Earlier runs' first, so that reversed they come after this run's at one instant.
        local.splice(0..0, journaled);
        // Newest first; of two at one instant, the one sent later.
        local.reverse();
        local.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        let unreadable = (!self.journal.unreadable_lines.is_empty())
            .then_some(AuditRow::UnreadableJournal(&self.journal));
        (unreadable.into_iter())
            .chain(local.into_iter().map(|(_, row)| row))
            .chain(self.audit.iter().map(AuditRow::Server))
            .collect()
    }

    pub fn audit_rows(&self) -> usize {
        self.audit_view().len()
    }
}

/// The audit row under the selection, found again after a merge; a command of this console
/// becomes the server's entry with its idempotency key once logged.
enum HeldRow {
    Sent { id: u64, key: Option<String> },
    Silence { local_id: u64 },
    Journaled { entry_id: String },
    UnreadableJournal,
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
            (HeldRow::Journaled { entry_id }, AuditRow::Journaled(action)) => {
                action.entry_id == *entry_id
            }
            (HeldRow::UnreadableJournal, AuditRow::UnreadableJournal(_)) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
