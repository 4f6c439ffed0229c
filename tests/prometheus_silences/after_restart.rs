//! The audit view after a restart: what earlier runs journaled in this context (a Patroni
//! promotion, silences made and expired, a protocol v1 command, a resolution) is read from the
//! journal at start as the runner reads it, and the start's recovery (the real Alertmanager)
//! settles the silences whose answer was lost; a torn line is a row, not a crash.

use std::io::Write;

use chrono::TimeZone;
use switchboard::app::{AuditRow, JournaledOutcome};
use switchboard::journal::{Entry, SentCommand};
use switchboard::runner::commands::Dispatcher;
use switchboard::runner::history;

use super::*;

const CONTEXT: &str = "ctx";

/// An entry of `context` to `url`, sent at 10:0`minute` on 2026-12-01.
fn entry_at(minute: u32, context: &str, url: &str, sent: SentCommand, key: &str) -> Entry {
    let mut entry = Entry::for_request(context, url, sent, "drill", key, None);
    entry.at = chrono::Utc
        .with_ymd_and_hms(2026, 12, 1, 10, minute, 0)
        .unwrap();
    entry
}

/// Journals, at `path`, one action of each kind an earlier run sends (after the two silences
/// of `journal_a_lost_answer_and_a_never_sent`), one of another context, and a torn line;
/// returns the torn line's number.
fn journal_each_kind(path: &std::path::Path, alertmanager: &str) -> usize {
    let mut journal = Journal::open(path).unwrap();
    let promotion = SentCommand {
        verb: "promote (switchover)".into(),
        target: "orders/node2".into(),
        path: "switchover".into(),
        body: serde_json::json!({"leader": "node1", "candidate": "node2"}),
    };
    let promoted = entry_at(1, CONTEXT, "http://127.0.0.1:8008", promotion, "k-promote");
    journal.record_sent(&promoted).unwrap();
    let applied = Outcome::Applied {
        detail: "node2 leads and runs on timeline 3".into(),
    };
    journal.record_result(&promoted.id, applied).unwrap();

    let order = SilenceOrder {
        local_id: 1,
        source: SOURCE.into(),
        action: SilenceAction::Expire { id: "9f1c".into() },
        reason: "fixed upstream".into(),
        operator: None,
    };
    let mut expired = journal_entry(CONTEXT, alertmanager, &order, "bob", "k-expire").unwrap();
    expired.at = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 10, 2, 0).unwrap();
    journal.record_sent(&expired).unwrap();
    let done = Outcome::Applied {
        detail: "silence 9f1c: expired".into(),
    };
    journal.record_result(&expired.id, done).unwrap();

    let drain = switchboard::domain::command::Command::Drain {
        region: "us-east".into(),
        expires_in_s: None,
    };
    let mut drained = Entry::new(
        CONTEXT,
        "http://127.0.0.1:9",
        &drain,
        "drill",
        None,
        "k-drain",
        4,
    );
    drained.at = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 10, 3, 0).unwrap();
    journal.record_sent(&drained).unwrap();

    let resolution = SentCommand {
        verb: "resolve submit".into(),
        target: "esc-7".into(),
        path: "/v1/escalations/esc-7/resolve".into(),
        body: serde_json::json!({}),
    };
    let resolved = entry_at(4, CONTEXT, "http://127.0.0.1:7233", resolution, "k-resolve");
    journal.record_sent(&resolved).unwrap();
    journal
        .record_result(&resolved.id, Outcome::NeverReceived)
        .unwrap();

    let elsewhere = SentCommand {
        verb: "drain".into(),
        target: "eu-west".into(),
        path: "/v1/regions/eu-west/drain".into(),
        body: serde_json::json!({}),
    };
    let other = entry_at(5, "other", "http://127.0.0.1:9", elsewhere, "k-other");
    journal.record_sent(&other).unwrap();
    drop(journal);

    // The run dies in the middle of writing its next line.
    let lines = std::fs::read_to_string(path).unwrap().lines().count();
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(br#"{"type":"sent","id":"torn","at":"2026-12-"#)
        .unwrap();
    lines + 1
}

