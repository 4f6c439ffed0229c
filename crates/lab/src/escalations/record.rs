//! A task as the queue keeps it: a hundred thousand of them must fit beside a console in a
//! small budget. A record holds what changes (state, revision, and what few tasks have: a
//! lease, an assignee, a resolution, a history) and what orders and filters the list
//! (priority, reason, when it escalated); its id derives from its sequence number, its
//! workflow, step and service are the catalogue's, and its texts (workflow and run ids, reason
//! text, input preview, attempt count) derive from its origins when a page or a detail asks.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::lineage::{self, Origin};
use super::{EscalationQueue, ListQuery};
use protocol::escalations::{
    AppliedResolution, EscalationReason, EscalationState, EscalationSummary, HistoryEntry, Lease,
    Priority, ResolutionBrief,
};

/// One escalated task.
pub(super) struct Record {
    pub origin: Origin,
    pub created_at: DateTime<Utc>,
    pub revision: u64,
    pub priority: Priority,
    pub reason: EscalationReason,
    pub state: EscalationState,
    /// `None` until someone acts on the task.
    hands: Option<Box<Hands>>,
}

/// What people did with a task: most tasks of a backlog have none of it.
#[derive(Default)]
pub(super) struct Hands {
    pub lease: Option<Lease>,
    pub resolution: Option<ResolutionBrief>,
    /// The operator it was handed to (or who asked for the retry it follows).
    pub assignee: Option<String>,
    pub history: Vec<HistoryEntry>,
    pub applied: Option<AppliedResolution>,
}

impl Record {
    pub fn new(
        origin: Origin,
        created_at: DateTime<Utc>,
        priority: Priority,
        reason: EscalationReason,
    ) -> Record {
        // Whoever asked for the retry knows the task best.
        let assignee = origin.retry.as_ref().map(|r| r.by.clone());
        Record {
            origin,
            created_at,
            revision: 1,
            priority,
            reason,
            state: EscalationState::Pending,
            hands: assignee.map(|assignee| {
                Box::new(Hands {
                    assignee: Some(assignee),
                    ..Hands::default()
                })
            }),
        }
    }

    pub fn sla_deadline(&self) -> DateTime<Utc> {
        self.created_at + lineage::sla(self.priority)
    }

    /// What people did with it, if anything.
    pub fn hands(&self) -> Option<&Hands> {
        self.hands.as_deref()
    }

    /// What people did with it, to change.
    pub fn hands_mut(&mut self) -> &mut Hands {
        self.hands.get_or_insert_default()
    }

    pub fn lease(&self) -> Option<&Lease> {
        self.hands().and_then(|h| h.lease.as_ref())
    }

    pub fn take_lease(&mut self) -> Option<Lease> {
        self.hands.as_mut().and_then(|h| h.lease.take())
    }

    pub fn assignee(&self) -> Option<&str> {
        self.hands().and_then(|h| h.assignee.as_deref())
    }

    pub fn applied(&self) -> Option<&AppliedResolution> {
        self.hands().and_then(|h| h.applied.as_ref())
    }
}

/// The id of the task with sequence number `seq`, e.g. `esc-000042` for 41.
pub(super) fn id_of(seq: u32) -> String {
    format!("esc-{:06}", seq as u64 + 1)
}

/// A task as the wire shows it, its texts derived afresh, the rest borrowed from the queue:
/// it serializes as the [`EscalationSummary`] that [`WireSummary::into_owned`] makes, so a
/// page of a list is written without building its summaries.
#[derive(Serialize)]
pub(super) struct WireSummary<'a> {
    id: String,
    workflow_id: String,
    run_id: String,
    workflow_type: &'static str,
    step: &'static str,
    service: &'a str,
    priority: Priority,
    #[serde(serialize_with = "protocol::wire_time::serialize")]
    sla_deadline: DateTime<Utc>,
    reason: EscalationReason,
    reason_text: String,
    input_preview: String,
    state: EscalationState,
    #[serde(skip_serializing_if = "Option::is_none")]
    lease: Option<&'a Lease>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<&'a ResolutionBrief>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assignee: Option<&'a str>,
    #[serde(serialize_with = "protocol::wire_time::serialize")]
    created_at: DateTime<Utc>,
    attempts: u32,
    revision: u64,
}

impl WireSummary<'_> {
    pub fn into_owned(self) -> EscalationSummary {
        EscalationSummary {
            id: self.id,
            workflow_id: self.workflow_id,
            run_id: self.run_id,
            workflow_type: self.workflow_type.to_string(),
            step: self.step.to_string(),
            service: self.service.to_string(),
            priority: self.priority,
            sla_deadline: self.sla_deadline,
            reason: self.reason,
            reason_text: self.reason_text,
            input_preview: self.input_preview,
            state: self.state,
            lease: self.lease.cloned(),
            resolution: self.resolution.cloned(),
            assignee: self.assignee.map(str::to_string),
            created_at: self.created_at,
            attempts: self.attempts,
            revision: self.revision,
        }
    }
}

impl EscalationQueue {
    /// The task as the wire shows it, its texts derived afresh from its origins.
    pub(super) fn summary(&self, seq: u32) -> EscalationSummary {
        self.wire_summary(seq).into_owned()
    }

    pub(super) fn wire_summary(&self, seq: u32) -> WireSummary<'_> {
        let record = &self.records[seq as usize];
        let chain: Vec<&Origin> = self.chain(seq).into_iter().map(|(o, _)| o).collect();
        let headline = lineage::headline(&self.catalogue, &chain);
        let profile = &self.catalogue.services[record.origin.service as usize];
        let hands = record.hands();
        WireSummary {
            id: id_of(seq),
            workflow_id: headline.workflow_id,
            run_id: headline.run_id,
            workflow_type: profile.workflow.workflow_type,
            step: profile.workflow.step,
            service: &profile.id,
            priority: record.priority,
            sla_deadline: record.sla_deadline(),
            reason: record.reason,
            reason_text: headline.reason_text,
            input_preview: headline.input_preview,
            state: record.state,
            lease: hands.and_then(|h| h.lease.as_ref()),
            resolution: hands.and_then(|h| h.resolution.as_ref()),
            assignee: hands.and_then(|h| h.assignee.as_deref()),
            created_at: record.created_at,
            attempts: headline.attempts,
            revision: record.revision,
        }
    }

    /// The workflow id of a task (its first origin's), without the rest of its headline.
    pub(super) fn workflow_id(&self, seq: u32) -> String {
        let root = self.chain(seq)[0].0;
        let workflow = self.catalogue.services[root.service as usize].workflow;
        lineage::workflow_id(workflow, root.seed)
    }

    /// Whether the task passes `query`'s filters.
    pub(super) fn matches(&self, record: &Record, query: &ListQuery) -> bool {
        (query.states.is_empty() || query.states.contains(&record.state))
            && (query.priorities.is_empty() || query.priorities.contains(&record.priority))
            && (query.reasons.is_empty() || query.reasons.contains(&record.reason))
            && query
                .service
                .as_ref()
                .is_none_or(|s| self.catalogue.services[record.origin.service as usize].id == *s)
            && match &query.assignee {
                None => true,
                Some(super::AssigneeFilter::Nobody) => record.assignee().is_none(),
                Some(super::AssigneeFilter::Named(name)) => record.assignee() == Some(name),
            }
    }
}
