//! This console's claim on the open task: taken before a resolution, renewed while the task
//! stays open, given back when it is left, dropped when the source shows it lost.

use super::super::inbox::Upserted;
use super::{Claim, EscalationFailure, failure_text};
use crate::app::{App, Effect, Level};
use protocol::escalations::Lease;

impl App {
    /// A claim the source shows as someone else's (ours expired and was taken) or on a
    /// closed task is not ours to release. (A summary without a lease may predate our
    /// claim: it proves nothing.)
    pub(super) fn claim_follows_summary(&mut self, upserted: Upserted) {
        if upserted != Upserted::Newer {
            return;
        }
        let Some(task) = self.task.as_ref() else {
            return;
        };
        let me = self.my_name(task.source).map(str::to_string);
        let Some(summary) = self.task_summary() else {
            return;
        };
        let lost = summary.state.is_closed()
            || summary
                .lease
                .as_ref()
                .is_some_and(|l| Some(&l.holder) != me.as_ref());
        let task = self.task.as_mut().expect("checked open");
        if lost && matches!(task.claim, Claim::Held { .. }) {
            task.claim = Claim::Unclaimed;
        }
    }

    /// Claims the open task unless this console holds it or is claiming it already.
    pub(super) fn claim_open_task(&mut self) -> Vec<Effect> {
        let Some(task) = self.task.as_mut() else {
            return Vec::new();
        };
        match task.claim {
            Claim::Held { .. } | Claim::Claiming => Vec::new(),
            Claim::Unclaimed | Claim::Failed(_) => {
                task.claim = Claim::Claiming;
                vec![Effect::Claim {
                    source: self.sources[task.source].name.clone(),
                    id: task.id.clone(),
                }]
            }
        }
    }

    /// Renews the claim of the open task when two thirds of its lease have run out.
    pub(in crate::app) fn renew_claim(&mut self) -> Vec<Effect> {
        let Some(task) = self.task.as_ref() else {
            return Vec::new();
        };
        let Claim::Held { lease, renewing } = &task.claim else {
            return Vec::new();
        };
        let length = lease.expires_at - lease.claimed_at;
        let left = lease.expires_at - self.source_clock(task.source);
        if *renewing || left * 3 > length {
            return Vec::new();
        }
        let effect = Effect::Claim {
            source: self.sources[task.source].name.clone(),
            id: task.id.clone(),
        };
        if let Some(Claim::Held { renewing, .. }) = self.task.as_mut().map(|t| &mut t.claim) {
            *renewing = true;
        }
        vec![effect]
    }

    pub(in crate::app) fn claim_finished(
        &mut self,
        source: &str,
        id: &str,
        result: Result<Lease, EscalationFailure>,
    ) -> Vec<Effect> {
        let Some(index) = self.source_index(source) else {
            return Vec::new();
        };
        if !self.is_open_task(index, id) {
            // The task was left while its claim was on the way: give it back.
            return match result {
                Ok(_) => vec![Effect::Release {
                    source: source.to_string(),
                    id: id.to_string(),
                }],
                Err(_) => Vec::new(),
            };
        }
        let task = self.task.as_mut().expect("checked open");
        match result {
            Ok(lease) => {
                task.claim = Claim::Held {
                    lease,
                    renewing: false,
                };
                if self
                    .overlays
                    .resolve_form()
                    .is_some_and(|f| f.waiting_for_claim)
                {
                    return self.submit_form();
                }
                Vec::new()
            }
            Err(failure) => {
                let text = failure_text(&failure);
                task.claim = Claim::Failed(text.clone());
                if let Some(form) = self.overlays.resolve_form_mut() {
                    form.waiting_for_claim = false;
                    form.problem = Some(format!("cannot claim {id}: {text}"));
                }
                self.flash(Level::Error, format!("✖ cannot claim {id}: {text}"));
                if failure.resolved_by.is_some() {
                    return vec![Effect::FetchEscalation {
                        source: source.to_string(),
                        id: id.to_string(),
                    }];
                }
                Vec::new()
            }
        }
    }

    pub(in crate::app) fn release_finished(
        &mut self,
        source: &str,
        id: &str,
        result: Result<(), EscalationFailure>,
    ) {
        if let Err(failure) = result {
            self.log(
                Some(source),
                Level::Warning,
                format!(
                    "{id} not released ({}); its lease runs out by itself",
                    failure_text(&failure)
                ),
            );
        }
    }
}
