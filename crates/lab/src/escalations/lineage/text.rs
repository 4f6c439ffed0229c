//! The detail of an escalation, written on demand from its origins: the workflow's context,
//! the lineage of attempts with their errors and verdicts, and the candidates offered.

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::headline::identity;
use super::plan::{AttemptCause, Plan, Planned, PlannedOutcome, plan};
use super::{Fault, Origin, RetriedPath, Stream, stream};
use crate::escalations::catalogue::{Catalogue, ProviderRef, WorkflowTemplate};
use protocol::escalations::{
    Attempt, AttemptError, AttemptErrorKind, AttemptOutcome, Candidate, Checkpoint, Lineage,
    LineageStep, StepOutcome, ValidatorVerdict,
};

/// Everything of an escalation's detail that derives from its origins.
pub struct DerivedDetail {
    pub context: Value,
    pub candidates: Vec<Candidate>,
    pub confidence_threshold: f64,
    pub checkpoint: Checkpoint,
    pub idempotency_key: String,
    pub lineage: Lineage,
}

/// The detail of a chain of origins (oldest first), each with the time it escalated.
pub fn derive_detail(catalogue: &Catalogue, chain: &[(&Origin, DateTime<Utc>)]) -> DerivedDetail {
    let origins: Vec<&Origin> = chain.iter().map(|(o, _)| *o).collect();
    let root = origins[0];
    let profile = &catalogue.services[root.service as usize];
    let workflow = profile.workflow;
    let (workflow_id, run_id) = identity(workflow, root.seed);
    let (context, _) = workflow.input(&mut stream(root.seed, Stream::Input));
    let plan = plan(catalogue, &origins);
    let times = attempt_times(&plan, &origins, chain);
    let mut text = AttemptWriter {
        rng: stream(root.seed, Stream::Text),
        catalogue,
        workflow,
    };
    let mut steps: Vec<LineageStep> = Vec::new();
    let mut candidates = Vec::new();
    let mut retries = origins[1..].iter().filter_map(|o| o.retry.as_deref());
    for (i, planned) in plan.attempts.iter().enumerate() {
        let id = format!("a{}", i + 1);
        let parent = (i > 0 && planned.cause != AttemptCause::First).then(|| format!("a{i}"));
        let previous = i.checked_sub(1).map(|p| &plan.attempts[p]);
        let retry = (planned.cause == AttemptCause::OperatorRetry)
            .then(|| retries.next())
            .flatten();
        let attempt = text.attempt(id, parent, planned, previous, retry, times[i]);
        if let Some(candidate) = text.candidate(&attempt, planned, candidates.len()) {
            candidates.push(candidate);
        }
        let name = step_name(workflow, planned.step);
        match steps.last_mut() {
            Some(step) if step.name == name => step.attempts.push(attempt),
            _ => steps.push(LineageStep {
                name: name.to_string(),
                outcome: if planned.step < plan.steps_before {
                    StepOutcome::Completed
                } else {
                    StepOutcome::Escalated
                },
                attempts: vec![attempt],
            }),
        }
    }
    // Best first: what an operator most likely approves.
    candidates.sort_by(|a: &Candidate, b| {
        let passed = |c: &Candidate| c.verdicts.iter().filter(|v| !v.passed).count();
        passed(a)
            .cmp(&passed(b))
            .then(b.confidence.total_cmp(&a.confidence))
    });
    let completed_attempts = plan
        .attempts
        .iter()
        .filter(|a| a.step < plan.steps_before)
        .count();
    let checkpoint_at = plan
        .attempts
        .iter()
        .zip(&times)
        .rfind(|(a, _)| a.step < plan.steps_before)
        .map_or(times[0], |(a, start)| *start + ms(a.duration_ms));
    let last_step = workflow
        .steps_before
        .last()
        .map_or("start", |(name, _)| name);
    DerivedDetail {
        context,
        candidates,
        confidence_threshold: workflow.confidence_threshold,
        checkpoint: Checkpoint {
            id: format!("ck-{}", plan.steps_before),
            step: last_step.to_string(),
            at: checkpoint_at,
            state: workflow.checkpoint_state.to_string(),
            // Started, then scheduled/started/closed per attempt, plus a marker.
            event_id: 2 + 3 * completed_attempts as u64 + 1,
        },
        idempotency_key: format!("{workflow_id}/{}", workflow.step),
        lineage: Lineage {
            workflow_id,
            run_id,
            workflow_type: workflow.workflow_type.to_string(),
            started_at: times[0] - ms(plan.attempts[0].wait_ms),
            steps,
        },
    }
}

