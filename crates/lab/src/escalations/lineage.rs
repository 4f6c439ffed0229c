//! Lineages of escalated tasks: what the workflow tried, from its start to the escalation.
//!
//! An escalation is stored as its [`Origin`] (why, which service, a seed, the faults met) and
//! everything else is derived from it, deterministically: first a [`Plan`] (cheap, no text:
//! used when the escalation is created, for its attempt count and reason), then on demand the
//! wire types ([`build`]). So a hundred thousand escalations cost little memory, and the
//! detail of one is the same every time it is asked for.

use chrono::{DateTime, TimeDelta, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::catalogue::{Catalogue, Path, ProviderRef, ServiceProfile, WorkflowTemplate};
use protocol::escalations::{
    Attempt, AttemptError, AttemptErrorKind, AttemptOutcome, Candidate, Checkpoint,
    EscalationReason, Lineage, LineageStep, Priority, StepOutcome, ValidatorVerdict,
};

/// How a path failed a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Its region is down: connections time out.
    Unreachable,
    /// 5xx answers.
    ServerErrors,
    /// 429 answers.
    RateLimited,
    /// Answers too slow: read timeouts.
    Slow,
    /// The gateway's breaker is open: refused without a call.
    BreakerOpen,
    /// The prompt does not fit the model's context window.
    ContextOverflow,
}

impl Fault {
    /// A few words for reason texts, e.g. "503".
    fn word(self) -> &'static str {
        match self {
            Fault::Unreachable => "unreachable",
            Fault::ServerErrors => "5xx",
            Fault::RateLimited => "429",
            Fault::Slow => "timeout",
            Fault::BreakerOpen => "breaker open",
            Fault::ContextOverflow => "context overflow",
        }
    }
}

/// A path tried and how it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathFault {
    pub provider: u16,
    pub fault: Fault,
}

/// An operator's retry that did not end the task.
#[derive(Clone, Debug, PartialEq)]
pub struct RetriedPath {
    /// Sequence number of the escalation that was resolved with the retry.
    pub follows: u32,
    pub by: String,
    pub note: String,
    pub provider: u16,
    /// How the path failed; `None` when it answered but the output fell short again.
    pub fault: Option<Fault>,
}

/// Why and where a task escalated; everything about it derives from this.
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    /// Why the workflow first escalated; a retry's origin repeats its first origin's reason
    /// (the reason it escalates for then is [`reason_of`] the chain).
    pub reason: EscalationReason,
    pub service: u16,
    pub seed: u64,
    /// For paths-exhausted: every path tried and how it failed, in the order tried.
    pub faults: Box<[PathFault]>,
    /// Set when this escalation follows an operator's failed retry.
    pub retry: Option<Box<RetriedPath>>,
}

/// Independent random streams of one origin, so that adding a field to one generator does
/// not change what the others produce.
#[derive(Clone, Copy)]
enum Stream {
    Plan,
    Identity,
    Input,
    Text,
}

fn stream(seed: u64, which: Stream) -> ChaCha8Rng {
    let tag = match which {
        Stream::Plan => 0x9e37_79b9_7f4a_7c15_u64,
        Stream::Identity => 0xbf58_476d_1ce4_e5b9,
        Stream::Input => 0x94d0_49bb_1331_11eb,
        Stream::Text => 0xd6e8_feb8_6659_fd93,
    };
    ChaCha8Rng::seed_from_u64(seed ^ tag)
}

