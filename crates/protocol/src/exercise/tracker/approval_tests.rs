//! Held commands in a drill: each request's wait and decision in the report and timeline,
//! and a held command's risk counted only once it is carried out.

use super::tests::*;
use super::*;
use crate::commands::{ApprovalState, AuditOutcome, PreflightSeen, PreflightVerdict};
use crate::exercise::report::TimelineKind;

fn forced() -> PreflightSeen {
    PreflightSeen {
        verdict: PreflightVerdict::Block,
        findings: vec!["us-west would run at 130% of capacity".into()],
        forced: true,
        needs_approval: None,
        approval_expires_after_s: None,
    }
}

fn no_force() -> ObjectiveSpec {
    objective("no-force", 1, None, None, ObjectiveCondition::NoForce)
}

#[test]
fn each_held_command_waits_until_decided_and_the_decision_is_in_the_timeline() {
    let records = [
        approval(
            20.0,
            request("apr-1", "alice", ApprovalState::Pending, None),
        ),
        approval(
            95.0,
            request("apr-1", "alice", ApprovalState::Approved, Some("bob")),
        ),
        approval(
            100.0,
            request("apr-2", "alice", ApprovalState::Pending, None),
        ),
        approval(
            130.0,
            request("apr-2", "alice", ApprovalState::Denied, Some("bob")),
        ),
        approval(
            140.0,
            request("apr-3", "alice", ApprovalState::Pending, None),
        ),
        approval(
            1040.0,
            request("apr-3", "alice", ApprovalState::Expired, Some("system")),
        ),
        approval(
            1050.0,
            request("apr-4", "alice", ApprovalState::Pending, None),
        ),
        approval(
            1060.0,
            request("apr-4", "alice", ApprovalState::Failed, Some("carol")),
        ),
        // Told twice (a replayed event): decided once.
        approval(
            1070.0,
            request("apr-4", "alice", ApprovalState::Approved, Some("dave")),
        ),
        approval(
            1080.0,
            request("apr-5", "alice", ApprovalState::Pending, None),
        ),
    ];
    let report = run(vec![], &records).report();
    let waits: Vec<_> = report
        .approvals
        .iter()
        .map(|w| (w.id.as_str(), w.state, w.decided_by.as_deref(), w.waited_s))
        .collect();
    assert_eq!(
        waits,
        [
            ("apr-1", ApprovalState::Approved, Some("bob"), Some(75.0)),
            ("apr-2", ApprovalState::Denied, Some("bob"), Some(30.0)),
            ("apr-3", ApprovalState::Expired, Some("system"), Some(900.0)),
            ("apr-4", ApprovalState::Failed, Some("carol"), Some(10.0)),
            ("apr-5", ApprovalState::Pending, None, None),
        ]
    );
    let decisions: Vec<_> = report
        .timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::Approval)
        .map(|e| (e.at_s, e.who.as_str(), e.what.as_str(), e.why.as_str()))
        .collect();
    assert_eq!(
        decisions,
        [
            (
                95.0,
                "bob",
                "approved alice's drain us-east (apr-1), held 1m15s",
                "bob decides"
            ),
            (
                130.0,
                "bob",
                "denied alice's drain us-east (apr-2), held 30s",
                "bob decides"
            ),
            (
                1040.0,
                "system",
                "alice's drain us-east (apr-3), held 15m00s: expired undecided",
                "system decides"
            ),
            (
                1060.0,
                "carol",
                "approved alice's drain us-east (apr-4), held 10s, but it could not run",
                "carol decides — the target changed"
            ),
        ]
    );
}

#[test]
fn a_held_forced_command_is_risky_only_once_carried_out() {
    let held = with_preflight(
        audit(20.0, "alice", "drain", "us-east", AuditOutcome::Held),
        forced(),
    );
    let denied = audit(
        50.0,
        "bob",
        "approval deny",
        "apr-1",
        AuditOutcome::Accepted,
    );
    let tracker = run(vec![no_force()], &[held.clone(), denied]);
    assert!(
        tracker
            .state(ExerciseRole::Facilitator)
            .risky_actions
            .is_empty()
    );
    assert_eq!(status(&tracker, "no-force"), ObjectiveStatus::Pending);
    let report = tracker.report();
    let actions: Vec<_> = report
        .timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::Action)
        .map(|e| e.what.as_str())
        .collect();
    assert_eq!(
        actions,
        ["drain us-east (held for approval)"],
        "the decision's own audit entry is told by its approval record"
    );

    let carried = with_preflight(
        audit(80.0, "alice", "drain", "us-east", AuditOutcome::Accepted),
        forced(),
    );
    let tracker = run(vec![no_force()], &[held, carried]);
    let risky = tracker.state(ExerciseRole::Facilitator).risky_actions;
    assert_eq!(risky.len(), 1);
    assert_eq!(risky[0].at_s, 80.0);
    assert_eq!(missed_at(&status(&tracker, "no-force")), Some(80.0));
}