fn step_name(workflow: &WorkflowTemplate, step: u8) -> &'static str {
    workflow
        .steps_before
        .get(step as usize)
        .map_or(workflow.step, |(name, _)| name)
}

fn ms(millis: u32) -> TimeDelta {
    TimeDelta::milliseconds(i64::from(millis))
}

/// Start time of every attempt: each origin's attempts end when it escalated.
fn attempt_times(
    plan: &Plan,
    origins: &[&Origin],
    chain: &[(&Origin, DateTime<Utc>)],
) -> Vec<DateTime<Utc>> {
    // Attempts of origin k: the root's are all up to the first operator retry, then one each.
    let root_attempts = plan.attempts.len() - (origins.len() - 1);
    let mut times = vec![DateTime::<Utc>::UNIX_EPOCH; plan.attempts.len()];
    let root_span: u32 = plan.attempts[..root_attempts]
        .iter()
        .map(|a| a.wait_ms + a.duration_ms)
        .sum();
    let mut at = chain[0].1 - ms(root_span);
    for (i, planned) in plan.attempts[..root_attempts].iter().enumerate() {
        at += ms(planned.wait_ms);
        times[i] = at;
        at += ms(planned.duration_ms);
    }
    for (k, (_, escalated_at)) in chain.iter().enumerate().skip(1) {
        let i = root_attempts + k - 1;
        times[i] = *escalated_at - ms(plan.attempts[i].duration_ms);
    }
    times
}

/// Writes the text of attempts and candidates.
struct AttemptWriter<'a> {
    rng: ChaCha8Rng,
    catalogue: &'a Catalogue,
    workflow: &'static WorkflowTemplate,
}

