//! The lab's escalation queue: tasks that exhausted every automated path wait here for a
//! person, who claims one (a lease), then resolves it exactly once.
//!
//! Pure and deterministic: time comes in as the simulated clock, and the events and notices
//! a change raises are collected for the server to publish ([`EscalationQueue::take_events`],
//! [`EscalationQueue::take_notices`]). Escalations come from the simulated fleet
//! ([`EscalationQueue::advance`]) and from a synthetic backlog loaded at start.
//!
//! Resolutions have consequences: an approved or submitted output resumes the workflow from
//! its checkpoint, a retry goes back to the workflow, which later completes or escalates
//! again with a longer lineage, depending on the health of the path chosen.
//!
//! This module holds the queue and how escalations are created; `lease` holds claims and
//! releases, `listing` the list and a task's detail, `resolution` resolutions and their
//! consequences. Where escalations come from is in `source`, what the simulated workflows
//! are in `catalogue`, and how a lineage derives from an escalation's origin in `lineage`.

mod catalogue;
mod lease;
mod lineage;
mod listing;
mod record;
mod resolution;
mod source;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use self::catalogue::Catalogue;
use self::lineage::Origin;
use self::record::{Record, id_of};
use self::source::FleetWatch;
use crate::topology::Topology;
use protocol::escalations::{EVENT_NEW, EscalationSummary, Resolution};
use protocol::{FleetSnapshot, Notice};

pub use listing::{AssigneeFilter, Cursor, ListQuery, Listed};

/// Longest text from a request repeated in an error.
const ECHO_LIMIT: usize = 80;

/// A change to publish on the event stream.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueEvent {
    /// One of the `EVENT_*` names of [`protocol::escalations`].
    pub name: &'static str,
    pub summary: EscalationSummary,
}

/// Why an action on the queue was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueError {
    NotFound(String),
    /// The request is incomplete: no note, an empty output (400).
    Incomplete(String),
    /// The request names something that does not exist or cannot be (422).
    Unprocessable(String),
    /// Someone else holds the task (409).
    Held {
        holder: String,
        expires_at: DateTime<Utc>,
    },
    /// The task is resolved or aborted already (409).
    Closed {
        by: String,
        resolution: Resolution,
        at: DateTime<Utc>,
    },
    /// A release of a task nobody holds (409).
    NotClaimed,
}

/// A retry sent back to its workflow; its result comes at `due`.
struct PendingRetry {
    seq: u32,
    due: DateTime<Utc>,
    /// Providers that match the operator's choice, preferred first.
    providers: Vec<u16>,
    by: String,
    note: String,
}

pub struct EscalationQueue {
    catalogue: Catalogue,
    records: Vec<Record>,
    /// (SLA deadline in ms, sequence number): the list order.
    by_deadline: BTreeSet<(i64, u32)>,
    /// (lease expiry in ms, sequence number) of claimed tasks.
    leases: BTreeSet<(i64, u32)>,
    retries: Vec<PendingRetry>,
    watch: FleetWatch,
    rng: ChaCha8Rng,
    events: Vec<QueueEvent>,
    notices: Vec<Notice>,
    /// Counts the tasks created and changed: what a list's total depends on.
    changes: u64,
    counted: listing::CountedTotal,
}