/// What an attempt did, without text.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
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
enum Link {
    First,
    Retry,
    Failover,
    OperatorRetry,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Planned {
    step: u8,
    provider: Option<u16>,
    number: u8,
    act: Act,
    link: Link,
    /// Wait before the attempt (backoff, or workflow task time between steps).
    wait_ms: u32,
    duration_ms: u32,
}

/// The attempts of a task, without text.
pub struct Plan {
    attempts: Vec<Planned>,
    /// Steps completed before the escalated one.
    steps_before: u8,
    /// Attempts that belong to earlier escalations of the same workflow.
    inherited: usize,
}

impl Plan {
    pub fn attempts(&self) -> u32 {
        self.attempts.len() as u32
    }
}

/// The identity and headline of an escalation, fixed at creation.
pub struct Sketch {
    pub workflow_id: String,
    pub run_id: String,
    pub priority: Priority,
    pub reason: EscalationReason,
    pub reason_text: String,
    pub input_preview: String,
    pub attempts: u32,
}

/// How long a task of each priority may wait for a person.
pub fn sla(priority: Priority) -> TimeDelta {
    match priority {
        Priority::P1 => TimeDelta::minutes(15),
        Priority::P2 => TimeDelta::hours(1),
        Priority::P3 => TimeDelta::hours(4),
        Priority::P4 => TimeDelta::hours(24),
    }
}

/// The reason a chain of origins (oldest first) escalated for, last.
pub fn reason_of(chain: &[&Origin]) -> EscalationReason {
    let last = chain.last().expect("a chain has an origin");
    match last.retry.as_deref() {
        Some(RetriedPath { fault: Some(_), .. }) => EscalationReason::PathsExhausted,
        _ => last.reason,
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
            let mut link = Link::First;
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
                    act: Act::Failed(fault),
                    link,
                    wait_ms,
                    duration_ms,
                });
                number += 1;
                link = Link::Retry;
            }
            let duration_ms = if provider.is_some() {
                self.rng.random_range(400..3_000)
            } else {
                self.rng.random_range(15..250)
            };
            let wait_ms = if link == Link::Retry {
                backoff_ms(&mut self.rng, 1)
            } else {
                wait_ms
            };
            self.push(Planned {
                step: i as u8,
                provider,
                number,
                act: Act::Answered {
                    confidence: 0.0,
                    candidate: false,
                },
                link,
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
    fn first_link(&self, step: u8) -> Link {
        match self.attempts.last() {
            Some(last) if last.step == step => Link::Failover,
            _ => Link::First,
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
                let link = if number > 1 {
                    Link::Retry
                } else {
                    self.first_link(step)
                };
                let wait_ms = match link {
                    Link::Retry => backoff_ms(&mut self.rng, number - 1),
                    _ => self.between_steps(),
                };
                let duration_ms = self.failure_duration(path.fault);
                self.push(Planned {
                    step,
                    provider: Some(path.provider),
                    number,
                    act: Act::Failed(path.fault),
                    link,
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
                act: Act::Failed(Fault::RateLimited),
                link: self.first_link(step),
                wait_ms,
                duration_ms,
            });
        }
    }

    /// The link and attempt number of a call on `path` after whatever came before.
    fn next_on(&mut self, step: u8, path: &Path) -> (Link, u8, u32) {
        match self.attempts.last() {
            Some(last) if last.step == step && last.provider == Some(path.provider) => {
                let number = last.number + 1;
                (Link::Retry, number, backoff_ms(&mut self.rng, last.number))
            }
            _ => {
                let wait = self.between_steps();
                (self.first_link(step), 1, wait)
            }
        }
    }

    fn answer_duration(&mut self) -> u32 {
        self.rng.random_range(800..9_000)
    }

    /// A call on `path` that got an answer (`act` says what kind).
    fn answer_on(&mut self, step: u8, path: &Path, act: Act) {
        let (link, number, wait_ms) = self.next_on(step, path);
        let duration_ms = self.answer_duration();
        self.push(Planned {
            step,
            provider: Some(path.provider),
            number,
            act,
            link,
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
                self.answer_on(step, path, Act::Malformed);
            }
            let validator = self.rng.random_range(0..workflow.validators.len());
            let rejection = self
                .rng
                .random_range(0..workflow.validators[validator].rejections.len());
            let confidence = self.rng.random_range(0.6..0.95);
            self.answer_on(
                step,
                path,
                Act::Rejected {
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
                Act::Answered {
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
        self.answer_on(step, path, Act::Policy { rule, confidence });
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
        let act = match retry.fault {
            Some(fault) => Act::Failed(fault),
            None => match first_reason {
                EscalationReason::ValidatorFailed => {
                    let validator = rng.random_range(0..workflow.validators.len());
                    Act::Rejected {
                        validator: validator as u8,
                        rejection: rng
                            .random_range(0..workflow.validators[validator].rejections.len())
                            as u8,
                        confidence: rng.random_range(0.6..0.95),
                    }
                }
                EscalationReason::Policy => Act::Policy {
                    rule: rng.random_range(0..workflow.policy.1.len()) as u8,
                    confidence: rng.random_range(0.85..0.97),
                },
                EscalationReason::LowConfidence | EscalationReason::PathsExhausted => {
                    Act::Answered {
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
            act,
            link: Link::OperatorRetry,
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

/// Identity, priority and headline of a new escalation.
pub fn sketch(catalogue: &Catalogue, chain: &[&Origin]) -> Sketch {
    let root = chain[0];
    let profile = &catalogue.services[root.service as usize];
    let workflow = profile.workflow;
    let (workflow_id, run_id, base_priority) = identity(workflow, root.seed);
    let plan = plan(catalogue, chain);
    let reason = reason_of(chain);
    let priority = if reason == EscalationReason::PathsExhausted {
        base_priority.raised()
    } else {
        base_priority
    };
    let (_, input_preview) = workflow.input(&mut stream(root.seed, Stream::Input));
    Sketch {
        workflow_id,
        run_id,
        priority,
        reason,
        reason_text: reason_text(catalogue, workflow, chain, &plan),
        input_preview,
        attempts: plan.attempts(),
    }
}

fn identity(workflow: &WorkflowTemplate, seed: u64) -> (String, String, Priority) {
    let mut rng = stream(seed, Stream::Identity);
    let workflow_id = format!("{}-{:010x}", workflow.id_prefix, rng.random::<u64>() >> 24);
    let run_id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
    // Some customers and amounts matter more than the workflow's usual priority.
    let priority = match rng.random_range(0..100) {
        0..15 => workflow.priority.raised(),
        15..30 => lowered(workflow.priority),
        _ => workflow.priority,
    };
    (workflow_id, run_id.to_string(), priority)
}

fn lowered(priority: Priority) -> Priority {
    match priority {
        Priority::P1 => Priority::P2,
        Priority::P2 => Priority::P3,
        Priority::P3 | Priority::P4 => Priority::P4,
    }
}

fn reason_text(
    catalogue: &Catalogue,
    workflow: &WorkflowTemplate,
    chain: &[&Origin],
    plan: &Plan,
) -> String {
    let escalated: Vec<&Planned> = plan.attempts[plan.inherited..]
        .iter()
        .filter(|a| a.step == plan.steps_before)
        .collect();
    let provider = |p: Option<u16>| p.map_or("?", |p| catalogue.providers[p as usize].id.as_str());
    if let Some(retry) = chain.last().and_then(|o| o.retry.as_deref()) {
        let via = &catalogue.providers[retry.provider as usize].id;
        return match retry.fault {
            Some(fault) => format!("operator retry via {via} failed: {}", fault.word()),
            None => format!(
                "operator retry via {via} answered, but: {}",
                headline(workflow, chain[0].reason, &escalated, &provider)
            ),
        };
    }
    headline(workflow, chain[0].reason, &escalated, &provider)
}

fn headline<'a>(
    workflow: &WorkflowTemplate,
    reason: EscalationReason,
    escalated: &[&Planned],
    provider: &dyn Fn(Option<u16>) -> &'a str,
) -> String {
    match reason {
        EscalationReason::PathsExhausted => {
            let mut paths: Vec<(Option<u16>, Fault)> = Vec::new();
            for attempt in escalated {
                if let Act::Failed(fault) = attempt.act
                    && paths.last().map(|p| p.0) != Some(attempt.provider)
                {
                    paths.push((attempt.provider, fault));
                }
            }
            let named: Vec<String> = paths
                .iter()
                .take(3)
                .map(|(p, fault)| format!("{} {}", provider(*p), fault.word()))
                .collect();
            let more = paths.len().saturating_sub(3);
            let more = if more > 0 {
                format!(", +{more} more")
            } else {
                String::new()
            };
            format!(
                "all {} paths failed: {}{more}",
                paths.len(),
                named.join(", ")
            )
        }
        EscalationReason::ValidatorFailed => {
            let rejected: Vec<(u8, u8)> = escalated
                .iter()
                .filter_map(|a| match a.act {
                    Act::Rejected {
                        validator,
                        rejection,
                        ..
                    } => Some((validator, rejection)),
                    _ => None,
                })
                .collect();
            let (validator, rejection) = rejected.last().copied().unwrap_or_default();
            let validator = &workflow.validators[validator as usize];
            format!(
                "{} rejected {} output{}: {}",
                validator.name,
                rejected.len(),
                if rejected.len() == 1 { "" } else { "s" },
                validator.rejections[rejection as usize]
            )
        }
        EscalationReason::LowConfidence => {
            let confidences: Vec<f32> = escalated
                .iter()
                .filter_map(|a| match a.act {
                    Act::Answered {
                        confidence,
                        candidate: true,
                    } => Some(confidence),
                    _ => None,
                })
                .collect();
            let best = confidences.iter().copied().fold(0.0, f32::max);
            format!(
                "best confidence {best:.2} under the {:.2} threshold after {} answer{}",
                workflow.confidence_threshold,
                confidences.len(),
                if confidences.len() == 1 { "" } else { "s" }
            )
        }
        EscalationReason::Policy => {
            let rule = escalated
                .iter()
                .find_map(|a| match a.act {
                    Act::Policy { rule, .. } => Some(rule),
                    _ => None,
                })
                .unwrap_or_default();
            format!(
                "{}: {}",
                workflow.policy.0, workflow.policy.1[rule as usize]
            )
        }
    }
}

/// Everything of an escalation's detail that derives from its origins.
pub struct Built {
    pub context: Value,
    pub candidates: Vec<Candidate>,
    pub confidence_threshold: f64,
    pub checkpoint: Checkpoint,
    pub idempotency_key: String,
    pub lineage: Lineage,
}

/// The detail of a chain of origins (oldest first), each with the time it escalated.
pub fn build(catalogue: &Catalogue, chain: &[(&Origin, DateTime<Utc>)]) -> Built {
    let origins: Vec<&Origin> = chain.iter().map(|(o, _)| *o).collect();
    let root = origins[0];
    let profile = &catalogue.services[root.service as usize];
    let workflow = profile.workflow;
    let (workflow_id, run_id, _) = identity(workflow, root.seed);
    let (context, _) = workflow.input(&mut stream(root.seed, Stream::Input));
    let plan = plan(catalogue, &origins);
    let times = attempt_times(&plan, &origins, chain);
    let mut text = Text {
        rng: stream(root.seed, Stream::Text),
        catalogue,
        workflow,
    };
    let mut steps: Vec<LineageStep> = Vec::new();
    let mut candidates = Vec::new();
    let mut retries = origins[1..].iter().filter_map(|o| o.retry.as_deref());
    for (i, planned) in plan.attempts.iter().enumerate() {
        let id = format!("a{}", i + 1);
        let parent = (i > 0 && planned.link != Link::First).then(|| format!("a{i}"));
        let previous = i.checked_sub(1).map(|p| &plan.attempts[p]);
        let retry = (planned.link == Link::OperatorRetry)
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
    Built {
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
struct Text<'a> {
    rng: ChaCha8Rng,
    catalogue: &'a Catalogue,
    workflow: &'static WorkflowTemplate,
}

impl Text<'_> {
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
        let (outcome, error, confidence, verdicts) = match planned.act {
            Act::Answered {
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
            Act::Failed(fault) => {
                let error = self.error(fault, provider.as_ref());
                let outcome = if error.kind == AttemptErrorKind::Timeout {
                    AttemptOutcome::Timeout
                } else {
                    AttemptOutcome::Error
                };
                (outcome, Some(error), None, Vec::new())
            }
            Act::Malformed => (
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
            Act::Rejected {
                validator,
                rejection,
                confidence,
            } => (
                AttemptOutcome::Rejected,
                None,
                Some(round2(confidence)),
                self.validator_verdicts(Some((validator, rejection))),
            ),
            Act::Policy { rule, confidence } => {
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
            self.link_reasons(planned, previous, provider.as_ref(), retry);
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
    fn link_reasons(
        &self,
        planned: &Planned,
        previous: Option<&Planned>,
        provider: Option<&ProviderRef>,
        retry: Option<&RetriedPath>,
    ) -> (Option<String>, Option<String>) {
        let to = provider.map_or("?", |p| p.id.as_str());
        match (planned.link, previous) {
            (Link::OperatorRetry, _) => {
                let (by, note) =
                    retry.map_or(("an operator", ""), |r| (r.by.as_str(), r.note.as_str()));
                (
                    Some(format!("{by} asked for a retry via {to}: {note}")),
                    None,
                )
            }
            (Link::Retry, Some(previous)) => (
                Some(format!(
                    "{}; retry {} after {} ms backoff",
                    act_words(previous.act),
                    planned.number,
                    planned.wait_ms
                )),
                None,
            ),
            (Link::Failover, Some(previous)) => {
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
                    Some(format!("{from}: {}; {crossing}", act_words(previous.act))),
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
        let offered = match planned.act {
            Act::Answered { candidate, .. } => candidate,
            Act::Rejected { .. } | Act::Policy { .. } => true,
            Act::Failed(_) | Act::Malformed => false,
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

fn act_words(act: Act) -> String {
    match act {
        Act::Failed(Fault::ServerErrors) => "5xx answer".to_string(),
        Act::Failed(Fault::RateLimited) => "rate limited (429)".to_string(),
        Act::Failed(Fault::Slow) => "timed out".to_string(),
        Act::Failed(Fault::Unreachable) => "unreachable".to_string(),
        Act::Failed(Fault::BreakerOpen) => "breaker open".to_string(),
        Act::Failed(Fault::ContextOverflow) => "prompt too long for its context window".to_string(),
        Act::Malformed => "malformed output".to_string(),
        Act::Rejected { .. } => "output rejected by a validator".to_string(),
        Act::Answered { confidence, .. } => format!("confidence {confidence:.2} too low"),
        Act::Policy { .. } => "policy wants a person".to_string(),
    }
}

fn round2(value: f32) -> f64 {
    (f64::from(value) * 100.0).round() / 100.0
}
