//! Sending a confirmed resolution exactly once, and what became of each one sent: the answer,
//! or, when none came, what the task read afterwards shows.

use chrono::{DateTime, Utc};

use super::form::text_of;
use super::{Claim, EscalationFailure, failure_text};
use crate::app::{App, Effect, FailureKind, Level};
use crate::keymap::Layer;
use protocol::escalations::{
    AppliedResolution, Escalation, MAX_NOTE_BYTES, Resolution, ResolutionKind, ResolveOutcome,
};
use protocol::sanitize::clean;

/// A resolution the operator confirmed: what the runner needs to journal and send it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfirmedResolution {
    pub local_id: u64,
    pub source: String,
    pub id: String,
    pub resolution: Resolution,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ResolutionState {
    Sending,
    Done(Box<ResolveOutcome>),
    Failed(EscalationFailure),
    /// No answer came, and the task read afterwards shows it was not applied.
    NotApplied,
}

/// A resolution this console sent, and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct SentResolution {
    pub local_id: u64,
    pub source: String,
    pub id: String,
    pub resolution: Resolution,
    pub note: String,
    pub at: DateTime<Utc>,
    /// Known once the journal holds it, before it is sent.
    pub key: Option<String>,
    pub state: ResolutionState,
}

impl SentResolution {
    /// Sent, and its outcome is not known: another resolution of the task must wait.
    pub fn in_flight(&self) -> bool {
        match &self.state {
            ResolutionState::Sending => true,
            ResolutionState::Failed(f) => f.kind == FailureKind::Unknown,
            ResolutionState::Done(_) | ResolutionState::NotApplied => false,
        }
    }
}

/// `retry of esc-7 via openai@us-east`, `approve of esc-7`: what was sent, in words.
fn described(resolution: &Resolution, id: &str) -> String {
    let kind = resolution.kind().word();
    match resolution {
        Resolution::Retry {
            provider, region, ..
        } => {
            let path = match (provider, region) {
                (Some(provider), _) => clean(provider).into_owned(),
                (None, Some(region)) => format!("any provider in {}", clean(region)),
                (None, None) => "any path".to_string(),
            };
            format!("{kind} of {} via {path}", clean(id))
        }
        _ => format!("{kind} of {}", clean(id)),
    }
}

impl App {
    /// A task of `workflow_id` escalated again: a retry this console sent for the same
    /// workflow did not settle it, and the operator who sent it hears so.
    pub(in crate::app) fn retry_escalated_again(
        &mut self,
        source: usize,
        summary: &protocol::escalations::EscalationSummary,
    ) {
        let name = &self.sources[source].name;
        let retried = self.resolutions.iter().rev().find(|r| {
            &r.source == name
                && r.id != summary.id
                && matches!(r.resolution, Resolution::Retry { .. })
                && matches!(&r.state, ResolutionState::Done(done) if done.escalation.workflow_id == summary.workflow_id)
        });
        if let Some(retried) = retried {
            let text = format!(
                "✖ {}: escalated again as {} ({})",
                described(&retried.resolution, &retried.id),
                clean(&summary.id),
                clean(&summary.reason_text)
            );
            self.flash(Level::Warning, text);
        }
    }

    /// Enter in the resolution's confirmation: send it if everything holds, once claimed.
    pub(super) fn submit_form(&mut self) -> Vec<Effect> {
        if let Some(refusal) = self.resolution_refusal() {
            if let Some(form) = self.overlays.resolve_form_mut() {
                form.problem = Some(refusal);
                form.waiting_for_claim = false;
            }
            return Vec::new();
        }
        let Some(form) = self.overlays.resolve_form_mut() else {
            return Vec::new();
        };
        let note = text_of(&form.note);
        let resolution = match form.kind {
            ResolutionKind::Reject => {
                let reason = form.reason.as_ref().map(text_of).unwrap_or_default();
                (!reason.is_empty()).then_some(Resolution::Reject { reason })
            }
            ResolutionKind::Retry | ResolutionKind::Handoff => {
                form.choices.get(form.chosen).map(|c| c.resolution.clone())
            }
            ResolutionKind::Approve | ResolutionKind::Submit | ResolutionKind::Abort => {
                form.resolution.clone()
            }
        };
        let problem = match &resolution {
            None if form.kind == ResolutionKind::Reject => Some("a reason is required"),
            None => Some("nothing chosen"),
            Some(_) if note.is_empty() => {
                Some("a note is required: it tells the next person and the audit log why")
            }
            Some(_) if note.len() > MAX_NOTE_BYTES => Some("the note is too long (4096 bytes)"),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            form.problem = Some(problem.to_string());
            return Vec::new();
        }
        let resolution = resolution.expect("checked above");
        let task = self.task.as_ref().expect("refusal checks it is open");
        match task.claim {
            Claim::Held { .. } => {}
            Claim::Claiming => {
                form.waiting_for_claim = true;
                form.problem = Some(format!(
                    "claiming {} first; it is sent as soon as the claim holds",
                    task.id
                ));
                return Vec::new();
            }
            Claim::Unclaimed | Claim::Failed(_) => {
                form.waiting_for_claim = true;
                form.problem = Some(format!("claiming {} first", task.id));
                return self.claim_open_task();
            }
        }
        self.overlays.close(Layer::Resolve);
        self.next_resolution_id += 1;
        let local_id = self.next_resolution_id;
        let (source, id) = (self.sources[task.source].name.clone(), task.id.clone());
        self.resolutions.push(SentResolution {
            local_id,
            source: source.clone(),
            id: id.clone(),
            resolution: resolution.clone(),
            note: note.clone(),
            at: self.wall,
            key: None,
            state: ResolutionState::Sending,
        });
        self.flash(
            Level::Info,
            format!("sending {}…", described(&resolution, &id)),
        );
        vec![Effect::Resolve(ConfirmedResolution {
            local_id,
            source,
            id,
            resolution,
            note,
        })]
    }

