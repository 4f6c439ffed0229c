//! Issue 12: the Runbooks view. The list puts the runbooks that apply now first, each with
//! why; a run in progress shows its steps with their marks, the current step's checks live
//! (✓/✗/? with the values) and a gate's countdown to its timeout and what happens then.

use super::*;
use protocol::BreakerState;
use switchboard::testing::{accepted, outage_fleet, runbooks_app, type_text};

#[test]
fn the_list_shows_the_runbooks_that_apply_now_first_with_why() {
    let app = runbooks_app(120, 24, Instant::now(), Vec::new());
    let screen = text(&render(&app, &dark()));
    let (apply, other) = (
        screen
            .find("Apply now")
            .expect("a group of runbooks that apply"),
        screen.find("Other runbooks").expect("then the rest"),
    );
    assert!(apply < screen.find("provider-outage").unwrap());
    assert!(screen.find("provider-outage").unwrap() < other);
    assert!(other < screen.find("rate-limit-storm").unwrap());
    assert!(
        screen.contains("why: the lab plays provider-outage"),
        "{screen}"
    );
    insta::assert_snapshot!("runbooks_list_120x24", screen);
}

#[test]
fn a_run_in_progress_shows_check_marks_the_gate_countdown_and_the_record() {
    let mut app = runbooks_app(120, 32, Instant::now(), Vec::new());
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('n')));
    app.update(key(KeyCode::Char('x')));
    type_text(&mut app, "provider outage");
    let effects = app.update(key(KeyCode::Enter));
    let Some(switchboard::app::Effect::SendCommand(request)) = effects.first() else {
        panic!("{effects:?}");
    };
    let id = request.id;
    app.update(Msg::CommandJournaled {
        id,
        key: "3f2a-key".into(),
    });
    app.update(Msg::CommandFinished {
        id,
        result: Ok(accepted(41)),
    });
    // The breaker is open now; the share has not moved yet.
    let mut provider = outage_fleet().providers[0].clone();
    provider.breaker.state = BreakerState::Open;
    app.update(source(SourceEvent::Delta(protocol::FleetDelta {
        revision: 8,
        providers: vec![provider],
        ..protocol::FleetDelta::default()
    })));
    app.update(key(KeyCode::Char('n')));
    app.update(Msg::Tick {
        // The source's reports keep its data fresh; the wall clock is 72 s on.
        now: app.now + Duration::from_secs(1),
        wall: fixture_wall() + chrono::TimeDelta::seconds(72),
    });
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("✓ 1. Confirm the outage"), "{screen}");
    assert!(screen.contains("✓ 2. Open the breaker"), "{screen}");
    assert!(screen.contains("▶ 3. Wait for traffic to move"), "{screen}");
    assert!(
        screen.contains(
            "✗ gate waits until share(openai@us-east) = 60.0% < 1%: 3m48s left, then step 5"
        ),
        "{screen}"
    );
    assert!(screen.contains("local run: only this console sees it"));
    insta::assert_snapshot!("runbooks_run_at_the_gate_120x32", screen);
}

#[test]
fn text_from_a_runbook_file_reaches_the_screen_sanitized() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("evil.md"),
        "+++\nid = \"evil\"\ntitle = \"T\\u001b]52;c;AAAA\\u0007itle\"\nversion = 1\nowner = \"me\\u001b[2J\"\n\
         last_reviewed = 2026-12-01\n+++\n\n## 1. Look \x1b[31mred\n\nRead\x07 the fleet.\n",
    )
    .unwrap();
    let mut app = runbooks_app(120, 24, Instant::now(), Vec::new());
    app.update(Msg::RunbooksLoaded {
        catalog: Box::new(switchboard::runbook::catalog::Catalog::load(
            Some(dir.path()),
            &[],
        )),
        record: Ok(Vec::new()),
    });
    app.update(key(KeyCode::Char('G')));
    let list = text(&render(&app, &dark()));
    assert!(list.contains("evil"), "{list}");
    app.update(key(KeyCode::Enter));
    let run = text(&render(&app, &dark()));
    for screen in [list, run] {
        assert!(
            !screen.contains('\x1b') && !screen.contains('\x07'),
            "{screen:?}"
        );
    }
}

#[test]
fn a_click_on_a_runbook_or_a_run_in_progress_selects_it() {
    let mut app = runbooks_app(120, 24, Instant::now(), Vec::new());
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Esc));
    let buffer = show(&mut app);
    let click = |app: &mut App, (x, y): (u16, u16)| {
        app.update(Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        }));
    };
    let storm = find(&buffer, "rate-limit-storm").expect("on screen");
    click(&mut app, storm);
    let selected = |app: &App| {
        let runs = app.runs_in_progress().len();
        let listed = app.runbook_list();
        let row = app.runbooks.selected.checked_sub(runs);
        row.and_then(|row| listed[row].entry.id().map(str::to_string))
    };
    assert_eq!(
        app.runs_in_progress().len(),
        1,
        "the run started is in progress"
    );
    assert_eq!(
        selected(&app).as_deref(),
        Some("rate-limit-storm"),
        "the row clicked"
    );
    let why = find(&buffer, "why: the lab plays").expect("on screen");
    click(&mut app, why);
    assert_eq!(
        selected(&app).as_deref(),
        Some("rate-limit-storm"),
        "a line that is no row selects nothing"
    );
    let run = find(&buffer, "provider-outage in progress").expect("on screen");
    click(&mut app, run);
    assert_eq!(app.runbooks.selected, 0, "the run in progress");
    app.update(key(KeyCode::Enter));
    assert!(app.runbooks.run_open, "enter resumes what was clicked");
}
