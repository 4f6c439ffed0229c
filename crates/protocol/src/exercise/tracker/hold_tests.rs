//! Must-hold objectives (no overload, escalations within SLA, no FORCE), SLA breaches and
//! risky actions.

use super::tests::*;
use super::*;
use crate::commands::{AuditOutcome, PreflightSeen, PreflightVerdict};

fn no_overload(after: Option<&str>, within_s: Option<f64>) -> ObjectiveSpec {
    objective(
        "cool",
        2,
        after,
        within_s,
        ObjectiveCondition::NoOverload { for_s: 60.0 },
    )
}

/// us-east over its capacity (load 120 of 100).
fn overloaded(t_s: f64) -> RunRecord {
    fleet(t_s, (0.6, 0.004, 120.0), 0.6)
}

#[test]
fn an_overload_of_exactly_the_allowed_stretch_keeps_no_overload() {
    let tracker = run(
        vec![no_overload(None, None)],
        &[
            overloaded(10.0),
            overloaded(40.0),
            overloaded(70.0),
            calm(75.0),
            end(300.0),
        ],
    );
    assert_eq!(status(&tracker, "cool"), MET_AT(300.0));
}

#[test]
fn an_overload_one_sample_longer_misses_no_overload_naming_the_region() {
    let tracker = run(
        vec![no_overload(None, None)],
        &[
            overloaded(10.0),
            overloaded(70.0),
            overloaded(75.0),
            end(300.0),
        ],
    );
    assert_eq!(
        status(&tracker, "cool"),
        ObjectiveStatus::Missed {
            at_s: 75.0,
            why: "us-east over capacity for 65 s (since T+00:10)".into()
        }
    );
}

#[test]
fn a_calm_sample_breaks_the_stretch_and_the_window_starts_at_the_inject() {
    let tracker = run(
        vec![no_overload(None, None)],
        &[
            overloaded(10.0),
            overloaded(60.0),
            calm(65.0),
            overloaded(70.0),
            overloaded(125.0),
        ],
    );
    assert_eq!(status(&tracker, "cool"), ObjectiveStatus::Pending);
    // Overloaded since T+00:00, but watched from the outage at T+00:10: 60 s, not 70.
    let tracker = run(
        vec![no_overload(Some("outage"), None)],
        &[overloaded(0.0), fired(10.0, "outage"), overloaded(70.0)],
    );
    assert_eq!(status(&tracker, "cool"), ObjectiveStatus::Pending);
    let tracker = run(
        vec![no_overload(Some("outage"), None)],
        &[overloaded(0.0), fired(10.0, "outage"), overloaded(75.0)],
    );
    assert_eq!(missed_at(&status(&tracker, "cool")), Some(75.0));
}

#[test]
fn a_must_hold_objective_with_a_deadline_is_met_when_the_clock_passes_it() {
    let tracker = run(
        vec![no_overload(Some("outage"), Some(60.0))],
        &[fired(10.0, "outage"), overloaded(20.0), overloaded(70.0)],
    );
    // At the deadline itself it still holds, and is not settled yet.
    assert_eq!(status(&tracker, "cool"), ObjectiveStatus::Pending);
    let mut tracker = tracker;
    tracker.advance_to(71.0);
    assert_eq!(status(&tracker, "cool"), MET_AT(70.0));
    // A break after the window does not count against it.
    tracker.feed(&overloaded(200.0));
    assert_eq!(status(&tracker, "cool"), MET_AT(70.0));
}

fn within_sla(priority: Option<Priority>, after: Option<&str>) -> ObjectiveSpec {
    objective(
        "sla",
        2,
        after,
        None,
        ObjectiveCondition::EscalationsWithinSla { priority },
    )
}

#[test]
fn an_escalation_closed_exactly_at_its_sla_is_within_it() {
    let tracker = run(
        vec![within_sla(None, None)],
        &[
            opened(20.0, "esc-1", Priority::P1, 80.0),
            closed(80.0, "esc-1"),
            end(300.0),
        ],
    );
    assert_eq!(status(&tracker, "sla"), MET_AT(300.0));
    let report = tracker.report();
    assert_eq!(
        (
            report.sla_breaches,
            report.escalations_opened,
            report.escalations_closed
        ),
        (0, 1, 1)
    );
}

