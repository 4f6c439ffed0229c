//! A silence made from the console against the real Alertmanager: the app's form (keys, as
//! the engineer types them) gives the order, the runner's own path journals and sends it, and
//! Alertmanager's API holds it with the matchers, createdBy and comment the form showed;
//! expired from the console the same way; a resend after a restart makes no second one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use switchboard::app::{App, AppInit, ContextInfo, Effect, Msg, SilenceAction, SilenceOrder};
use switchboard::journal::{Journal, Outcome};
use switchboard::runner::silences::{carry_out, journal_entry, recover};
use switchboard::sources::prometheus::silences::SilenceState;
use switchboard::sources::prometheus::{AlertmanagerClient, Matcher, SilenceRequest};
use switchboard::sources::{SourceEvent, SourceMsg};
use tokio::sync::mpsc;

use super::*;

mod after_restart;

const SOURCE: &str = "metrics";

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(key(KeyCode::Char(c)));
    }
}

/// A console of one Prometheus source, as `run_console` builds it.
fn console() -> App {
    console_on("metrics-only")
}

/// [`console`] on the context named `context`.
fn console_on(context: &str) -> App {
    let mut app = App::new(AppInit {
        context: ContextInfo {
            name: context.into(),
            lab: false,
            read_only: false,
            production: false,
        },
        sources: Vec::new(),
        problems: Vec::new(),
        theme_name: "dark".into(),
        themes: vec!["dark".into()],
        now: Instant::now(),
        wall: chrono::Utc::now(),
        area: Rect::new(0, 0, 120, 36),
        notify_at: None,
        approval_policy: None,
        cost: Default::default(),
    });
    app.add_metrics_source(SOURCE, "http://127.0.0.1:9090", Duration::from_secs(15));
    app
}

/// What the worker would report: the alerts and silences Alertmanager holds now.
async fn read_alertmanager(app: &mut App, client: &AlertmanagerClient) {
    let alerts = client.firing().await.map_err(|e| e.to_string());
    let silences = client.silences().await.map_err(|e| e.to_string());
    for event in [SourceEvent::Alerts(alerts), SourceEvent::Silences(silences)] {
        app.update(Msg::Source(SourceMsg {
            source: SOURCE.into(),
            event,
        }));
    }
}

/// Carries out the app's one effect through the runner's path and feeds every message back
/// until it says how it ended; returns the timeline's record of it.
async fn through_the_runner(
    app: &mut App,
    effects: Vec<Effect>,
    client: &AlertmanagerClient,
    journal: &Arc<Mutex<Journal>>,
) -> String {
    let [Effect::Silence(order)] = effects.as_slice() else {
        panic!("one silence order: {effects:?}")
    };
    let (tx, mut rx) = mpsc::channel(16);
    let ran = carry_out(
        order.clone(),
        client.clone(),
        journal.clone(),
        "metrics-only".into(),
        tx,
    );
    tokio::time::timeout(WAIT, ran)
        .await
        .expect("the order ends");
    while let Ok(msg) = rx.try_recv() {
        app.update(msg);
    }
    app.timeline
        .iter()
        .rev()
        .find(|e| e.source == SOURCE && e.text.contains(" · key "))
        .unwrap()
        .text
        .clone()
}

