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

mod catalogue;
mod lineage;
mod source;

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use self::catalogue::Catalogue;
use self::lineage::{Fault, Origin, RetriedPath};
use self::source::FleetWatch;
use super::topology::Topology;
use protocol::escalations::{
    AppliedResolution, EVENT_CLAIMED, EVENT_NEW, EVENT_RELEASED, EVENT_RESOLVED, Escalation,
    EscalationReason, EscalationState, EscalationSummary, HistoryAction, HistoryEntry, Lease,
    MAX_NOTE_BYTES, MAX_OUTPUT_BYTES, Priority, Resolution, ResolutionBrief, ResolveOutcome,
    ResolveRequest,
};
use protocol::{FleetSnapshot, Notice, Role};

/// Simulated seconds between an operator's retry and its result.
const RETRY_DELAY_S: std::ops::Range<i64> = 20..60;
/// Share of retries on a working path whose output still falls short (low confidence or a
/// validator), for tasks that did not escalate for lack of a path.
const RETRY_STILL_SHORT: f64 = 0.25;
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

struct Record {
    summary: EscalationSummary,
    origin: Origin,
    history: Vec<HistoryEntry>,
    applied: Option<AppliedResolution>,
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
            catalogue,
        };
        for (origin, created_at) in source::backlog(&queue.catalogue, seed, backlog, now) {
            queue.create(origin, created_at, false);
        }
        queue
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

    /// Ends every lease that ran out by `now`; each task goes back to pending.
    pub fn expire_leases(&mut self, now: DateTime<Utc>) {
        let now_ms = now.timestamp_millis();
        while let Some(&(expires_ms, seq)) = self.leases.first() {
            if expires_ms > now_ms {
                break;
            }
            self.leases.pop_first();
            let record = &mut self.records[seq as usize];
            let holder = record.summary.lease.take().map(|l| l.holder);
            record.summary.state = EscalationState::Pending;
            record.history.push(HistoryEntry {
                at: now,
                actor: "system".to_string(),
                action: HistoryAction::LeaseExpired,
                note: holder.map(|h| format!("{h}'s lease ran out")),
                assignee: None,
            });
            self.changed(seq, EVENT_RELEASED);
        }
    }

    pub fn list(&self, query: &ListQuery) -> Listed {
        let mut items = Vec::with_capacity(query.limit.min(self.records.len()));
        let mut last_taken = None;
        let mut more = false;
        let mut total = 0;
        let after = query.after.map(|c| (c.deadline_ms, c.seq));
        for &position in &self.by_deadline {
            let summary = &self.records[position.1 as usize].summary;
            if !matches(summary, query) {
                continue;
            }
            total += 1;
            if after.is_some_and(|after| position <= after) {
                continue;
            }
            if items.len() < query.limit {
                items.push(summary.clone());
                last_taken = Some(position);
            } else {
                more = true;
            }
        }
        let next = last_taken
            .filter(|_| more)
            .map(|(deadline_ms, seq)| Cursor { deadline_ms, seq });
        Listed { items, next, total }
    }

    pub fn detail(&self, id: &str) -> Option<Escalation> {
        let seq = self.seq_of(id)?;
        let record = &self.records[seq as usize];
        let chain = self.chain(seq);
        let built = lineage::build(&self.catalogue, &chain);
        Some(Escalation {
            summary: record.summary.clone(),
            context: built.context,
            candidates: built.candidates,
            confidence_threshold: built.confidence_threshold,
            checkpoint: built.checkpoint,
            idempotency_key: built.idempotency_key,
            lineage: built.lineage,
            follows: record
                .origin
                .retry
                .as_ref()
                .map(|r| self.records[r.follows as usize].summary.id.clone()),
            history: record.history.clone(),
            applied: record.applied.clone(),
        })
    }

    /// Claims a task for `who` for `lease_s` seconds, or renews their lease.
    pub fn claim(
        &mut self,
        id: &str,
        who: &str,
        lease_s: u64,
        now: DateTime<Utc>,
    ) -> Result<EscalationSummary, QueueError> {
        self.expire_leases(now);
        let seq = self.open_seq(id)?;
        let record = &mut self.records[seq as usize];
        let action = match &record.summary.lease {
            Some(lease) if lease.holder != who => {
                return Err(QueueError::Held {
                    holder: lease.holder.clone(),
                    expires_at: lease.expires_at,
                });
            }
            Some(_) => HistoryAction::Renewed,
            None => HistoryAction::Claimed,
        };
        let expires_at = now + TimeDelta::seconds(lease_s as i64);
        let claimed_at = record
            .summary
            .lease
            .as_ref()
            .map_or(now, |lease| lease.claimed_at);
        if let Some(old) = record.summary.lease.replace(Lease {
            holder: who.to_string(),
            claimed_at,
            expires_at,
        }) {
            self.leases
                .remove(&(old.expires_at.timestamp_millis(), seq));
        }
        record.summary.state = EscalationState::Claimed;
        record.history.push(HistoryEntry {
            at: now,
            actor: who.to_string(),
            action,
            note: None,
            assignee: None,
        });
        self.leases.insert((expires_at.timestamp_millis(), seq));
        Ok(self.changed(seq, EVENT_CLAIMED))
    }

    /// Gives a claimed task back; only its holder may.
    pub fn release(
        &mut self,
        id: &str,
        who: &str,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<EscalationSummary, QueueError> {
        self.expire_leases(now);
        let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.len() > MAX_NOTE_BYTES) {
            return Err(QueueError::Incomplete(format!(
                "the note is longer than {MAX_NOTE_BYTES} bytes"
            )));
        }
        let seq = self.open_seq(id)?;
        let record = &mut self.records[seq as usize];
        match &record.summary.lease {
            None => return Err(QueueError::NotClaimed),
            Some(lease) if lease.holder != who => {
                return Err(QueueError::Held {
                    holder: lease.holder.clone(),
                    expires_at: lease.expires_at,
                });
            }
            Some(_) => {}
        }
        self.drop_lease(seq);
        let record = &mut self.records[seq as usize];
        record.summary.state = EscalationState::Pending;
        record.history.push(HistoryEntry {
            at: now,
            actor: who.to_string(),
            action: HistoryAction::Released,
            note,
            assignee: None,
        });
        Ok(self.changed(seq, EVENT_RELEASED))
    }

    /// Applies `who`'s resolution, sent under Idempotency-Key `key`: a task is closed once.
    /// Replays of the same key are the caller's to answer (they never reach the queue).
    pub fn resolve(
        &mut self,
        id: &str,
        who: &str,
        key: &str,
        request: &ResolveRequest,
        now: DateTime<Utc>,
    ) -> Result<ResolveOutcome, QueueError> {
        let note = request.note.trim().to_string();
        if note.is_empty() {
            return Err(QueueError::Incomplete(
                "a note is required: say why, for the next person and the audit log".into(),
            ));
        }
        if note.len() > MAX_NOTE_BYTES {
            return Err(QueueError::Incomplete(format!(
                "the note is longer than {MAX_NOTE_BYTES} bytes"
            )));
        }
        self.expire_leases(now);
        let seq = self.open_seq(id)?;
        if let Some(lease) = &self.records[seq as usize].summary.lease
            && lease.holder != who
        {
            return Err(QueueError::Held {
                holder: lease.holder.clone(),
                expires_at: lease.expires_at,
            });
        }
        self.check_resolution(seq, who, &request.resolution)?;
        let applied = AppliedResolution {
            resolution: request.resolution.clone(),
            note,
            by: who.to_string(),
            at: now,
            idempotency_key: key.to_string(),
        };
        let consequence = self.apply(seq, &applied, now);
        Ok(ResolveOutcome {
            escalation: self.records[seq as usize].summary.clone(),
            applied,
            consequence,
        })
    }

    /// Refuses a resolution that names something that does not exist.
    fn check_resolution(
        &self,
        seq: u32,
        who: &str,
        resolution: &Resolution,
    ) -> Result<(), QueueError> {
        let candidate_exists = |candidate: &str| {
            lineage::build(&self.catalogue, &self.chain(seq))
                .candidates
                .iter()
                .any(|c| c.id == candidate)
        };
        match resolution {
            Resolution::Approve { candidate } if !candidate_exists(candidate) => Err(
                QueueError::Unprocessable(format!("no candidate {} to approve", echo(candidate))),
            ),
            Resolution::Submit { output, .. } if output.trim().is_empty() => Err(
                QueueError::Incomplete("the submitted output is empty".to_string()),
            ),
            Resolution::Submit { output, .. } if output.len() > MAX_OUTPUT_BYTES => {
                Err(QueueError::Incomplete(format!(
                    "the submitted output is longer than {MAX_OUTPUT_BYTES} bytes"
                )))
            }
            Resolution::Submit {
                based_on: Some(candidate),
                ..
            } if !candidate_exists(candidate) => Err(QueueError::Unprocessable(format!(
                "no candidate {} to base the output on",
                echo(candidate)
            ))),
            Resolution::Reject { reason } if reason.trim().is_empty() => Err(
                QueueError::Incomplete("a rejection needs a reason".to_string()),
            ),
            Resolution::Reject { reason } if reason.len() > MAX_NOTE_BYTES => Err(
                QueueError::Incomplete(format!("the reason is longer than {MAX_NOTE_BYTES} bytes")),
            ),
            Resolution::Retry {
                model,
                provider,
                region,
            } => self
                .retry_providers(
                    seq,
                    model.as_deref(),
                    provider.as_deref(),
                    region.as_deref(),
                )
                .map(drop),
            Resolution::Handoff { to } => {
                let Some((_, role)) = self.catalogue.operators.iter().find(|(name, _)| name == to)
                else {
                    return Err(QueueError::Unprocessable(format!(
                        "{} is not on the roster",
                        echo(to)
                    )));
                };
                if *role < Role::Operator {
                    Err(QueueError::Unprocessable(format!(
                        "{to} is a {}: only operators and admins can resolve escalations",
                        role.word()
                    )))
                } else if to == who {
                    Err(QueueError::Unprocessable(
                        "a hand-off goes to someone else; claim the task to keep it".to_string(),
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Providers a retry may use: those matching every part the operator set, the
    /// service's own paths first in the order its workflow tries them.
    fn retry_providers(
        &self,
        seq: u32,
        model: Option<&str>,
        provider: Option<&str>,
        region: Option<&str>,
    ) -> Result<Vec<u16>, QueueError> {
        let catalogue = &self.catalogue;
        let fits = |p: u16| {
            let p = &catalogue.providers[p as usize];
            model.is_none_or(|m| p.model == m)
                && provider.is_none_or(|v| p.vendor == v || p.id == v)
                && region.is_none_or(|r| p.region == r)
        };
        let profile = &catalogue.services[self.records[seq as usize].origin.service as usize];
        let own: Vec<u16> = profile.paths.iter().map(|p| p.provider).collect();
        let others = (0..catalogue.providers.len() as u16).filter(|p| !own.contains(p));
        let providers: Vec<u16> = own
            .iter()
            .copied()
            .chain(others)
            .filter(|p| fits(*p))
            .collect();
        if providers.is_empty() {
            let asked: Vec<String> = [("model", model), ("provider", provider), ("region", region)]
                .into_iter()
                .filter_map(|(name, value)| value.map(|v| format!("{name} {}", echo(v))))
                .collect();
            return Err(QueueError::Unprocessable(format!(
                "no provider of this fleet matches {}",
                asked.join(", ")
            )));
        }
        Ok(providers)
    }

    /// Changes the task as `applied` says, and tells what happens to the workflow.
    fn apply(&mut self, seq: u32, applied: &AppliedResolution, now: DateTime<Utc>) -> String {
        let (workflow_id, step, checkpoint) = {
            let summary = &self.records[seq as usize].summary;
            let steps_before = self.catalogue.services
                [self.records[seq as usize].origin.service as usize]
                .workflow
                .steps_before;
            (
                summary.workflow_id.clone(),
                summary.step.clone(),
                format!(
                    "ck-{} ({})",
                    steps_before.len(),
                    steps_before.last().map_or("start", |(name, _)| name)
                ),
            )
        };
        let who = applied.by.as_str();
        let (consequence, closes) = match &applied.resolution {
            Resolution::Handoff { to } => {
                self.drop_lease(seq);
                let record = &mut self.records[seq as usize];
                record.summary.state = EscalationState::Pending;
                record.summary.assignee = Some(to.clone());
                record.history.push(HistoryEntry {
                    at: now,
                    actor: who.to_string(),
                    action: HistoryAction::HandedOff,
                    note: Some(applied.note.clone()),
                    assignee: Some(to.clone()),
                });
                self.changed(seq, EVENT_RELEASED);
                return format!("handed to {to}; pending until they claim it");
            }
            Resolution::Approve { candidate } => (
                format!(
                    "{workflow_id} resumes from checkpoint {checkpoint} with candidate {candidate}, approved by {who}"
                ),
                EscalationState::Resolved,
            ),
            Resolution::Submit { based_on, .. } => (
                format!(
                    "{workflow_id} resumes from checkpoint {checkpoint} with {who}'s output{}",
                    based_on
                        .as_ref()
                        .map(|c| format!(" (edited from {c})"))
                        .unwrap_or_default()
                ),
                EscalationState::Resolved,
            ),
            Resolution::Reject { .. } => (
                format!(
                    "{step} of {workflow_id} rejected by {who}; the workflow takes its rejection path"
                ),
                EscalationState::Resolved,
            ),
            Resolution::Abort => (
                format!("{workflow_id} cancelled by {who}; the side effect of {step} never runs"),
                EscalationState::Aborted,
            ),
            Resolution::Retry {
                model,
                provider,
                region,
            } => {
                let providers = self
                    .retry_providers(
                        seq,
                        model.as_deref(),
                        provider.as_deref(),
                        region.as_deref(),
                    )
                    .expect("checked before applying");
                let via = self.catalogue.providers[providers[0] as usize].id.clone();
                let delay = TimeDelta::seconds(self.rng.random_range(RETRY_DELAY_S));
                self.retries.push(PendingRetry {
                    seq,
                    due: now + delay,
                    providers,
                    by: who.to_string(),
                    note: applied.note.clone(),
                });
                (
                    format!(
                        "{workflow_id} retries {step} via {via}; it completes or escalates again"
                    ),
                    EscalationState::Resolved,
                )
            }
        };
        self.drop_lease(seq);
        let record = &mut self.records[seq as usize];
        record.summary.state = closes;
        record.summary.resolution = Some(ResolutionBrief {
            by: who.to_string(),
            kind: applied.resolution.kind(),
            at: now,
        });
        record.applied = Some(applied.clone());
        record.history.push(HistoryEntry {
            at: now,
            actor: who.to_string(),
            action: if closes == EscalationState::Aborted {
                HistoryAction::Aborted
            } else {
                HistoryAction::Resolved
            },
            note: Some(applied.note.clone()),
            assignee: None,
        });
        self.changed(seq, EVENT_RESOLVED);
        self.notice(now, consequence.clone());
        consequence
    }

    /// Retries whose time has come either complete their workflow or escalate it again.
    fn report_retries(&mut self, fleet: &FleetSnapshot, now: DateTime<Utc>) {
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|r| r.due <= now);
        self.retries = waiting;
        for retry in due {
            let faults: Vec<Option<Fault>> = retry
                .providers
                .iter()
                .map(|&p| {
                    let provider = &self.catalogue.providers[p as usize];
                    source::provider_fault(&provider.id, &provider.region, fleet)
                })
                .collect();
            // The gateway takes the first matching provider that works, if any.
            let chosen = faults.iter().position(Option::is_none).unwrap_or(0);
            let provider = retry.providers[chosen];
            let first = &self.records[retry.seq as usize];
            let fault = faults[chosen];
            // Why the workflow first escalated: what a retry on a working path may fall
            // short of again.
            let reason = self.chain(retry.seq)[0].0.reason;
            let falls_short = fault.is_none()
                && reason != EscalationReason::PathsExhausted
                && self.rng.random_bool(RETRY_STILL_SHORT);
            let workflow_id = first.summary.workflow_id.clone();
            let via = self.catalogue.providers[provider as usize].id.clone();
            if fault.is_none() && !falls_short {
                self.notice(
                    now,
                    format!("{workflow_id}: retry via {via} succeeded; the workflow goes on"),
                );
                continue;
            }
            let origin = Origin {
                reason,
                service: first.origin.service,
                seed: self.rng.random(),
                faults: Box::new([]),
                retry: Some(Box::new(RetriedPath {
                    follows: retry.seq,
                    by: retry.by,
                    note: retry.note,
                    provider,
                    fault,
                })),
            };
            let seq = self.create(origin, now, true);
            let id = self.records[seq as usize].summary.id.clone();
            self.notice(
                now,
                format!(
                    "{workflow_id}: retry via {via} did not end the task; escalated again as {id}"
                ),
            );
        }
    }

    /// Adds an escalation; `announce` raises its `escalation.new` event.
    fn create(&mut self, origin: Origin, created_at: DateTime<Utc>, announce: bool) -> u32 {
        let seq = self.records.len() as u32;
        let sketch = {
            let mut chain = match &origin.retry {
                Some(retry) => self
                    .chain(retry.follows)
                    .into_iter()
                    .map(|(o, _)| o)
                    .collect(),
                None => Vec::new(),
            };
            chain.push(&origin);
            lineage::sketch(&self.catalogue, &chain)
        };
        let profile = &self.catalogue.services[origin.service as usize];
        let sla_deadline = created_at + lineage::sla(sketch.priority);
        let summary = EscalationSummary {
            id: format!("esc-{:06}", seq + 1),
            workflow_id: sketch.workflow_id,
            run_id: sketch.run_id,
            workflow_type: profile.workflow.workflow_type.to_string(),
            step: profile.workflow.step.to_string(),
            service: profile.id.clone(),
            priority: sketch.priority,
            sla_deadline,
            reason: sketch.reason,
            reason_text: sketch.reason_text,
            input_preview: sketch.input_preview,
            state: EscalationState::Pending,
            lease: None,
            resolution: None,
            // Whoever asked for the retry knows the task best.
            assignee: origin.retry.as_ref().map(|r| r.by.clone()),
            created_at,
            attempts: sketch.attempts,
            revision: 1,
        };
        self.by_deadline
            .insert((sla_deadline.timestamp_millis(), seq));
        self.records.push(Record {
            summary,
            origin,
            history: Vec::new(),
            applied: None,
        });
        if announce {
            let summary = self.records[seq as usize].summary.clone();
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
            chain.push((&record.origin, record.summary.created_at));
            at = record.origin.retry.as_ref().map(|r| r.follows);
        }
        chain.reverse();
        chain
    }

    /// The sequence number of an id such as `esc-000042`.
    fn seq_of(&self, id: &str) -> Option<u32> {
        let number: u32 = id.strip_prefix("esc-")?.parse().ok()?;
        let seq = number.checked_sub(1)?;
        let record = self.records.get(seq as usize)?;
        (record.summary.id == id).then_some(seq)
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
        match &record.applied {
            Some(applied) if record.summary.state.is_closed() => Err(QueueError::Closed {
                by: applied.by.clone(),
                resolution: applied.resolution.clone(),
                at: applied.at,
            }),
            _ => Ok(()),
        }
    }

    fn drop_lease(&mut self, seq: u32) {
        if let Some(lease) = self.records[seq as usize].summary.lease.take() {
            self.leases
                .remove(&(lease.expires_at.timestamp_millis(), seq));
        }
    }

    /// Counts a change of the task and raises its event; answers the task as it is now.
    fn changed(&mut self, seq: u32, event: &'static str) -> EscalationSummary {
        let summary = &mut self.records[seq as usize].summary;
        summary.revision += 1;
        let summary = summary.clone();
        self.events.push(QueueEvent {
            name: event,
            summary: summary.clone(),
        });
        summary
    }

    fn notice(&mut self, at: DateTime<Utc>, text: String) {
        self.notices.push(Notice {
            at,
            text: format!("{} {text}", at.format("%H:%M:%S")),
        });
    }
}

fn matches(summary: &EscalationSummary, query: &ListQuery) -> bool {
    (query.states.is_empty() || query.states.contains(&summary.state))
        && (query.priorities.is_empty() || query.priorities.contains(&summary.priority))
        && (query.reasons.is_empty() || query.reasons.contains(&summary.reason))
        && query.service.as_ref().is_none_or(|s| &summary.service == s)
        && match &query.assignee {
            None => true,
            Some(AssigneeFilter::Nobody) => summary.assignee.is_none(),
            Some(AssigneeFilter::Named(name)) => summary.assignee.as_ref() == Some(name),
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
mod tests {
    use super::*;
    use crate::event_log::PublishedFleet;
    use crate::sim::Sim;
    use protocol::escalations::{AttemptOutcome, Candidate, StepOutcome};
    use protocol::{BreakerState, Health};

    fn total(queue: &EscalationQueue) -> u64 {
        queue
            .list(&ListQuery {
                limit: 1,
                ..ListQuery::default()
            })
            .total
    }

    fn epoch() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn queue(backlog: usize) -> EscalationQueue {
        EscalationQueue::new(&Topology::embedded_default(), 42, backlog, epoch())
    }

    /// The default fleet as published at its start.
    fn healthy_fleet() -> FleetSnapshot {
        let sim = Sim::new(Topology::embedded_default(), None, 42, epoch());
        let published = PublishedFleet::new(sim.view(), Vec::new(), sim.lab_info(1.0), sim.now());
        FleetSnapshot::clone(&published.snapshot())
    }

    /// `fleet` with `region` down, as the simulation publishes it.
    fn region_down(mut fleet: FleetSnapshot, region: &str) -> FleetSnapshot {
        for r in fleet.regions.iter_mut().filter(|r| r.id == region) {
            (r.health, r.error_rate) = (Health::Down, 1.0);
        }
        for service in &mut fleet.services {
            for replica in service.replicas.iter_mut().filter(|r| r.region == region) {
                replica.ready = false;
            }
        }
        fleet
    }

    fn breaker_open(mut fleet: FleetSnapshot, provider: &str) -> FleetSnapshot {
        for p in fleet.providers.iter_mut().filter(|p| p.id == provider) {
            p.breaker.state = BreakerState::Open;
        }
        fleet
    }

    fn first_with(queue: &EscalationQueue, reason: EscalationReason) -> Escalation {
        let listed = queue.list(&ListQuery {
            reasons: vec![reason],
            limit: 1,
            ..ListQuery::default()
        });
        queue.detail(&listed.items[0].id).unwrap()
    }

    fn request(resolution: Resolution) -> ResolveRequest {
        ResolveRequest {
            resolution,
            note: "checked the input by hand".to_string(),
        }
    }

    fn event_names(queue: &mut EscalationQueue) -> Vec<&'static str> {
        queue.take_events().iter().map(|e| e.name).collect()
    }

    #[test]
    fn a_claim_is_exclusive_renewable_and_runs_out() {
        let mut queue = queue(3);
        let now = epoch();
        let claimed = queue.claim("esc-000001", "bob", 300, now).unwrap();
        assert_eq!(claimed.state, EscalationState::Claimed);
        let lease = claimed.lease.clone().unwrap();
        assert_eq!(
            (lease.holder.as_str(), lease.expires_at),
            ("bob", now + TimeDelta::seconds(300))
        );
        assert_eq!(
            queue.claim("esc-000001", "alice", 300, now),
            Err(QueueError::Held {
                holder: "bob".into(),
                expires_at: lease.expires_at
            })
        );
        assert_eq!(
            queue.release("esc-000001", "alice", None, now),
            Err(QueueError::Held {
                holder: "bob".into(),
                expires_at: lease.expires_at
            })
        );
        // The holder renews: same claim, later expiry, a higher revision.
        let later = now + TimeDelta::seconds(200);
        let renewed = queue.claim("esc-000001", "bob", 300, later).unwrap();
        let renewed_lease = renewed.lease.clone().unwrap();
        assert_eq!(renewed_lease.claimed_at, now);
        assert_eq!(renewed_lease.expires_at, later + TimeDelta::seconds(300));
        assert!(renewed.revision > claimed.revision);
        assert_eq!(event_names(&mut queue), [EVENT_CLAIMED, EVENT_CLAIMED]);

        // Just before expiry it holds; at expiry it goes back to pending, by itself.
        queue.expire_leases(renewed_lease.expires_at - TimeDelta::milliseconds(1));
        assert!(queue.take_events().is_empty());
        queue.expire_leases(renewed_lease.expires_at);
        let events = queue.take_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].name, EVENT_RELEASED);
        assert_eq!(events[0].summary.state, EscalationState::Pending);
        assert_eq!(events[0].summary.lease, None);
        let detail = queue.detail("esc-000001").unwrap();
        let actions: Vec<HistoryAction> = detail.history.iter().map(|h| h.action).collect();
        assert_eq!(
            actions,
            [
                HistoryAction::Claimed,
                HistoryAction::Renewed,
                HistoryAction::LeaseExpired
            ]
        );
        // Now anyone may claim it; and only a holder can release.
        let after = renewed_lease.expires_at;
        assert_eq!(
            queue.release("esc-000001", "bob", None, after),
            Err(QueueError::NotClaimed)
        );
        queue.claim("esc-000001", "alice", 60, after).unwrap();
        let released = queue
            .release(
                "esc-000001",
                "alice",
                Some("  need the payments team  ".into()),
                after,
            )
            .unwrap();
        assert_eq!(released.state, EscalationState::Pending);
        let history = queue.detail("esc-000001").unwrap().history;
        assert_eq!(
            history.last().unwrap().note.as_deref(),
            Some("need the payments team")
        );
        assert!(matches!(
            queue.claim("esc-999999", "bob", 60, after),
            Err(QueueError::NotFound(_))
        ));
        assert!(matches!(
            queue.claim("esc-1", "bob", 60, after),
            Err(QueueError::NotFound(_))
        ));
    }

    #[test]
    fn a_task_is_resolved_once_and_the_loser_learns_who_and_how() {
        let mut queue = queue(60);
        let task = first_with(&queue, EscalationReason::LowConfidence);
        let id = task.summary.id.clone();
        let candidate = task.candidates[0].id.clone();
        let now = epoch();
        queue.claim(&id, "bob", 300, now).unwrap();
        let approve = request(Resolution::Approve {
            candidate: candidate.clone(),
        });
        assert!(matches!(
            queue.resolve(&id, "alice", "k-alice", &approve, now),
            Err(QueueError::Held { holder, .. }) if holder == "bob"
        ));
        let outcome = queue.resolve(&id, "bob", "k-bob", &approve, now).unwrap();
        assert_eq!(outcome.escalation.state, EscalationState::Resolved);
        assert_eq!(outcome.escalation.lease, None);
        assert_eq!(outcome.applied.idempotency_key, "k-bob");
        assert!(
            outcome.consequence.contains("resumes from checkpoint"),
            "{}",
            outcome.consequence
        );
        assert!(outcome.consequence.contains(&candidate));
        let brief = outcome.escalation.resolution.clone().unwrap();
        assert_eq!(
            (brief.by.as_str(), brief.kind),
            ("bob", approve.resolution.kind())
        );
        let notices = queue.take_notices();
        assert_eq!(notices.len(), 1);
        assert!(notices[0].text.contains(&task.summary.workflow_id));

        let closed = QueueError::Closed {
            by: "bob".into(),
            resolution: approve.resolution.clone(),
            at: now,
        };
        let later = now + TimeDelta::seconds(5);
        assert_eq!(
            queue.resolve(
                &id,
                "alice",
                "k-alice-2",
                &request(Resolution::Abort),
                later
            ),
            Err(closed.clone())
        );
        assert_eq!(queue.claim(&id, "alice", 60, later), Err(closed));
        assert_eq!(
            queue.detail(&id).unwrap().applied.unwrap().note,
            "checked the input by hand"
        );
        assert_eq!(
            event_names(&mut queue),
            [EVENT_CLAIMED, EVENT_RESOLVED],
            "refusals change nothing"
        );
    }

    #[test]
    fn resolutions_are_checked_against_what_the_task_and_fleet_have() {
        let mut queue = queue(60);
        let id = first_with(&queue, EscalationReason::ValidatorFailed)
            .summary
            .id;
        let now = epoch();
        let refused = |queue: &mut EscalationQueue, resolution: Resolution, note: &str| {
            let request = ResolveRequest {
                resolution,
                note: note.to_string(),
            };
            queue.resolve(&id, "bob", "k", &request, now).unwrap_err()
        };
        let abort = Resolution::Abort;
        assert!(matches!(
            refused(&mut queue, abort.clone(), "  "),
            QueueError::Incomplete(_)
        ));
        let long_note = "x".repeat(MAX_NOTE_BYTES + 1);
        assert!(matches!(
            refused(&mut queue, abort, &long_note),
            QueueError::Incomplete(_)
        ));
        let cases = [
            Resolution::Approve {
                candidate: "c99".into(),
            },
            Resolution::Submit {
                output: "fixed".into(),
                based_on: Some("c99".into()),
            },
            Resolution::Retry {
                model: None,
                provider: Some("nobody".into()),
                region: None,
            },
            Resolution::Retry {
                model: None,
                provider: Some("self-hosted".into()),
                region: Some("eu-west".into()),
            },
            Resolution::Handoff {
                to: "victor".into(),
            },
            Resolution::Handoff { to: "bob".into() },
            Resolution::Handoff {
                to: "mallory".into(),
            },
        ];
        for resolution in cases {
            let error = refused(&mut queue, resolution.clone(), "why");
            assert!(
                matches!(error, QueueError::Unprocessable(_)),
                "{resolution:?}: {error:?}"
            );
        }
        let empty = Resolution::Submit {
            output: " ".into(),
            based_on: None,
        };
        assert!(matches!(
            refused(&mut queue, empty, "why"),
            QueueError::Incomplete(_)
        ));
        let no_reason = Resolution::Reject {
            reason: String::new(),
        };
        assert!(matches!(
            refused(&mut queue, no_reason, "why"),
            QueueError::Incomplete(_)
        ));
        assert!(queue.take_events().is_empty());
        assert_eq!(
            queue.detail(&id).unwrap().summary.state,
            EscalationState::Pending
        );
    }

    #[test]
    fn a_hand_off_keeps_the_task_pending_for_its_new_assignee() {
        let mut queue = queue(5);
        let now = epoch();
        queue.claim("esc-000002", "bob", 300, now).unwrap();
        let handoff = ResolveRequest {
            resolution: Resolution::Handoff { to: "alice".into() },
            note: "alice knows this merchant".into(),
        };
        let outcome = queue
            .resolve("esc-000002", "bob", "k1", &handoff, now)
            .unwrap();
        assert_eq!(outcome.escalation.state, EscalationState::Pending);
        assert_eq!(outcome.escalation.assignee.as_deref(), Some("alice"));
        assert_eq!(
            (
                outcome.escalation.lease.as_ref(),
                outcome.escalation.resolution.as_ref()
            ),
            (None, None)
        );
        let last = queue.detail("esc-000002").unwrap().history.pop().unwrap();
        assert_eq!(last.action, HistoryAction::HandedOff);
        assert_eq!(last.assignee.as_deref(), Some("alice"));
        assert_eq!(last.note.as_deref(), Some("alice knows this merchant"));
        assert_eq!(event_names(&mut queue), [EVENT_CLAIMED, EVENT_RELEASED]);
        let mine = queue.list(&ListQuery {
            assignee: Some(AssigneeFilter::Named("alice".into())),
            limit: 10,
            ..ListQuery::default()
        });
        assert_eq!(mine.items.len(), 1);
        let unassigned = queue.list(&ListQuery {
            assignee: Some(AssigneeFilter::Nobody),
            limit: 10,
            ..ListQuery::default()
        });
        assert_eq!(unassigned.total, 4);
        // Still open: alice resolves it.
        let reject = request(Resolution::Reject {
            reason: "duplicate".into(),
        });
        let outcome = queue
            .resolve("esc-000002", "alice", "k2", &reject, now)
            .unwrap();
        assert_eq!(outcome.escalation.state, EscalationState::Resolved);
    }

    #[test]
    fn an_abort_closes_the_task_as_aborted() {
        let mut queue = queue(2);
        let outcome = queue
            .resolve(
                "esc-000001",
                "alice",
                "k",
                &request(Resolution::Abort),
                epoch(),
            )
            .unwrap();
        assert_eq!(outcome.escalation.state, EscalationState::Aborted);
        assert!(
            outcome.consequence.contains("cancelled"),
            "{}",
            outcome.consequence
        );
        assert_eq!(event_names(&mut queue), [EVENT_RESOLVED]);
    }

    #[test]
    fn a_retry_through_a_failing_path_escalates_again_with_a_longer_lineage() {
        let mut queue = queue(60);
        let first = first_with(&queue, EscalationReason::PathsExhausted);
        let id = first.summary.id.clone();
        let now = epoch();
        let retry = request(Resolution::Retry {
            model: None,
            provider: Some("anthropic".into()),
            region: Some("us-west".into()),
        });
        let outcome = queue.resolve(&id, "bob", "k", &retry, now).unwrap();
        assert!(
            outcome.consequence.contains("anthropic@us-west"),
            "{}",
            outcome.consequence
        );
        queue.take_events();
        let fleet = breaker_open(healthy_fleet(), "anthropic@us-west");
        queue.advance(&fleet, now + TimeDelta::seconds(5));
        assert_eq!(
            total(&queue),
            60,
            "the retry reports after a while, not at once"
        );
        let later = now + TimeDelta::seconds(RETRY_DELAY_S.end);
        queue.advance(&fleet, later);
        let again: Vec<QueueEvent> = queue
            .take_events()
            .into_iter()
            .filter(|e| e.summary.workflow_id == first.summary.workflow_id)
            .collect();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].name, EVENT_NEW);
        let second = queue.detail(&again[0].summary.id).unwrap();
        assert_eq!(second.follows.as_deref(), Some(id.as_str()));
        assert_eq!(second.summary.assignee.as_deref(), Some("bob"));
        assert_eq!(second.summary.reason, EscalationReason::PathsExhausted);
        assert!(
            second.summary.reason_text.contains("anthropic@us-west"),
            "{}",
            second.summary.reason_text
        );
        assert_eq!(second.summary.attempts, first.summary.attempts + 1);
        // The same workflow, its lineage extended by the operator's retry.
        assert_eq!(second.lineage.workflow_id, first.lineage.workflow_id);
        let attempts = |e: &Escalation| -> Vec<_> {
            e.lineage
                .steps
                .iter()
                .flat_map(|s| s.attempts.clone())
                .collect()
        };
        let (before, after) = (attempts(&first), attempts(&second));
        assert_eq!(after[..before.len()], before[..]);
        let retried = after.last().unwrap();
        assert_eq!(retried.provider.as_deref(), Some("anthropic@us-west"));
        assert_eq!(retried.outcome, AttemptOutcome::Error);
        assert_eq!(
            retried.parent.as_deref(),
            Some(before.last().unwrap().id.as_str())
        );
        assert!(
            retried
                .retry_reason
                .as_deref()
                .unwrap()
                .starts_with("bob asked for a retry")
        );
        assert!(
            queue
                .take_notices()
                .iter()
                .any(|n| n.text.contains("escalated again"))
        );
    }

    #[test]
    fn a_retry_through_a_working_path_lets_the_workflow_go_on() {
        let mut queue = queue(60);
        let id = first_with(&queue, EscalationReason::PathsExhausted)
            .summary
            .id;
        let retry = request(Resolution::Retry {
            model: Some("gpt-4o".into()),
            provider: None,
            region: None,
        });
        queue.resolve(&id, "bob", "k", &retry, epoch()).unwrap();
        queue.take_notices();
        queue.advance(
            &healthy_fleet(),
            epoch() + TimeDelta::seconds(RETRY_DELAY_S.end),
        );
        assert_eq!(total(&queue), 60);
        let notices = queue.take_notices();
        assert!(
            notices.iter().any(|n| n.text.contains("succeeded")),
            "{notices:?}"
        );
    }

    #[test]
    fn a_retry_on_a_working_path_may_still_fall_short_and_escalate_for_the_same_reason() {
        let mut queue = queue(300);
        let low = queue.list(&ListQuery {
            reasons: vec![EscalationReason::LowConfidence],
            limit: 300,
            ..ListQuery::default()
        });
        assert!(low.items.len() >= 20, "{}", low.items.len());
        let retry = request(Resolution::Retry {
            model: Some("claude-sonnet-4".into()),
            provider: None,
            region: None,
        });
        for (i, task) in low.items.iter().enumerate() {
            queue
                .resolve(&task.id, "alice", &format!("k{i}"), &retry, epoch())
                .unwrap();
        }
        queue.take_events();
        queue.take_notices();
        let due = epoch() + TimeDelta::seconds(RETRY_DELAY_S.end);
        queue.advance(&healthy_fleet(), due);
        let again = queue.take_events();
        let completed = queue
            .take_notices()
            .iter()
            .filter(|n| n.text.contains("succeeded"))
            .count();
        assert!(
            completed > again.len(),
            "{completed} completed, {} again",
            again.len()
        );
        assert!(!again.is_empty());
        for event in again {
            let escalation = queue.detail(&event.summary.id).unwrap();
            assert_eq!(escalation.summary.reason, EscalationReason::LowConfidence);
            assert_well_formed(&escalation);
            let retried = attempts_of(&escalation).pop().unwrap();
            assert_eq!(retried.outcome, AttemptOutcome::Ok);
            assert_eq!(retried.model.as_deref(), Some("claude-sonnet-4"));
            let offered = escalation
                .candidates
                .iter()
                .find(|c| c.attempt == retried.id)
                .unwrap();
            assert!(offered.confidence < escalation.confidence_threshold);
        }
    }

    fn attempts_of(escalation: &Escalation) -> Vec<&protocol::escalations::Attempt> {
        escalation
            .lineage
            .steps
            .iter()
            .flat_map(|s| &s.attempts)
            .collect()
    }

    /// What every lineage keeps to, whatever the reason.
    fn assert_well_formed(escalation: &Escalation) {
        let summary = &escalation.summary;
        let attempts = attempts_of(escalation);
        assert_eq!(attempts.len() as u32, summary.attempts, "{}", summary.id);
        let steps = &escalation.lineage.steps;
        assert_eq!(steps.last().unwrap().outcome, StepOutcome::Escalated);
        assert_eq!(steps.last().unwrap().name, summary.step);
        assert!(
            steps[..steps.len() - 1]
                .iter()
                .all(|s| s.outcome == StepOutcome::Completed)
        );
        assert_eq!(escalation.checkpoint.step, steps[steps.len() - 2].name);
        let mut seen = Vec::new();
        let mut previous_end = escalation.lineage.started_at;
        for attempt in &attempts {
            if let Some(parent) = &attempt.parent {
                assert!(
                    seen.contains(parent),
                    "{}: parent {parent} of {} comes first",
                    summary.id,
                    attempt.id
                );
            }
            assert!(
                attempt.started_at >= previous_end,
                "{}: attempts do not overlap",
                summary.id
            );
            previous_end = attempt.started_at + TimeDelta::milliseconds(attempt.duration_ms as i64);
            seen.push(attempt.id.clone());
            assert_eq!(
                attempt.error.is_some(),
                matches!(
                    attempt.outcome,
                    AttemptOutcome::Error | AttemptOutcome::Timeout
                )
            );
        }
        assert!(previous_end <= summary.created_at);
        assert!(escalation.checkpoint.at <= summary.created_at);
        assert!(summary.sla_deadline > summary.created_at);
        assert!(escalation.idempotency_key.starts_with(&summary.workflow_id));
        assert_eq!(escalation.lineage.workflow_id, summary.workflow_id);
        assert!(!summary.reason_text.is_empty() && !summary.input_preview.is_empty());
    }

    fn escalated_step(escalation: &Escalation) -> &[protocol::escalations::Attempt] {
        &escalation.lineage.steps.last().unwrap().attempts
    }

    #[test]
    fn every_reason_has_the_lineage_that_explains_it() {
        let queue = queue(400);
        let all = queue.list(&ListQuery {
            limit: 400,
            ..ListQuery::default()
        });
        assert_eq!(all.total, 400);
        let mut reasons_seen = BTreeSet::new();
        for summary in &all.items {
            let escalation = queue.detail(&summary.id).unwrap();
            assert_eq!(
                queue.detail(&summary.id).unwrap(),
                escalation,
                "derived the same way twice"
            );
            assert_well_formed(&escalation);
            reasons_seen.insert(summary.reason);
            let step = escalated_step(&escalation);
            let threshold = escalation.confidence_threshold;
            let failing = |c: &Candidate| c.verdicts.iter().any(|v| !v.passed);
            match summary.reason {
                EscalationReason::PathsExhausted => {
                    assert!(
                        step.iter().all(|a| a.error.is_some()),
                        "{}: every attempt failed",
                        summary.id
                    );
                    let paths: BTreeSet<(&str, &str)> = step
                        .iter()
                        .map(|a| (a.provider.as_deref().unwrap(), a.region.as_deref().unwrap()))
                        .collect();
                    assert!(paths.len() >= 2, "{}: {paths:?}", summary.id);
                    assert!(
                        step.iter()
                            .skip(1)
                            .all(|a| a.retry_reason.is_some() || a.failover_reason.is_some())
                    );
                    assert!(escalation.candidates.is_empty());
                }
                EscalationReason::ValidatorFailed => {
                    let rejected: Vec<_> = step
                        .iter()
                        .filter(|a| a.outcome == AttemptOutcome::Rejected)
                        .collect();
                    assert!(!rejected.is_empty());
                    assert!(
                        rejected
                            .iter()
                            .all(|a| a.verdicts.iter().any(|v| !v.passed))
                    );
                    assert!(
                        !escalation.candidates.is_empty()
                            && escalation.candidates.iter().all(failing)
                    );
                }
                EscalationReason::LowConfidence => {
                    assert!(!escalation.candidates.is_empty());
                    assert!(
                        escalation
                            .candidates
                            .iter()
                            .all(|c| c.confidence < threshold),
                        "{}",
                        summary.id
                    );
                }
                EscalationReason::Policy => {
                    let candidate = &escalation.candidates[0];
                    assert!(candidate.confidence >= threshold);
                    assert!(
                        candidate
                            .verdicts
                            .iter()
                            .any(|v| v.validator.starts_with("policy:") && !v.passed)
                    );
                }
            }
        }
        assert_eq!(reasons_seen.len(), EscalationReason::ALL.len());
    }

    #[test]
    fn the_list_is_in_sla_order_filtered_and_paged_without_gaps() {
        let queue = queue(250);
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = queue.list(&ListQuery {
                after,
                limit: 100,
                ..ListQuery::default()
            });
            assert_eq!(page.total, 250);
            seen.extend(page.items);
            match page.next {
                Some(next) => after = Some(Cursor::decode(&next.encode()).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 250);
        assert!(
            seen.windows(2)
                .all(|w| w[0].sla_deadline <= w[1].sla_deadline)
        );
        let mut ids: Vec<&str> = seen.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 250);

        let query = ListQuery {
            priorities: vec![Priority::P1, Priority::P2],
            service: Some("credit-decision".into()),
            states: vec![EscalationState::Pending],
            limit: 1000,
            ..ListQuery::default()
        };
        let filtered = queue.list(&query);
        let expected = seen
            .iter()
            .filter(|s| s.service == "credit-decision" && s.priority <= Priority::P2)
            .count();
        assert!(expected > 0);
        assert_eq!(
            (filtered.items.len(), filtered.total),
            (expected, expected as u64)
        );
        assert_eq!(filtered.next, None);
        let claimed = queue.list(&ListQuery {
            states: vec![EscalationState::Claimed],
            limit: 10,
            ..ListQuery::default()
        });
        assert_eq!(claimed.total, 0);
        assert_eq!(Cursor::decode("nonsense"), None);
    }

    #[test]
    fn a_service_left_without_a_path_escalates_its_tasks_in_flight_once() {
        let mut queue = queue(0);
        let healthy = healthy_fleet();
        let down = region_down(healthy.clone(), "us-east");
        let start = epoch();
        queue.advance(&healthy, start);
        assert_eq!(total(&queue), 0);
        queue.advance(&down, start + TimeDelta::milliseconds(250));
        let burst = queue.take_events();
        assert!(burst.len() >= 2, "{}", burst.len());
        for event in &burst {
            assert_eq!(event.name, EVENT_NEW);
            assert_eq!(
                (event.summary.service.as_str(), event.summary.reason),
                ("credit-decision", EscalationReason::PathsExhausted),
                "only credit-decision has nothing outside us-east"
            );
            let escalation = queue.detail(&event.summary.id).unwrap();
            assert_well_formed(&escalation);
            let step = escalated_step(&escalation);
            assert!(step.iter().all(|a| a.region.as_deref() == Some("us-east")));
            assert!(step.iter().all(|a| a.outcome == AttemptOutcome::Timeout));
        }
        // Still stranded: no second burst. Back, then stranded again: a new one.
        queue.advance(&down, start + TimeDelta::milliseconds(500));
        assert!(
            queue
                .take_events()
                .iter()
                .all(|e| e.summary.reason != EscalationReason::PathsExhausted)
        );
        queue.advance(&healthy, start + TimeDelta::milliseconds(750));
        queue.take_events();
        let breakers = ["anthropic@us-east", "openai@us-east", "self-hosted@us-east"]
            .into_iter()
            .fold(healthy.clone(), breaker_open);
        queue.advance(&breakers, start + TimeDelta::seconds(1));
        let second: Vec<QueueEvent> = queue.take_events();
        assert!(!second.is_empty());
        let escalation = queue.detail(&second[0].summary.id).unwrap();
        assert!(
            escalated_step(&escalation)
                .iter()
                .all(|a| a.error.as_ref().unwrap().non_retryable)
        );
    }

    #[test]
    fn traffic_brings_a_steady_deterministic_trickle_of_escalations() {
        let run = || {
            let mut queue = queue(0);
            let fleet = healthy_fleet();
            for second in 0..3600 {
                queue.advance(&fleet, epoch() + TimeDelta::seconds(second));
            }
            queue
                .take_events()
                .into_iter()
                .map(|e| e.summary)
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let count = |reason| first.iter().filter(|s| s.reason == reason).count();
        // About 23 tasks a second in the default fleet: tens of each per hour.
        assert!(
            (10..200).contains(&count(EscalationReason::ValidatorFailed)),
            "{}",
            count(EscalationReason::ValidatorFailed)
        );
        assert!((10..200).contains(&count(EscalationReason::LowConfidence)));
        assert!((1..100).contains(&count(EscalationReason::Policy)));
        assert_eq!(count(EscalationReason::PathsExhausted), 0);
    }

    #[test]
    fn the_same_seed_loads_the_same_backlog() {
        let summaries = |seed| {
            let queue = EscalationQueue::new(&Topology::embedded_default(), seed, 50, epoch());
            queue
                .list(&ListQuery {
                    limit: 50,
                    ..ListQuery::default()
                })
                .items
        };
        assert_eq!(summaries(42), summaries(42));
        assert_ne!(summaries(42), summaries(43));
    }
}
