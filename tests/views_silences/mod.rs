//! Issue 11: a silence from the console. The confirmation shows the matchers the silence will
//! have (each from the alert's labels, in or out), which alerts firing now they mute, how
//! long and until when, and asks why; every text from Alertmanager reaches it cleaned.

use super::*;
use switchboard::sources::prometheus::silences::{Matcher, Silence, SilenceState};
use switchboard::testing::{alerting_app, firing_alert, from_metrics, type_text};

/// The entry of the alert `f1` (ProviderErrorRateHigh on openai@us-east) selected in the
/// timeline.
fn on_the_alert_entry(app: &mut App) {
    app.update(key(KeyCode::Char('3')));
    app.selection.timeline_row = (app.timeline.iter().rev())
        .position(|e| e.alert.as_deref() == Some("f1"))
        .unwrap();
}

#[test]
fn the_silence_confirmation_shows_what_it_will_mute_for_how_long_and_asks_why() {
    let mut app = alerting_app(100, 30, Instant::now());
    // A second alert on openai@us-east that the same matchers mute, and one elsewhere.
    let mut other = firing_alert("f2", "us-east", Some("openai"));
    other
        .labels
        .insert("alertname".into(), "ProviderLatencyHigh".into());
    other.name = "ProviderLatencyHigh".into();
    let elsewhere = firing_alert("f3", "eu-west", Some("openai"));
    let first = firing_alert("f1", "us-east", Some("openai"));
    app.update(from_metrics(SourceEvent::Alerts(Ok(vec![
        first, other, elsewhere,
    ]))));
    on_the_alert_entry(&mut app);
    app.update(key(KeyCode::Char('s')));
    type_text(&mut app, "vendor paged, ETA 30 min");
    let screen = text(&show(&mut app));
    assert!(
        screen.contains("[x] alertname=ProviderErrorRateHigh")
            && screen.contains("[ ] severity=critical"),
        "{screen}"
    );
    assert!(
        screen.contains("mutes 1 alert firing now: ProviderErrorRateHigh on openai@us-east"),
        "{screen}"
    );
    assert!(screen.contains("until 15:03 UTC"), "{screen}");
    insta::assert_snapshot!("silence_confirmation_100x30", screen);

    // Widened to every alert on openai@us-east: the preview says so before anything is sent.
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Char(' ')));
    let screen = text(&show(&mut app));
    assert!(
        screen.contains("mutes 2 alerts firing now: ProviderErrorRateHigh on openai@us-east,")
            && screen.contains("ProviderLatencyHigh on openai@us-east"),
        "{screen}"
    );
}

#[test]
fn silences_from_alertmanager_are_listed_cleaned_and_a_silenced_alert_says_by_whom() {
    let mut app = alerting_app(100, 30, Instant::now());
    let mut alert = firing_alert("f1", "us-east", Some("openai"));
    alert.silenced_by = vec!["s-1".into()];
    app.update(from_metrics(SourceEvent::Alerts(Ok(vec![alert]))));
    let silence = Silence {
        id: "s-1".into(),
        state: SilenceState::Active,
        matchers: vec![Matcher::equals("region", "us-east")],
        starts_at: fixture_wall(),
        ends_at: fixture_wall() + chrono::TimeDelta::minutes(20),
        created_by: "bob\u{1b}[2J".into(),
        comment: "vendor\u{1b}]52;c;AAAA\u{7} paged".into(),
        key: None,
        updated_at: fixture_wall(),
    };
    app.update(from_metrics(SourceEvent::Silences(Ok(vec![silence]))));
    // The fleet detail of openai@us-east: the alert, silenced until when and by whom.
    app.update(key(KeyCode::Char('1')));
    app.selection.fleet_col = 1 + app
        .visible
        .vendors
        .iter()
        .position(|v| v == "openai")
        .unwrap();
    let screen = text(&show(&mut app));
    assert!(
        screen.contains("silenced until 14:23 UTC by bob"),
        "{screen}"
    );
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('S'),
        KeyModifiers::SHIFT,
    )));
    let screen = text(&show(&mut app));
    assert!(
        screen.contains("until 14:23 UTC · by bob · region=us-east · vendor paged"),
        "{screen}"
    );
    assert!(!screen.contains('\u{1b}'), "{screen}");
}

/// Alertmanager keeps no audit log of ours: a silence action of this console is a row of the
/// audit view, with who, what, the key, the reason and what Alertmanager said.
#[test]
fn a_silence_sent_from_the_console_is_a_row_of_the_audit_view() {
    let mut app = alerting_app(100, 30, Instant::now());
    on_the_alert_entry(&mut app);
    app.update(key(KeyCode::Char('s')));
    type_text(&mut app, "vendor paged");
    app.update(key(KeyCode::Enter));
    app.update(Msg::SilenceJournaled {
        local_id: 1,
        key: "k-1".into(),
    });
    app.update(key(KeyCode::Char('4')));
    let screen = text(&show(&mut app));
    assert!(
        screen.contains("silence") && screen.contains("⧗ sending"),
        "{screen}"
    );
    app.update(Msg::SilenceFinished {
        local_id: 1,
        result: Ok(switchboard::app::SilenceDone {
            id: "3f2a".into(),
            detail: "created\u{1b}[2J".into(),
        }),
    });
    let screen = text(&show(&mut app));
    assert!(screen.contains("✓ created"), "{screen}");
    assert!(screen.contains("key    k-1"), "{screen}");
    assert!(screen.contains("reason vendor paged"), "{screen}");
    assert!(
        screen.contains("silence 3f2a (Alertmanager of metrics, this console's record)"),
        "{screen}"
    );
    assert!(!screen.contains('\u{1b}'), "{screen}");
}
