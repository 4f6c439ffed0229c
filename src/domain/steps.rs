//! The posture of the workflow steps escalated tasks stop at (issue 15, DESIGN.md: a Service
//! is a workflow step or micro-agent): a step's service looked up across a context's sources
//! for a task's detail, and per (workflow type, step) of the open escalations the service it
//! runs on with its criticality, budget and burn, how many tasks wait there and how many are
//! past their SLA, so that a critical step piling up escalations is seen beside its budget.

use std::collections::BTreeMap;

use serde::Serialize;

use super::cost::{CostReport, ServiceCost, unreported};
use super::prices::CostConfig;
use protocol::posture::{Criticality, Finding, Slo};

/// A service's posture where the context knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct StepPosture {
    /// Index of the source whose audit holds it; `None` when only the context's `[cost]` does.
    pub source: Option<usize>,
    pub cost: ServiceCost,
}

/// `service`'s posture: from the audit of source `prefer` (the task's own) when it holds the
/// service, else the first audit that does (a fleet source's before a metrics source's,
/// see [`super::cost::context_audit`]), else what the context's `[cost]` says of it; `None`
/// when nothing knows it.
pub fn find_service(
    audits: &[(usize, CostReport)],
    config: &CostConfig,
    service: &str,
    prefer: Option<usize>,
) -> Option<StepPosture> {
    let holding = |(index, report): &(usize, CostReport)| {
        Some(StepPosture {
            source: Some(*index),
            cost: report.service(service)?.clone(),
        })
    };
    (audits.iter().filter(|(index, _)| Some(*index) == prefer))
        .chain(audits.iter())
        .find_map(holding)
        .or_else(|| {
            config.services.contains_key(service).then(|| StepPosture {
                source: None,
                cost: unreported(service, config),
            })
        })
}

/// An open escalated task, as the steps count it.
#[derive(Clone, Copy, Debug)]
pub struct EscalatedTask<'a> {
    pub workflow_type: &'a str,
    pub step: &'a str,
    pub service: &'a str,
    /// Its SLA deadline passed, on its source's clock.
    pub past_sla: bool,
}

/// One workflow step the open escalations stop at, and the posture of its service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepCost {
    pub workflow_type: String,
    pub step: String,
    pub service: String,
    pub open: usize,
    pub past_sla: usize,
    /// The service's figures; `None` where nothing knows them.
    pub criticality: Option<Criticality>,
    pub slo: Option<Slo>,
    pub budget_left: Option<f64>,
    pub burn_rate_1h: Option<f64>,
    pub burn_rate_6h: Option<f64>,
    pub findings: Vec<Finding>,
}

/// One workflow step (its workflow type, step and service) with how many open tasks wait
/// there and how many of them are past their SLA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepTally<'a> {
    pub workflow_type: &'a str,
    pub step: &'a str,
    pub service: &'a str,
    pub open: usize,
    pub past_sla: usize,
}

/// The steps of `tasks`, each with its counts.
pub fn tally<'a>(tasks: impl IntoIterator<Item = EscalatedTask<'a>>) -> Vec<StepTally<'a>> {
    let mut counts: BTreeMap<(&str, &str, &str), (usize, usize)> = BTreeMap::new();
    for task in tasks {
        let (open, past_sla) = counts
            .entry((task.workflow_type, task.step, task.service))
            .or_default();
        *open += 1;
        *past_sla += usize::from(task.past_sla);
    }
    (counts.into_iter())
        .map(
            |((workflow_type, step, service), (open, past_sla))| StepTally {
                workflow_type,
                step,
                service,
                open,
                past_sla,
            },
        )
        .collect()
}

/// Every tallied step with its service's posture (see [`find_service`]), sorted by workflow
/// type, step and service.
pub fn step_costs<'a>(
    tallies: impl IntoIterator<Item = StepTally<'a>>,
    audits: &[(usize, CostReport)],
    config: &CostConfig,
) -> Vec<StepCost> {
    let mut steps: Vec<StepCost> = (tallies.into_iter())
        .map(|tally| {
            let cost = find_service(audits, config, tally.service, None).map(|found| found.cost);
            let cost = cost.as_ref();
            StepCost {
                workflow_type: tally.workflow_type.to_string(),
                step: tally.step.to_string(),
                service: tally.service.to_string(),
                open: tally.open,
                past_sla: tally.past_sla,
                criticality: cost.and_then(|c| c.criticality),
                slo: cost.and_then(|c| c.slo),
                budget_left: cost.and_then(|c| c.budget_left),
                burn_rate_1h: cost.and_then(|c| c.burn_rate_1h),
                burn_rate_6h: cost.and_then(|c| c.burn_rate_6h),
                findings: cost.map(|c| c.findings.clone()).unwrap_or_default(),
            }
        })
        .collect();
    steps.sort_by(|a, b| {
        (&a.workflow_type, &a.step, &a.service).cmp(&(&b.workflow_type, &b.step, &b.service))
    });
    steps
}

#[cfg(test)]
#[path = "steps_tests.rs"]
mod tests;
