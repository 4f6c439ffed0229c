use super::*;

fn drain() -> Command {
    Command::Drain {
        region: "us-east".into(),
        expires_in_s: Some(1800),
    }
}

fn entry(key: &str) -> Entry {
    Entry::new(
        "lab",
        "http://127.0.0.1:7300/?token=secret#frag",
        &drain(),
        "brownout",
        None,
        key,
        3,
    )
}

#[test]
fn a_sent_command_stays_pending_until_its_result_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/commands.jsonl");
    let mut journal = Journal::open(&path).unwrap();
    let (first, second) = (entry("k-1"), entry("k-2"));
    journal.record_sent(&first).unwrap();
    journal.record_sent(&second).unwrap();
    journal
        .record_result(
            &first.id,
            Outcome::Accepted {
                audit_id: 9,
                operation_id: None,
            },
        )
        .unwrap();
    assert_eq!(journal.pending(), vec![second.clone()]);
    drop(journal);

    let mut reopened = Journal::open(&path).unwrap();
    assert!(reopened.unreadable_lines().is_empty());
    assert_eq!(reopened.pending(), vec![second.clone()]);
    let recent = reopened.recent(5);
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].entry, first);
    assert_eq!(
        recent[0].outcome.as_ref().unwrap().describe(),
        "accepted (audit #9)"
    );
    // An unknown outcome keeps it pending; a later resolution settles it.
    let unknown = Outcome::Unknown {
        message: "no answer".into(),
    };
    reopened.record_result(&second.id, unknown).unwrap();
    assert_eq!(reopened.pending(), vec![second.clone()]);
    reopened
        .record_result(&second.id, Outcome::NeverReceived)
        .unwrap();
    assert!(reopened.pending().is_empty());
    assert_eq!(reopened.recent(1)[0].entry, second);
}

#[test]
fn a_torn_last_line_is_skipped_and_the_next_entry_starts_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("commands.jsonl");
    let mut journal = Journal::open(&path).unwrap();
    let whole = entry("k-1");
    journal.record_sent(&whole).unwrap();
    drop(journal);
    // A crash in the middle of writing the next line.
    let torn = serde_json::to_string(&Line::Sent(entry("k-2"))).unwrap();
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(&torn.as_bytes()[..torn.len() / 2]).unwrap();
    drop(file);

    let mut journal = Journal::open(&path).unwrap();
    assert_eq!(journal.unreadable_lines(), [2]);
    assert_eq!(journal.pending(), vec![whole.clone()]);
    let next = entry("k-3");
    journal.record_sent(&next).unwrap();
    drop(journal);

    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.unreadable_lines(), [2], "only the torn line");
    assert_eq!(journal.pending(), vec![whole, next]);
}

#[test]
fn garbage_and_foreign_lines_never_stop_the_journal_from_opening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("commands.jsonl");
    let sent = serde_json::to_string(&Line::Sent(entry("k-1"))).unwrap();
    let text = format!(
        "not json\n\u{0}\u{ff}\n{sent}\n{{\"type\":\"result\",\"id\":\"nobody\",\"at\":\"2026-01-01T00:00:00Z\",\"outcome\":{{\"kind\":\"never-received\"}}}}\n\n"
    );
    fs::write(&path, text).unwrap();
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.unreadable_lines(), [1, 2]);
    assert_eq!(journal.pending().len(), 1);
}

#[test]
fn entries_hold_no_secret_and_results_need_an_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("commands.jsonl");
    let mut journal = Journal::open(&path).unwrap();
    let sent = entry("k-1");
    assert_eq!(sent.source, "http://127.0.0.1:7300/");
    journal.record_sent(&sent).unwrap();
    assert_eq!(
        journal.record_sent(&sent).unwrap_err().kind(),
        io::ErrorKind::AlreadyExists
    );
    assert_eq!(
        journal
            .record_result("missing", Outcome::NeverReceived)
            .unwrap_err()
            .kind(),
        io::ErrorKind::NotFound
    );
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains("secret") && !text.contains("frag"), "{text}");
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["type"], "sent");
    assert_eq!(line["command"]["verb"], "drain");
    assert_eq!(line["command"]["path"], "/v1/regions/us-east/drain");
    assert_eq!(line["command"]["body"]["expires_in_s"], 1800);
    assert_eq!(line["idempotency_key"], "k-1");
    assert_eq!(line["if_match"], 3);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
    }
}

fn audit(id: u64, key: Option<&str>, outcome: AuditOutcome, detail: Option<&str>) -> AuditEntry {
    AuditEntry {
        id,
        at: Utc::now(),
        actor: "alice".into(),
        action: "breaker force-open".into(),
        target: "openai@us-east".into(),
        reason: "503s".into(),
        idempotency_key: key.map(String::from),
        outcome,
        detail: detail.map(String::from),
        preflight: None,
    }
}

#[test]
fn a_command_held_for_approval_is_known_and_never_pending() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(&dir.path().join("commands.jsonl")).unwrap();
    let sent = entry("k-held");
    journal.record_sent(&sent).unwrap();
    let mut answer = crate::testing::accepted(21);
    answer.pending_approval = Some(Box::new(crate::testing::approval_request()));
    let outcome = Outcome::accepted(&answer);
    assert_eq!(
        outcome.describe(),
        "held for approval apr-000003 (audit #21)"
    );
    journal.record_result(&sent.id, outcome).unwrap();
    assert!(journal.pending().is_empty());
}

#[test]
fn the_audit_log_tells_what_became_of_a_pending_command() {
    let log = vec![
        audit(12, Some("k-1"), AuditOutcome::Succeeded, None),
        audit(
            11,
            Some("k-2"),
            AuditOutcome::Rejected,
            Some("stale\u{1b}[31m revision"),
        ),
        audit(10, Some("k-1"), AuditOutcome::Accepted, None),
        audit(9, None, AuditOutcome::Reverted, None),
    ];
    assert_eq!(
        outcome_in_audit(&log, "k-1", "alice"),
        Outcome::Accepted {
            audit_id: 10,
            operation_id: None
        }
    );
    assert_eq!(
        outcome_in_audit(&log, "k-2", "alice"),
        Outcome::Rejected {
            status: None,
            message: "stale revision".into()
        }
    );
    assert_eq!(
        outcome_in_audit(&log, "k-3", "alice"),
        Outcome::NeverReceived
    );
    // A command the two-person rule held was received: it is not sent again.
    let held = audit(14, Some("k-4"), AuditOutcome::Held, None);
    assert_eq!(
        outcome_in_audit(&[held], "k-4", "alice"),
        Outcome::Held {
            audit_id: 14,
            approval_id: None
        }
    );
    // Another caller's entry under the same key says nothing of ours.
    let mut theirs = audit(13, Some("k-3"), AuditOutcome::Accepted, None);
    theirs.actor = "mallory".into();
    assert_eq!(
        outcome_in_audit(&[theirs.clone()], "k-3", "alice"),
        Outcome::NeverReceived
    );
    assert!(matches!(
        outcome_in_audit(&[theirs], "k-3", "mallory"),
        Outcome::Accepted { audit_id: 13, .. }
    ));
}
