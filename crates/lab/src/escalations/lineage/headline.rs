//! The headline of an escalation, derived from its origins the same each time: its
//! workflow's identity, its priority, and the reason text the inbox shows.

use std::fmt::Write as _;

use rand::RngExt;

use super::plan::{Plan, Planned, PlannedOutcome, plan};
use super::{Fault, Origin, Stream, reason_of, stream};
use crate::escalations::catalogue::{Catalogue, WorkflowTemplate};
use protocol::escalations::{EscalationReason, Priority};

/// The identity and headline of an escalation, the same each time it is derived.
pub struct Headline {
    pub workflow_id: String,
    pub run_id: String,
    pub reason_text: String,
    pub input_preview: String,
    pub attempts: u32,
}

/// What orders and filters the list, cheap to know: the priority of a new escalation and
/// the reason it escalated for.
pub fn rank(catalogue: &Catalogue, chain: &[&Origin]) -> (Priority, EscalationReason) {
    let root = chain[0];
    let workflow = catalogue.services[root.service as usize].workflow;
    let base_priority = Identity::draw(workflow, root.seed).priority;
    let reason = reason_of(chain);
    let priority = if reason == EscalationReason::PathsExhausted {
        base_priority.raised()
    } else {
        base_priority
    };
    (priority, reason)
}

/// Identity and headline of an escalation.
pub fn headline(catalogue: &Catalogue, chain: &[&Origin]) -> Headline {
    let root = chain[0];
    let workflow = catalogue.services[root.service as usize].workflow;
    let identity = Identity::draw(workflow, root.seed);
    let plan = plan(catalogue, chain);
    Headline {
        workflow_id: identity.workflow_id(workflow),
        run_id: identity.run_id(),
        reason_text: reason_text(catalogue, workflow, chain, &plan),
        input_preview: workflow.preview(&mut stream(root.seed, Stream::Input)),
        attempts: plan.attempts(),
    }
}

/// The workflow id of an execution of `workflow` seeded with `seed`.
pub fn workflow_id(workflow: &WorkflowTemplate, seed: u64) -> String {
    Identity::draw(workflow, seed).workflow_id(workflow)
}

/// The random draws a workflow execution's identity is made of.
struct Identity {
    number: u64,
    run: [u8; 16],
    priority: Priority,
}

impl Identity {
    fn draw(workflow: &WorkflowTemplate, seed: u64) -> Identity {
        let mut rng = stream(seed, Stream::Identity);
        let number = rng.random::<u64>() >> 24;
        let run = rng.random();
        // Some customers and amounts matter more than the workflow's usual priority.
        let priority = match rng.random_range(0..100) {
            0..15 => workflow.priority.raised(),
            15..30 => lowered(workflow.priority),
            _ => workflow.priority,
        };
        Identity {
            number,
            run,
            priority,
        }
    }

    fn workflow_id(&self, workflow: &WorkflowTemplate) -> String {
        format!("{}-{:010x}", workflow.id_prefix, self.number)
    }

    fn run_id(&self) -> String {
        uuid::Builder::from_random_bytes(self.run)
            .into_uuid()
            .to_string()
    }
}

pub(super) fn identity(workflow: &WorkflowTemplate, seed: u64) -> (String, String) {
    let identity = Identity::draw(workflow, seed);
    (identity.workflow_id(workflow), identity.run_id())
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
                why_escalated(workflow, chain[0].reason, &escalated, &provider)
            ),
        };
    }
    why_escalated(workflow, chain[0].reason, &escalated, &provider)
}

fn why_escalated<'a>(
    workflow: &WorkflowTemplate,
    reason: EscalationReason,
    escalated: &[&Planned],
    provider: &dyn Fn(Option<u16>) -> &'a str,
) -> String {
    match reason {
        EscalationReason::PathsExhausted => {
            let mut paths: Vec<(Option<u16>, Fault)> = Vec::new();
            for attempt in escalated {
                if let PlannedOutcome::Failed(fault) = attempt.outcome
                    && paths.last().map(|p| p.0) != Some(attempt.provider)
                {
                    paths.push((attempt.provider, fault));
                }
            }
            let mut text = format!("all {} paths failed: ", paths.len());
            for (i, (p, fault)) in paths.iter().take(3).enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                text.push_str(provider(*p));
                text.push(' ');
                text.push_str(fault.word());
            }
            let more = paths.len().saturating_sub(3);
            if more > 0 {
                let _ = write!(text, ", +{more} more");
            }
            text
        }
        EscalationReason::ValidatorFailed => {
            let rejected: Vec<(u8, u8)> = escalated
                .iter()
                .filter_map(|a| match a.outcome {
                    PlannedOutcome::Rejected {
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
                .filter_map(|a| match a.outcome {
                    PlannedOutcome::Answered {
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
                .find_map(|a| match a.outcome {
                    PlannedOutcome::Policy { rule, .. } => Some(rule),
                    _ => None,
                })
                .unwrap_or_default();
            // The validator is named `policy:NAME`; the console already says "policy".
            let name = workflow.policy.0.trim_start_matches("policy:");
            format!("{name}: {}", workflow.policy.1[rule as usize])
        }
    }
}
