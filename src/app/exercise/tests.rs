//! The drill in the console: reads and what is new in them, the facilitator's controls and a
//! player's acknowledgement (refusals and failures said), the clock, the report.

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;

use super::super::{App, Effect, Level, Msg, View};
use crate::keymap::Layer;
use crate::sources::SourceEvent;
use crate::testing::{exercise_read, exercise_state, from_source, key, lab_app, type_text};
use protocol::exercise::{Control, ExercisePhase, ExerciseRole, ExerciseState, Tone};

/// A console that has joined the drill as `you`, its briefing read, on the Exercise view.
fn drill_app(you: ExerciseRole, phase: ExercisePhase) -> App {
    let mut app = lab_app(100, 30, Instant::now());
    app.update(exercise_read(exercise_state(you, phase, 130.0)));
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char('7')));
    assert_eq!(app.view, View::Exercise);
    app
}

/// The one control the effects send.
fn sent(effects: &[Effect]) -> (u64, Control, String) {
    match effects {
        [Effect::ControlExercise(order)] => (
            order.id,
            order.request.control.clone(),
            order.request.reason.clone(),
        ),
        other => panic!("expected one control, got {other:?}"),
    }
}

fn flash_text(app: &App) -> String {
    app.flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default()
}

fn timeline_text(app: &App) -> String {
    let lines: Vec<&str> = app.timeline.iter().map(|e| e.text.as_str()).collect();
    lines.join("\n")
}

fn answered(app: &mut App, id: u64, state: ExerciseState) -> Vec<Effect> {
    app.update(Msg::ExerciseControlled {
        id,
        result: Ok(Box::new(state)),
    })
}

#[test]
fn joining_a_drill_shows_the_briefing_and_offers_the_exercise_view_without_a_bell() {
    let mut app = lab_app(100, 30, Instant::now());
    assert!(!app.views().contains(&View::Exercise));
    let state = exercise_state(ExerciseRole::Operator, ExercisePhase::Running, 130.0);
    let effects = app.update(exercise_read(state));
    assert_eq!(app.top_layer(), Layer::Briefing);
    assert!(app.views().contains(&View::Exercise));
    // The inject fired before we joined is history: in the timeline, but no bell, no banner.
    assert!(effects.is_empty(), "{effects:?}");
    assert!(app.exercise_banner().is_none());
    let timeline = timeline_text(&app);
    assert!(timeline.contains("drill provider-outage joined as operator (running)"));
    assert!(
        timeline.contains("⚑ DRILL T+02:00 inject outage: Pager"),
        "{timeline}"
    );
    // Esc closes the briefing, b opens it again from the Exercise view.
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char('7')));
    assert_eq!(app.top_layer(), Layer::Exercise);
    app.update(key(KeyCode::Char('b')));
    assert_eq!(app.top_layer(), Layer::Briefing);
}

#[test]
fn a_new_inject_or_message_goes_to_the_timeline_a_banner_and_the_bell() {
    let mut app = lab_app(100, 30, Instant::now());
    let mut quiet = exercise_state(ExerciseRole::Operator, ExercisePhase::Running, 60.0);
    quiet.injects.clear();
    quiet.messages.clear();
    app.update(exercise_read(quiet.clone()));
    let mut fired = quiet.clone();
    fired.injects = exercise_state(ExerciseRole::Operator, ExercisePhase::Running, 0.0).injects;
    fired.injects[0].narrative = "Pager \u{1b}[31mred\u{1b}[0m alert".into();
    let effects = app.update(exercise_read(fired.clone()));
    let [Effect::Notify { body, .. }] = effects.as_slice() else {
        panic!("one bell: {effects:?}");
    };
    assert!(body.contains("inject outage"), "{body}");
    let banner = app.exercise_banner().expect("a banner").to_string();
    assert!(banner.contains("T+02:00 inject outage"), "{banner}");
    // Text from the source never carries escape sequences to the terminal.
    assert!(!banner.contains('\u{1b}') && !timeline_text(&app).contains('\u{1b}'));
    // Read again: nothing new, no second bell.
    assert!(app.update(exercise_read(fired.clone())).is_empty());
    let mut messaged = fired;
    messaged.messages = quiet_message();
    let effects = app.update(exercise_read(messaged));
    assert!(matches!(effects.as_slice(), [Effect::Notify { .. }]));
    assert!(timeline_text(&app).contains("✉ DRILL T+03:00 message from scenario: Support"));
    // The banner goes after a while; the timeline keeps the news.
    let later = app.now + super::BANNER_FOR + Duration::from_secs(1);
    app.update(Msg::Tick {
        now: later,
        wall: app.wall,
    });
    assert!(app.exercise_banner().is_none());
}

