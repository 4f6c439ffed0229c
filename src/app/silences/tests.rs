use std::time::{Duration, Instant};

use chrono::TimeDelta;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::app::{Msg, SilenceSent};
use crate::sources::SourceEvent;
use crate::testing::{METRICS, alerting_app, as_user, fixture_wall, from_metrics, key, type_text};

fn shift(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT))
}

/// The timeline with the alert's entry selected.
fn on_the_alert_entry(app: &mut App) {
    app.update(key(KeyCode::Char('3')));
    let row = (app.timeline.iter().rev())
        .position(|e| e.alert.is_some())
        .expect("the alert entered the timeline");
    app.selection.timeline_row = row;
}

fn form(app: &App) -> &SilenceForm {
    app.overlays
        .silence_form()
        .expect("the silence form is open")
}

fn matcher_names(app: &App) -> Vec<String> {
    form(app).matchers().into_iter().map(|m| m.name).collect()
}

fn silence(id: &str, state: SilenceState, ends_in_min: i64) -> Silence {
    Silence {
        id: id.into(),
        state,
        matchers: vec![
            Matcher::equals("alertname", "ProviderErrorRateHigh"),
            Matcher::equals("region", "us-east"),
        ],
        starts_at: fixture_wall(),
        ends_at: fixture_wall() + TimeDelta::minutes(ends_in_min),
        created_by: "bob".into(),
        comment: "vendor paged".into(),
        key: None,
        updated_at: fixture_wall(),
    }
}

#[test]
fn a_firing_alert_in_the_timeline_opens_a_silence_of_what_it_is_about() {
    let mut app = alerting_app(100, 30, Instant::now());
    on_the_alert_entry(&mut app);
    app.update(key(KeyCode::Char('s')));
    // The alert and what it is about start in; its other labels are offered, out.
    assert_eq!(
        matcher_names(&app),
        vec!["alertname", "api_provider", "region"]
    );
    let SilenceFormKind::Create { choices, .. } = &form(&app).kind else {
        panic!("a create form");
    };
    let offered: Vec<(&str, bool)> = (choices.iter())
        .map(|c| (c.matcher.name.as_str(), c.on))
        .collect();
    assert_eq!(
        offered,
        vec![
            ("alertname", true),
            ("api_provider", true),
            ("job", false),
            ("region", true),
            ("severity", false)
        ]
    );
    assert_eq!(form(&app).duration(), Ok(DEFAULT_SILENCE));
    assert_eq!(form(&app).focus, SilenceFocus::Reason);
}

#[test]
fn the_alert_on_the_selected_provider_or_region_is_silenced_from_the_fleet() {
    let mut app = alerting_app(100, 30, Instant::now());
    // The matrix: us-east (row 0), its openai cell.
    app.selection.fleet_row = 0;
    app.selection.fleet_col = 1 + app
        .visible
        .vendors
        .iter()
        .position(|v| v == "openai")
        .unwrap();
    app.update(key(KeyCode::Char('s')));
    assert!(app.overlays.silence_form().is_some());
    app.update(key(KeyCode::Esc));
    // eu-west has no alert: nothing opens, and the console says why.
    app.selection.fleet_row = 1;
    app.selection.fleet_col = 0;
    app.update(key(KeyCode::Char('s')));
    assert!(app.overlays.silence_form().is_none());
    assert!(
        app.flash
            .as_ref()
            .unwrap()
            .text
            .contains("no alert fires here")
    );
}

#[test]
fn the_matchers_are_narrowed_or_widened_and_never_emptied() {
    let mut app = alerting_app(100, 30, Instant::now());
    on_the_alert_entry(&mut app);
    app.update(key(KeyCode::Char('s')));
    type_text(&mut app, "vendor paged");
    // Tab to the duration, tab to the matchers: the cursor on `alertname`.
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    assert_eq!(form(&app).focus, SilenceFocus::Matchers);
    // Widen: alertname out (every alert on openai@us-east); narrow: severity in.
    app.update(key(KeyCode::Char(' ')));
    for _ in 0..4 {
        app.update(key(KeyCode::Down));
    }
    app.update(key(KeyCode::Char(' ')));
    assert_eq!(
        matcher_names(&app),
        vec!["api_provider", "region", "severity"]
    );
    // All out (the cursor on severity, the last): refused, it would mute everything.
    app.update(key(KeyCode::Char(' ')));
    app.update(key(KeyCode::Up));
    app.update(key(KeyCode::Char(' ')));
    app.update(key(KeyCode::Up));
    app.update(key(KeyCode::Up));
    app.update(key(KeyCode::Char(' ')));
    assert!(form(&app).matchers().is_empty());
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    let problem = form(&app).problem.clone().unwrap();
    assert!(problem.contains("mute everything"), "{problem}");
}