#[tokio::test]
async fn a_silence_from_the_console_is_in_alertmanager_as_shown_and_expires_from_it() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let source = source_of(stack);
    let client = source.alertmanager().unwrap().clone();
    stack
        .exporter
        .set("console-1", "openai", "gpt-4o", failing(10.0, 0.9));
    eventually("the alert on console-1", || alert_on(&source, "console-1")).await;
    let mut app = console();
    read_alertmanager(&mut app, &client).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("commands.jsonl");
    let journal = Arc::new(Mutex::new(Journal::open(&path).unwrap()));

    // The engineer: timeline, the alert's entry, `s`, a reason, 20m, enter.
    app.update(key(KeyCode::Char('3')));
    app.selection.timeline_row = (app.timeline.iter().rev())
        .position(|e| e.alert.is_some() && e.text.contains("console-1"))
        .unwrap();
    app.update(key(KeyCode::Char('s')));
    type_text(&mut app, "vendor incident INC-7, paged");
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Backspace));
    app.update(key(KeyCode::Backspace));
    type_text(&mut app, "20m");
    let shown = app.overlays.silence_form().unwrap().matchers();
    let effects = app.update(key(KeyCode::Enter));
    let record = through_the_runner(&mut app, effects, &client, &journal).await;
    assert!(record.starts_with("✓ silence alertname=ProviderErrorRateHigh, api_provider=openai, region=console-1 for 20m: created (silence "), "{record}");
    assert!(
        record.contains("reason: vendor incident INC-7, paged"),
        "{record}"
    );

    // Alertmanager holds it as the form showed it, under the journal's key.
    let entry = journal.lock().unwrap().recent(1).remove(0);
    assert!(
        matches!(entry.outcome, Some(Outcome::Applied { .. })),
        "{entry:?}"
    );
    let journaled_key = entry.entry.idempotency_key.clone();
    let ours: Vec<_> = (client.silences().await.unwrap().into_iter())
        .filter(|s| s.key.as_deref() == Some(journaled_key.as_str()))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let silence = &ours[0];
    assert_eq!(silence.matchers, shown);
    assert_eq!(
        silence.created_by,
        switchboard::config::temporal::login_name()
    );
    assert_eq!(silence.comment, "vendor incident INC-7, paged");
    let length = silence.ends_at - silence.starts_at;
    assert!((length.num_seconds() - 1200).abs() <= 2, "{length}");

    // The console shows it silenced, until when and by whom, and lists it.
    let deadline = Instant::now() + WAIT;
    let note = loop {
        read_alertmanager(&mut app, &client).await;
        let measured = app.source(0).measured.as_ref().unwrap();
        let alert = (measured.alerts.iter())
            .find(|a| a.target.region.as_deref() == Some("console-1"))
            .cloned();
        if let Some(note) = alert.and_then(|a| app.silenced_note(0, &a)) {
            break note;
        }
        assert!(
            Instant::now() < deadline,
            "the alert marked silenced: not within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let by = switchboard::config::temporal::login_name();
    assert!(
        note.starts_with("silenced until ") && note.ends_with(&format!(" by {by}")),
        "{note}"
    );
    assert!(app.silences_of(0).iter().any(|s| s.id == silence.id));

    // Expired from the console: the list, `x`, a reason, enter.
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('S'),
        KeyModifiers::SHIFT,
    )));
    let row = app
        .silences_of(0)
        .iter()
        .position(|s| s.id == silence.id)
        .unwrap();
    for _ in 0..row {
        app.update(key(KeyCode::Down));
    }
    app.update(key(KeyCode::Char('x')));
    type_text(&mut app, "fixed upstream");
    let effects = app.update(key(KeyCode::Enter));
    let record = through_the_runner(&mut app, effects, &client, &journal).await;
    assert!(
        record.starts_with(&format!("✓ expire silence {}: expired", silence.id)),
        "{record}"
    );
    assert_eq!(
        client.silence(&silence.id).await.unwrap().state,
        SilenceState::Expired
    );
    assert!(
        app.silences_of(0).iter().all(|s| s.id != silence.id),
        "gone from the list"
    );
}

/// What a run that died mid-way leaves in the journal at `path`: a silence on `regions[0]`
/// (by alice, for maintenance) journaled and sent, its answer lost; one on `regions[1]`
/// journaled and never sent. Returns their keys and the id of the one made.
pub(super) async fn journal_a_lost_answer_and_a_never_sent(
    client: &AlertmanagerClient,
    path: &std::path::Path,
    regions: [&str; 2],
) -> (String, String, String) {
    let order = |region: &str| SilenceOrder {
        local_id: 1,
        source: SOURCE.into(),
        action: SilenceAction::Create {
            matchers: vec![Matcher::equals("region", region)],
            duration: Duration::from_secs(600),
        },
        reason: format!("maintenance of {region}"),
        operator: Some("alice".into()),
    };
    let (sent, lost) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let mut journal = Journal::open(path).unwrap();
    // The first run journaled and sent this one, then died before the answer...
    let delivered = journal_entry("ctx", client.url(), &order(regions[0]), "alice", &sent).unwrap();
    journal.record_sent(&delivered).unwrap();
    let request = SilenceRequest {
        matchers: vec![Matcher::equals("region", regions[0])],
        duration: Duration::from_secs(600),
        reason: format!("maintenance of {}", regions[0]),
        operator: "alice".into(),
        idempotency_key: sent.clone(),
    };
    let first = client.create_silence(&request).await.unwrap();
    // ...and journaled this one but died before sending it.
    let never = journal_entry("ctx", client.url(), &order(regions[1]), "alice", &lost).unwrap();
    journal.record_sent(&never).unwrap();
    (sent, lost, first.id)
}

/// A console that died after sending a silence (or before) sends it once more on restart,
/// under the journal's key: the one it made is found, none is made twice.
#[tokio::test]
async fn a_journaled_silence_resent_after_a_restart_is_made_once() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let client = source_of(stack).alertmanager().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("commands.jsonl");
    let (sent, lost, first) =
        journal_a_lost_answer_and_a_never_sent(&client, &path, ["restart-1", "restart-2"]).await;

    let pending = Journal::open(&path).unwrap().pending();
    assert_eq!(pending.len(), 2);
    let outcomes = [
        recover(&client, &pending[0]).await,
        recover(&client, &pending[1]).await,
    ];
    let details: Vec<String> = outcomes.iter().map(Outcome::describe).collect();
    assert!(
        details[0].contains(&first) && details[0].contains("already created"),
        "{details:?}"
    );
    assert!(details[1].ends_with(": created"), "{details:?}");
    let silences = client.silences().await.unwrap();
    for key in [&sent, &lost] {
        let made = silences
            .iter()
            .filter(|s| s.key.as_deref() == Some(key.as_str()))
            .count();
        assert_eq!(made, 1, "one silence for key {key}");
    }
    let made = silences
        .iter()
        .find(|s| s.key.as_deref() == Some(lost.as_str()))
        .unwrap();
    assert_eq!(
        (made.created_by.as_str(), made.comment.as_str()),
        ("alice", "maintenance of restart-2")
    );
}
