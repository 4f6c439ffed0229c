//! The journal as the console reads it at start: what earlier runs sent in this context
//! becomes the audit view's own rows (a restart must not hide a promotion or a silence no
//! server logs for us), and the start's recovery updates them as it settles each.

use std::path::Path;

use crate::app::{JournalHistory, JournaledAction, JournaledOutcome};
use crate::journal::{Journal, Outcome, Record};

/// What earlier runs journaled in `context` (the latest `AUDIT_KEPT`), with how each ended as
/// far as the journal knows, and the lines of the journal at `path` that cannot be read.
pub fn read(journal: &Journal, context: &str, path: &Path) -> JournalHistory {
    let ours: Vec<&Record> = (journal.records().iter())
        .filter(|r| r.entry.context == context)
        .collect();
    let kept = &ours[ours.len().saturating_sub(crate::app::AUDIT_KEPT)..];
    JournalHistory {
        path: path.display().to_string(),
        actions: kept.iter().map(|record| action(record)).collect(),
        unreadable_lines: journal.unreadable_lines().to_vec(),
    }
}

fn action(record: &Record) -> JournaledAction {
    let entry = &record.entry;
    JournaledAction {
        entry_id: entry.id.clone(),
        at: entry.at,
        source: entry.source.clone(),
        verb: entry.command.verb.clone(),
        target: entry.command.target.clone(),
        reason: entry.reason.clone(),
        key: entry.idempotency_key.clone(),
        operator: super::silences::operator_of(entry),
        outcome: journaled_outcome(record.outcome.as_ref()),
    }
}

/// The journal's outcome as the audit view tells it; none journaled: the run that sent it
/// stopped before the answer came.
pub fn journaled_outcome(outcome: Option<&Outcome>) -> JournaledOutcome {
    match outcome {
        None => JournaledOutcome::Unknown(
            "outcome unknown: the run that sent it stopped before the answer".into(),
        ),
        Some(done @ (Outcome::Accepted { .. } | Outcome::Applied { .. })) => {
            JournaledOutcome::Done(done.describe())
        }
        Some(not_done @ (Outcome::Rejected { .. } | Outcome::NeverReceived)) => {
            JournaledOutcome::NotDone(not_done.describe())
        }
        Some(unknown @ Outcome::Unknown { .. }) => JournaledOutcome::Unknown(unknown.describe()),
        Some(held @ Outcome::Held { .. }) => JournaledOutcome::Held(held.describe()),
    }
}
