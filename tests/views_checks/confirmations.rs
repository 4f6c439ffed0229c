//! Issue 8 items 4 and 13: the task's confirmations at 80x24 with long inputs keep what will
//! happen (and to which task) in view and scroll the rest to its end; retry paths say how
//! they fared for this task and the room they have now.

use super::*;
use protocol::escalations::{
    Attempt, AttemptError, AttemptErrorKind, AttemptOutcome, Escalation, ValidatorVerdict,
};

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// The confirmation's screens from the top to as far as page-down goes (at most `pages`).
fn every_page(app: &mut App, pages: usize) -> Vec<String> {
    let mut screens = vec![text(&render(app, &dark()))];
    for _ in 0..pages {
        app.update(key(KeyCode::PageDown));
        screens.push(text(&render(app, &dark())));
    }
    screens
}

/// Reloads the open task with `change` applied to its detail.
fn reload_open_task(app: &mut App, queue: &EscalationQueue, change: impl Fn(&mut Escalation)) {
    let id = app.task.as_ref().expect("a task is open").id.clone();
    let mut detail = queue.detail(&id).unwrap();
    change(&mut detail);
    app.update(Msg::EscalationLoaded {
        source: switchboard::testing::SOURCE.into(),
        id,
        result: Ok(Box::new(detail)),
    });
}

#[test]
fn the_confirmation_of_an_edited_output_shows_all_of_it_at_80x24() {
    let (mut app, queue) = inbox_app(80, 24, 200);
    open_task_where(&mut app, &queue, |d| !d.candidates.is_empty());
    app.update(key(KeyCode::Char('w')));
    let mut output: Vec<String> = (1..=30)
        .map(|n| format!("line {n:02}: the ledger entry stands as booked"))
        .collect();
    output.push(format!("{} END-OF-THE-LONG-LINE", "word ".repeat(60)));
    app.update(Msg::Paste(output.join("\n")));
    app.update(ctrl('s'));
    let screens = every_page(&mut app, 20);
    assert!(screens[0].contains("⋯ 0 rows above"), "{}", screens[0]);
    for screen in &screens {
        assert!(screen.contains("submit a written output"), "{screen}");
        assert!(screen.contains("note"), "{screen}");
        assert!(screen.contains("enter send"), "{screen}");
    }
    let seen = screens.join("\n");
    for n in 1..=30 {
        assert!(
            seen.contains(&format!("line {n:02}:")),
            "line {n} never shown"
        );
    }
    assert!(
        seen.contains("END-OF-THE-LONG-LINE"),
        "the long line is cut"
    );
}

#[test]
fn an_approval_keeps_its_warning_in_view_and_scrolls_long_validator_words_at_80x24() {
    let (mut app, queue) = inbox_app(80, 24, 200);
    open_task_where(&mut app, &queue, |d| !d.candidates.is_empty());
    let words = format!(
        "{} END-OF-THE-VALIDATOR-WORDS",
        "the total disagrees ".repeat(40)
    );
    reload_open_task(&mut app, &queue, |detail| {
        detail.candidates[0].verdicts = ["ledger-match", "schema", "tone"]
            .into_iter()
            .map(|validator| ValidatorVerdict {
                validator: validator.into(),
                passed: false,
                detail: Some(words.clone()),
            })
            .collect();
    });
    app.update(key(KeyCode::Char('a')));
    let screens = every_page(&mut app, 40);
    for screen in &screens {
        // The summary may wrap between the two: both stay in view.
        assert!(screen.contains("✖ FAILED"), "{screen}");
        assert!(screen.contains("ledger-match, schema, tone"), "{screen}");
        assert!(screen.contains("enter send"), "{screen}");
    }
    assert!(screens[0].contains("⋯ 0 rows above"), "{}", screens[0]);
    let seen = screens.join("\n");
    assert!(seen.contains("END-OF-THE-VALIDATOR-WORDS"), "{seen}");
}

#[test]
fn retry_paths_say_how_they_failed_for_this_task_and_their_room_now() {
    let (mut app, queue) = inbox_app(100, 30, 200);
    open_task_where(&mut app, &queue, |d| !d.lineage.steps.is_empty());
    let mut fleet = small_fleet();
    let failed = fleet.providers[0].id.clone();
    // An idle provider with no published limit: its room is unknown, never ok.
    fleet.providers[1].rate_limit_rps = None;
    fleet.providers[1].load_rps = 0.0;
    fleet.providers[1].rate_limit_headroom = 1.0;
    let idle = fleet.providers[1].id.clone();
    app.update(source(SourceEvent::Snapshot(fleet)));
    reload_open_task(&mut app, &queue, |detail| {
        let step = detail.summary.step.clone();
        let at = detail.lineage.started_at;
        let attempt = |n: u32| Attempt {
            id: format!("a-{n}"),
            parent: None,
            number: n,
            model: None,
            provider: Some(failed.clone()),
            region: None,
            started_at: at,
            duration_ms: 40,
            outcome: AttemptOutcome::Error,
            error: Some(AttemptError {
                kind: AttemptErrorKind::RateLimited,
                status: Some(429),
                message: "too many requests".into(),
                non_retryable: false,
            }),
            confidence: None,
            verdicts: Vec::new(),
            retry_reason: None,
            failover_reason: None,
        };
        let target = detail
            .lineage
            .steps
            .iter_mut()
            .find(|s| s.name == step)
            .expect("the escalated step is in the lineage");
        target.attempts = vec![attempt(1), attempt(2)];
    });
    app.update(key(KeyCode::Char('t')));
    let screen = text(&render(&app, &dark()));
    let path_rows = |id: &str| -> String {
        let lines: Vec<&str> = screen.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.contains(id) && l.contains("breaker"))
            .unwrap_or_else(|| panic!("{id} not offered\n{screen}"));
        format!("{}\n{}", lines[at], lines[at + 1])
    };
    let failed_rows = path_rows(&failed);
    assert!(failed_rows.contains("✖ failed 2× (429)"), "{failed_rows}");
    assert!(failed_rows.contains("region room"), "{failed_rows}");
    let idle_rows = path_rows(&idle);
    assert!(idle_rows.contains("limit room ? unknown"), "{idle_rows}");
    assert!(idle_rows.contains("not tried for this task"), "{idle_rows}");
}

/// Issue 8 item 4 (the task's siblings): every confirmation of a task at 80x24, with a long
/// reason typed, keeps what it will do, to which task, and the keys that send or cancel it.
#[test]
fn every_task_confirmation_keeps_its_essentials_at_80x24_with_long_input() {
    let what = |key: char, id: &str| match key {
        'a' => format!("of {id}: "),
        'r' => format!("reject {id}: "),
        'x' => format!("abort {id}: "),
        _ => format!("retry {id}'s step"),
    };
    for resolution in ['a', 'r', 'x', 't'] {
        let (mut app, queue) = inbox_app(80, 24, 200);
        let id = open_task_where(&mut app, &queue, |d| !d.candidates.is_empty());
        app.update(key(KeyCode::Char(resolution)));
        type_text(&mut app, &"the ledger and the model disagree ".repeat(12));
        let screen = text(&render(&app, &dark()));
        assert!(screen.contains(&what(resolution, &id)), "{screen}");
        assert!(screen.contains("enter send"), "{screen}");
        assert!(screen.contains("esc cancel"), "{screen}");
    }
}
