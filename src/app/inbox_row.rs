//! One inbox task in compact form: 100,000 of them must fit a console of 60 MB. Its texts
//! live in one allocation that is also the filter's haystack (shared with the matching
//! threads), names that repeat across tasks (workflow type, step, lease holder, assignee)
//! are interned, and what few tasks have (a lease, a resolution) is boxed.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use protocol::escalations::{
    EscalationReason, EscalationState, EscalationSummary, Lease, Priority, ResolutionBrief,
};

/// One shared copy of each repeated name.
#[derive(Default)]
pub struct Names {
    known: HashSet<Arc<str>>,
}

impl Names {
    pub fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(known) = self.known.get(name) {
            return known.clone();
        }
        let name: Arc<str> = name.into();
        self.known.insert(name.clone());
        name
    }
}

struct CompactLease {
    holder: Arc<str>,
    claimed_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// An [`EscalationSummary`] as the inbox keeps it; [`CompactSummary::expand`] gives it back.
pub struct CompactSummary {
    /// `id service reason reason_text input_preview` (the filter's text, see
    /// [`super::filter_text`]), then `workflow_id` and `run_id`.
    text: Arc<str>,
    id_end: u32,
    service_end: u32,
    reason_text_end: u32,
    filter_end: u32,
    workflow_id_end: u32,
    workflow_type: Arc<str>,
    step: Arc<str>,
    pub priority: Priority,
    pub reason: EscalationReason,
    pub state: EscalationState,
    pub sla_deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub revision: u64,
    lease: Option<Box<CompactLease>>,
    resolution: Option<Box<ResolutionBrief>>,
    assignee: Option<Arc<str>>,
}

fn end(text: &str) -> u32 {
    text.len() as u32
}

impl CompactSummary {
    pub fn new(summary: EscalationSummary, names: &mut Names) -> CompactSummary {
        let mut text = String::with_capacity(
            summary.id.len()
                + summary.service.len()
                + summary.reason_text.len()
                + summary.input_preview.len()
                + summary.workflow_id.len()
                + summary.run_id.len()
                + 24,
        );
        text.push_str(&summary.id);
        let id_end = end(&text);
        text.push(' ');
        text.push_str(&summary.service);
        let service_end = end(&text);
        text.push(' ');
        text.push_str(summary.reason.word());
        text.push(' ');
        text.push_str(&summary.reason_text);
        let reason_text_end = end(&text);
        text.push(' ');
        text.push_str(&summary.input_preview);
        let filter_end = end(&text);
        text.push_str(&summary.workflow_id);
        let workflow_id_end = end(&text);
        text.push_str(&summary.run_id);
        CompactSummary {
            text: text.into(),
            id_end,
            service_end,
            reason_text_end,
            filter_end,
            workflow_id_end,
            workflow_type: names.intern(&summary.workflow_type),
            step: names.intern(&summary.step),
            priority: summary.priority,
            reason: summary.reason,
            state: summary.state,
            sla_deadline: summary.sla_deadline,
            created_at: summary.created_at,
            attempts: summary.attempts,
            revision: summary.revision,
            lease: summary.lease.map(|lease| {
                Box::new(CompactLease {
                    holder: names.intern(&lease.holder),
                    claimed_at: lease.claimed_at,
                    expires_at: lease.expires_at,
                })
            }),
            resolution: summary.resolution.map(Box::new),
            assignee: summary.assignee.map(|name| names.intern(&name)),
        }
    }

    fn slice(&self, from: u32, to: u32) -> &str {
        &self.text[from as usize..to as usize]
    }

    pub fn id(&self) -> &str {
        self.slice(0, self.id_end)
    }

    /// What the filter searches, and the allocation that holds it (for the matching threads).
    pub fn filter_text(&self) -> (&Arc<str>, usize) {
        (&self.text, self.filter_end as usize)
    }

    /// The summary as the source sent it.
    pub fn expand(&self) -> EscalationSummary {
        let reason_text_start = self.service_end + 1 + self.reason.word().len() as u32 + 1;
        EscalationSummary {
            id: self.id().to_string(),
            workflow_id: self.slice(self.filter_end, self.workflow_id_end).into(),
            run_id: self.slice(self.workflow_id_end, end(&self.text)).into(),
            workflow_type: self.workflow_type.to_string(),
            step: self.step.to_string(),
            service: self.slice(self.id_end + 1, self.service_end).into(),
            priority: self.priority,
            sla_deadline: self.sla_deadline,
            reason: self.reason,
            reason_text: self.slice(reason_text_start, self.reason_text_end).into(),
            input_preview: self.slice(self.reason_text_end + 1, self.filter_end).into(),
            state: self.state,
            lease: self.lease.as_ref().map(|lease| Lease {
                holder: lease.holder.to_string(),
                claimed_at: lease.claimed_at,
                expires_at: lease.expires_at,
            }),
            resolution: self.resolution.as_deref().cloned(),
            assignee: self.assignee.as_deref().map(str::to_string),
            created_at: self.created_at,
            attempts: self.attempts,
            revision: self.revision,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::filter_text;
    use crate::testing::{escalation_queue, escalation_summaries, fixture_wall};
    use protocol::escalations::ResolutionKind;

    #[test]
    fn a_compact_summary_expands_to_what_the_source_sent_and_shares_repeated_names() {
        let mut names = Names::default();
        let mut all = escalation_summaries(&escalation_queue(5, 300));
        let mut odd = all[0].clone();
        odd.id = "esc 9 with spaces".into();
        odd.service = "zürich payments".into();
        odd.reason_text = String::new();
        odd.input_preview = "größe: \"ü\" ".into();
        odd.lease = Some(Lease {
            holder: "bob".into(),
            claimed_at: fixture_wall(),
            expires_at: fixture_wall(),
        });
        odd.resolution = Some(ResolutionBrief {
            by: "carol".into(),
            kind: ResolutionKind::Abort,
            at: fixture_wall(),
        });
        odd.assignee = Some("dave".into());
        all.push(odd);
        let compact: Vec<CompactSummary> = all
            .iter()
            .map(|s| CompactSummary::new(s.clone(), &mut names))
            .collect();
        for (summary, compact) in all.iter().zip(&compact) {
            assert_eq!(&compact.expand(), summary);
            assert_eq!(compact.id(), summary.id);
            let (text, filter_end) = compact.filter_text();
            assert_eq!(&text[..filter_end], filter_text(summary));
        }
        let types: HashSet<&str> = all.iter().map(|s| s.workflow_type.as_str()).collect();
        assert!(types.len() < all.len() / 10, "workflow types repeat");
        assert!(
            compact
                .windows(2)
                .filter(|w| all[0].workflow_type == *w[0].workflow_type)
                .all(|w| Arc::ptr_eq(&w[0].workflow_type, &compact[0].workflow_type)),
            "one shared copy of each"
        );
    }
}
