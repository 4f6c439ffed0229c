//! Issue 14: the two-person rule on screen: another operator's request as a banner and the
//! status bar's count, the Approvals view (pending first, then decided; the selected request
//! with its reason, the preflight its requester saw, the preflight now and what changed), and
//! the requester's answer in a banner.

use super::*;
use chrono::TimeDelta;
use protocol::approvals::{ApprovalState, Decision};
use switchboard::testing::{approval_event, approval_request, as_user};

/// bob's console on the small fleet, alice's forced drain of us-east just asked for.
fn bob_sees_alices_request(width: u16, height: u16) -> App {
    let mut app = app(width, height, Instant::now());
    as_user(&mut app, "bob", Role::Operator);
    app.update(approval_event(approval_request()));
    app
}

#[test]
fn another_operators_request_is_a_banner_and_a_count_at_120x30() {
    let app = bob_sees_alices_request(120, 30);
    let screen = text(&render(&app, &dark()));
    for expected in [
        "⚖ alice asks to drain us-east (forced): us-east gateway flapping, move traffic off — 8 Approvals",
        "⚖ 1 waiting",
        " 8 Approvals",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    insta::assert_snapshot!("approvals_banner_120x30", screen);
}

#[test]
fn the_approvals_view_shows_the_request_and_the_preflight_then_and_now_at_120x40() {
    let mut app = bob_sees_alices_request(120, 40);
    let mut denied = approval_request();
    denied.id = "apr-000002".into();
    denied.requested_by = "carol".into();
    denied.action = "breaker force-open".into();
    denied.target = "openai@us-east".into();
    denied.path = "/v1/providers/openai@us-east/breaker".into();
    denied.state = ApprovalState::Denied;
    denied.decision = Some(Decision {
        by: "alice".into(),
        reason: "the breaker is healthy".into(),
        at: denied.requested_at + TimeDelta::seconds(20),
        audit_id: None,
        error: None,
    });
    app.update(approval_event(denied));
    app.update(key(KeyCode::Char('8')));
    let screen = text(&render(&app, &dark()));
    for expected in [
        "Approvals (1 waiting, 1 decided)",
        "⚖ waiting",
        "apr-000003",
        "it overrides a blocking preflight",
        "✖ denied",
        "denied by alice: the breaker is healthy",
        "asked by  alice 1m30s ago: us-east gateway flapping, move traffic off",
        "preflight alice saw: BLOCK (forced past it)",
        "region eu-west at 120% of capacity (1200 of 1000 rps)",
        "preflight now: ",
        "since",
        "a approve",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    // The banner gives way on its own view.
    assert!(!screen.contains("— 8 Approvals"), "{screen}");
    insta::assert_snapshot!("approvals_view_120x40", screen);
}

#[test]
fn the_requester_sees_the_decision_in_a_banner_at_100x24() {
    let mut app = app(100, 24, Instant::now());
    app.update(approval_event(approval_request()));
    let mut approved = approval_request();
    approved.state = ApprovalState::Approved;
    approved.decision = Some(Decision {
        by: "bob".into(),
        reason: "eu-west has the headroom now".into(),
        at: approved.requested_at + TimeDelta::seconds(60),
        audit_id: Some(12),
        error: None,
    });
    app.update(approval_event(approved));
    let screen = text(&render(&app, &dark()));
    assert!(
        screen.contains("✓ bob approved your drain us-east (forced): eu-west has the headroom now"),
        "{screen}"
    );
    insta::assert_snapshot!("approvals_requester_banner_100x24", screen);
}

#[test]
fn text_from_the_source_is_sanitized() {
    let mut app = app(120, 30, Instant::now());
    as_user(&mut app, "bob", Role::Operator);
    let mut hostile = approval_request();
    hostile.requested_by = "mal\u{1b}[2Jlory".into();
    hostile.reason = "why\u{7}\u{1b}]0;owned\u{7}".into();
    app.update(approval_event(hostile));
    app.update(key(KeyCode::Char('8')));
    let screen = text(&render(&app, &dark()));
    assert!(
        !screen.contains('\u{1b}') && !screen.contains('\u{7}'),
        "{screen}"
    );
    assert!(screen.contains("mal"), "{screen}");
}

/// The context's own policy: the confirmation says beforehand that the command will wait,
/// and what it will wait for; a command it does not name confirms as ever.
#[test]
fn the_confirmation_says_when_the_contexts_policy_will_hold_the_command() {
    let mut app = app(120, 30, Instant::now());
    as_user(&mut app, "alice", Role::Operator);
    app.approval_policy = Some(protocol::approvals::ApprovalPolicy {
        verbs: vec!["drain".into()],
        ..Default::default()
    });
    let confirm = |app: &mut App, line: &str| {
        app.update(key(KeyCode::Char(':')));
        for c in line.chars() {
            app.update(key(KeyCode::Char(c)));
        }
        app.update(key(KeyCode::Enter));
        let screen = text(&render(app, &dark()));
        app.update(key(KeyCode::Esc));
        screen
    };
    let held = confirm(&mut app, "drain eu-west");
    for expected in [
        "⚖ waits for a second approver: every drain needs a second approver",
        "enter send for approval",
    ] {
        assert!(held.contains(expected), "{expected:?} in\n{held}");
    }
    let free = confirm(&mut app, "breaker openai@us-east force-open");
    assert!(free.contains("Confirm: breaker"), "{free}");
    assert!(!free.contains("second approver"), "{free}");
    app.approval_policy = None;
    let unruled = confirm(&mut app, "drain eu-west");
    assert!(!unruled.contains("second approver"), "{unruled}");
}

#[test]
fn a_click_on_a_request_selects_it() {
    let mut app = bob_sees_alices_request(120, 40);
    let mut denied = approval_request();
    denied.id = "apr-000002".into();
    denied.state = ApprovalState::Denied;
    app.update(approval_event(denied));
    app.update(key(KeyCode::Char('8')));
    let click = |(column, row): (u16, u16)| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    let screen = show(&mut app);
    let decided = find(&screen, "apr-000002").expect("the decided request listed");
    app.update(click(decided));
    assert_eq!(
        app.approvals.selected, 1,
        "the decided request, under the pending one"
    );
    let screen = show(&mut app);
    let pending = find(&screen, "apr-000003").expect("the pending request listed");
    app.update(click(pending));
    assert_eq!(app.approvals.selected, 0);
}