    pub(in crate::app) fn resolve_journaled(&mut self, local_id: u64, key: String) {
        if let Some(sent) = self.resolutions.iter_mut().find(|r| r.local_id == local_id) {
            sent.key = Some(key);
        }
    }

    pub(in crate::app) fn resolve_finished(
        &mut self,
        local_id: u64,
        result: Result<ResolveOutcome, EscalationFailure>,
    ) -> Vec<Effect> {
        let Some(position) = self.resolutions.iter().position(|r| r.local_id == local_id) else {
            return Vec::new();
        };
        let sent = &self.resolutions[position];
        // The first outcome is the outcome: a replayed answer changes nothing.
        if matches!(sent.state, ResolutionState::Done(_)) {
            return Vec::new();
        }
        let (source, id) = (sent.source.clone(), sent.id.clone());
        let index = self.source_index(&source);
        match result {
            Ok(outcome) => {
                self.resolution_applied(position, outcome);
                Vec::new()
            }
            Err(failure) => {
                self.resolutions[position].state = ResolutionState::Failed(failure.clone());
                let (level, verdict) = match failure.kind {
                    FailureKind::Unknown => (
                        Level::Warning,
                        "? outcome unknown, kept in the journal under its key",
                    ),
                    FailureKind::Conflict => (Level::Error, "✖ not applied"),
                    FailureKind::Rejected => (Level::Error, "✖ refused"),
                };
                let what = described(&self.resolutions[position].resolution, &id);
                self.flash(
                    level,
                    format!("{verdict}: {what}: {}", failure_text(&failure)),
                );
                // Someone else's resolution: show theirs. No answer: read the task, which
                // tells whether this one was applied (see `settle_unknown`).
                let read_again = failure.kind == FailureKind::Unknown
                    || failure.resolved_by.is_some()
                    || failure.holder.is_some();
                match (read_again, index) {
                    (true, Some(_)) => vec![Effect::FetchEscalation { source, id }],
                    _ => Vec::new(),
                }
            }
        }
    }

    /// The source accepted the resolution at `position` of [`App::resolutions`].
    pub(super) fn resolution_applied(&mut self, position: usize, outcome: ResolveOutcome) {
        let sent = &mut self.resolutions[position];
        let (source, id) = (sent.source.clone(), sent.id.clone());
        let accepted = match sent.resolution {
            Resolution::Retry { .. } => "accepted → new attempt to run",
            _ => "accepted",
        };
        let text = format!(
            "✓ {}: {accepted}: {}",
            described(&sent.resolution, &id),
            clean(&outcome.consequence)
        );
        let summary = outcome.escalation.clone();
        sent.state = ResolutionState::Done(Box::new(outcome));
        if let Some(index) = self.source_index(&source) {
            self.inbox.upsert(index, summary);
            if self.is_open_task(index, &id) {
                // The resolution ended the claim: nothing to release.
                self.task = None;
                self.overlays.close(Layer::Resolve);
                self.overlays.close(Layer::Editor);
            }
        }
        self.flash(Level::Info, text);
    }

    /// A resolution whose answer never came is settled by the task as read now: applied
    /// under its key (done, once), closed by someone else (conflict), or still open (not
    /// applied: the operator may resolve it again).
    pub(super) fn settle_unknown(&mut self, index: usize, escalation: &Escalation) {
        let summary = &escalation.summary;
        let source = self.sources[index].name.clone();
        let me = self.my_name(index).unwrap_or_default().to_string();
        let unsettled: Vec<usize> = self
            .resolutions
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.source == source
                    && r.id == summary.id
                    && matches!(&r.state, ResolutionState::Failed(f) if f.kind == FailureKind::Unknown)
            })
            .map(|(i, _)| i)
            .collect();
        for position in unsettled {
            let sent = &self.resolutions[position];
            let handed_to = match &sent.resolution {
                Resolution::Handoff { to } => Some(to.as_str()),
                _ => None,
            };
            let applied = match &escalation.applied {
                Some(applied) if sent.key.as_ref() == Some(&applied.idempotency_key) => {
                    Some(applied.clone())
                }
                // A hand-off leaves the task open; it shows as the new assignee.
                None if handed_to.is_some() && summary.assignee.as_deref() == handed_to => {
                    Some(AppliedResolution {
                        resolution: sent.resolution.clone(),
                        note: sent.note.clone(),
                        by: me.clone(),
                        at: self.wall,
                        idempotency_key: sent.key.clone().unwrap_or_default(),
                    })
                }
                _ => None,
            };
            if let Some(applied) = applied {
                let outcome = ResolveOutcome {
                    escalation: summary.clone(),
                    applied,
                    consequence: "applied: the task read after the lost answer shows it"
                        .to_string(),
                };
                self.resolution_applied(position, outcome);
            } else if let Some(other) = &escalation.applied {
                self.resolutions[position].state = ResolutionState::Failed(EscalationFailure {
                    kind: FailureKind::Conflict,
                    message: format!("it was resolved ({})", other.resolution.kind().word()),
                    holder: None,
                    resolved_by: Some(other.by.clone()),
                });
            } else if !summary.state.is_closed() {
                let kind = sent.resolution.kind().word();
                self.resolutions[position].state = ResolutionState::NotApplied;
                self.flash(
                    Level::Warning,
                    format!(
                        "{kind} of {} was not applied: no answer came and the task is still \
                         open; resolve it again",
                        clean(&summary.id)
                    ),
                );
            }
        }
    }
}
