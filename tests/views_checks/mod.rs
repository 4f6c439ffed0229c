//! Screen checks of tests/views.rs that assert on the text drawn, without a snapshot: help
//! opens where the operator is, hostile names keep rows aligned, banners keep their outcome,
//! stale counts are marked, unknown rate limits are never called kept.

use super::*;

/// Issue 8 item 14: help opens on the keys of where the operator is, not on "In a
/// confirmation" (the keymap's first section).
#[test]
fn help_opens_on_the_current_view() {
    let mut app = app(80, 24, Instant::now());
    app.update(key(KeyCode::Char('?')));
    let screen = text(&render(&app, &dark()));
    let first = screen
        .lines()
        .find(|l| l.contains("Everywhere") || l.contains("In a"));
    assert!(first.is_some_and(|l| l.contains("Everywhere")), "{screen}");
}

/// A hostile source names a region with a line separator and a zero-width space: the row keeps
/// its cells aligned with its neighbours and no invisible character reaches a cell.
#[test]
fn a_line_separator_in_a_name_keeps_the_row_aligned() {
    let now = Instant::now();
    let mut app = lab_app(80, 24, now);
    let mut fleet = small_fleet();
    fleet.regions[0].id = "us\u{2028}east\u{200b}".into();
    app.update(source(SourceEvent::Snapshot(fleet)));
    let buffer = render(&app, &dark());
    let area = buffer.area;
    for y in 0..area.height {
        for x in 0..area.width {
            let symbol = buffer[(x, y)].symbol();
            assert!(
                !symbol.contains(['\u{2028}', '\u{2029}', '\u{200b}']),
                "cell ({x}, {y}) holds {symbol:?}\n{}",
                text(&buffer)
            );
        }
    }
    let hostile = find(&buffer, "us east").expect("the cleaned name is drawn");
    let neighbour = find(&buffer, "eu-west").expect("the next row is drawn");
    let ok = find(&buffer, "● ok").expect("health of the hostile row");
    let degraded = find(&buffer, "▲ degraded").expect("health of the next row");
    assert_eq!((hostile.0, ok.1), (neighbour.0, hostile.1));
    assert_eq!(ok.0, degraded.0, "{}", text(&buffer));
}

/// Issue 8 item 12 (console side): a journal recovery banner, whose outcome comes after a
/// 36-character key, is read to its end at 80 columns (banners wrap; they were cut).
#[test]
fn a_journal_recovery_banner_keeps_its_outcome_at_80_columns() {
    let mut app = app(80, 24, Instant::now());
    let sent = switchboard::journal::SentCommand {
        verb: "drain".into(),
        target: "eu-west".into(),
        path: "/v1/regions/eu-west/drain".into(),
        body: serde_json::json!({ "reason": "drill" }),
    };
    let entry = switchboard::journal::Entry::for_request(
        "prod",
        "http://127.0.0.1:7300",
        sent,
        "drill",
        "3f2c9a4e-8d1b-4c7a-9e2f-5b6d7a8c9e0f",
        Some(4),
    );
    let outcome = switchboard::journal::Outcome::Accepted {
        audit_id: 12,
        operation_id: None,
    };
    // The console's own wording of a recovered command (the runner prefixes "journal: ").
    let line = format!(
        "journal: {}",
        switchboard::journal::describe_recovered(&entry, &outcome)
    );
    app.problems.push(line);
    let screen = text(&render(&app, &dark()));
    let first_row = screen
        .lines()
        .find(|l| l.contains("journal:"))
        .expect("the banner");
    assert!(first_row.contains("accepted (audit #12)"), "{screen}");
}

/// Issue 8 item 13: during an outage the inbox's counts say they are the last known ones.
#[test]
fn inbox_counts_are_marked_stale_during_an_outage() {
    let now = Instant::now();
    let mut app = app(80, 24, now);
    app.update(key(KeyCode::Char('5')));
    lab_down_for_42s(&mut app, now);
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("? stale, as of 42s ago"), "{screen}");
}