impl AttemptWriter<'_> {
    fn provider(&self, p: Option<u16>) -> Option<&ProviderRef> {
        p.map(|p| &self.catalogue.providers[p as usize])
    }

    fn attempt(
        &mut self,
        id: String,
        parent: Option<String>,
        planned: &Planned,
        previous: Option<&Planned>,
        retry: Option<&RetriedPath>,
        started_at: DateTime<Utc>,
    ) -> Attempt {
        let provider = self.provider(planned.provider).cloned();
        let (outcome, error, confidence, verdicts) = match planned.outcome {
            PlannedOutcome::Answered {
                confidence,
                candidate,
            } => {
                let verdicts = if candidate {
                    self.confidence_verdicts(confidence)
                } else {
                    Vec::new()
                };
                let confidence = candidate.then_some(round2(confidence));
                (AttemptOutcome::Ok, None, confidence, verdicts)
            }
            PlannedOutcome::Failed(fault) => {
                let error = self.error(fault, provider.as_ref());
                let outcome = if error.kind == AttemptErrorKind::Timeout {
                    AttemptOutcome::Timeout
                } else {
                    AttemptOutcome::Error
                };
                (outcome, Some(error), None, Vec::new())
            }
            PlannedOutcome::Malformed => (
                AttemptOutcome::Error,
                Some(AttemptError {
                    kind: AttemptErrorKind::MalformedOutput,
                    status: None,
                    message: "answer is not valid JSON: unexpected end of input at line 14"
                        .to_string(),
                    non_retryable: false,
                }),
                None,
                Vec::new(),
            ),
            PlannedOutcome::Rejected {
                validator,
                rejection,
                confidence,
            } => (
                AttemptOutcome::Rejected,
                None,
                Some(round2(confidence)),
                self.validator_verdicts(Some((validator, rejection))),
            ),
            PlannedOutcome::Policy { rule, confidence } => {
                let mut verdicts = self.validator_verdicts(None);
                verdicts.push(ValidatorVerdict {
                    validator: self.workflow.policy.0.to_string(),
                    passed: false,
                    detail: Some(self.workflow.policy.1[rule as usize].to_string()),
                });
                (AttemptOutcome::Ok, None, Some(round2(confidence)), verdicts)
            }
        };
        let (retry_reason, failover_reason) =
            self.cause_reasons(planned, previous, provider.as_ref(), retry);
        Attempt {
            id,
            parent,
            number: u32::from(planned.number),
            model: provider.as_ref().map(|p| p.model.clone()),
            region: provider.as_ref().map(|p| p.region.clone()),
            provider: provider.map(|p| p.id),
            started_at,
            duration_ms: u64::from(planned.duration_ms),
            outcome,
            error,
            confidence,
            verdicts,
            retry_reason,
            failover_reason,
        }
    }

    fn confidence_verdicts(&self, confidence: f32) -> Vec<ValidatorVerdict> {
        let threshold = self.workflow.confidence_threshold;
        let mut verdicts = self.validator_verdicts(None);
        verdicts.push(ValidatorVerdict {
            validator: format!("confidence>={threshold:.2}"),
            passed: f64::from(confidence) >= threshold,
            detail: Some(format!("{confidence:.2}")),
        });
        verdicts
    }

    /// Every validator passes but `failed` (validator, rejection), if given; validators run
    /// in order and stop at the first rejection.
    fn validator_verdicts(&self, failed: Option<(u8, u8)>) -> Vec<ValidatorVerdict> {
        let mut verdicts = Vec::new();
        for (i, validator) in self.workflow.validators.iter().enumerate() {
            match failed {
                Some((v, rejection)) if v as usize == i => {
                    verdicts.push(ValidatorVerdict {
                        validator: validator.name.to_string(),
                        passed: false,
                        detail: Some(validator.rejections[rejection as usize].to_string()),
                    });
                    break;
                }
                _ => verdicts.push(ValidatorVerdict {
                    validator: validator.name.to_string(),
                    passed: true,
                    detail: None,
                }),
            }
        }
        verdicts
    }

    fn error(&mut self, fault: Fault, provider: Option<&ProviderRef>) -> AttemptError {
        let (region, model, id) = provider.map_or(("?", "?", "?"), |p| {
            (p.region.as_str(), p.model.as_str(), p.id.as_str())
        });
        let (kind, status, message, non_retryable) = match fault {
            Fault::Unreachable => (
                AttemptErrorKind::Timeout,
                None,
                format!("connect timeout after 10s: gw-{region} unreachable"),
                false,
            ),
            Fault::ServerErrors => {
                let (status, text) = [
                    (503, "Service Unavailable: upstream overloaded"),
                    (502, "Bad Gateway"),
                    (500, "Internal Server Error"),
                    (503, "Service Unavailable"),
                ][self.rng.random_range(0..4)];
                (
                    AttemptErrorKind::ServerError,
                    Some(status),
                    format!("{status} {text}"),
                    false,
                )
            }
            Fault::RateLimited => (
                AttemptErrorKind::RateLimited,
                Some(429),
                format!(
                    "429 Too Many Requests: organisation rate limit reached on {id}, retry after {}s",
                    self.rng.random_range(1..8)
                ),
                false,
            ),
            Fault::Slow => (
                AttemptErrorKind::Timeout,
                None,
                "no answer within 30s".to_string(),
                false,
            ),
            Fault::BreakerOpen => (
                AttemptErrorKind::ServerError,
                Some(503),
                format!("circuit breaker open at gw-{region} for {id}: request not sent"),
                true,
            ),
            Fault::ContextOverflow => {
                let tokens = self.workflow.prompt_tokens + self.rng.random_range(100_000..180_000);
                (
                    AttemptErrorKind::ContextOverflow,
                    Some(400),
                    format!(
                        "prompt of {tokens} tokens exceeds the 128000-token context window of {model}"
                    ),
                    true,
                )
            }
        };
        AttemptError {
            kind,
            status,
            message,
            non_retryable,
        }
    }

    /// Why an attempt followed its parent: a retry of the same path, or a failover.
    fn cause_reasons(
        &self,
        planned: &Planned,
        previous: Option<&Planned>,
        provider: Option<&ProviderRef>,
        retry: Option<&RetriedPath>,
    ) -> (Option<String>, Option<String>) {
        let to = provider.map_or("?", |p| p.id.as_str());
        match (planned.cause, previous) {
            (AttemptCause::OperatorRetry, _) => {
                let (by, note) =
                    retry.map_or(("an operator", ""), |r| (r.by.as_str(), r.note.as_str()));
                (
                    Some(format!("{by} asked for a retry via {to}: {note}")),
                    None,
                )
            }
            (AttemptCause::Retry, Some(previous)) => (
                Some(format!(
                    "{}; retry {} after {} ms backoff",
                    outcome_words(previous.outcome),
                    planned.number,
                    planned.wait_ms
                )),
                None,
            ),
            (AttemptCause::Failover, Some(previous)) => {
                let from = self.provider(previous.provider);
                let crossing = match (from, provider) {
                    (Some(from), Some(to)) if from.region != to.region => {
                        format!(
                            "no usable path left in {}; failing over to {}",
                            from.region, to.region
                        )
                    }
                    _ => format!("failing over to {to}"),
                };
                let from = from.map_or("?", |p| p.id.as_str());
                (
                    None,
                    Some(format!(
                        "{from}: {}; {crossing}",
                        outcome_words(previous.outcome)
                    )),
                )
            }
            _ => (None, None),
        }
    }

    fn candidate(
        &mut self,
        attempt: &Attempt,
        planned: &Planned,
        index: usize,
    ) -> Option<Candidate> {
        let offered = match planned.outcome {
            PlannedOutcome::Answered { candidate, .. } => candidate,
            PlannedOutcome::Rejected { .. } | PlannedOutcome::Policy { .. } => true,
            PlannedOutcome::Failed(_) | PlannedOutcome::Malformed => false,
        };
        if !offered {
            return None;
        }
        Some(Candidate {
            id: format!("c{}", index + 1),
            attempt: attempt.id.clone(),
            model: attempt.model.clone().unwrap_or_default(),
            provider: attempt.provider.clone().unwrap_or_default(),
            region: attempt.region.clone().unwrap_or_default(),
            output: (self.workflow.output)(&mut self.rng),
            confidence: attempt.confidence.unwrap_or_default(),
            verdicts: attempt.verdicts.clone(),
        })
    }
}

fn outcome_words(outcome: PlannedOutcome) -> String {
    match outcome {
        PlannedOutcome::Failed(Fault::ServerErrors) => "5xx answer".to_string(),
        PlannedOutcome::Failed(Fault::RateLimited) => "rate limited (429)".to_string(),
        PlannedOutcome::Failed(Fault::Slow) => "timed out".to_string(),
        PlannedOutcome::Failed(Fault::Unreachable) => "unreachable".to_string(),
        PlannedOutcome::Failed(Fault::BreakerOpen) => "breaker open".to_string(),
        PlannedOutcome::Failed(Fault::ContextOverflow) => {
            "prompt too long for its context window".to_string()
        }
        PlannedOutcome::Malformed => "malformed output".to_string(),
        PlannedOutcome::Rejected { .. } => "output rejected by a validator".to_string(),
        PlannedOutcome::Answered { confidence, .. } => {
            format!("confidence {confidence:.2} too low")
        }
        PlannedOutcome::Policy { .. } => "policy wants a person".to_string(),
    }
}

fn round2(value: f32) -> f64 {
    (f64::from(value) * 100.0).round() / 100.0
}
