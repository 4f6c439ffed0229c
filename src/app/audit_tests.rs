//! The audit log as `update` sees it: first fetch, catch-up after a reconnection, merging
//! once per id, the selection kept on its entry.

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;

use crate::app::tests::loaded;
use crate::app::*;
use crate::domain::fleet::DownKind;
use crate::sources::SourceEvent;
use crate::testing::{from_source as source, key, small_fleet as small_snapshot};

#[test]
fn audit_events_fill_the_audit_view_once_each() {
    let mut app = loaded(Instant::now());
    let entry = protocol::commands::AuditEntry {
        id: 3,
        at: crate::testing::fixture_wall(),
        actor: "alice".into(),
        action: "drain".into(),
        target: "us-east".into(),
        reason: "drill".into(),
        idempotency_key: Some("k-3".into()),
        outcome: protocol::commands::AuditOutcome::Accepted,
        detail: None,
        preflight: None,
    };
    app.update(source(SourceEvent::Audit(entry.clone())));
    app.update(Msg::AuditLoaded {
        source: "lab".into(),
        result: Ok(vec![entry]),
    });
    assert_eq!(app.audit.len(), 1);
    // Opening the audit view the first time asks each source for its log.
    assert_eq!(
        app.update(key(KeyCode::Char('4'))),
        vec![Effect::FetchAudit {
            source: "lab".into(),
            newer_than: None,
        }]
    );
    app.update(key(KeyCode::Char('1')));
    assert!(app.update(key(KeyCode::Char('4'))).is_empty());
}

fn audit_entry(id: u64) -> protocol::commands::AuditEntry {
    protocol::commands::AuditEntry {
        id,
        at: crate::testing::fixture_wall() + chrono::Duration::seconds(id as i64),
        actor: "alice".into(),
        action: "drain".into(),
        target: "us-east".into(),
        reason: "drill".into(),
        idempotency_key: Some(format!("k-{id}")),
        outcome: protocol::commands::AuditOutcome::Accepted,
        detail: None,
        preflight: None,
    }
}

/// The audit view open, holding these entries of the lab.
fn showing_audit(ids: &[u64]) -> App {
    let mut app = loaded(Instant::now());
    app.update(key(KeyCode::Char('4')));
    app.update(Msg::AuditLoaded {
        source: "lab".into(),
        result: Ok(ids.iter().copied().map(audit_entry).collect()),
    });
    app
}

#[test]
fn a_reconnection_refetches_the_audit_log_since_the_newest_entry_held() {
    let mut app = showing_audit(&[5, 4]);
    app.update(source(SourceEvent::Down {
        error: "cannot reach lab: refused".into(),
        kind: DownKind::Unreachable,
        retry_in: Duration::from_secs(1),
    }));
    // Commands made while the stream was down are not replayed as events: the new
    // connection asks the log for everything after entry 5.
    let effects = app.update(source(SourceEvent::Snapshot(small_snapshot())));
    assert!(
        effects.contains(&Effect::FetchAudit {
            source: "lab".into(),
            newer_than: Some(5),
        }),
        "{effects:?}"
    );
    // The catch-up overlaps what is held: each entry is kept once, newest first.
    app.update(Msg::AuditLoaded {
        source: "lab".into(),
        result: Ok(vec![audit_entry(7), audit_entry(6), audit_entry(5)]),
    });
    let ids: Vec<u64> = app.audit.iter().map(|a| a.entry.id).collect();
    assert_eq!(ids, vec![7, 6, 5, 4]);
}

#[test]
fn the_audit_selection_stays_on_its_entry_when_newer_ones_arrive() {
    let mut app = showing_audit(&[5, 4]);
    app.update(key(KeyCode::Down));
    assert_eq!(app.selection.audit_row, 1);
    // The catch-up after a reconnection puts 7 and 6 above entry 4: it stays selected.
    app.update(Msg::AuditLoaded {
        source: "lab".into(),
        result: Ok(vec![audit_entry(7), audit_entry(6)]),
    });
    assert_eq!(app.selection.audit_row, 3);
    app.update(source(SourceEvent::Audit(audit_entry(8))));
    assert_eq!(app.selection.audit_row, 4);
}

#[test]
fn a_snapshot_before_the_audit_view_was_opened_fetches_no_audit() {
    let mut app = loaded(Instant::now());
    let effects = app.update(source(SourceEvent::Snapshot(small_snapshot())));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::FetchAudit { .. })),
        "{effects:?}"
    );
}

/// What an earlier run journaled: a drain to the lab (logged there as entry 9 under `k-9`)
/// and a silence (logged nowhere), with one torn line.
fn journaled_history() -> JournalHistory {
    let action = |id: &str, verb: &str, key: &str, minute: i64| JournaledAction {
        entry_id: id.into(),
        at: crate::testing::fixture_wall() - chrono::Duration::minutes(minute),
        source: "http://127.0.0.1:7300/".into(),
        verb: verb.into(),
        target: "us-east".into(),
        reason: "drill".into(),
        key: key.into(),
        operator: None,
        outcome: JournaledOutcome::Unknown("outcome unknown: stopped".into()),
    };
    JournalHistory {
        path: "/state/commands.jsonl".into(),
        actions: vec![
            action("e-1", "drain", "k-9", 20),
            action("e-2", "silence create", "k-s", 10),
        ],
        unreadable_lines: vec![3],
    }
}

#[test]
fn an_earlier_runs_journal_is_in_the_audit_view_until_a_server_logs_it_and_recovery_updates_it() {
    let mut app = showing_audit(&[5]);
    app.update(Msg::JournalRead(journaled_history()));
    let keys = |app: &App| -> Vec<String> {
        (app.audit_view().iter())
            .map(|row| match row {
                AuditRow::UnreadableJournal(_) => "unreadable".to_string(),
                AuditRow::Journaled(a) => a.key.clone(),
                AuditRow::Server(s) => format!("#{}", s.entry.id),
                _ => "other".to_string(),
            })
            .collect()
    };
    assert_eq!(keys(&app), ["unreadable", "k-s", "k-9", "#5"]);
    assert!(
        (app.timeline.iter()).any(|e| e.text.contains("line 3 unreadable")),
        "the torn line is said at once"
    );
    // Selected, the drain stays selected when the lab's log turns out to hold it: the
    // server's entry is its row from then on.
    app.selection.audit_row = 2;
    app.update(Msg::JournalSettled {
        entry_id: "e-1".into(),
        outcome: JournaledOutcome::Done("accepted (audit #9)".into()),
    });
    assert_eq!(
        app.journal.actions[0].outcome,
        JournaledOutcome::Done("accepted (audit #9)".into())
    );
    let mut logged = audit_entry(9);
    logged.at = crate::testing::fixture_wall() - chrono::Duration::minutes(20);
    app.update(Msg::AuditLoaded {
        source: "lab".into(),
        result: Ok(vec![logged]),
    });
    assert_eq!(keys(&app), ["unreadable", "k-s", "#5", "#9"]);
}
