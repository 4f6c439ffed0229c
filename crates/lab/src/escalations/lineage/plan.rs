//! Planning: every attempt of a task, from its workflow's first step to its escalation, and
//! each operator retry after, without text. Cheap, so that it can run when an escalation is
//! created, for its attempt count and reason.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::{Fault, Origin, PathFault, RetriedPath, Stream, stream};
use crate::escalations::catalogue::{Catalogue, Path, ServiceProfile, WorkflowTemplate};
use protocol::escalations::EscalationReason;

/// What an attempt did, without text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum PlannedOutcome {
    /// Answered; `candidate` when its output is offered to the operator.
    Answered {
        confidence: f32,
        candidate: bool,
    },
    Failed(Fault),
    /// Answered but the output could not be parsed.
    Malformed,
    /// A validator rejected the output.
    Rejected {
        validator: u8,
        rejection: u8,
        confidence: f32,
    },
    /// A policy wants a person.
    Policy {
        rule: u8,
        confidence: f32,
    },
}

/// How an attempt follows its parent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum AttemptCause {
    First,
    Retry,
    Failover,
    OperatorRetry,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Planned {
    pub(super) step: u8,
    pub(super) provider: Option<u16>,
    pub(super) number: u8,
    pub(super) outcome: PlannedOutcome,
    pub(super) cause: AttemptCause,
    /// Wait before the attempt (backoff, or workflow task time between steps).
    pub(super) wait_ms: u32,
    pub(super) duration_ms: u32,
}

/// The attempts of a task, without text.
pub struct Plan {
    pub(super) attempts: Vec<Planned>,
    /// Steps completed before the escalated one.
    pub(super) steps_before: u8,
    /// Attempts that belong to earlier escalations of the same workflow.
    pub(super) inherited: usize,
}

impl Plan {
    pub fn attempts(&self) -> u32 {
        self.attempts.len() as u32
    }
}

/// Plans every attempt of the chain: the first origin's workflow, then each failed retry.
pub fn plan(catalogue: &Catalogue, chain: &[&Origin]) -> Plan {
    let root = chain[0];
    let profile = &catalogue.services[root.service as usize];
    let mut rng = stream(root.seed, Stream::Plan);
    let home = home_paths(profile, &mut rng);
    let mut planner = Planner {
        rng,
        attempts: Vec::new(),
    };
    planner.steps_before(profile.workflow, &home);
    let step = profile.workflow.steps_before.len() as u8;
    match root.reason {
        EscalationReason::PathsExhausted => planner.exhausted(step, &root.faults),
        EscalationReason::ValidatorFailed => {
            planner.validator_failed(step, profile.workflow, &home)
        }
        EscalationReason::LowConfidence => planner.low_confidence(step, profile.workflow, &home),
        EscalationReason::Policy => planner.policy(step, profile.workflow, &home),
    }
    let mut inherited = 0;
    for origin in &chain[1..] {
        inherited = planner.attempts.len();
        let retry = origin
            .retry
            .as_deref()
            .expect("later origins of a chain are retries");
        let mut rng = stream(origin.seed, Stream::Plan);
        planner.operator_retry(step, profile.workflow, root.reason, retry, &mut rng);
    }
    Plan {
        attempts: planner.attempts,
        steps_before: step,
        inherited,
    }
}

/// The paths of the region the workflow runs in, by rank: a workflow fails over across
/// regions only when its own has nothing left. Empty when no replica is active.
fn home_paths(profile: &ServiceProfile, rng: &mut ChaCha8Rng) -> Vec<Path> {
    let active: Vec<&Path> = profile.active_paths().collect();
    if active.is_empty() {
        return Vec::new();
    }
    let home = active[rng.random_range(0..active.len())].region;
    active
        .into_iter()
        .filter(|p| p.region == home)
        .copied()
        .collect()
}

struct Planner {
    rng: ChaCha8Rng,
    attempts: Vec<Planned>,
}

impl Planner {
    fn push(&mut self, planned: Planned) {
        self.attempts.push(planned);
    }

    fn between_steps(&mut self) -> u32 {
        self.rng.random_range(20..400)
    }

