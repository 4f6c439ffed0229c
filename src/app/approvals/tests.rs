//! The two-person rule in the console: a held answer, others' requests as news (banner, count,
//! bell), the requester's decisions, and deciding (refusals before sending, the reason, the
//! key reused after a lost answer, 403 and 409 said specifically).

use std::time::Instant;

use chrono::TimeDelta;
use crossterm::event::KeyCode;

use super::super::{App, Effect, FailureKind, Msg, SentState, View};
use super::{DecisionFailure, DecisionOrder};
use crate::keymap::Layer;
use crate::sources::SourceEvent;
use crate::testing::{
    accepted, approval_event, approval_request, as_user, from_source, key, lab_app, small_fleet,
    type_text,
};
use protocol::Role;
use protocol::approvals::{ApprovalRequest, ApprovalState, Decision, DecisionKind};
use protocol::escalations::Priority;

/// A console of `name` on the lab with its fleet, notifications on (like `[notify]`).
fn console(name: &str, role: Role) -> App {
    let mut app = lab_app(120, 40, Instant::now());
    app.notify_at = Some(Priority::P2);
    as_user(&mut app, name, role);
    app.update(from_source(SourceEvent::Snapshot(small_fleet())));
    app
}

fn flash_text(app: &App) -> String {
    app.flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default()
}

fn banner(app: &App) -> Option<String> {
    app.approval_banner().map(|(_, text)| text.to_string())
}

fn decided(state: ApprovalState, by: &str, reason: &str) -> ApprovalRequest {
    let mut request = approval_request();
    request.state = state;
    request.decision = Some(Decision {
        by: by.into(),
        reason: reason.into(),
        at: request.requested_at + TimeDelta::minutes(2),
        audit_id: None,
        error: None,
    });
    request
}

fn bells(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify { body, .. } => Some(body.clone()),
            _ => None,
        })
        .collect()
}

/// The one decision the effects send.
fn order(effects: &[Effect]) -> DecisionOrder {
    match effects {
        [Effect::Decide(order)] => order.clone(),
        other => panic!("expected one decision, got {other:?}"),
    }
}

/// bob, on the Approvals view, with alice's request selected.
fn bob_on_alices_request() -> App {
    let mut app = console("bob", Role::Operator);
    app.update(approval_event(approval_request()));
    app.update(key(KeyCode::Char('8')));
    assert_eq!(app.view, View::Approvals);
    app
}

/// The palette's `line` confirmed with a reason (forced when its preflight blocks): what
/// the console does then.
fn confirm(app: &mut App, line: &str) -> Vec<Effect> {
    app.update(key(KeyCode::Char(':')));
    type_text(app, line);
    app.update(key(KeyCode::Enter));
    type_text(app, "gateway flapping");
    if app.overlays.confirm().is_some_and(|c| c.preflight.blocks()) {
        app.update(key(KeyCode::Tab));
        app.update(key(KeyCode::Tab));
        type_text(app, "FORCE");
    }
    app.update(key(KeyCode::Enter))
}

#[test]
fn a_held_answer_is_said_as_held_not_accepted_and_lists_the_request() {
    let mut app = console("alice", Role::Operator);
    let effects = confirm(&mut app, "drain us-east");
    let Some(Effect::SendCommand(request)) = effects.first() else {
        panic!("expected the drain to be sent, got {effects:?}");
    };
    let mut answer = accepted(21);
    answer.pending_approval = Some(Box::new(approval_request()));
    let effects = app.update(Msg::CommandFinished {
        id: request.id,
        result: Ok(answer),
    });
    assert!(matches!(app.sent[0].state, SentState::Held(_)));
    let flash = flash_text(&app);
    assert_eq!(
        flash,
        "⚖ drain us-east: held for approval apr-000003: it overrides a blocking preflight; expires 14:16"
    );
    assert!(!flash.contains("accepted"), "{flash}");
    // Our own request: in the list, no banner and no bell for us.
    assert!(app.views().contains(&View::Approvals));
    assert_eq!(app.approvals.waiting(), 1);
    assert!(banner(&app).is_none());
    assert!(bells(&effects).is_empty());
}

