//! Issue 15: redundancy and cost on screen: the Services list's budget and spend columns, the
//! selected service's posture in its pane (SLO and burn, blast radius, spend, ROI, findings),
//! and the Cost view, on the lab's default fleet given a ghost-spending hot standby.

use super::*;
use protocol::{Replica, ReplicaRole};
use switchboard::testing::default_fleet;

/// The default fleet, email-notifier (nice-to-have) given a hot standby in us-east.
fn ghost_spending_app(width: u16, height: u16) -> App {
    let mut fleet = default_fleet();
    let email = fleet
        .services
        .iter_mut()
        .find(|s| s.id == "email-notifier")
        .unwrap();
    email.replicas.push(Replica {
        id: "email-notifier@us-east".into(),
        region: "us-east".into(),
        role: ReplicaRole::HotStandby,
        ready: true,
        replication_lag_s: 0.5,
        capacity_rps: 40.0,
        load_rps: 0.0,
        takeover_s: Some(5.0),
        timed_role: None,
        pool: None,
    });
    let mut app = app(width, height, Instant::now());
    app.update(source(SourceEvent::Snapshot(fleet)));
    app
}

#[test]
fn the_services_list_shows_budget_and_spend_and_the_pane_the_posture_at_120x36() {
    let mut app = ghost_spending_app(120, 36);
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Down));
    let screen = text(&render(&app, &dark()));
    for expected in [
        "BUDGET",
        "$/h",
        "65% ?",
        "email-notifier ⚠",
        "posture  critical · SLO 99%/30d · budget 65% left · burn 1h ? 6h ?",
        "blast    email-notifier depends on it · downtime $1,220/min",
        "spend    replicas $9.00/h (standbys $4.50/h)",
        " 9 Cost",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    insta::assert_snapshot!("services_posture_120x36", screen);
}

#[test]
fn the_cost_view_is_the_cost_report_with_its_findings_at_120x36() {
    let mut app = ghost_spending_app(120, 36);
    app.update(key(KeyCode::Char('9')));
    assert_eq!(app.view, switchboard::app::View::Cost);
    let screen = text(&render(&app, &dark()));
    for expected in [
        "SERVICE          CRITICALITY  TIER",
        "idle standbys $5.10/h",
        "⚠ ghost spend: email-notifier (nice-to-have) pays $0.60/h for hot standbys",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    insta::assert_snapshot!("cost_view_120x36", screen);
}

#[test]
fn without_any_posture_the_cost_view_is_not_offered_and_says_why() {
    let mut app = app(120, 36, Instant::now());
    app.update(key(KeyCode::Char('9')));
    assert_ne!(app.view, switchboard::app::View::Cost);
    let screen = text(&render(&app, &dark()));
    assert!(!screen.contains("9 Cost"), "{screen}");
    assert!(screen.contains("no cost figures"), "{screen}");
}

/// The confirmation of forcing openai@us-east open prices the move: risk-scorer's calls leave
/// a premium provider for a premium and a standard one, and say so per provider and in all.
#[test]
fn the_confirmation_prices_the_traffic_a_breaker_moves_at_120x40() {
    let mut app = ghost_spending_app(120, 40);
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "breaker openai@us-east force-open");
    app.update(key(KeyCode::Enter));
    let screen = text(&render(&app, &dark()));
    for expected in [
        "cost -$",
        "openai@us-east -",
        "rps at $0.015/1k tokens: -$",
        "google@us-east +",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    insta::assert_snapshot!("breaker_confirmation_priced_120x40", screen);
}
