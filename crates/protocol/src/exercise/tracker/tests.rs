//! Objective evaluation, deadline edges, measures, SLA breaches, risky actions, score, the
//! views by role, and determinism. Helpers build records the way the lab writes them.

use chrono::{DateTime, Utc};

use super::*;
use crate::commands::{
    ApprovalRequest, ApprovalState, AuditEntry, AuditOutcome, Decision, PreflightSeen,
};
use crate::exercise::record::Player;
use crate::exercise::{Control, InjectState};
use crate::{
    Breaker, BreakerState, FleetSnapshot, Health, Latency, Provider, RedundancyTier, Region,
    Service,
};

pub(crate) fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_000_000, 0).unwrap()
}

pub(crate) fn inject(id: &str, kind: &str, at_s: f64, duration_s: f64) -> InjectState {
    InjectState {
        id: id.into(),
        kind: kind.into(),
        target: "openai@us-east".into(),
        at_s,
        duration_s,
        summary: format!("{id} summary"),
        narrative: format!("{id} narrative"),
        fired_at_s: None,
        facilitator_note: Some(format!("{id} note")),
    }
}

pub(crate) fn objective(
    id: &str,
    weight: u32,
    after: Option<&str>,
    within_s: Option<f64>,
    condition: ObjectiveCondition,
) -> ObjectiveSpec {
    ObjectiveSpec {
        id: id.into(),
        title: format!("{id} title"),
        weight,
        after: after.map(str::to_string),
        within_s,
        condition,
    }
}

pub(crate) fn header(objectives: Vec<ObjectiveSpec>) -> RunHeader {
    RunHeader {
        format: super::super::record::FORMAT_VERSION,
        run_id: "ex-20261202-071500-provider-outage".into(),
        scenario: "provider-outage".into(),
        description: "openai@us-east fails".into(),
        briefing: "You are on call.".into(),
        seed: 42,
        speed: 1.0,
        created_at: epoch(),
        players: vec![
            Player {
                name: "fran".into(),
                role: ExerciseRole::Facilitator,
            },
            Player {
                name: "alice".into(),
                role: ExerciseRole::IncidentCommander,
            },
            Player {
                name: "bob".into(),
                role: ExerciseRole::Operator,
            },
        ],
        injects: vec![
            inject("outage", "provider-outage", 10.0, 240.0),
            inject("call", "message", 120.0, 0.0),
        ],
        objectives,
    }
}

/// A region at `load` of its 100 rps capacity, with `share` of traffic and `errors`.
pub(crate) fn region(id: &str, share: f64, errors: f64, load: f64) -> Region {
    Region {
        id: id.into(),
        health: if errors < 0.05 && load <= 100.0 {
            Health::Ok
        } else {
            Health::Degraded
        },
        latency: Latency::default(),
        error_rate: errors,
        rate_limited_rate: 0.0,
        capacity_rps: 100.0,
        load_rps: load,
        traffic_share: share,
        drain: None,
        control_revision: 0,
    }
}

pub(crate) fn provider(id: &str, share: f64, health: Health) -> Provider {
    let (vendor, region) = id.split_once('@').unwrap();
    Provider {
        price_per_1k_tokens: None,
        id: id.into(),
        vendor: vendor.into(),
        model: "m".into(),
        region: region.into(),
        health,
        latency: Latency::default(),
        error_rate: 0.0,
        rate_limited_rate: 0.0,
        breaker: Breaker {
            state: BreakerState::Closed,
            reason: None,
            until: None,
        },
        rate_limit_headroom: 1.0,
        rate_limit_rps: None,
        cost_tier: "premium".into(),
        load_rps: 10.0,
        traffic_share: share,
        quarantine: None,
        pinned: None,
        control_revision: 0,
    }
}

