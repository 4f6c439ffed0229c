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