#[test]
fn a_silence_needs_a_reason_and_a_duration_it_can_read() {
    let mut app = alerting_app(100, 30, Instant::now());
    on_the_alert_entry(&mut app);
    app.update(key(KeyCode::Char('s')));
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(
        form(&app)
            .problem
            .as_ref()
            .unwrap()
            .contains("reason is required")
    );
    type_text(&mut app, "vendor paged");
    app.update(key(KeyCode::Tab));
    for _ in 0..2 {
        app.update(key(KeyCode::Backspace));
    }
    type_text(&mut app, "soon");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(form(&app).problem.is_some());
    for _ in 0..4 {
        app.update(key(KeyCode::Backspace));
    }
    type_text(&mut app, "8d");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    let problem = form(&app).problem.clone().unwrap();
    assert!(problem.contains("from 1 second to 7d"), "{problem}");
}

#[test]
fn a_confirmed_silence_is_one_order_with_what_the_form_showed() {
    let mut app = alerting_app(100, 30, Instant::now());
    on_the_alert_entry(&mut app);
    app.update(key(KeyCode::Char('s')));
    type_text(&mut app, "vendor paged");
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Backspace));
    app.update(key(KeyCode::Backspace));
    type_text(&mut app, "30m");
    let effects = app.update(key(KeyCode::Enter));
    let expected = SilenceOrder {
        local_id: 1,
        source: METRICS.into(),
        action: SilenceAction::Create {
            matchers: vec![
                Matcher::equals("alertname", "ProviderErrorRateHigh"),
                Matcher::equals("api_provider", "openai"),
                Matcher::equals("region", "us-east"),
            ],
            duration: Duration::from_secs(1800),
        },
        reason: "vendor paged".into(),
        operator: Some("alice".into()),
    };
    assert_eq!(effects, vec![Effect::Silence(expected)]);
    assert!(app.overlays.silence_form().is_none());
    assert_eq!(app.sent_silences[0].state, SilenceSent::Sending);
}

#[test]
fn what_alertmanager_said_is_shown_and_kept_in_the_timeline_with_who_why_and_key() {
    let mut app = alerting_app(100, 30, Instant::now());
    on_the_alert_entry(&mut app);
    app.update(key(KeyCode::Char('s')));
    type_text(&mut app, "vendor paged");
    app.update(key(KeyCode::Enter));
    app.update(Msg::SilenceJournaled {
        local_id: 1,
        key: "k-1".into(),
    });
    app.update(Msg::SilenceFinished {
        local_id: 1,
        result: Ok(SilenceDone {
            id: "3f2a".into(),
            detail: "created".into(),
        }),
    });
    let entry = app.timeline.back().unwrap();
    assert_eq!(entry.source, METRICS);
    assert_eq!(
        entry.text,
        "✓ silence alertname=ProviderErrorRateHigh, api_provider=openai, region=us-east for 1h: \
         created (silence 3f2a) · by alice · reason: vendor paged · key k-1"
    );
    assert!(app.flash.as_ref().unwrap().text.contains("silence 3f2a"));

    // A refusal is told in Alertmanager's words, cleaned.
    on_the_alert_entry(&mut app);
    app.update(key(KeyCode::Char('s')));
    type_text(&mut app, "again");
    app.update(key(KeyCode::Enter));
    app.update(Msg::SilenceFinished {
        local_id: 2,
        result: Err(CommandFailure {
            kind: FailureKind::Rejected,
            message: "Alertmanager refused (400): bad \u{1b}[31mmatcher".into(),
        }),
    });
    let entry = app.timeline.back().unwrap();
    assert!(
        entry.text.starts_with("✖ refused: silence alertname=")
            && entry
                .text
                .contains("Alertmanager refused (400): bad matcher")
            && entry.text.ends_with("key none (not journaled)"),
        "{}",
        entry.text
    );
}