/// A fleet sample of two regions: us-east (`east` = (share, error rate, load)) and a calm
/// us-west, openai@us-east carrying `openai_share`, service credit-decision `service`.
pub(crate) fn fleet(t_s: f64, east: (f64, f64, f64), openai_share: f64) -> RunRecord {
    let (share, errors, load) = east;
    RunRecord::Fleet {
        t_s,
        snapshot: Box::new(FleetSnapshot {
            standby_shares: Default::default(),
            revision: t_s as u64,
            generated_at: epoch(),
            regions: vec![
                region("us-east", share, errors, load),
                region("us-west", 1.0 - share, 0.004, 50.0),
            ],
            providers: vec![provider(
                "openai@us-east",
                openai_share,
                if errors < 0.05 {
                    Health::Ok
                } else {
                    Health::Down
                },
            )],
            gateways: Vec::new(),
            services: vec![Service {
                posture: None,
                id: "credit-decision".into(),
                tier: RedundancyTier::ActivePassive,
                health: if errors < 0.05 {
                    Health::Ok
                } else {
                    Health::Down
                },
                demand_rps: 80.0,
                replicas: Vec::new(),
                degraded_modes: Vec::new(),
                region_weights: Default::default(),
                control_revision: 0,
            }],
            notices: Vec::new(),
            operations: Vec::new(),
            lab: None,
            pools: Vec::new(),
            readiness: None,
        }),
    }
}

/// A calm sample: nobody overloaded, errors low, openai@us-east at 60%.
pub(crate) fn calm(t_s: f64) -> RunRecord {
    fleet(t_s, (0.5, 0.004, 60.0), 0.6)
}

pub(crate) fn fired(t_s: f64, id: &str) -> RunRecord {
    let header = header(Vec::new());
    let inject = header.injects.iter().find(|i| i.id == id).unwrap().clone();
    RunRecord::Inject { t_s, inject }
}

pub(crate) fn audit(
    t_s: f64,
    actor: &str,
    action: &str,
    target: &str,
    outcome: AuditOutcome,
) -> RunRecord {
    RunRecord::Audit {
        t_s,
        entry: AuditEntry {
            id: t_s as u64,
            at: epoch(),
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            reason: format!("{actor} says why"),
            idempotency_key: Some(format!("key-{t_s}")),
            outcome,
            detail: None,
            preflight: None,
        },
    }
}

pub(crate) fn with_preflight(mut record: RunRecord, seen: PreflightSeen) -> RunRecord {
    if let RunRecord::Audit { entry, .. } = &mut record {
        entry.preflight = Some(seen);
    }
    record
}

/// A request for `requested_by`'s drain of us-east, as its `approval` event tells it.
pub(crate) fn request(
    id: &str,
    requested_by: &str,
    state: ApprovalState,
    decided_by: Option<&str>,
) -> ApprovalRequest {
    ApprovalRequest {
        id: id.into(),
        state,
        action: "drain".into(),
        target: "us-east".into(),
        path: "/v1/regions/us-east/drain".into(),
        body: serde_json::json!({"reason": "move traffic"}),
        idempotency_key: format!("key-{id}"),
        if_match: 3,
        requested_by: requested_by.into(),
        reason: "move traffic".into(),
        why_approval: "it overrides a blocking preflight".into(),
        preflight: None,
        requested_at: epoch(),
        expires_at: epoch(),
        decision: decided_by.map(|by| Decision {
            by: by.into(),
            reason: format!("{by} decides"),
            at: epoch(),
            audit_id: None,
            error: (state == ApprovalState::Failed).then(|| "the target changed".into()),
        }),
    }
}

pub(crate) fn approval(t_s: f64, request: ApprovalRequest) -> RunRecord {
    RunRecord::Approval {
        t_s,
        request: Box::new(request),
    }
}

pub(crate) fn control(t_s: f64, by: &str, control: Control) -> RunRecord {
    RunRecord::Control {
        t_s,
        by: by.into(),
        control,
    }
}