fn quiet_message() -> Vec<protocol::exercise::ExerciseMessage> {
    exercise_state(ExerciseRole::Operator, ExercisePhase::Running, 0.0).messages
}

#[test]
fn space_starts_pauses_and_resumes_the_drill_for_the_facilitator() {
    let mut app = drill_app(ExerciseRole::Facilitator, ExercisePhase::Ready);
    let (id, control, _) = sent(&app.update(key(KeyCode::Char(' '))));
    assert_eq!(control, Control::Start);
    // On its way: said in the view until the answer comes.
    assert_eq!(app.exercise.as_ref().unwrap().pending.len(), 1);
    let running = exercise_state(ExerciseRole::Facilitator, ExercisePhase::Running, 0.0);
    answered(&mut app, id, running);
    let exercise = app.exercise.as_ref().unwrap();
    assert!(exercise.pending.is_empty());
    assert_eq!(exercise.state.phase, ExercisePhase::Running);
    assert_eq!(exercise.last_outcome, Some((Level::Info, "✓ start".into())));
    let (id, control, _) = sent(&app.update(key(KeyCode::Char(' '))));
    assert_eq!(control, Control::Pause);
    let paused = exercise_state(ExerciseRole::Facilitator, ExercisePhase::Paused, 10.0);
    answered(&mut app, id, paused);
    let (_, control, _) = sent(&app.update(key(KeyCode::Char(' '))));
    assert_eq!(control, Control::Resume);
    // Each control has its own local id: its answer finds it.
    let (_, control, _) = sent(&app.update(key(KeyCode::Char('+'))));
    assert_eq!(control, Control::Speed { speed: 2.0 });
    let (_, control, _) = sent(&app.update(key(KeyCode::Char('n'))));
    assert_eq!(control, Control::NextInject);
    assert_eq!(app.exercise.as_ref().unwrap().pending.len(), 3);
}

#[test]
fn a_player_is_refused_the_facilitators_controls_and_told_why() {
    let mut app = drill_app(ExerciseRole::Operator, ExercisePhase::Running);
    for code in [' ', 'n', '+', 'm', 'E'] {
        assert!(app.update(key(KeyCode::Char(code))).is_empty(), "{code}");
        assert!(
            flash_text(&app).contains("only the facilitator controls the drill; you are operator"),
            "{code}: {}",
            flash_text(&app)
        );
        assert_eq!(app.top_layer(), Layer::Exercise, "{code}: nothing opened");
    }
    let mut observer = drill_app(ExerciseRole::Observer, ExercisePhase::Running);
    assert!(observer.update(key(KeyCode::Char('a'))).is_empty());
    assert!(flash_text(&observer).contains("observers watch the drill"));
}

#[test]
fn a_read_only_console_controls_nothing() {
    let mut app = lab_app(100, 30, Instant::now());
    app.context.read_only = true;
    let state = exercise_state(ExerciseRole::Facilitator, ExercisePhase::Ready, 0.0);
    app.update(exercise_read(state));
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char('7')));
    assert!(app.update(key(KeyCode::Char(' '))).is_empty());
    assert!(
        flash_text(&app).contains("read-only"),
        "{}",
        flash_text(&app)
    );
}

#[test]
fn ending_the_drill_asks_first_and_sends_the_reason() {
    let mut app = drill_app(ExerciseRole::Facilitator, ExercisePhase::Running);
    assert!(app.update(key(KeyCode::Char('E'))).is_empty());
    assert_eq!(app.top_layer(), Layer::EndDrill);
    assert!(app.update(key(KeyCode::Esc)).is_empty());
    assert_eq!(
        app.top_layer(),
        Layer::Exercise,
        "esc keeps the drill going"
    );
    app.update(key(KeyCode::Char('E')));
    type_text(&mut app, "objectives done");
    let (_, control, reason) = sent(&app.update(key(KeyCode::Enter)));
    assert_eq!(control, Control::End);
    assert_eq!(reason, "objectives done");
}