#[test]
fn active_silences_are_listed_and_one_is_expired_with_a_reason() {
    let mut app = alerting_app(100, 30, Instant::now());
    app.update(from_metrics(SourceEvent::Silences(Ok(vec![
        silence("later", SilenceState::Active, 90),
        silence("gone", SilenceState::Expired, -5),
        silence("soon", SilenceState::Active, 20),
    ]))));
    let ids: Vec<&str> = app.silences_of(1).iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["soon", "later"],
        "active ones, ending soonest first"
    );
    app.update(shift('S'));
    assert_eq!(app.overlays.silence_list().unwrap().source, 1);
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Char('x')));
    assert!(app.update(key(KeyCode::Enter)).is_empty(), "no reason yet");
    type_text(&mut app, "fixed upstream");
    let effects = app.update(key(KeyCode::Enter));
    match effects.as_slice() {
        [Effect::Silence(order)] => {
            assert_eq!(order.action, SilenceAction::Expire { id: "later".into() });
            assert_eq!(order.reason, "fixed upstream");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_silenced_alert_says_until_when_and_by_whom() {
    let mut app = alerting_app(100, 30, Instant::now());
    let mut alert = crate::testing::firing_alert("f1", "us-east", Some("openai"));
    alert.silenced_by = vec!["soon".into()];
    app.update(from_metrics(SourceEvent::Alerts(Ok(vec![alert.clone()]))));
    app.update(from_metrics(SourceEvent::Silences(Ok(vec![silence(
        "soon",
        SilenceState::Active,
        20,
    )]))));
    assert_eq!(
        app.silenced_note(1, &alert).as_deref(),
        Some("silenced until 14:23 UTC by bob")
    );
    let entry = app
        .timeline
        .iter()
        .find(|e| e.alert.is_some())
        .unwrap()
        .clone();
    assert_eq!(
        app.alert_entry_note(&entry).as_deref(),
        Some("firing, silenced until 14:23 UTC by bob")
    );
    app.update(from_metrics(SourceEvent::Alerts(Ok(Vec::new()))));
    assert_eq!(
        app.alert_entry_note(&entry).as_deref(),
        Some("no longer firing")
    );
}

#[test]
fn a_viewer_or_a_read_only_console_may_not_silence() {
    let mut app = alerting_app(100, 30, Instant::now());
    as_user(&mut app, "vera", protocol::Role::Viewer);
    on_the_alert_entry(&mut app);
    app.update(key(KeyCode::Char('s')));
    assert!(app.overlays.silence_form().is_none());
    assert_eq!(
        app.flash.as_ref().unwrap().text,
        "role viewer may not silence alerts"
    );
    let mut app = alerting_app(100, 30, Instant::now());
    app.context.read_only = true;
    on_the_alert_entry(&mut app);
    app.update(key(KeyCode::Char('s')));
    assert!(app.overlays.silence_form().is_none());
}

#[test]
fn an_alert_no_longer_firing_cannot_be_silenced_from_its_entry() {
    let mut app = alerting_app(100, 30, Instant::now());
    on_the_alert_entry(&mut app);
    app.update(from_metrics(SourceEvent::Alerts(Ok(Vec::new()))));
    // The resolved entry came in above: the alert's entry is one further down.
    app.selection.timeline_row += 1;
    app.update(key(KeyCode::Char('s')));
    assert!(app.overlays.silence_form().is_none());
}

#[test]
fn a_silence_mutes_the_alerts_whose_labels_meet_every_matcher() {
    let alert = crate::testing::firing_alert("f1", "us-east", Some("openai"));
    let region = [Matcher::equals("region", "us-east")];
    assert!(mutes(&region, &alert));
    let other = [Matcher::equals("region", "eu-west")];
    assert!(!mutes(&other, &alert));
    let not = [Matcher {
        is_equal: false,
        ..Matcher::equals("region", "eu-west")
    }];
    assert!(mutes(&not, &alert));
}
