//! Reading the queue: pages of summaries in SLA order, filtered, with an opaque cursor, and
//! the detail of one task (its lineage derived afresh from its origins).

use std::ops::Bound;
use std::sync::{Mutex, PoisonError};

use super::record::id_of;
use super::{EscalationQueue, lineage};
use protocol::escalations::{
    Escalation, EscalationReason, EscalationState, EscalationSummary, Priority,
};
use serde::Serialize;

/// Filters and position of a list request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    /// Empty: any.
    pub states: Vec<EscalationState>,
    pub priorities: Vec<Priority>,
    pub reasons: Vec<EscalationReason>,
    pub service: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    /// Start after this position.
    pub after: Option<Cursor>,
    pub limit: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AssigneeFilter {
    Nobody,
    Named(String),
}

/// A position in the SLA order: opaque to clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    deadline_ms: i64,
    seq: u32,
}

impl Cursor {
    pub fn encode(self) -> String {
        format!("{:x}-{:x}", self.deadline_ms as u64, self.seq)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let (deadline, seq) = text.split_once('-')?;
        Some(Cursor {
            deadline_ms: u64::from_str_radix(deadline, 16).ok()? as i64,
            seq: u32::from_str_radix(seq, 16).ok()?,
        })
    }
}

/// One page of a list: the items, where the next page starts, and how many match in all.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    pub items: Vec<EscalationSummary>,
    pub next: Option<Cursor>,
    pub total: u64,
}

/// Room for one task of a written page (a backlog's tasks take ~540 bytes).
const WRITTEN_TASK_BYTES: usize = 640;

/// A [`protocol::escalations::EscalationPage`] borrowing its tasks from the queue.
#[derive(Serialize)]
struct WirePage<'a> {
    items: WireItems<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    total: u64,
    revision: u64,
}

struct WireItems<'a> {
    queue: &'a EscalationQueue,
    seqs: Vec<u32>,
}

impl Serialize for WireItems<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.seqs.iter().map(|&seq| self.queue.wire_summary(seq)))
    }
}

/// The last total counted, kept until the queue changes: the pages of one list all ask for
/// the same, and counting reads every task.
#[derive(Default)]
pub(super) struct CountedTotal(Mutex<Option<(ListQuery, u64, u64)>>);

impl EscalationQueue {
    /// A page: from just after the cursor, the tasks that match, in SLA order.
    pub fn list(&self, query: &ListQuery) -> Listed {
        let (seqs, next) = self.page_of(query);
        Listed {
            items: seqs.into_iter().map(|seq| self.summary(seq)).collect(),
            next,
            total: self.total(query),
        }
    }

    /// The page [`EscalationQueue::list`] gives, as the JSON of a [`protocol::escalations::EscalationPage`] at
    /// `revision` (what the list route sends), written straight from the tasks without
    /// building their summaries; and where the next page starts.
    pub fn write_page(&self, query: &ListQuery, revision: u64) -> (Vec<u8>, Option<Cursor>) {
        let (seqs, next) = self.page_of(query);
        let page = WirePage {
            items: WireItems { queue: self, seqs },
            next_cursor: next.map(Cursor::encode),
            total: self.total(query),
            revision,
        };
        let mut json = Vec::with_capacity(page.items.seqs.len() * WRITTEN_TASK_BYTES);
        serde_json::to_writer(&mut json, &page).expect("protocol types serialize to JSON");
        (json, next)
    }

    /// The tasks of a page, from just after the cursor, and where the next page starts.
    fn page_of(&self, query: &ListQuery) -> (Vec<u32>, Option<Cursor>) {
        let mut seqs = Vec::with_capacity(query.limit.min(self.records.len()));
        let mut last_taken = None;
        let mut more = false;
        let from = match query.after {
            Some(after) => Bound::Excluded((after.deadline_ms, after.seq)),
            None => Bound::Unbounded,
        };
        for &position in self.by_deadline.range((from, Bound::Unbounded)) {
            if !self.matches(&self.records[position.1 as usize], query) {
                continue;
            }
            if seqs.len() == query.limit {
                more = true;
                break;
            }
            seqs.push(position.1);
            last_taken = Some(position);
        }
        let next = last_taken
            .filter(|_| more)
            .map(|(deadline_ms, seq)| Cursor { deadline_ms, seq });
        (seqs, next)
    }

    /// How many tasks match `query`'s filters, on every page.
    fn total(&self, query: &ListQuery) -> u64 {
        let filters = ListQuery {
            after: None,
            limit: 0,
            ..query.clone()
        };
        let mut counted = self
            .counted
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((known, changes, total)) = &*counted
            && *known == filters
            && *changes == self.changes
        {
            return *total;
        }
        let total = self
            .records
            .iter()
            .filter(|record| self.matches(record, &filters))
            .count() as u64;
        *counted = Some((filters, self.changes, total));
        total
    }

    pub fn detail(&self, id: &str) -> Option<Escalation> {
        let seq = self.seq_of(id)?;
        let record = &self.records[seq as usize];
        let chain = self.chain(seq);
        let detail = lineage::derive_detail(&self.catalogue, &chain);
        Some(Escalation {
            summary: self.summary(seq),
            context: detail.context,
            candidates: detail.candidates,
            confidence_threshold: detail.confidence_threshold,
            checkpoint: detail.checkpoint,
            idempotency_key: detail.idempotency_key,
            lineage: detail.lineage,
            follows: record.origin.retry.as_ref().map(|r| id_of(r.follows)),
            history: record
                .hands()
                .map(|h| h.history.clone())
                .unwrap_or_default(),
            applied: record.applied().cloned(),
        })
    }
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;