    fn steps_before(&mut self, workflow: &WorkflowTemplate, home: &[Path]) {
        for (i, (_, calls_model)) in workflow.steps_before.iter().enumerate() {
            let provider = calls_model
                .then(|| home.first().map(|p| p.provider))
                .flatten();
            let wait_ms = self.between_steps();
            let mut number = 1;
            let mut cause = AttemptCause::First;
            if provider.is_some() && self.rng.random_bool(0.15) {
                let fault = if self.rng.random_bool(0.6) {
                    Fault::RateLimited
                } else {
                    Fault::ServerErrors
                };
                let duration_ms = self.failure_duration(fault);
                self.push(Planned {
                    step: i as u8,
                    provider,
                    number,
                    outcome: PlannedOutcome::Failed(fault),
                    cause,
                    wait_ms,
                    duration_ms,
                });
                number += 1;
                cause = AttemptCause::Retry;
            }
            let duration_ms = if provider.is_some() {
                self.rng.random_range(400..3_000)
            } else {
                self.rng.random_range(15..250)
            };
            let wait_ms = if cause == AttemptCause::Retry {
                backoff_ms(&mut self.rng, 1)
            } else {
                wait_ms
            };
            self.push(Planned {
                step: i as u8,
                provider,
                number,
                outcome: PlannedOutcome::Answered {
                    confidence: 0.0,
                    candidate: false,
                },
                cause,
                wait_ms,
                duration_ms,
            });
        }
    }

    fn failure_duration(&mut self, fault: Fault) -> u32 {
        match fault {
            Fault::Unreachable => 10_000,
            Fault::ServerErrors => self.rng.random_range(150..2_500),
            Fault::RateLimited => self.rng.random_range(40..300),
            Fault::Slow => 30_000,
            Fault::BreakerOpen => self.rng.random_range(1..4),
            Fault::ContextOverflow => self.rng.random_range(60..300),
        }
    }

    /// The first attempt of the escalated step, on a new path or not.
    fn first_cause(&self, step: u8) -> AttemptCause {
        match self.attempts.last() {
            Some(last) if last.step == step => AttemptCause::Failover,
            _ => AttemptCause::First,
        }
    }

    /// Tries each failing path: retries where retrying can help, then fails over.
    fn exhausted(&mut self, step: u8, faults: &[PathFault]) {
        for path in faults {
            let tries = match path.fault {
                Fault::Unreachable | Fault::BreakerOpen | Fault::ContextOverflow => 1,
                Fault::ServerErrors | Fault::RateLimited => self.rng.random_range(2..=3),
                Fault::Slow => self.rng.random_range(1..=2),
            };
            for number in 1..=tries {
                let cause = if number > 1 {
                    AttemptCause::Retry
                } else {
                    self.first_cause(step)
                };
                let wait_ms = match cause {
                    AttemptCause::Retry => backoff_ms(&mut self.rng, number - 1),
                    _ => self.between_steps(),
                };
                let duration_ms = self.failure_duration(path.fault);
                self.push(Planned {
                    step,
                    provider: Some(path.provider),
                    number,
                    outcome: PlannedOutcome::Failed(path.fault),
                    cause,
                    wait_ms,
                    duration_ms,
                });
            }
        }
    }

    /// Sometimes the escalated step first meets a 429 and retries, as busy fleets do.
    fn noise(&mut self, step: u8, path: &Path) {
        if self.rng.random_bool(0.2) {
            let wait_ms = self.between_steps();
            let duration_ms = self.failure_duration(Fault::RateLimited);
            self.push(Planned {
                step,
                provider: Some(path.provider),
                number: 1,
                outcome: PlannedOutcome::Failed(Fault::RateLimited),
                cause: self.first_cause(step),
                wait_ms,
                duration_ms,
            });
        }
    }

    /// The cause and attempt number of a call on `path` after whatever came before.
    fn next_on(&mut self, step: u8, path: &Path) -> (AttemptCause, u8, u32) {
        match self.attempts.last() {
            Some(last) if last.step == step && last.provider == Some(path.provider) => {
                let number = last.number + 1;
                (
                    AttemptCause::Retry,
                    number,
                    backoff_ms(&mut self.rng, last.number),
                )
            }
            _ => {
                let wait = self.between_steps();
                (self.first_cause(step), 1, wait)
            }
        }
    }

