//! What earlier runs of this console sent, read from its journal at start: rows of the audit
//! view for the actions no server logs for us (Patroni promotions, Alertmanager silences,
//! Temporal resolutions) and for commands a protocol v1 source has not logged, each with how
//! it ended as far as the journal knows, updated as the start's recovery settles it.

use chrono::{DateTime, Utc};

use super::{App, Level};

/// The journal as read at start: this context's actions, and the lines it could not read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JournalHistory {
    /// Where the journal is, for the operator who wants to look.
    pub path: String,
    /// Oldest first.
    pub actions: Vec<JournaledAction>,
    /// 1-based numbers of the lines that do not parse (torn by a crash, or edited by hand).
    pub unreadable_lines: Vec<usize>,
}

/// An action an earlier run journaled before sending it.
#[derive(Clone, Debug, PartialEq)]
pub struct JournaledAction {
    /// The journal entry's id: recovery's results are matched to the row by it.
    pub entry_id: String,
    pub at: DateTime<Utc>,
    /// The URL of the system it went to.
    pub source: String,
    /// e.g. `promote (switchover)`, `silence create`, `drain`.
    pub verb: String,
    pub target: String,
    pub reason: String,
    pub key: String,
    /// Who the action said it came from, when the journal holds it (a silence's createdBy).
    pub operator: Option<String>,
    pub outcome: JournaledOutcome,
}

/// How a journaled action ended, in the journal's words.
#[derive(Clone, Debug, PartialEq)]
pub enum JournaledOutcome {
    /// Applied or accepted by the system it went to.
    Done(String),
    /// Refused, or it never reached the system.
    NotDone(String),
    /// Its fate is not known (no answer came, or the run stopped before it did).
    Unknown(String),
    /// Held by the source's two-person rule for a second operator.
    Held(String),
}

impl JournaledOutcome {
    pub fn words(&self) -> &str {
        match self {
            JournaledOutcome::Done(words)
            | JournaledOutcome::NotDone(words)
            | JournaledOutcome::Unknown(words)
            | JournaledOutcome::Held(words) => words,
        }
    }
}

impl App {
    /// Takes the journal's record of earlier runs as the audit view's own rows; lines that
    /// could not be read are said at once (and stay a row of the audit view).
    pub(super) fn journal_read(&mut self, history: JournalHistory) {
        if !history.unreadable_lines.is_empty() {
            let text = format!(
                "journal: {} ({}): what they held is not shown",
                unreadable_text(&history.unreadable_lines),
                history.path
            );
            self.log(None, Level::Warning, text);
        }
        self.journal = history;
    }

    /// What the start's recovery learnt of a journaled action.
    pub(super) fn journal_settled(&mut self, entry_id: &str, outcome: JournaledOutcome) {
        let action = (self.journal.actions.iter_mut()).find(|a| a.entry_id == entry_id);
        if let Some(action) = action {
            action.outcome = outcome;
        }
    }
}

/// `line 7 unreadable`, `lines 7, 9 unreadable`.
pub fn unreadable_text(lines: &[usize]) -> String {
    let numbers: Vec<String> = lines.iter().map(usize::to_string).collect();
    match numbers.as_slice() {
        [one] => format!("line {one} unreadable"),
        many => format!("lines {} unreadable", many.join(", ")),
    }
}
