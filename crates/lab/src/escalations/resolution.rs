//! Resolutions: a task is decided exactly once, checked against what it and the fleet have,
//! and the decision has consequences: the workflow resumes from its checkpoint, is handed
//! off, aborts, or is retried (the retry later completes or escalates again).

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngExt;

use super::lineage::{self, Fault, Origin, RetriedPath};
use super::{EscalationQueue, PendingRetry, QueueError, echo, source};
use crate::free_text::{Lines, check_printable};
use protocol::escalations::{
    AppliedResolution, EVENT_RELEASED, EVENT_RESOLVED, EscalationReason, EscalationState,
    HistoryAction, HistoryEntry, MAX_NOTE_BYTES, MAX_OUTPUT_BYTES, Resolution, ResolutionBrief,
    ResolveOutcome, ResolveRequest,
};
use protocol::{FleetSnapshot, Role};

/// Simulated seconds between an operator's retry and its result.
const RETRY_DELAY_S: std::ops::Range<i64> = 20..60;
/// Share of retries on a working path whose output still falls short (low confidence or a
/// validator), for tasks that did not escalate for lack of a path.
const RETRY_STILL_SHORT: f64 = 0.25;

impl EscalationQueue {
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
        check_printable("note", &note, Lines::One).map_err(QueueError::Incomplete)?;
        self.expire_leases(now);
        let seq = self.open_seq(id)?;
        if let Some(lease) = self.records[seq as usize].lease()
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
            escalation: self.summary(seq),
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
            lineage::derive_detail(&self.catalogue, &self.chain(seq))
                .candidates
                .iter()
                .any(|c| c.id == candidate)
        };
        let free_text = match resolution {
            Resolution::Submit { output, .. } => Some(("submitted output", output, Lines::Many)),
            Resolution::Reject { reason } => Some(("reason", reason, Lines::One)),
            _ => None,
        };
        if let Some((field, text, lines)) = free_text {
            check_printable(field, text.trim(), lines).map_err(QueueError::Incomplete)?;
        }
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
            let workflow = self.catalogue.services
                [self.records[seq as usize].origin.service as usize]
                .workflow;
            let steps_before = workflow.steps_before;
            (
                self.workflow_id(seq),
                workflow.step,
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
                record.state = EscalationState::Pending;
                let hands = record.hands_mut();
                hands.assignee = Some(to.clone());
                hands.history.push(HistoryEntry {
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
        record.state = closes;
        let hands = record.hands_mut();
        hands.resolution = Some(ResolutionBrief {
            by: who.to_string(),
            kind: applied.resolution.kind(),
            at: now,
        });
        hands.applied = Some(applied.clone());
        hands.history.push(HistoryEntry {
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
    pub(super) fn report_retries(&mut self, fleet: &FleetSnapshot, now: DateTime<Utc>) {
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
            let service = self.records[retry.seq as usize].origin.service;
            let fault = faults[chosen];
            // Why the workflow first escalated: what a retry on a working path may fall
            // short of again.
            let reason = self.chain(retry.seq)[0].0.reason;
            let falls_short = fault.is_none()
                && reason != EscalationReason::PathsExhausted
                && self.rng.random_bool(RETRY_STILL_SHORT);
            let workflow_id = self.workflow_id(retry.seq);
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
                service,
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
            let id = super::id_of(seq);
            self.notice(
                now,
                format!(
                    "{workflow_id}: retry via {via} did not end the task; escalated again as {id}"
                ),
            );
        }
    }
}

#[cfg(test)]
#[path = "resolution_tests.rs"]
mod tests;
