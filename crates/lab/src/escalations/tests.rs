use super::*;
use crate::event_log::PublishedFleet;
use crate::sim::Sim;
use chrono::TimeDelta;
use protocol::escalations::{AttemptOutcome, Candidate, StepOutcome};
use protocol::escalations::{Escalation, EscalationReason, ResolveRequest};
use protocol::{BreakerState, Health};

pub(super) fn total(queue: &EscalationQueue) -> u64 {
    queue
        .list(&ListQuery {
            limit: 1,
            ..ListQuery::default()
        })
        .total
}

pub(super) fn epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub(super) fn queue(backlog: usize) -> EscalationQueue {
    EscalationQueue::new(&Topology::embedded_default(), 42, backlog, epoch())
}

/// The default fleet as published at its start.
pub(super) fn healthy_fleet() -> FleetSnapshot {
    let sim = Sim::new(Topology::embedded_default(), None, 42, epoch());
    let published = PublishedFleet::new(sim.view(), Vec::new(), sim.lab_info(1.0), sim.now());
    FleetSnapshot::clone(&published.snapshot())
}

/// `fleet` with `region` down, as the simulation publishes it.
pub(super) fn region_down(mut fleet: FleetSnapshot, region: &str) -> FleetSnapshot {
    for r in fleet.regions.iter_mut().filter(|r| r.id == region) {
        (r.health, r.error_rate) = (Health::Down, 1.0);
    }
    for service in &mut fleet.services {
        for replica in service.replicas.iter_mut().filter(|r| r.region == region) {
            replica.ready = false;
        }
    }
    fleet
}

pub(super) fn breaker_open(mut fleet: FleetSnapshot, provider: &str) -> FleetSnapshot {
    for p in fleet.providers.iter_mut().filter(|p| p.id == provider) {
        p.breaker.state = BreakerState::Open;
    }
    fleet
}

pub(super) fn first_with(queue: &EscalationQueue, reason: EscalationReason) -> Escalation {
    let listed = queue.list(&ListQuery {
        reasons: vec![reason],
        limit: 1,
        ..ListQuery::default()
    });
    queue.detail(&listed.items[0].id).unwrap()
}

pub(super) fn request(resolution: Resolution) -> ResolveRequest {
    ResolveRequest {
        resolution,
        note: "checked the input by hand".to_string(),
    }
}

pub(super) fn event_names(queue: &mut EscalationQueue) -> Vec<&'static str> {
    queue.take_events().iter().map(|e| e.name).collect()
}

pub(super) fn attempts_of(escalation: &Escalation) -> Vec<&protocol::escalations::Attempt> {
    escalation
        .lineage
        .steps
        .iter()
        .flat_map(|s| &s.attempts)
        .collect()
}

/// What every lineage keeps to, whatever the reason.
pub(super) fn assert_well_formed(escalation: &Escalation) {
    let summary = &escalation.summary;
    let attempts = attempts_of(escalation);
    assert_eq!(attempts.len() as u32, summary.attempts, "{}", summary.id);
    let steps = &escalation.lineage.steps;
    assert_eq!(steps.last().unwrap().outcome, StepOutcome::Escalated);
    assert_eq!(steps.last().unwrap().name, summary.step);
    assert!(
        steps[..steps.len() - 1]
            .iter()
            .all(|s| s.outcome == StepOutcome::Completed)
    );
    assert_eq!(escalation.checkpoint.step, steps[steps.len() - 2].name);
    let mut seen = Vec::new();
    let mut previous_end = escalation.lineage.started_at;
    for attempt in &attempts {
        if let Some(parent) = &attempt.parent {
            assert!(
                seen.contains(parent),
                "{}: parent {parent} of {} comes first",
                summary.id,
                attempt.id
            );
        }
        assert!(
            attempt.started_at >= previous_end,
            "{}: attempts do not overlap",
            summary.id
        );
        previous_end = attempt.started_at + TimeDelta::milliseconds(attempt.duration_ms as i64);
        seen.push(attempt.id.clone());
        assert_eq!(
            attempt.error.is_some(),
            matches!(
                attempt.outcome,
                AttemptOutcome::Error | AttemptOutcome::Timeout
            )
        );
    }
    assert!(previous_end <= summary.created_at);
    assert!(escalation.checkpoint.at <= summary.created_at);
    assert!(summary.sla_deadline > summary.created_at);
    assert!(escalation.idempotency_key.starts_with(&summary.workflow_id));
    assert_eq!(escalation.lineage.workflow_id, summary.workflow_id);
    assert!(!summary.reason_text.is_empty() && !summary.input_preview.is_empty());
}