/// The context's policy is applied where the command is confirmed, on the fleet shown: the
/// request the runner sends carries the policy's why and expiry (the runner reads nothing
/// more), and a command the policy does not name goes as confirmed.
#[test]
fn the_contexts_policy_marks_the_command_on_the_fleet_it_was_confirmed_on() {
    let mut app = console("alice", Role::Operator);
    app.approval_policy = Some(
        serde_json::from_str(r#"{"verbs": ["drain"], "forced": false, "expires_after_s": 600}"#)
            .unwrap(),
    );
    let mut send = |line: &str| match confirm(&mut app, line).as_slice() {
        [Effect::SendCommand(request), ..] => request.preflight.clone().unwrap(),
        other => panic!("expected {line} to be sent, got {other:?}"),
    };
    let drain = send("drain us-east");
    assert_eq!(
        (
            drain.needs_approval.as_deref(),
            drain.approval_expires_after_s
        ),
        (Some("every drain needs a second approver"), Some(600))
    );
    let breaker = send("breaker openai@us-east force-open");
    assert_eq!(
        (breaker.needs_approval, breaker.approval_expires_after_s),
        (None, None)
    );
}

#[test]
fn another_operators_request_is_a_banner_a_count_and_a_bell_once() {
    let mut app = console("bob", Role::Operator);
    assert!(!app.views().contains(&View::Approvals));
    let effects = app.update(approval_event(approval_request()));
    let asks = "⚖ alice asks to drain us-east (forced): us-east gateway flapping, move traffic off";
    assert_eq!(banner(&app), Some(format!("{asks} — 8 Approvals")));
    assert_eq!(bells(&effects), vec![asks.to_string()]);
    assert_eq!(app.approvals.waiting(), 1);
    assert!(app.views().contains(&View::Approvals));
    // The same request again (a resume, the list at reconnecting) is not news.
    let again = app.update(approval_event(approval_request()));
    assert!(bells(&again).is_empty());
    let listed = app.update(from_source(SourceEvent::Approvals(Ok(vec![
        approval_request(),
    ]))));
    assert!(bells(&listed).is_empty());
    // Over its own view the banner gives way.
    app.update(key(KeyCode::Char('8')));
    assert!(banner(&app).is_none());
}

#[test]
fn without_notifications_there_is_no_bell_but_still_the_banner() {
    let mut app = console("bob", Role::Operator);
    app.notify_at = None;
    let effects = app.update(approval_event(approval_request()));
    assert!(bells(&effects).is_empty());
    assert!(banner(&app).is_some());
}

#[test]
fn the_requester_hears_each_decision_and_a_replayed_pending_event_changes_nothing() {
    for (state, by, heard) in [
        (
            ApprovalState::Approved,
            "bob",
            "✓ bob approved your drain us-east (forced): looks right",
        ),
        (
            ApprovalState::Denied,
            "bob",
            "✖ bob denied your drain us-east (forced): looks right",
        ),
        (
            ApprovalState::Expired,
            "system",
            "✖ your drain us-east (forced) expired: nobody approved it in time",
        ),
    ] {
        let mut app = console("alice", Role::Operator);
        app.update(approval_event(approval_request()));
        let effects = app.update(approval_event(decided(state, by, "looks right")));
        assert_eq!(
            banner(&app),
            Some(format!("{heard} — 8 Approvals")),
            "{state:?}"
        );
        assert_eq!(bells(&effects), vec![heard.to_string()]);
        // An old pending event replayed after a resume does not undo the decision.
        app.update(approval_event(approval_request()));
        assert_eq!(app.approvals.rows()[0].request.state, state);
        assert_eq!(app.approvals.waiting(), 0);
    }
    let mut app = console("alice", Role::Operator);
    app.update(approval_event(approval_request()));
    let mut failed = decided(ApprovalState::Failed, "bob", "go");
    failed.decision.as_mut().unwrap().error =
        Some("409: us-east changed — review and retry".into());
    app.update(approval_event(failed));
    let heard = banner(&app).unwrap();
    assert!(
        heard.contains("approved by bob, but it failed: 409: us-east changed"),
        "{heard}"
    );
}

#[test]
fn a_request_decided_before_we_saw_it_is_history_not_news() {
    let mut app = console("alice", Role::Operator);
    let effects = app.update(from_source(SourceEvent::Approvals(Ok(vec![decided(
        ApprovalState::Denied,
        "bob",
        "no",
    )]))));
    assert!(bells(&effects).is_empty());
    assert!(banner(&app).is_none());
    assert!(app.views().contains(&View::Approvals));
}

#[test]
fn an_unreadable_list_is_said_once_and_cleared_when_read() {
    let mut app = console("bob", Role::Operator);
    for _ in 0..2 {
        app.update(from_source(SourceEvent::Approvals(Err("503: busy".into()))));
    }
    let told = app
        .timeline
        .iter()
        .filter(|e| e.text.contains("approval requests not read: 503: busy"))
        .count();
    assert_eq!(told, 1);
    app.update(from_source(SourceEvent::Approvals(Ok(Vec::new()))));
    assert!(app.approvals.read_errors.is_empty());
}

#[test]
fn approving_asks_a_reason_then_sends_under_a_fresh_key() {
    let mut app = bob_on_alices_request();
    assert!(app.update(key(KeyCode::Char('a'))).is_empty());
    assert_eq!(app.top_layer(), Layer::RunInput);
    // No reason, nothing sent.
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert_eq!(app.top_layer(), Layer::RunInput);
    type_text(&mut app, "checked eu-west headroom");
    let sent = order(&app.update(key(KeyCode::Enter)));
    assert_eq!(
        sent,
        DecisionOrder {
            id: 1,
            source: "lab".into(),
            approval: "apr-000003".into(),
            kind: DecisionKind::Approve,
            reason: "checked eu-west headroom".into(),
            key: None,
        }
    );
    let effects = app.update(Msg::Decided {
        id: 1,
        key: "k-1".into(),
        result: Ok(Box::new(decided(
            ApprovalState::Approved,
            "bob",
            "checked eu-west headroom",
        ))),
    });
    assert!(bells(&effects).is_empty(), "bob decided it himself");
    assert!(
        flash_text(&app).starts_with("✓ approve apr-000003"),
        "{}",
        flash_text(&app)
    );
    assert_eq!(app.approvals.waiting(), 0);
}

#[test]
fn the_palette_decides_by_id_with_the_reason_typed_after_it() {
    let mut app = console("bob", Role::Operator);
    app.update(approval_event(approval_request()));
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "deny apr-000003 not during the freeze");
    let sent = order(&app.update(key(KeyCode::Enter)));
    assert_eq!(sent.kind, DecisionKind::Deny);
    assert_eq!(sent.reason, "not during the freeze");
    // An id nobody holds is said.
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "approve apr-999999");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(flash_text(&app).contains("no approval request \"apr-999999\""));
}