pub(crate) fn opened(t_s: f64, id: &str, priority: Priority, sla_deadline_s: f64) -> RunRecord {
    RunRecord::EscalationOpened {
        t_s,
        id: id.into(),
        priority,
        sla_deadline_s,
    }
}

pub(crate) fn closed(t_s: f64, id: &str) -> RunRecord {
    RunRecord::EscalationClosed {
        t_s,
        id: id.into(),
        by: "bob".into(),
    }
}

/// The tracker after `records` (after a start at T0).
pub(crate) fn run(objectives: Vec<ObjectiveSpec>, records: &[RunRecord]) -> Tracker {
    let mut tracker = Tracker::new(header(objectives));
    tracker.feed(&control(0.0, "fran", Control::Start));
    for record in records {
        tracker.feed(record);
    }
    tracker
}

pub(crate) fn status(tracker: &Tracker, id: &str) -> ObjectiveStatus {
    let state = tracker.state(ExerciseRole::Facilitator);
    state
        .objectives
        .into_iter()
        .find(|o| o.id == id)
        .unwrap()
        .status
}

pub(crate) fn annotation(t_s: f64, tone: Tone, text: &str) -> RunRecord {
    RunRecord::Annotation {
        t_s,
        annotation: Annotation {
            at_s: t_s,
            author: "fran".into(),
            tone,
            text: text.into(),
        },
    }
}

pub(crate) fn end(t_s: f64) -> RunRecord {
    control(t_s, "fran", Control::End)
}

pub(crate) const MET_AT: fn(f64) -> ObjectiveStatus = |at_s| ObjectiveStatus::Met { at_s };

pub(crate) fn missed_at(status: &ObjectiveStatus) -> Option<f64> {
    match status {
        ObjectiveStatus::Missed { at_s, .. } => Some(*at_s),
        _ => None,
    }
}

pub(crate) fn traffic_off(within_s: Option<f64>) -> ObjectiveSpec {
    objective(
        "off",
        3,
        Some("outage"),
        within_s,
        ObjectiveCondition::TrafficOff {
            provider: "openai@us-east".into(),
            below: 0.05,
        },
    )
}

#[test]
fn traffic_off_counts_only_samples_after_its_inject() {
    // Off before the outage (a drained region, say): not what the objective asks.
    let tracker = run(
        vec![traffic_off(Some(300.0))],
        &[fleet(5.0, (0.5, 0.0, 50.0), 0.0), fired(10.0, "outage")],
    );
    assert_eq!(status(&tracker, "off"), ObjectiveStatus::Pending);
    let state = tracker.state(ExerciseRole::Operator);
    assert_eq!(state.objectives[0].deadline_s, Some(310.0));
    let tracker = run(
        vec![traffic_off(Some(300.0))],
        &[
            fired(10.0, "outage"),
            calm(15.0),
            fleet(20.0, (0.5, 0.0, 50.0), 0.04),
        ],
    );
    assert_eq!(status(&tracker, "off"), MET_AT(20.0));
}

#[test]
fn a_must_happen_objective_met_exactly_at_its_deadline_is_met() {
    let tracker = run(
        vec![traffic_off(Some(60.0))],
        &[fired(10.0, "outage"), fleet(70.0, (0.5, 0.0, 50.0), 0.0)],
    );
    assert_eq!(status(&tracker, "off"), MET_AT(70.0));
}

#[test]
fn a_must_happen_objective_one_sample_late_is_missed_at_its_deadline() {
    let tracker = run(
        vec![traffic_off(Some(60.0))],
        &[fired(10.0, "outage"), fleet(75.0, (0.5, 0.0, 50.0), 0.0)],
    );
    match status(&tracker, "off") {
        ObjectiveStatus::Missed { at_s, why } => {
            assert_eq!(at_s, 70.0);
            assert_eq!(why, "not done by its deadline T+01:10");
        }
        other => panic!("{other:?}"),
    }
    // The clock alone passing the deadline misses it, with no record at all.
    let mut tracker = run(vec![traffic_off(Some(60.0))], &[fired(10.0, "outage")]);
    tracker.advance_to(70.0);
    assert_eq!(status(&tracker, "off"), ObjectiveStatus::Pending);
    tracker.advance_to(70.5);
    assert_eq!(missed_at(&status(&tracker, "off")), Some(70.0));
}

