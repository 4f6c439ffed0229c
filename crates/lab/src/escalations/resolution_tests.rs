use super::*;
use crate::escalations::tests::{
    assert_well_formed, attempts_of, breaker_open, epoch, event_names, first_with, healthy_fleet,
    queue, request, total,
};
use crate::escalations::{AssigneeFilter, ListQuery, QueueEvent};
use protocol::escalations::{AttemptOutcome, EVENT_CLAIMED, EVENT_NEW, Escalation};

#[test]
fn a_task_is_resolved_once_and_the_loser_learns_who_and_how() {
    let mut queue = queue(60);
    let task = first_with(&queue, EscalationReason::LowConfidence);
    let id = task.summary.id.clone();
    let candidate = task.candidates[0].id.clone();
    let now = epoch();
    queue.claim(&id, "bob", 300, now).unwrap();
    let approve = request(Resolution::Approve {
        candidate: candidate.clone(),
    });
    assert!(matches!(
        queue.resolve(&id, "alice", "k-alice", &approve, now),
        Err(QueueError::Held { holder, .. }) if holder == "bob"
    ));
    let outcome = queue.resolve(&id, "bob", "k-bob", &approve, now).unwrap();
    assert_eq!(outcome.escalation.state, EscalationState::Resolved);
    assert_eq!(outcome.escalation.lease, None);
    assert_eq!(outcome.applied.idempotency_key, "k-bob");
    assert!(
        outcome.consequence.contains("resumes from checkpoint"),
        "{}",
        outcome.consequence
    );
    assert!(outcome.consequence.contains(&candidate));
    let brief = outcome.escalation.resolution.clone().unwrap();
    assert_eq!(
        (brief.by.as_str(), brief.kind),
        ("bob", approve.resolution.kind())
    );
    let notices = queue.take_notices();
    assert_eq!(notices.len(), 1);
    assert!(notices[0].text.contains(&task.summary.workflow_id));

    let closed = QueueError::Closed {
        by: "bob".into(),
        resolution: approve.resolution.clone(),
        at: now,
    };
    let later = now + TimeDelta::seconds(5);
    assert_eq!(
        queue.resolve(
            &id,
            "alice",
            "k-alice-2",
            &request(Resolution::Abort),
            later
        ),
        Err(closed.clone())
    );
    assert_eq!(queue.claim(&id, "alice", 60, later), Err(closed));
    assert_eq!(
        queue.detail(&id).unwrap().applied.unwrap().note,
        "checked the input by hand"
    );
    assert_eq!(
        event_names(&mut queue),
        [EVENT_CLAIMED, EVENT_RESOLVED],
        "refusals change nothing"
    );
}

#[test]
fn resolutions_are_checked_against_what_the_task_and_fleet_have() {
    let mut queue = queue(60);
    let id = first_with(&queue, EscalationReason::ValidatorFailed)
        .summary
        .id;
    let now = epoch();
    let refused = |queue: &mut EscalationQueue, resolution: Resolution, note: &str| {
        let request = ResolveRequest {
            resolution,
            note: note.to_string(),
        };
        queue.resolve(&id, "bob", "k", &request, now).unwrap_err()
    };
    let abort = Resolution::Abort;
    assert!(matches!(
        refused(&mut queue, abort.clone(), "  "),
        QueueError::Incomplete(_)
    ));
    let long_note = "x".repeat(MAX_NOTE_BYTES + 1);
    assert!(matches!(
        refused(&mut queue, abort, &long_note),
        QueueError::Incomplete(_)
    ));
    let cases = [
        Resolution::Approve {
            candidate: "c99".into(),
        },
        Resolution::Submit {
            output: "fixed".into(),
            based_on: Some("c99".into()),
        },
        Resolution::Retry {
            model: None,
            provider: Some("nobody".into()),
            region: None,
        },
        Resolution::Retry {
            model: None,
            provider: Some("self-hosted".into()),
            region: Some("eu-west".into()),
        },
        Resolution::Handoff {
            to: "victor".into(),
        },
        Resolution::Handoff { to: "bob".into() },
        Resolution::Handoff {
            to: "mallory".into(),
        },
    ];
    for resolution in cases {
        let error = refused(&mut queue, resolution.clone(), "why");
        assert!(
            matches!(error, QueueError::Unprocessable(_)),
            "{resolution:?}: {error:?}"
        );
    }
    let empty = Resolution::Submit {
        output: " ".into(),
        based_on: None,
    };
    assert!(matches!(
        refused(&mut queue, empty, "why"),
        QueueError::Incomplete(_)
    ));
    let no_reason = Resolution::Reject {
        reason: String::new(),
    };
    assert!(matches!(
        refused(&mut queue, no_reason, "why"),
        QueueError::Incomplete(_)
    ));
    assert!(queue.take_events().is_empty());
    assert_eq!(
        queue.detail(&id).unwrap().summary.state,
        EscalationState::Pending
    );
}

