use chrono::{DateTime, Duration, Utc};

use super::*;
use protocol::commands::PreflightVerdict;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn forced_drain(by: &str) -> HeldCommand {
    HeldCommand {
        verb: protocol::command::Verb::Drain,
        target_id: "us-east".into(),
        action: "drain".into(),
        target: "us-east".into(),
        path: "/v1/regions/us-east/drain".into(),
        body: serde_json::json!({"reason": "openai down in us-east"}),
        idempotency_key: "k-1".into(),
        if_match: 3,
        requested_by: by.into(),
        reason: "openai down in us-east".into(),
        why_approval: "it overrides a blocking preflight".into(),
        preflight: Some(PreflightSeen {
            verdict: PreflightVerdict::Block,
            findings: vec!["us-west would run at 130% of capacity".into()],
            forced: true,
            needs_approval: None,
            approval_expires_after_s: None,
        }),
    }
}

/// A book holding alice's forced drain, asked at T0, expiring after 10 minutes.
fn held() -> (ApprovalBook, String) {
    let mut book = ApprovalBook::default();
    let request = book.hold(forced_drain("alice"), t0(), 600);
    (book, request.id)
}

#[test]
fn a_held_command_is_pending_with_what_the_requester_saw() {
    let (mut book, id) = held();
    let request = book.get(&id).unwrap();
    assert_eq!(id, "apr-000001");
    assert_eq!(request.state, ApprovalState::Pending);
    assert_eq!(request.expires_at, t0() + Duration::seconds(600));
    assert!(request.preflight.as_ref().unwrap().forced);
    assert_eq!(book.take_events().len(), 1);
}

#[test]
fn another_operator_approves_once_and_the_outcome_is_recorded() {
    let (mut book, id) = held();
    let at = t0() + Duration::seconds(30);
    let to_execute = book
        .approvable(&id, "bob", Role::Operator, "checked us-west", at)
        .unwrap();
    assert_eq!(to_execute.request.idempotency_key, "k-1");
    assert_eq!(to_execute.target_id, "us-east");
    let settled = book
        .settle(&id, "bob", "checked us-west", at, Ok(17))
        .unwrap();
    assert_eq!(settled.state, ApprovalState::Approved);
    let decision = settled.decision.unwrap();
    assert_eq!((decision.by.as_str(), decision.audit_id), ("bob", Some(17)));
    // A second approver, racing, finds it decided and is told by whom.
    match book.approvable(&id, "carol", Role::Admin, "me too", at) {
        Err(ApprovalError::Conflict { detail, current }) => {
            assert_eq!(detail, "apr-000001 is approved by bob");
            assert_eq!(current.state, ApprovalState::Approved);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn the_requester_and_viewers_cannot_approve_or_deny() {
    let (mut book, id) = held();
    let own = book.approvable(&id, "alice", Role::Admin, "it is fine", t0());
    assert!(matches!(own, Err(ApprovalError::Forbidden(why)) if why.contains("another operator")));
    let viewer = book.approvable(&id, "victor", Role::Viewer, "looks fine", t0());
    assert!(matches!(viewer, Err(ApprovalError::Forbidden(why)) if why.contains("viewer")));
    let own_deny = book.deny(&id, "alice", Role::Admin, "no", t0());
    assert!(matches!(own_deny, Err(ApprovalError::Forbidden(why)) if why.contains("withdraw")));
    let viewer_deny = book.deny(&id, "victor", Role::Viewer, "no", t0());
    assert!(matches!(viewer_deny, Err(ApprovalError::Forbidden(_))));
    assert_eq!(book.get(&id).unwrap().state, ApprovalState::Pending);
}

#[test]
fn a_denied_request_is_never_approved() {
    let (mut book, id) = held();
    let denied = book
        .deny(&id, "bob", Role::Operator, "us-west cannot take it", t0())
        .unwrap();
    assert_eq!(denied.state, ApprovalState::Denied);
    assert!(matches!(
        book.approvable(&id, "carol", Role::Admin, "override", t0()),
        Err(ApprovalError::Conflict { .. })
    ));
}

#[test]
fn only_the_requester_withdraws() {
    let (mut book, id) = held();
    let other = book.withdraw(&id, "bob", "not mine", t0());
    assert!(matches!(other, Err(ApprovalError::Forbidden(why)) if why.contains("only alice")));
    let withdrawn = book.withdraw(&id, "alice", "outage over", t0()).unwrap();
    assert_eq!(withdrawn.state, ApprovalState::Withdrawn);
}

#[test]
fn a_request_expires_at_its_time_and_not_a_second_before() {
    let (mut book, id) = held();
    let expiry = t0() + Duration::seconds(600);
    assert!(book.expire_due(expiry - Duration::seconds(1)).is_empty());
    assert!(
        book.approvable(
            &id,
            "bob",
            Role::Operator,
            "ok",
            expiry - Duration::seconds(1)
        )
        .is_ok()
    );
    let expired = book.expire_due(expiry);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].state, ApprovalState::Expired);
    assert!(book.expire_due(expiry).is_empty(), "expires once");
}

#[test]
fn approving_after_the_expiry_finds_it_expired_even_before_the_tick() {
    let (mut book, id) = held();
    let late = t0() + Duration::seconds(601);
    match book.approvable(&id, "bob", Role::Operator, "late", late) {
        Err(ApprovalError::Conflict { current, .. }) => {
            assert_eq!(current.state, ApprovalState::Expired);
        }
        other => panic!("expected expired, got {other:?}"),
    }
}

#[test]
fn a_failed_execution_ends_the_request_failed_with_why() {
    let (mut book, id) = held();
    book.approvable(&id, "bob", Role::Operator, "go", t0())
        .unwrap();
    let failed = book
        .settle(
            &id,
            "bob",
            "go",
            t0(),
            Err("us-east changed since the request (revision 4, not 3)".into()),
        )
        .unwrap();
    assert_eq!(failed.state, ApprovalState::Failed);
    assert!(failed.decision.unwrap().error.unwrap().contains("changed"));
}

#[test]
fn reasons_are_required_and_printable() {
    let (mut book, id) = held();
    assert!(matches!(
        book.approvable(&id, "bob", Role::Operator, "  ", t0()),
        Err(ApprovalError::Invalid(_))
    ));
    assert!(matches!(
        book.deny(&id, "bob", Role::Operator, "no\u{1b}[2J", t0()),
        Err(ApprovalError::Invalid(_))
    ));
    assert!(matches!(
        book.approvable("apr-999999", "bob", Role::Operator, "ok", t0()),
        Err(ApprovalError::NotFound)
    ));
    assert!(matches!(
        book.approvable("nonsense", "bob", Role::Operator, "ok", t0()),
        Err(ApprovalError::NotFound)
    ));
}

#[test]
fn the_list_puts_pending_first_then_the_newest_decided() {
    let mut book = ApprovalBook::default();
    let first = book.hold(forced_drain("alice"), t0(), 600).id;
    let second = book.hold(forced_drain("alice"), t0(), 600).id;
    let third = book.hold(forced_drain("alice"), t0(), 600).id;
    book.withdraw(&first, "alice", "done", t0()).unwrap();
    book.deny(&third, "bob", Role::Operator, "no", t0())
        .unwrap();
    let ids: Vec<String> = book.list().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, [second, third, first]);
}