#[test]
fn without_a_deadline_a_must_happen_objective_is_missed_at_the_end() {
    let tracker = run(
        vec![traffic_off(None)],
        &[fired(10.0, "outage"), calm(300.0), end(400.0)],
    );
    assert_eq!(
        status(&tracker, "off"),
        ObjectiveStatus::Missed {
            at_s: 400.0,
            why: "not done by the end".into()
        }
    );
    // Its inject never fired: nothing to count from; pending until the end, then missed.
    let tracker = run(vec![traffic_off(Some(60.0))], &[calm(300.0)]);
    let state = tracker.state(ExerciseRole::Operator);
    assert_eq!(
        (state.objectives[0].deadline_s, &state.objectives[0].status),
        (None, &ObjectiveStatus::Pending)
    );
    let tracker = run(vec![traffic_off(Some(60.0))], &[calm(300.0), end(310.0)]);
    assert_eq!(
        status(&tracker, "off"),
        ObjectiveStatus::Missed {
            at_s: 310.0,
            why: "its inject outage never fired".into()
        }
    );
}

#[test]
fn action_objectives_match_accepted_commands_by_action_and_target() {
    let promote = |target: &str| {
        objective(
            target,
            1,
            None,
            None,
            ObjectiveCondition::Action {
                action: "promote".into(),
                target: Some(target.into()),
            },
        )
    };
    let force_open = objective(
        "force-open",
        1,
        None,
        None,
        ObjectiveCondition::Action {
            action: "breaker force-open".into(),
            target: None,
        },
    );
    let objectives = vec![
        promote("credit-decision@us-west"),
        promote("credit-decision"),
        promote("credit-decision@eu-west"),
        force_open,
    ];
    let tracker = run(
        objectives,
        &[
            audit(
                20.0,
                "bob",
                "breaker force",
                "openai@us-east",
                AuditOutcome::Accepted,
            ),
            audit(
                25.0,
                "bob",
                "breaker force-open",
                "openai@us-east",
                AuditOutcome::Rejected,
            ),
            audit(
                30.0,
                "bob",
                "promote",
                "credit-decision/credit-decision@us-west",
                AuditOutcome::Accepted,
            ),
            audit(
                40.0,
                "alice",
                "breaker force-open",
                "openai@us-east",
                AuditOutcome::Accepted,
            ),
        ],
    );
    assert_eq!(status(&tracker, "credit-decision@us-west"), MET_AT(30.0));
    assert_eq!(status(&tracker, "credit-decision"), MET_AT(30.0));
    assert_eq!(
        status(&tracker, "credit-decision@eu-west"),
        ObjectiveStatus::Pending
    );
    // Neither a mere prefix of a word nor a rejected command counts.
    assert_eq!(status(&tracker, "force-open"), MET_AT(40.0));
}

#[test]
fn healthy_objectives_read_regions_providers_and_services() {
    let healthy = |target: &str| {
        objective(
            target,
            1,
            Some("outage"),
            Some(120.0),
            ObjectiveCondition::Healthy {
                target: target.into(),
            },
        )
    };
    let tracker = run(
        vec![
            healthy("us-east"),
            healthy("openai@us-east"),
            healthy("credit-decision"),
        ],
        &[
            fired(10.0, "outage"),
            fleet(15.0, (0.5, 0.5, 60.0), 0.6),
            fleet(100.0, (0.5, 0.01, 60.0), 0.6),
        ],
    );
    for target in ["us-east", "openai@us-east", "credit-decision"] {
        assert_eq!(status(&tracker, target), MET_AT(100.0), "{target}");
    }
}