pub(super) fn escalated_step(escalation: &Escalation) -> &[protocol::escalations::Attempt] {
    &escalation.lineage.steps.last().unwrap().attempts
}

#[test]
fn every_reason_has_the_lineage_that_explains_it() {
    let queue = queue(400);
    let all = queue.list(&ListQuery {
        limit: 400,
        ..ListQuery::default()
    });
    assert_eq!(all.total, 400);
    let mut reasons_seen = BTreeSet::new();
    for summary in &all.items {
        let escalation = queue.detail(&summary.id).unwrap();
        assert_eq!(
            queue.detail(&summary.id).unwrap(),
            escalation,
            "derived the same way twice"
        );
        assert_well_formed(&escalation);
        reasons_seen.insert(summary.reason);
        let step = escalated_step(&escalation);
        let threshold = escalation.confidence_threshold;
        let failing = |c: &Candidate| c.verdicts.iter().any(|v| !v.passed);
        match summary.reason {
            EscalationReason::PathsExhausted => {
                assert!(
                    step.iter().all(|a| a.error.is_some()),
                    "{}: every attempt failed",
                    summary.id
                );
                let paths: BTreeSet<(&str, &str)> = step
                    .iter()
                    .map(|a| (a.provider.as_deref().unwrap(), a.region.as_deref().unwrap()))
                    .collect();
                assert!(paths.len() >= 2, "{}: {paths:?}", summary.id);
                assert!(
                    step.iter()
                        .skip(1)
                        .all(|a| a.retry_reason.is_some() || a.failover_reason.is_some())
                );
                assert!(escalation.candidates.is_empty());
            }
            EscalationReason::ValidatorFailed => {
                let rejected: Vec<_> = step
                    .iter()
                    .filter(|a| a.outcome == AttemptOutcome::Rejected)
                    .collect();
                assert!(!rejected.is_empty());
                assert!(
                    rejected
                        .iter()
                        .all(|a| a.verdicts.iter().any(|v| !v.passed))
                );
                assert!(
                    !escalation.candidates.is_empty() && escalation.candidates.iter().all(failing)
                );
            }
            EscalationReason::LowConfidence => {
                assert!(!escalation.candidates.is_empty());
                assert!(
                    escalation
                        .candidates
                        .iter()
                        .all(|c| c.confidence < threshold),
                    "{}",
                    summary.id
                );
            }
            EscalationReason::Policy => {
                let candidate = &escalation.candidates[0];
                assert!(candidate.confidence >= threshold);
                assert!(
                    candidate
                        .verdicts
                        .iter()
                        .any(|v| v.validator.starts_with("policy:") && !v.passed)
                );
                // The console prefixes the reason's word: the text must not say it again.
                assert!(
                    !summary.reason_text.starts_with("policy"),
                    "{}",
                    summary.reason_text
                );
            }
        }
    }
    assert_eq!(reasons_seen.len(), EscalationReason::ALL.len());
}