#[test]
fn a_hand_off_keeps_the_task_pending_for_its_new_assignee() {
    let mut queue = queue(5);
    let now = epoch();
    queue.claim("esc-000002", "bob", 300, now).unwrap();
    let handoff = ResolveRequest {
        resolution: Resolution::Handoff { to: "alice".into() },
        note: "alice knows this merchant".into(),
    };
    let outcome = queue
        .resolve("esc-000002", "bob", "k1", &handoff, now)
        .unwrap();
    assert_eq!(outcome.escalation.state, EscalationState::Pending);
    assert_eq!(outcome.escalation.assignee.as_deref(), Some("alice"));
    assert_eq!(
        (
            outcome.escalation.lease.as_ref(),
            outcome.escalation.resolution.as_ref()
        ),
        (None, None)
    );
    let last = queue.detail("esc-000002").unwrap().history.pop().unwrap();
    assert_eq!(last.action, HistoryAction::HandedOff);
    assert_eq!(last.assignee.as_deref(), Some("alice"));
    assert_eq!(last.note.as_deref(), Some("alice knows this merchant"));
    assert_eq!(event_names(&mut queue), [EVENT_CLAIMED, EVENT_RELEASED]);
    let mine = queue.list(&ListQuery {
        assignee: Some(AssigneeFilter::Named("alice".into())),
        limit: 10,
        ..ListQuery::default()
    });
    assert_eq!(mine.items.len(), 1);
    let unassigned = queue.list(&ListQuery {
        assignee: Some(AssigneeFilter::Nobody),
        limit: 10,
        ..ListQuery::default()
    });
    assert_eq!(unassigned.total, 4);
    // Still open: alice resolves it.
    let reject = request(Resolution::Reject {
        reason: "duplicate".into(),
    });
    let outcome = queue
        .resolve("esc-000002", "alice", "k2", &reject, now)
        .unwrap();
    assert_eq!(outcome.escalation.state, EscalationState::Resolved);
}

#[test]
fn an_abort_closes_the_task_as_aborted() {
    let mut queue = queue(2);
    let outcome = queue
        .resolve(
            "esc-000001",
            "alice",
            "k",
            &request(Resolution::Abort),
            epoch(),
        )
        .unwrap();
    assert_eq!(outcome.escalation.state, EscalationState::Aborted);
    assert!(
        outcome.consequence.contains("cancelled"),
        "{}",
        outcome.consequence
    );
    assert_eq!(event_names(&mut queue), [EVENT_RESOLVED]);
}

