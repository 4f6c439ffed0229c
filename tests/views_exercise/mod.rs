//! Issue 13: the Exercise view (clock, phase, speed, score; injects with their detect /
//! mitigate / recover times, upcoming ones and notes for the facilitator only; objectives met,
//! missed with why, pending; SLA breaches, risky actions, messages, notes), the briefing shown
//! on joining, the status bar's `EXERCISE name T+mm:ss phase`, and the report at the end.

use super::*;
use protocol::exercise::{ExercisePhase, ExerciseRole};
use switchboard::testing::{exercise_read, exercise_state};

/// A console on the lab that joined the drill as `you`, briefing closed, on the Exercise view.
fn drill(width: u16, height: u16, you: ExerciseRole, phase: ExercisePhase) -> App {
    let mut app = app(width, height, Instant::now());
    app.update(exercise_read(exercise_state(you, phase, 130.0)));
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char('7')));
    app
}

#[test]
fn the_facilitator_sees_upcoming_injects_and_notes_at_120x48() {
    let app = drill(120, 48, ExerciseRole::Facilitator, ExercisePhase::Running);
    let screen = text(&render(&app, &dark()));
    for expected in [
        " 7 Exercise",
        "EXERCISE provider-outage T+02:10 running",
        "speed ×1 · score 3/6 (50%) · SLA breaches 1 · you: facilitator",
        "⚑ T+02:00 outage · provider-outage openai@us-east",
        "detect 35s · mitigate 1m10s · recover —",
        "note: watch whether they check the standby first",
        "upcoming (only you see these):",
        "◌ T+07:00 lag",
        "✓ met at T+03:10",
        "✖ missed at T+03:20",
        "why: bob forced drain us-east",
        "pending",
        "FORCED",
        "good call on the breaker",
    ] {
        assert!(screen.contains(expected), "{expected:?} in\n{screen}");
    }
    insta::assert_snapshot!("exercise_facilitator_120x48", screen);
}

#[test]
fn a_player_sees_only_what_fired_at_80x24() {
    let app = drill(80, 24, ExerciseRole::Operator, ExercisePhase::Paused);
    let screen = text(&render(&app, &dark()));
    assert!(!screen.contains("upcoming"), "{screen}");
    assert!(!screen.contains("watch whether"), "{screen}");
    assert!(screen.contains("PAUSED"), "{screen}");
    // Seven tabs fit 80 columns: the brand gives way to the Exercise tab.
    assert!(
        screen.lines().next().unwrap().ends_with("7 Exercise"),
        "{screen}"
    );
    insta::assert_snapshot!("exercise_operator_80x24", screen);
}

#[test]
fn joining_shows_the_briefing_at_80x24() {
    let mut app = app(80, 24, Instant::now());
    app.update(exercise_read(exercise_state(
        ExerciseRole::Operator,
        ExercisePhase::Ready,
        0.0,
    )));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("Briefing: provider-outage"), "{screen}");
    assert!(
        screen.contains("You are operator in this drill."),
        "{screen}"
    );
    assert!(screen.contains("Keep customers served."), "{screen}");
    insta::assert_snapshot!("exercise_briefing_80x24", screen);
}

#[test]
fn at_the_end_the_report_shows_with_where_it_was_written() {
    let mut app = drill(120, 40, ExerciseRole::Operator, ExercisePhase::Running);
    app.update(exercise_read(exercise_state(
        ExerciseRole::Operator,
        ExercisePhase::Ended,
        600.0,
    )));
    let screen = text(&render(&app, &dark()));
    assert!(
        screen.contains("reading the report…") || screen.contains("After-action"),
        "{screen}"
    );
    // The report follows the drill: scrolling down reaches it.
    for _ in 0..40 {
        app.update(key(KeyCode::Down));
        show(&mut app);
    }
    let screen = text(&show(&mut app));
    assert!(
        screen.contains(
            "written to /var/lib/switchboard/exercises/ex-20261202-071500-provider-outage.report.md"
        ),
        "{screen}"
    );
}