    fn answer_duration(&mut self) -> u32 {
        self.rng.random_range(800..9_000)
    }

    /// A call on `path` that got an answer (`outcome` says what kind).
    fn answer_on(&mut self, step: u8, path: &Path, outcome: PlannedOutcome) {
        let (cause, number, wait_ms) = self.next_on(step, path);
        let duration_ms = self.answer_duration();
        self.push(Planned {
            step,
            provider: Some(path.provider),
            number,
            outcome,
            cause,
            wait_ms,
            duration_ms,
        });
    }

    fn validator_failed(&mut self, step: u8, workflow: &WorkflowTemplate, home: &[Path]) {
        let models = self.rng.random_range(1..=home.len().clamp(1, 3));
        for path in &home[..models] {
            if path == &home[0] {
                self.noise(step, path);
            }
            if self.rng.random_bool(0.25) {
                self.answer_on(step, path, PlannedOutcome::Malformed);
            }
            let validator = self.rng.random_range(0..workflow.validators.len());
            let rejection = self
                .rng
                .random_range(0..workflow.validators[validator].rejections.len());
            let confidence = self.rng.random_range(0.6..0.95);
            self.answer_on(
                step,
                path,
                PlannedOutcome::Rejected {
                    validator: validator as u8,
                    rejection: rejection as u8,
                    confidence,
                },
            );
        }
    }

    fn low_confidence(&mut self, step: u8, workflow: &WorkflowTemplate, home: &[Path]) {
        let models = self.rng.random_range(1..=home.len().clamp(1, 2));
        let ceiling = (workflow.confidence_threshold - 0.05) as f32;
        for path in &home[..models] {
            if path == &home[0] {
                self.noise(step, path);
            }
            let confidence = self.rng.random_range(0.25..ceiling);
            self.answer_on(
                step,
                path,
                PlannedOutcome::Answered {
                    confidence,
                    candidate: true,
                },
            );
        }
    }

    fn policy(&mut self, step: u8, workflow: &WorkflowTemplate, home: &[Path]) {
        let path = &home[0];
        self.noise(step, path);
        let rule = self.rng.random_range(0..workflow.policy.1.len()) as u8;
        let confidence = self.rng.random_range(0.85..0.97);
        self.answer_on(step, path, PlannedOutcome::Policy { rule, confidence });
    }

    /// The attempt an operator's retry made, after the earlier escalation's attempts.
    fn operator_retry(
        &mut self,
        step: u8,
        workflow: &WorkflowTemplate,
        first_reason: EscalationReason,
        retry: &RetriedPath,
        rng: &mut ChaCha8Rng,
    ) {
        let outcome = match retry.fault {
            Some(fault) => PlannedOutcome::Failed(fault),
            None => match first_reason {
                EscalationReason::ValidatorFailed => {
                    let validator = rng.random_range(0..workflow.validators.len());
                    PlannedOutcome::Rejected {
                        validator: validator as u8,
                        rejection: rng
                            .random_range(0..workflow.validators[validator].rejections.len())
                            as u8,
                        confidence: rng.random_range(0.6..0.95),
                    }
                }
                EscalationReason::Policy => PlannedOutcome::Policy {
                    rule: rng.random_range(0..workflow.policy.1.len()) as u8,
                    confidence: rng.random_range(0.85..0.97),
                },
                EscalationReason::LowConfidence | EscalationReason::PathsExhausted => {
                    PlannedOutcome::Answered {
                        confidence: rng
                            .random_range(0.25..(workflow.confidence_threshold - 0.05) as f32),
                        candidate: true,
                    }
                }
            },
        };
        let duration_ms = match retry.fault {
            Some(fault) => self.failure_duration(fault),
            None => self.answer_duration(),
        };
        self.push(Planned {
            step,
            provider: Some(retry.provider),
            number: 1,
            outcome,
            cause: AttemptCause::OperatorRetry,
            wait_ms: 0,
            duration_ms,
        });
    }
}

/// Exponential backoff with jitter before retry `n` (1-based).
fn backoff_ms(rng: &mut ChaCha8Rng, n: u8) -> u32 {
    let base = 250u32 << n.min(6);
    base + rng.random_range(0..base / 2)
}