#[test]
fn a_retry_through_a_failing_path_escalates_again_with_a_longer_lineage() {
    let mut queue = queue(60);
    let first = first_with(&queue, EscalationReason::PathsExhausted);
    let id = first.summary.id.clone();
    let now = epoch();
    let retry = request(Resolution::Retry {
        model: None,
        provider: Some("anthropic".into()),
        region: Some("us-west".into()),
    });
    let outcome = queue.resolve(&id, "bob", "k", &retry, now).unwrap();
    assert!(
        outcome.consequence.contains("anthropic@us-west"),
        "{}",
        outcome.consequence
    );
    queue.take_events();
    let fleet = breaker_open(healthy_fleet(), "anthropic@us-west");
    queue.advance(&fleet, now + TimeDelta::seconds(5));
    assert_eq!(
        total(&queue),
        60,
        "the retry reports after a while, not at once"
    );
    let later = now + TimeDelta::seconds(RETRY_DELAY_S.end);
    queue.advance(&fleet, later);
    let again: Vec<QueueEvent> = queue
        .take_events()
        .into_iter()
        .filter(|e| e.summary.workflow_id == first.summary.workflow_id)
        .collect();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].name, EVENT_NEW);
    let second = queue.detail(&again[0].summary.id).unwrap();
    assert_eq!(second.follows.as_deref(), Some(id.as_str()));
    assert_eq!(second.summary.assignee.as_deref(), Some("bob"));
    assert_eq!(second.summary.reason, EscalationReason::PathsExhausted);
    assert!(
        second.summary.reason_text.contains("anthropic@us-west"),
        "{}",
        second.summary.reason_text
    );
    assert_eq!(second.summary.attempts, first.summary.attempts + 1);
    // The same workflow, its lineage extended by the operator's retry.
    assert_eq!(second.lineage.workflow_id, first.lineage.workflow_id);
    let attempts = |e: &Escalation| -> Vec<_> {
        e.lineage
            .steps
            .iter()
            .flat_map(|s| s.attempts.clone())
            .collect()
    };
    let (before, after) = (attempts(&first), attempts(&second));
    assert_eq!(after[..before.len()], before[..]);
    let retried = after.last().unwrap();
    assert_eq!(retried.provider.as_deref(), Some("anthropic@us-west"));
    assert_eq!(retried.outcome, AttemptOutcome::Error);
    assert_eq!(
        retried.parent.as_deref(),
        Some(before.last().unwrap().id.as_str())
    );
    assert!(
        retried
            .retry_reason
            .as_deref()
            .unwrap()
            .starts_with("bob asked for a retry")
    );
    assert!(
        queue
            .take_notices()
            .iter()
            .any(|n| n.text.contains("escalated again"))
    );
}

#[test]
fn a_retry_through_a_working_path_lets_the_workflow_go_on() {
    let mut queue = queue(60);
    let id = first_with(&queue, EscalationReason::PathsExhausted)
        .summary
        .id;
    let retry = request(Resolution::Retry {
        model: Some("gpt-4o".into()),
        provider: None,
        region: None,
    });
    queue.resolve(&id, "bob", "k", &retry, epoch()).unwrap();
    queue.take_notices();
    queue.advance(
        &healthy_fleet(),
        epoch() + TimeDelta::seconds(RETRY_DELAY_S.end),
    );
    assert_eq!(total(&queue), 60);
    let notices = queue.take_notices();
    assert!(
        notices.iter().any(|n| n.text.contains("succeeded")),
        "{notices:?}"
    );
}

#[test]
fn a_retry_on_a_working_path_may_still_fall_short_and_escalate_for_the_same_reason() {
    let mut queue = queue(300);
    let low = queue.list(&ListQuery {
        reasons: vec![EscalationReason::LowConfidence],
        limit: 300,
        ..ListQuery::default()
    });
    assert!(low.items.len() >= 20, "{}", low.items.len());
    let retry = request(Resolution::Retry {
        model: Some("claude-sonnet-4".into()),
        provider: None,
        region: None,
    });
    for (i, task) in low.items.iter().enumerate() {
        queue
            .resolve(&task.id, "alice", &format!("k{i}"), &retry, epoch())
            .unwrap();
    }
    queue.take_events();
    queue.take_notices();
    let due = epoch() + TimeDelta::seconds(RETRY_DELAY_S.end);
    queue.advance(&healthy_fleet(), due);
    let again = queue.take_events();
    let completed = queue
        .take_notices()
        .iter()
        .filter(|n| n.text.contains("succeeded"))
        .count();
    assert!(
        completed > again.len(),
        "{completed} completed, {} again",
        again.len()
    );
    assert!(!again.is_empty());
    for event in again {
        let escalation = queue.detail(&event.summary.id).unwrap();
        assert_eq!(escalation.summary.reason, EscalationReason::LowConfidence);
        assert_well_formed(&escalation);
        let retried = attempts_of(&escalation).pop().unwrap();
        assert_eq!(retried.outcome, AttemptOutcome::Ok);
        assert_eq!(retried.model.as_deref(), Some("claude-sonnet-4"));
        let offered = escalation
            .candidates
            .iter()
            .find(|c| c.attempt == retried.id)
            .unwrap();
        assert!(offered.confidence < escalation.confidence_threshold);
    }
}
