//! The lab's append-only audit log: every command accepted or rejected, every timed control
//! that reverted by itself, every operation that ended. Bounded in memory: the oldest entries
//! go first. Pure, no I/O.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use protocol::commands::{AuditEntry, AuditOutcome, AuditPage, PreflightSeen};

/// Entries kept; older ones are dropped.
pub const AUDIT_KEPT: usize = 10_000;
/// The actor of expiries and of operations that end by themselves.
pub const SYSTEM_ACTOR: &str = "system";

/// An entry before the log numbers it.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub reason: String,
    pub idempotency_key: Option<String>,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
    /// The preflight the command's sender saw, as the command carried it.
    pub preflight: Option<PreflightSeen>,
}

/// Which entries `GET /v1/audit` wants.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditQuery {
    pub limit: usize,
    /// Only entries with a smaller id (older).
    pub before: Option<u64>,
    pub idempotency_key: Option<String>,
}

pub struct AuditLog {
    capacity: usize,
    entries: VecDeque<AuditEntry>,
    next_id: u64,
}

impl AuditLog {
    pub fn new(capacity: usize) -> AuditLog {
        AuditLog {
            capacity: capacity.max(1),
            entries: VecDeque::new(),
            next_id: 1,
        }
    }

    /// Numbers the record and appends it; ids only ever rise.
    pub fn append(&mut self, record: AuditRecord) -> AuditEntry {
        let entry = AuditEntry {
            id: self.next_id,
            at: record.at,
            actor: record.actor,
            action: record.action,
            target: record.target,
            reason: record.reason,
            idempotency_key: record.idempotency_key,
            outcome: record.outcome,
            detail: record.detail,
            preflight: record.preflight,
        };
        self.next_id += 1;
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry.clone());
        entry
    }

    /// The id of the latest entry (0 before the first).
    pub fn last_id(&self) -> u64 {
        self.next_id - 1
    }

    /// Every entry after `id`, oldest first; `None` when some of them are no longer kept.
    pub fn after(&self, id: u64) -> Option<Vec<AuditEntry>> {
        let oldest_kept = self.entries.front().map_or(self.next_id, |entry| entry.id);
        (id + 1 >= oldest_kept).then(|| {
            self.entries
                .iter()
                .filter(|entry| entry.id > id)
                .cloned()
                .collect()
        })
    }

    /// Matching entries, newest first, at most `limit`; `next_before` is set when older
    /// matching entries remain.
    pub fn page(&self, query: &AuditQuery) -> AuditPage {
        let mut matching = self.entries.iter().rev().filter(|entry| {
            query.before.is_none_or(|before| entry.id < before)
                && query
                    .idempotency_key
                    .as_ref()
                    .is_none_or(|key| entry.idempotency_key.as_ref() == Some(key))
        });
        let entries: Vec<AuditEntry> = matching.by_ref().take(query.limit).cloned().collect();
        let more = matching.next().is_some();
        AuditPage {
            next_before: entries.last().filter(|_| more).map(|entry| entry.id),
            entries,
        }
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