#[test]
fn a_service_left_without_a_path_escalates_its_tasks_in_flight_once() {
    let mut queue = queue(0);
    let healthy = healthy_fleet();
    let down = region_down(healthy.clone(), "us-east");
    let start = epoch();
    queue.advance(&healthy, start);
    assert_eq!(total(&queue), 0);
    queue.advance(&down, start + TimeDelta::milliseconds(250));
    let burst = queue.take_events();
    assert!(burst.len() >= 2, "{}", burst.len());
    for event in &burst {
        assert_eq!(event.name, EVENT_NEW);
        assert_eq!(
            (event.summary.service.as_str(), event.summary.reason),
            ("credit-decision", EscalationReason::PathsExhausted),
            "only credit-decision has nothing outside us-east"
        );
        let escalation = queue.detail(&event.summary.id).unwrap();
        assert_well_formed(&escalation);
        let step = escalated_step(&escalation);
        assert!(step.iter().all(|a| a.region.as_deref() == Some("us-east")));
        assert!(step.iter().all(|a| a.outcome == AttemptOutcome::Timeout));
    }
    // Still stranded: no second burst. Back, then stranded again: a new one.
    queue.advance(&down, start + TimeDelta::milliseconds(500));
    assert!(
        queue
            .take_events()
            .iter()
            .all(|e| e.summary.reason != EscalationReason::PathsExhausted)
    );
    queue.advance(&healthy, start + TimeDelta::milliseconds(750));
    queue.take_events();
    let breakers = ["anthropic@us-east", "openai@us-east", "self-hosted@us-east"]
        .into_iter()
        .fold(healthy.clone(), breaker_open);
    queue.advance(&breakers, start + TimeDelta::seconds(1));
    let second: Vec<QueueEvent> = queue.take_events();
    assert!(!second.is_empty());
    let escalation = queue.detail(&second[0].summary.id).unwrap();
    assert!(
        escalated_step(&escalation)
            .iter()
            .all(|a| a.error.as_ref().unwrap().non_retryable)
    );
}

#[test]
fn traffic_brings_a_steady_deterministic_trickle_of_escalations() {
    let run = || {
        let mut queue = queue(0);
        let fleet = healthy_fleet();
        for second in 0..3600 {
            queue.advance(&fleet, epoch() + TimeDelta::seconds(second));
        }
        queue
            .take_events()
            .into_iter()
            .map(|e| e.summary)
            .collect::<Vec<_>>()
    };
    let first = run();
    assert_eq!(first, run());
    let count = |reason| first.iter().filter(|s| s.reason == reason).count();
    // About 23 tasks a second in the default fleet: tens of each per hour.
    assert!(
        (10..200).contains(&count(EscalationReason::ValidatorFailed)),
        "{}",
        count(EscalationReason::ValidatorFailed)
    );
    assert!((10..200).contains(&count(EscalationReason::LowConfidence)));
    assert!((1..100).contains(&count(EscalationReason::Policy)));
    assert_eq!(count(EscalationReason::PathsExhausted), 0);
}

#[test]
fn the_same_seed_loads_the_same_backlog() {
    let summaries = |seed| {
        let queue = EscalationQueue::new(&Topology::embedded_default(), seed, 50, epoch());
        queue
            .list(&ListQuery {
                limit: 50,
                ..ListQuery::default()
            })
            .items
    };
    assert_eq!(summaries(42), summaries(42));
    assert_ne!(summaries(42), summaries(43));
}

#[test]
fn a_burst_raises_its_escalations_at_once_for_its_service_or_any() {
    let topology = Topology::embedded_default();
    let risk = topology
        .services
        .iter()
        .position(|s| s.id == "risk-scorer")
        .unwrap();
    let mut queue = queue(0);
    queue.burst(Some(risk), 12, epoch());
    let events = queue.take_events();
    assert_eq!(events.len(), 12);
    assert!(events.iter().all(|e| e.name == EVENT_NEW));
    assert!(events.iter().all(|e| e.summary.service == "risk-scorer"));
    assert!(events.iter().all(|e| e.summary.created_at == epoch()));
    assert_eq!(total(&queue), 12);

    queue.burst(None, 30, epoch());
    let services: BTreeSet<String> = queue
        .take_events()
        .into_iter()
        .map(|e| e.summary.service)
        .collect();
    assert!(services.len() > 1, "any service: {services:?}");
    queue.burst(Some(topology.services.len()), 5, epoch());
    assert!(queue.take_events().is_empty(), "no such service: nothing");
}