#[test]
fn what_an_operator_may_not_do_is_refused_before_sending() {
    // A viewer.
    let mut viewer = console("victor", Role::Viewer);
    viewer.update(approval_event(approval_request()));
    viewer.update(key(KeyCode::Char('8')));
    assert!(viewer.update(key(KeyCode::Char('a'))).is_empty());
    assert!(flash_text(&viewer).starts_with("role viewer may not approve requests (403)"));
    assert!(viewer.overlays.is_empty());
    // The requester approving their own.
    let mut alice = console("alice", Role::Admin);
    alice.update(approval_event(approval_request()));
    alice.update(key(KeyCode::Char('8')));
    assert!(alice.update(key(KeyCode::Char('a'))).is_empty());
    assert!(flash_text(&alice).contains("your own request: another operator must approve it"));
    // ...may withdraw it.
    alice.update(key(KeyCode::Char('w')));
    assert_eq!(alice.top_layer(), Layer::RunInput);
    // Another's, withdrawn by bob.
    let mut bob = bob_on_alices_request();
    assert!(bob.update(key(KeyCode::Char('w'))).is_empty());
    assert!(flash_text(&bob).starts_with("only alice may withdraw apr-000003"));
    // Decided already.
    bob.update(approval_event(decided(
        ApprovalState::Denied,
        "carol",
        "no",
    )));
    assert!(bob.update(key(KeyCode::Char('d'))).is_empty());
    assert!(flash_text(&bob).contains("no longer pending: denied by carol: no"));
}

