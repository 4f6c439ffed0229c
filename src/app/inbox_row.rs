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

#[derive(Clone)]
struct CompactLease {
    holder: Arc<str>,
    claimed_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// Who has or had a task: most tasks in a backlog have none of it.
#[derive(Clone)]
struct Hands {
    lease: Option<CompactLease>,
    resolution: Option<ResolutionBrief>,
    assignee: Option<Arc<str>>,
}

/// An [`EscalationSummary`] as the inbox keeps it; [`CompactSummary::expand`] gives it back.
#[derive(Clone)]
pub struct CompactSummary {
    /// `id service reason reason_text input_preview` (the filter's text, see
    /// [`super::filter_text`]), then `workflow_id` and `run_id`.
    text: Arc<str>,
    id_end: u32,
    service_end: u32,
    reason_text_end: u32,
    filter_end: u32,
    workflow_id_end: u32,
    /// The workflow type, then the step, interned together (few pairs repeat in a backlog).
    workflow_step: Arc<str>,
    workflow_type_end: u32,
    pub priority: Priority,
    pub reason: EscalationReason,
    pub state: EscalationState,
    pub sla_deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub revision: u64,
    hands: Option<Box<Hands>>,
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
        let lease = summary.lease.map(|lease| CompactLease {
            holder: names.intern(&lease.holder),
            claimed_at: lease.claimed_at,
            expires_at: lease.expires_at,
        });
        let assignee = summary.assignee.map(|name| names.intern(&name));
        let hands =
            (lease.is_some() || summary.resolution.is_some() || assignee.is_some()).then(|| {
                Box::new(Hands {
                    lease,
                    resolution: summary.resolution,
                    assignee,
                })
            });
        let workflow_type_end = end(&summary.workflow_type);
        let workflow_step = names.intern(&(summary.workflow_type + &summary.step));
        CompactSummary {
            text: text.into(),
            id_end,
            service_end,
            reason_text_end,
            filter_end,
            workflow_id_end,
            workflow_step,
            workflow_type_end,
            priority: summary.priority,
            reason: summary.reason,
            state: summary.state,
            sla_deadline: summary.sla_deadline,
            created_at: summary.created_at,
            attempts: summary.attempts,
            revision: summary.revision,
            hands,
        }
    }

    fn slice(&self, from: u32, to: u32) -> &str {
        &self.text[from as usize..to as usize]
    }

    pub fn id(&self) -> &str {
        self.slice(0, self.id_end)
    }

    /// The service that runs the step it stopped at.
    pub fn service(&self) -> &str {
        self.slice(self.id_end + 1, self.service_end)
    }

    pub fn workflow_type(&self) -> &str {
        &self.workflow_step[..self.workflow_type_end as usize]
    }

    pub fn step(&self) -> &str {
        &self.workflow_step[self.workflow_type_end as usize..]
    }

    /// What the filter searches, and the allocation that holds it (for the matching threads).
    pub fn filter_text(&self) -> (&Arc<str>, u32) {
        (&self.text, self.filter_end)
    }

    /// The summary as the source sent it.
    pub fn expand(&self) -> EscalationSummary {
        let reason_text_start = self.service_end + 1 + self.reason.word().len() as u32 + 1;
        let type_end = self.workflow_type_end as usize;
        let hands = self.hands.as_deref();
        EscalationSummary {
            id: self.id().to_string(),
            workflow_id: self.slice(self.filter_end, self.workflow_id_end).into(),
            run_id: self.slice(self.workflow_id_end, end(&self.text)).into(),
            workflow_type: self.workflow_step[..type_end].to_string(),
            step: self.workflow_step[type_end..].to_string(),
            service: self.slice(self.id_end + 1, self.service_end).into(),
            priority: self.priority,
            sla_deadline: self.sla_deadline,
            reason: self.reason,
            reason_text: self.slice(reason_text_start, self.reason_text_end).into(),
            input_preview: self.slice(self.reason_text_end + 1, self.filter_end).into(),
            state: self.state,
            lease: hands.and_then(|h| h.lease.as_ref()).map(|lease| Lease {
                holder: lease.holder.to_string(),
                claimed_at: lease.claimed_at,
                expires_at: lease.expires_at,
            }),
            resolution: hands.and_then(|h| h.resolution.clone()),
            assignee: hands
                .and_then(|h| h.assignee.as_deref())
                .map(str::to_string),
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
            assert_eq!(&text[..filter_end as usize], filter_text(summary));
        }
        let pairs: HashSet<(&str, &str)> = all
            .iter()
            .map(|s| (s.workflow_type.as_str(), s.step.as_str()))
            .collect();
        assert!(
            pairs.len() < all.len() / 10,
            "workflow types and steps repeat"
        );
        let mut shared = all
            .iter()
            .zip(&compact)
            .filter(|(s, _)| (&s.workflow_type, &s.step) == (&all[0].workflow_type, &all[0].step));
        assert!(
            shared.clone().count() > 1
                && shared.all(|(_, c)| Arc::ptr_eq(&c.workflow_step, &compact[0].workflow_step)),
            "one shared copy of each"
        );
    }
}