#[test]
fn a_failed_control_is_said_and_the_drill_kept_as_it_was() {
    let mut app = drill_app(ExerciseRole::Facilitator, ExercisePhase::Running);
    let (id, _, _) = sent(&app.update(key(KeyCode::Char(' '))));
    app.update(Msg::ExerciseControlled {
        id,
        result: Err("forbidden (403): only the facilitator controls the drill".into()),
    });
    let exercise = app.exercise.as_ref().unwrap();
    assert_eq!(exercise.state.phase, ExercisePhase::Running);
    assert!(exercise.pending.is_empty());
    let (level, text) = exercise.last_outcome.clone().unwrap();
    assert_eq!(level, Level::Error);
    assert!(text.contains("✖ pause failed: forbidden (403)"), "{text}");
    assert!(flash_text(&app).contains("pause failed"));
    assert!(timeline_text(&app).contains("pause failed"));
    // A late answer to a control no longer waited for changes nothing.
    assert!(
        answered(
            &mut app,
            id,
            exercise_state(ExerciseRole::Facilitator, ExercisePhase::Paused, 1.0)
        )
        .is_empty()
    );
    assert_eq!(
        app.exercise.as_ref().unwrap().state.phase,
        ExercisePhase::Running
    );
}

#[test]
fn a_player_acknowledges_the_latest_inject_once() {
    let mut app = drill_app(ExerciseRole::Operator, ExercisePhase::Running);
    let (id, control, _) = sent(&app.update(key(KeyCode::Char('a'))));
    assert_eq!(
        control,
        Control::Acknowledge {
            inject: "outage".into()
        }
    );
    answered(
        &mut app,
        id,
        exercise_state(ExerciseRole::Operator, ExercisePhase::Running, 140.0),
    );
    assert!(app.update(key(KeyCode::Char('a'))).is_empty());
    assert!(flash_text(&app).contains("no inject to acknowledge yet"));
}

#[test]
fn palette_commands_carry_their_text_and_keys_open_them() {
    let mut app = drill_app(ExerciseRole::Facilitator, ExercisePhase::Running);
    let mut palette = |input: &str| {
        app.update(key(KeyCode::Char(':')));
        type_text(&mut app, input);
        app.update(key(KeyCode::Enter))
    };
    let (_, control, _) = sent(&palette("drill-message Support: customers report timeouts"));
    assert_eq!(
        control,
        Control::Message {
            text: "Support: customers report timeouts".into()
        }
    );
    let (_, control, _) = sent(&palette("drill-note + good call on the breaker"));
    assert_eq!(
        control,
        Control::Annotate {
            tone: Tone::WentWell,
            text: "good call on the breaker".into()
        }
    );
    let (_, control, _) = sent(&palette("drill-note -missed the lag warning"));
    assert!(
        matches!(control, Control::Annotate { tone: Tone::ToImprove, ref text } if text == "missed the lag warning")
    );
    let (_, control, _) = sent(&palette("drill-speed 4"));
    assert_eq!(control, Control::Speed { speed: 4.0 });
    let (_, control, _) = sent(&palette(
        "drill-inject escalation-burst risk-scorer a burst of P1s",
    ));
    assert_eq!(
        control,
        Control::Inject {
            kind: "escalation-burst".into(),
            target: "risk-scorer".into(),
            duration_s: None,
            magnitude: None,
            narrative: "a burst of P1s".into()
        }
    );
    let (_, control, _) = sent(&palette("drill-pause"));
    assert_eq!(control, Control::Pause);
    assert!(palette("drill-speed fast").is_empty());
    assert!(
        flash_text(&app).contains("positive number"),
        "{}",
        flash_text(&app)
    );
    // A key for a control that needs a text opens the palette on it.
    app.update(key(KeyCode::Char('m')));
    assert_eq!(app.top_layer(), Layer::Palette);
    type_text(&mut app, "hello");
    let (_, control, _) = sent(&app.update(key(KeyCode::Enter)));
    assert_eq!(
        control,
        Control::Message {
            text: "hello".into()
        }
    );
}

#[test]
fn the_palette_lists_the_drill_controls_with_why_a_player_may_not_use_them() {
    let mut app = drill_app(ExerciseRole::Operator, ExercisePhase::Running);
    app.update(key(KeyCode::Char(':')));
    let palette = app.overlays.palette().expect("the palette");
    let entry = |name: &str| {
        (palette.entries.iter())
            .find(|e| e.action.command_name() == name)
            .unwrap_or_else(|| panic!("{name} listed"))
    };
    assert!(
        entry("drill-pause")
            .refused
            .as_deref()
            .unwrap()
            .contains("only the facilitator")
    );
    assert_eq!(entry("drill-ack").refused, None);
    assert_eq!(entry("briefing").refused, None);
}