#[test]
fn an_escalation_open_past_its_sla_breaches_once_at_its_deadline() {
    let tracker = run(
        vec![within_sla(None, None)],
        &[
            opened(20.0, "esc-1", Priority::P1, 80.0),
            calm(85.0),
            closed(120.0, "esc-1"),
            calm(200.0),
        ],
    );
    assert_eq!(
        status(&tracker, "sla"),
        ObjectiveStatus::Missed {
            at_s: 80.0,
            why: "escalation esc-1 (P1) still open past its SLA at T+01:20".into()
        }
    );
    assert_eq!(tracker.state(ExerciseRole::Observer).sla_breaches, 1);
    let closing = tracker
        .report()
        .timeline
        .into_iter()
        .find(|e| e.kind == crate::exercise::report::TimelineKind::Escalation)
        .unwrap();
    assert_eq!(
        closing.what,
        "escalation esc-1 (P1) closed after 100 s, past its SLA"
    );
    // Still open with no later record: the clock passing the deadline is enough.
    let mut tracker = run(vec![], &[opened(20.0, "esc-2", Priority::P3, 80.0)]);
    tracker.advance_to(80.0);
    assert_eq!(tracker.state(ExerciseRole::Observer).sla_breaches, 0);
    tracker.advance_to(81.0);
    assert_eq!(tracker.state(ExerciseRole::Observer).sla_breaches, 1);
}

#[test]
fn sla_objectives_filter_by_priority_and_by_their_window() {
    let late_p2 = [opened(20.0, "esc-1", Priority::P2, 80.0), calm(100.0)];
    let tracker = run(vec![within_sla(Some(Priority::P1), None)], &late_p2);
    assert_eq!(status(&tracker, "sla"), ObjectiveStatus::Pending);
    let tracker = run(vec![within_sla(Some(Priority::P2), None)], &late_p2);
    assert_eq!(missed_at(&status(&tracker, "sla")), Some(80.0));
    // Opened before the objective's inject fired: not the burst it watches.
    let tracker = run(
        vec![within_sla(None, Some("outage"))],
        &[
            opened(5.0, "esc-1", Priority::P1, 60.0),
            fired(10.0, "outage"),
            calm(100.0),
        ],
    );
    assert_eq!(status(&tracker, "sla"), ObjectiveStatus::Pending);
    assert_eq!(tracker.state(ExerciseRole::Observer).sla_breaches, 1);
}

fn no_force() -> ObjectiveSpec {
    objective("no-force", 1, None, None, ObjectiveCondition::NoForce)
}

fn seen(verdict: PreflightVerdict, forced: bool) -> PreflightSeen {
    PreflightSeen {
        verdict,
        findings: vec!["us-west would run at 130% of capacity".into()],
        forced,
        needs_approval: None,
        approval_expires_after_s: None,
    }
}

#[test]
fn confirmed_warnings_are_risky_and_a_forced_block_also_breaks_no_force() {
    let drain = |t: f64| audit(t, "bob", "drain", "us-east", AuditOutcome::Accepted);
    let tracker = run(
        vec![no_force()],
        &[
            with_preflight(drain(20.0), seen(PreflightVerdict::Ok, false)),
            with_preflight(drain(30.0), seen(PreflightVerdict::Warn, false)),
        ],
    );
    assert_eq!(status(&tracker, "no-force"), ObjectiveStatus::Pending);
    let risky = tracker.state(ExerciseRole::Observer).risky_actions;
    assert_eq!(risky.len(), 1, "an ok preflight is not risky");
    assert_eq!(
        (risky[0].at_s, risky[0].forced, risky[0].findings.len()),
        (30.0, false, 1)
    );
    let tracker = run(
        vec![no_force()],
        &[with_preflight(
            drain(40.0),
            seen(PreflightVerdict::Block, true),
        )],
    );
    assert_eq!(
        status(&tracker, "no-force"),
        ObjectiveStatus::Missed {
            at_s: 40.0,
            why: "drain us-east forced by bob at T+00:40".into()
        }
    );
    let report = tracker.report();
    let action = report
        .timeline
        .iter()
        .find(|e| e.what.starts_with("drain"))
        .unwrap();
    assert_eq!(action.what, "drain us-east (accepted)");
    assert_eq!(
        action.why,
        "bob says why — FORCED past a blocking preflight: us-west would run at 130% of capacity"
    );
}

#[test]
fn the_score_is_the_weights_met_over_all_weights() {
    let tracker = run(
        vec![traffic_off(Some(60.0)), no_overload(None, None), no_force()],
        &[
            fired(10.0, "outage"),
            fleet(30.0, (0.5, 0.0, 50.0), 0.0),
            overloaded(40.0),
            overloaded(110.0),
            end(200.0),
        ],
    );
    assert_eq!(
        tracker.state(ExerciseRole::Observer).score,
        Score {
            earned: 4,
            possible: 6
        }
    );
    assert_eq!(tracker.report().score.earned, 4);
}