/// Issue 8 item 5: a confirmation that sends traffic to a provider whose rate limit nobody
/// knows says so, and never shows the check mark that every target keeps headroom.
#[test]
fn a_confirmation_never_calls_an_unknown_rate_limit_kept() {
    use switchboard::domain::command::Command;
    use switchboard::domain::preflight::preflight;
    let fleet = default_fleet();
    let (quarantined, idle) = fleet
        .providers
        .iter()
        .find_map(|p| {
            let command = Command::Breaker {
                provider: p.id.clone(),
                action: protocol::commands::BreakerAction::ForceOpen,
                expires_in_s: None,
            };
            let check = preflight(&command, &fleet);
            let idle = check.unjudged_providers().first()?.to_string();
            Some((p.id.clone(), idle))
        })
        .expect("a failover onto an idle provider");
    let mut app = app(160, 48, Instant::now());
    app.update(source(SourceEvent::Snapshot(fleet)));
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, &format!("breaker {quarantined} force-open"));
    app.update(key(KeyCode::Enter));
    let screen = text(&render(&app, &dark()));
    assert!(
        screen.contains(&format!("? rate limit unknown for {idle}")),
        "{screen}"
    );
    assert!(!screen.contains("every target keeps headroom"), "{screen}");
}

/// Issue 8 item 19: a source that is down says why in its own words: a refused login, a
/// forbidden read, a malformed answer and a server error are not "unreachable".
#[test]
fn a_down_source_banner_names_the_kind_of_failure() {
    let cases = [
        (
            DownKind::Unauthorized,
            "401: token expired — run `switchboard login`",
            "✖ lab: login refused (401) — run `switchboard login`",
        ),
        (
            DownKind::Forbidden,
            "403: role viewer may not read the fleet",
            "✖ lab: access forbidden (403)",
        ),
        (
            DownKind::Malformed,
            "malformed fleet snapshot: EOF while parsing",
            "✖ lab: malformed answer",
        ),
        (
            DownKind::ServerError { status: 503 },
            "503 Service Unavailable",
            "✖ lab: server error (503)",
        ),
        (
            DownKind::TimedOut,
            "no answer from http://127.0.0.1:7300 within 10.0 s",
            "✖ lab: not answering (timed out)",
        ),
        (
            DownKind::Unreachable,
            "cannot reach http://127.0.0.1:7300: connection refused",
            "✖ lab: unreachable",
        ),
    ];
    for (kind, error, banner) in cases {
        let now = Instant::now();
        let mut app = app(80, 24, now);
        app.update(source(SourceEvent::Down {
            error: error.into(),
            kind,
            retry_in: Duration::from_secs(8),
        }));
        let screen = text(&render(&app, &dark()));
        let joined = screen.lines().collect::<String>();
        assert!(joined.contains(banner), "{kind:?}: {screen}");
        if kind != DownKind::Unreachable {
            assert!(!screen.contains("unreachable"), "{kind:?}: {screen}");
        }
        assert!(
            screen.contains(&format!("✖ lab {}", kind.short())),
            "status bar cell for {kind:?}: {screen}"
        );
    }
}

mod confirmations;

/// Issue 10: tasks of a lab and of a Temporal namespace share the inbox; with several sources
/// each row says whose it is, and so does the open task's title.
#[test]
fn tasks_of_several_sources_say_whose_they_are() {
    let now = Instant::now();
    let mut app = App::new(switchboard::app::AppInit {
        context: switchboard::app::ContextInfo {
            name: "agents".into(),
            lab: false,
            read_only: false,
            production: false,
        },
        sources: vec![
            ("lab".into(), "http://127.0.0.1:7300".into()),
            ("workflows".into(), "http://127.0.0.1:7243".into()),
        ],
        problems: Vec::new(),
        theme_name: "dark".into(),
        themes: vec!["dark".into()],
        now,
        wall: fixture_wall(),
        area: ratatui::layout::Rect::new(0, 0, 140, 30),
        notify_at: None,
        approval_policy: None,
        cost: Default::default(),
    });
    let queue = escalation_queue(7, 3);
    let mut summaries = escalation_summaries(&queue);
    let mut temporal = summaries.pop().unwrap();
    temporal.id = "wf-7".into();
    app.update(source(SourceEvent::Snapshot(small_fleet())));
    app.update(escalations_loaded(summaries));
    app.update(Msg::Source(switchboard::sources::SourceMsg {
        source: "workflows".into(),
        event: SourceEvent::Listed {
            rows: vec![temporal],
            next_in: std::time::Duration::from_secs(5),
        },
    }));
    app.update(key(KeyCode::Char('5')));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("SOURCE"), "{screen}");
    let row = screen.lines().find(|l| l.contains("wf-7"));
    assert!(row.is_some_and(|r| r.contains("workflows")), "{screen}");
    assert!(
        screen
            .lines()
            .filter(|l| l.contains("│P") && l.contains(" lab "))
            .count()
            == 2,
        "{screen}"
    );
    let index = (app.inbox.rows().iter())
        .position(|k| app.inbox.item(k.slot).id() == "wf-7")
        .unwrap();
    app.inbox.select_index(index);
    app.update(key(KeyCode::Enter));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("· from workflows"), "{screen}");
}