impl EscalationQueue {
    /// A queue for `topology`'s services and operators, holding a synthetic backlog of
    /// `backlog` pending escalations created over the hours before `now` (no events for them).
    pub fn new(topology: &Topology, seed: u64, backlog: usize, now: DateTime<Utc>) -> Self {
        let catalogue = Catalogue::new(topology);
        let mut queue = EscalationQueue {
            watch: FleetWatch::new(seed, catalogue.services.len()),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x7e50_1ed0_0000_0001),
            records: Vec::with_capacity(backlog),
            by_deadline: BTreeSet::new(),
            leases: BTreeSet::new(),
            retries: Vec::new(),
            events: Vec::new(),
            notices: Vec::new(),
            changes: 0,
            counted: listing::CountedTotal::default(),
            catalogue,
        };
        for (origin, created_at) in source::backlog(&queue.catalogue, seed, backlog, now) {
            queue.create(origin, created_at, false);
        }
        queue
    }

    /// Counts the tasks created and changed: a page written from the queue holds while this
    /// stays the same.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Events raised since the last call, in order.
    pub fn take_events(&mut self) -> Vec<QueueEvent> {
        std::mem::take(&mut self.events)
    }

    /// Notices (consequences for workflows) raised since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// Moves the queue to `now` with the fleet as published: leases expire, retries report
    /// back, and tasks escalate from what the fleet does.
    pub fn advance(&mut self, fleet: &FleetSnapshot, now: DateTime<Utc>) {
        self.expire_leases(now);
        self.report_retries(fleet, now);
        for origin in self.watch.observe(&self.catalogue, fleet, now) {
            self.create(origin, now, true);
        }
    }

    /// Raises `count` escalations at once `now` (an exercise inject): for the service of
    /// topology index `service`, or for any. Each is announced like any other.
    pub fn burst(&mut self, service: Option<usize>, count: usize, now: DateTime<Utc>) {
        for origin in self.watch.burst(&self.catalogue, service, count) {
            self.create(origin, now, true);
        }
    }

    /// Adds an escalation; `announce` raises its `escalation.new` event.
    fn create(&mut self, origin: Origin, created_at: DateTime<Utc>, announce: bool) -> u32 {
        let seq = self.records.len() as u32;
        let (priority, reason) = {
            let mut chain = match &origin.retry {
                Some(retry) => self
                    .chain(retry.follows)
                    .into_iter()
                    .map(|(o, _)| o)
                    .collect(),
                None => Vec::new(),
            };
            chain.push(&origin);
            lineage::rank(&self.catalogue, &chain)
        };
        let record = Record::new(origin, created_at, priority, reason);
        self.by_deadline
            .insert((record.sla_deadline().timestamp_millis(), seq));
        self.changes += 1;
        self.records.push(record);
        if announce {
            let summary = self.summary(seq);
            self.events.push(QueueEvent {
                name: EVENT_NEW,
                summary,
            });
        }
        seq
    }

    /// The origins of a task's workflow up to this escalation, oldest first, with the time
    /// each escalated.
    fn chain(&self, seq: u32) -> Vec<(&Origin, DateTime<Utc>)> {
        let mut chain = Vec::new();
        let mut at = Some(seq);
        while let Some(seq) = at {
            let record = &self.records[seq as usize];
            chain.push((&record.origin, record.created_at));
            at = record.origin.retry.as_ref().map(|r| r.follows);
        }
        chain.reverse();
        chain
    }

    /// The sequence number of an id such as `esc-000042`.
    fn seq_of(&self, id: &str) -> Option<u32> {
        let number: u32 = id.strip_prefix("esc-")?.parse().ok()?;
        let seq = number.checked_sub(1)?;
        self.records.get(seq as usize)?;
        (id_of(seq) == id).then_some(seq)
    }

    /// The sequence number of a task that is neither resolved nor aborted.
    fn open_seq(&self, id: &str) -> Result<u32, QueueError> {
        let seq = self
            .seq_of(id)
            .ok_or_else(|| QueueError::NotFound(format!("no escalation {}", echo(id))))?;
        self.check_open(seq)?;
        Ok(seq)
    }

    fn check_open(&self, seq: u32) -> Result<(), QueueError> {
        let record = &self.records[seq as usize];
        match record.applied() {
            Some(applied) if record.state.is_closed() => Err(QueueError::Closed {
                by: applied.by.clone(),
                resolution: applied.resolution.clone(),
                at: applied.at,
            }),
            _ => Ok(()),
        }
    }

    /// Counts a change of the task and raises its event; answers the task as it is now.
    fn changed(&mut self, seq: u32, event: &'static str) -> EscalationSummary {
        self.records[seq as usize].revision += 1;
        self.changes += 1;
        let summary = self.summary(seq);
        self.events.push(QueueEvent {
            name: event,
            summary: summary.clone(),
        });
        summary
    }

    fn notice(&mut self, at: DateTime<Utc>, text: String) {
        self.notices.push(Notice { at, text });
    }
}

/// Text from a request, shortened to repeat it in an error.
fn echo(text: &str) -> String {
    if text.len() <= ECHO_LIMIT {
        return format!("{text:?}");
    }
    let mut end = ECHO_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &text[..end])
}

#[cfg(test)]
mod answers_tests;
#[cfg(test)]
mod tests;