#[test]
fn a_lost_answer_is_asked_again_under_the_same_key() {
    let mut app = bob_on_alices_request();
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "approve apr-000003 fine");
    let first = order(&app.update(key(KeyCode::Enter)));
    app.update(Msg::Decided {
        id: first.id,
        key: "k-lost".into(),
        result: Err(DecisionFailure {
            kind: FailureKind::Unknown,
            status: None,
            message: "no answer from http://127.0.0.1:7300 within 10s".into(),
            current: None,
        }),
    });
    assert!(flash_text(&app).starts_with("? approve apr-000003: no answer"));
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "approve apr-000003 fine");
    let second = order(&app.update(key(KeyCode::Enter)));
    assert_eq!(second.key.as_deref(), Some("k-lost"));
}

#[test]
fn refusals_by_the_source_say_403_and_409_specifically() {
    let mut app = bob_on_alices_request();
    let refuse = |app: &mut App, failure: DecisionFailure| {
        app.update(key(KeyCode::Char(':')));
        type_text(app, "approve apr-000003 fine");
        let sent = order(&app.update(key(KeyCode::Enter)));
        app.update(Msg::Decided {
            id: sent.id,
            key: "k".into(),
            result: Err(failure),
        });
        flash_text(app)
    };
    let forbidden = refuse(
        &mut app,
        DecisionFailure {
            kind: FailureKind::Rejected,
            status: Some(403),
            message: "403: bob may not approve: on leave".into(),
            current: None,
        },
    );
    assert_eq!(
        forbidden,
        "✖ approve apr-000003 refused (403): 403: bob may not approve: on leave"
    );
    let failed = {
        let mut request = decided(ApprovalState::Failed, "bob", "fine");
        request.decision.as_mut().unwrap().error = Some("us-east changed".into());
        request
    };
    let changed = refuse(
        &mut app,
        DecisionFailure {
            kind: FailureKind::Conflict,
            status: Some(409),
            message: "409: us-east changed — review and retry".into(),
            current: Some(Box::new(failed)),
        },
    );
    assert!(changed.ends_with("— target changed (409)"), "{changed}");
    // The request as the 409 carried it is kept: it failed.
    assert_eq!(app.approvals.rows()[0].request.state, ApprovalState::Failed);

    let mut app = bob_on_alices_request();
    let taken = refuse(
        &mut app,
        DecisionFailure {
            kind: FailureKind::Conflict,
            status: Some(409),
            message: "409: already approved".into(),
            current: Some(Box::new(decided(ApprovalState::Approved, "carol", "go"))),
        },
    );
    assert_eq!(
        taken,
        "✖ approve apr-000003: already approved by carol: go (409)"
    );
}

#[test]
fn pending_requests_come_first_the_decided_newest_first() {
    let mut app = console("bob", Role::Operator);
    let mut older = approval_request();
    older.id = "apr-000001".into();
    older.requested_at -= TimeDelta::minutes(5);
    let mut done = decided(ApprovalState::Denied, "carol", "no");
    done.id = "apr-000002".into();
    app.update(from_source(SourceEvent::Approvals(Ok(vec![
        done,
        approval_request(),
        older,
    ]))));
    let ids: Vec<&str> = (app.approvals.rows().iter())
        .map(|r| r.request.id.as_str())
        .collect();
    assert_eq!(ids, ["apr-000001", "apr-000003", "apr-000002"]);
}