#[test]
fn the_clock_runs_on_at_the_drills_speed_between_reads_only_while_running() {
    let now = Instant::now();
    let mut app = lab_app(100, 30, now);
    let mut state = exercise_state(ExerciseRole::Operator, ExercisePhase::Running, 100.0);
    state.speed = 2.0;
    app.update(exercise_read(state.clone()));
    let later = now + Duration::from_secs(5);
    app.update(Msg::Tick {
        now: later,
        wall: app.wall,
    });
    assert_eq!(app.exercise.as_ref().unwrap().clock_s(app.now), 110.0);
    state.phase = ExercisePhase::Paused;
    app.update(exercise_read(state));
    app.update(Msg::Tick {
        now: later + Duration::from_secs(5),
        wall: app.wall,
    });
    assert_eq!(app.exercise.as_ref().unwrap().clock_s(app.now), 100.0);
}

#[test]
fn the_end_asks_for_the_report_once_and_shows_it_or_why_not() {
    let mut app = drill_app(ExerciseRole::Operator, ExercisePhase::Running);
    let ended = exercise_state(ExerciseRole::Operator, ExercisePhase::Ended, 600.0);
    let effects = app.update(exercise_read(ended.clone()));
    assert!(
        effects.contains(&Effect::FetchExerciseReport {
            source: "lab".into()
        }),
        "{effects:?}"
    );
    assert!(timeline_text(&app).contains("drill provider-outage ended"));
    assert!(app.update(exercise_read(ended)).is_empty(), "asked once");
    assert_eq!(
        app.exercise.as_ref().unwrap().report_path().as_deref(),
        Some("/var/lib/switchboard/exercises/ex-20261202-071500-provider-outage.report.md")
    );
    app.update(Msg::ExerciseReportLoaded {
        source: "lab".into(),
        result: Err("cannot reach http://127.0.0.1:7300".into()),
    });
    let report = app.exercise.as_ref().unwrap().report.clone();
    assert_eq!(
        report,
        Some(Err("cannot reach http://127.0.0.1:7300".into()))
    );
    assert!(timeline_text(&app).contains("drill report not read"));
}

#[test]
fn the_report_shown_is_the_markdown_the_lab_writes() {
    let mut app = drill_app(ExerciseRole::Operator, ExercisePhase::Running);
    app.update(exercise_read(exercise_state(
        ExerciseRole::Operator,
        ExercisePhase::Ended,
        600.0,
    )));
    let records = crate::testing::drill_records();
    let report = protocol::exercise::tracker::Tracker::from_records(&records)
        .unwrap()
        .report();
    app.update(Msg::ExerciseReportLoaded {
        source: "lab".into(),
        result: Ok(Box::new(report.clone())),
    });
    let shown = app.exercise.as_ref().unwrap().report.clone();
    assert_eq!(
        shown,
        Some(Ok(protocol::exercise::markdown::report_markdown(&report)))
    );
}

#[test]
fn a_failed_read_is_said_once_and_the_last_drill_kept_with_its_age() {
    let mut app = drill_app(ExerciseRole::Operator, ExercisePhase::Running);
    let failed = || from_source(SourceEvent::Exercise(Err("503: source unreachable".into())));
    app.update(failed());
    app.update(failed());
    let exercise = app.exercise.as_ref().unwrap();
    assert_eq!(exercise.state.phase, ExercisePhase::Running);
    assert_eq!(
        exercise.read_error.as_deref(),
        Some("503: source unreachable")
    );
    let said = app
        .timeline
        .iter()
        .filter(|e| e.text.contains("drill not read"))
        .count();
    assert_eq!(said, 1);
    app.update(exercise_read(exercise_state(
        ExerciseRole::Operator,
        ExercisePhase::Running,
        140.0,
    )));
    assert_eq!(app.exercise.as_ref().unwrap().read_error, None);
    assert!(timeline_text(&app).contains("drill read again"));
}

#[test]
fn without_a_drill_the_exercise_view_is_not_offered_and_its_keys_say_why() {
    let mut app = lab_app(100, 30, Instant::now());
    app.update(key(KeyCode::Char('7')));
    assert_eq!(app.view, View::Fleet);
    assert!(
        flash_text(&app).contains("no drill"),
        "{}",
        flash_text(&app)
    );
    for _ in 0..View::ALL.len() {
        app.update(key(KeyCode::Tab));
        assert_ne!(app.view, View::Exercise);
    }
}