fn journaled<'a>(app: &'a App, key: &str) -> Option<&'a switchboard::app::JournaledAction> {
    app.audit_view().into_iter().find_map(|row| match row {
        AuditRow::Journaled(action) if action.key == key => Some(action),
        _ => None,
    })
}

#[tokio::test]
async fn what_earlier_runs_journaled_is_in_the_audit_view_after_a_restart() {
    let Some(stack) = prometheus_support::shared() else {
        return;
    };
    let client = source_of(stack).alertmanager().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("commands.jsonl");
    let (lost_answer, never_sent, first) =
        journal_a_lost_answer_and_a_never_sent(&client, &path, ["restart-a", "restart-b"]).await;
    let torn = journal_each_kind(&path, client.url());

    // A new console from the same journal, started as `run_console` starts it.
    let mut app = console_on(CONTEXT);
    let journal = Journal::open(&path).unwrap();
    app.update(Msg::JournalRead(history::read(&journal, CONTEXT, &path)));
    let (tx, mut rx) = mpsc::channel(64);
    let mut dispatcher = Dispatcher::new(CONTEXT, &[], &[], journal, tx);
    dispatcher.add_alertmanager(SOURCE, client.clone());
    dispatcher.recover_pending();
    app.update(key(KeyCode::Char('4')));

    // Before recovery answers, the lost answers are said unknown, never hidden.
    let unknown = journaled(&app, &lost_answer).expect("the silence whose answer was lost");
    assert!(
        matches!(&unknown.outcome, JournaledOutcome::Unknown(w) if w.contains("stopped before the answer")),
        "{unknown:?}"
    );
    // Recovery settles each open entry in the journal's order, the drain last.
    let settled = |app: &App| {
        [&lost_answer, &never_sent].iter().all(|key| {
            journaled(app, key).is_some_and(|a| matches!(a.outcome, JournaledOutcome::Done(_)))
        }) && journaled(app, "k-drain").is_some_and(|a| a.outcome.words().contains("not a source"))
    };
    crate::console_support::until(
        &mut app,
        &mut rx,
        WAIT,
        "recovery settles the silences",
        settled,
    )
    .await;

    let made_once = journaled(&app, &lost_answer).unwrap();
    assert_eq!(made_once.operator.as_deref(), Some("alice"));
    assert!(
        made_once.outcome.words().contains(&first)
            && made_once.outcome.words().contains("already created"),
        "{made_once:?}"
    );
    let drained = journaled(&app, "k-drain").unwrap();
    assert!(
        matches!(&drained.outcome, JournaledOutcome::Unknown(w) if w.contains("not a source of this context")),
        "{drained:?}"
    );
    assert!(journaled(&app, "k-other").is_none(), "another context's");

    let screen = crate::console_support::screen(&app);
    for shown in [
        "unreadable journal line",
        &format!("? line {torn} unreadable: skipped"),
        "promote (switchover)",
        "orders/node2",
        "✓ applied: node2 leads and runs on timeline 3",
        "silence create",
        "region=restart-a",
        "region=restart-b",
        "silence expire",
        "9f1c",
        "✖ never reached the server",
        "resolve submit",
        "? outcome unknown: http://127.0.0.1:9",
        "(torn by a crash, or edited?)",
    ] {
        assert!(screen.contains(shown), "{shown:?} not on screen:\n{screen}");
    }
    // The promotion's own row, selected: when, where, and that the journal is its record.
    let row = (app.audit_view().iter())
        .position(|r| matches!(r, AuditRow::Journaled(a) if a.key == "k-promote"))
        .unwrap();
    for _ in 0..row {
        app.update(key(KeyCode::Down));
    }
    let screen = crate::console_support::screen(&app);
    assert!(
        screen.contains("sent 2026-12-01 10:01:00 UTC to http://127.0.0.1:8008 (this console's journal, an earlier run)"),
        "{screen}"
    );
}
