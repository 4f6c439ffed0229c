use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::KeyCode;

use super::*;
use crate::app::{Msg, View};
use crate::keymap::{self, Action, Layer};
use crate::sources::replay::{Player, marks};
use crate::testing::{DRILL_RUN, SOURCE, drill_records, from_source, key, lab_app, recording_text};
use protocol::exercise::ObjectiveStatus;
use protocol::exercise::record::read_recording;

/// A console replaying the drill (ends at T+03:00; marks at T+01:00 and T+01:35), with the
/// replay worker's player beside it.
fn replaying() -> (App, Player) {
    let recording = read_recording(&recording_text(&drill_records())).unwrap();
    let mut app = lab_app(100, 30, Instant::now());
    let first = app.start_replay(ReplayInit {
        run_id: DRILL_RUN.into(),
        source: SOURCE.into(),
        end_s: recording.end_s(),
        marks: marks(&recording),
        speed: 1.0,
    });
    let mut player = Player::new(Arc::new(recording));
    follow(&mut app, &mut player, first);
    (app, player)
}

/// Does what the runner does with the effects: each clock goes to the player, what it feeds
/// goes back to the app.
fn follow(app: &mut App, player: &mut Player, effects: Vec<Effect>) {
    for effect in effects {
        let Effect::ReplayTo { t_s } = effect else {
            panic!("a replay asked for {effect:?}");
        };
        for event in player.seek(t_s) {
            let more = app.update(from_source(event));
            follow(app, player, more);
        }
    }
}

fn press(app: &mut App, player: &mut Player, code: KeyCode) {
    let effects = app.update(key(code));
    follow(app, player, effects);
}

fn tick(app: &mut App, player: &mut Player, after: Duration) {
    let now = app.now + after;
    let effects = app.update(Msg::Tick {
        now,
        wall: app.wall,
    });
    follow(app, player, effects);
}

fn replay(app: &App) -> &Replay {
    app.replay.as_ref().unwrap()
}

#[test]
fn the_clock_runs_at_the_speed_and_stops_at_the_end_or_when_paused() {
    let (mut app, mut player) = replaying();
    assert!(replay(&app).playing);
    tick(&mut app, &mut player, Duration::from_secs(2));
    assert_eq!(replay(&app).clock_s, 2.0);
    press(&mut app, &mut player, KeyCode::Char('+'));
    press(&mut app, &mut player, KeyCode::Char('+'));
    assert_eq!(replay(&app).speed, 4.0);
    tick(&mut app, &mut player, Duration::from_secs(10));
    assert_eq!(replay(&app).clock_s, 42.0);
    press(&mut app, &mut player, KeyCode::Char(' '));
    tick(&mut app, &mut player, Duration::from_secs(10));
    assert_eq!(replay(&app).clock_s, 42.0, "paused");
    assert!(!replay(&app).playing);
    press(&mut app, &mut player, KeyCode::Char(' '));
    tick(&mut app, &mut player, Duration::from_secs(100));
    assert_eq!(replay(&app).clock_s, 180.0, "no further than the end");
    assert!(!replay(&app).playing, "stopped at the end");
    // Play at the end starts again from T0.
    press(&mut app, &mut player, KeyCode::Char(' '));
    assert_eq!((replay(&app).clock_s, replay(&app).playing), (0.0, true));
}

#[test]
fn speed_doubles_and_halves_between_a_quarter_and_sixty_four() {
    let (mut app, mut player) = replaying();
    for _ in 0..10 {
        press(&mut app, &mut player, KeyCode::Char('+'));
    }
    assert_eq!(replay(&app).speed, FASTEST);
    for expected in [32.0, 16.0, 8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.25] {
        press(&mut app, &mut player, KeyCode::Char('-'));
        assert_eq!(replay(&app).speed, expected);
    }
    press(&mut app, &mut player, KeyCode::Char('='));
    assert_eq!(replay(&app).speed, 0.5);
}

#[test]
fn seeking_moves_thirty_seconds_within_the_recording() {
    let (mut app, mut player) = replaying();
    press(&mut app, &mut player, KeyCode::Char('<'));
    assert_eq!(replay(&app).clock_s, 0.0, "not before T0");
    for expected in [30.0, 60.0, 90.0, 120.0, 150.0, 180.0, 180.0] {
        press(&mut app, &mut player, KeyCode::Char('>'));
        assert_eq!(replay(&app).clock_s, expected);
    }
    assert!(!replay(&app).playing, "the end stops it");
    press(&mut app, &mut player, KeyCode::Char('<'));
    assert_eq!(replay(&app).clock_s, 150.0);
    press(&mut app, &mut player, KeyCode::Char('0'));
    assert_eq!(replay(&app).clock_s, 0.0);
    press(&mut app, &mut player, KeyCode::Char('$'));
    assert_eq!(replay(&app).clock_s, 180.0);
}

#[test]
fn jumps_land_on_the_next_and_previous_inject_or_action() {
    let (mut app, mut player) = replaying();
    press(&mut app, &mut player, KeyCode::Char('n'));
    assert_eq!(replay(&app).clock_s, 60.0);
    assert_eq!(app.flash.as_ref().unwrap().text, "T+01:00 inject outage");
    press(&mut app, &mut player, KeyCode::Char('n'));
    assert_eq!(replay(&app).clock_s, 95.0);
    assert_eq!(
        app.flash.as_ref().unwrap().text,
        "T+01:35 breaker force-open openai@us-east (alice)"
    );
    press(&mut app, &mut player, KeyCode::Char('n'));
    assert_eq!(replay(&app).clock_s, 95.0, "nothing after the last");
    assert_eq!(
        app.flash.as_ref().unwrap().text,
        "no inject or action after T+01:35"
    );
    // Just after a mark (playing on), back goes to the one before it.
    tick(&mut app, &mut player, Duration::from_millis(500));
    press(&mut app, &mut player, KeyCode::Char('N'));
    assert_eq!(replay(&app).clock_s, 60.0);
    press(&mut app, &mut player, KeyCode::Char('N'));
    assert_eq!(replay(&app).clock_s, 60.0);
    assert_eq!(
        app.flash.as_ref().unwrap().text,
        "no inject or action before T+01:00"
    );
}

#[test]
fn the_views_show_the_recording_at_the_clock_and_forget_what_came_after_on_a_seek_back() {
    let (mut app, mut player) = replaying();
    press(&mut app, &mut player, KeyCode::Char('>'));
    press(&mut app, &mut player, KeyCode::Char('>'));
    press(&mut app, &mut player, KeyCode::Char('>'));
    press(&mut app, &mut player, KeyCode::Char('>'));
    let source = &app.sources[0];
    assert_eq!(source.snapshot.as_ref().unwrap().revision, 96);
    assert_eq!(app.audit.len(), 1, "alice's breaker at T+01:35");
    assert!(
        app.timeline
            .iter()
            .any(|e| e.text.contains("inject outage"))
    );
    let shown = replay(&app).shown.clone().unwrap();
    assert_eq!((shown.clock_s, shown.fleet_at_s), (120.0, Some(95.0)));
    press(&mut app, &mut player, KeyCode::Char('0'));
    assert_eq!(app.sources[0].snapshot.as_ref().unwrap().revision, 1);
    assert!(app.audit.is_empty());
    let texts: Vec<&str> = (app.timeline.iter())
        .filter(|e| e.source == SOURCE)
        .map(|e| e.text.as_str())
        .collect();
    // The lab's notice in the first sample, and the drill's start.
    assert_eq!(
        texts,
        [
            "inject: openai@eu-west outage (503s) for 5m",
            "T+00:00 fran: exercise start"
        ]
    );
    assert!(app.flash.is_none(), "nothing was refused");
}

#[test]
fn every_mutating_action_is_refused_as_read_only() {
    let (mut app, mut player) = replaying();
    press(&mut app, &mut player, KeyCode::Char('>'));
    press(&mut app, &mut player, KeyCode::Right);
    let mutating: Vec<_> = (keymap::BINDINGS.iter())
        .filter(|b| b.layer == Layer::Global && b.action.is_mutating())
        .collect();
    assert!(mutating.len() >= 8);
    for binding in mutating {
        app.flash = None;
        let effects = app.update(Msg::Key(crossterm::event::KeyEvent::new(
            binding.chord.code,
            binding.chord.modifiers,
        )));
        assert!(
            effects.is_empty(),
            "{:?} asked for {effects:?}",
            binding.action
        );
        assert!(
            app.overlays.is_empty(),
            "{:?} opened a layer",
            binding.action
        );
        let flash = app.flash.as_ref().map(|f| f.text.clone());
        assert_eq!(flash.as_deref(), Some(READ_ONLY), "{:?}", binding.action);
    }
    assert_eq!(app.mutation_refusal().as_deref(), Some(READ_ONLY));
    assert_eq!(app.silence_refusal().as_deref(), Some(READ_ONLY));
}

#[test]
fn no_effect_that_reaches_a_system_leaves_a_replay() {
    let (mut app, _) = replaying();
    // The audit view asks its sources for their logs; a fresh snapshot asks for escalations.
    assert!(app.update(key(KeyCode::Char('4'))).is_empty());
    assert_eq!(app.view, View::Audit);
    let kept = app.keep_in_replay(vec![
        Effect::FetchEscalations {
            source: SOURCE.into(),
        },
        Effect::ReplayTo { t_s: 3.0 },
        Effect::Claim {
            source: SOURCE.into(),
            id: "esc-1".into(),
        },
        Effect::Quit,
    ]);
    assert_eq!(kept, [Effect::ReplayTo { t_s: 3.0 }, Effect::Quit]);
    assert_eq!(app.flash.as_ref().unwrap().text, READ_ONLY);
}

#[test]
fn replay_keys_wait_behind_inputs_and_overlays() {
    let (mut app, mut player) = replaying();
    press(&mut app, &mut player, KeyCode::Char('/'));
    press(&mut app, &mut player, KeyCode::Char('n'));
    assert_eq!(app.filter.query, "n", "typed into the filter");
    assert_eq!(replay(&app).clock_s, 0.0);
    assert!(
        keymap::lookup(
            Layer::Replay,
            &crossterm::event::KeyEvent::from(KeyCode::Char(' '))
        )
        .is_some()
    );
    assert_eq!(
        keymap::keys_for(
            Layer::Replay,
            Action::Replay(crate::keymap::ReplayControl::Faster)
        ),
        "+/="
    );
}

/// The replay's drill as the Exercise view shows it: clock, phase, and each objective's status.
fn drill(app: &App) -> (f64, ExercisePhase, Vec<ObjectiveStatus>) {
    let exercise = app.exercise.as_ref().expect("a replay shows its drill");
    let statuses = exercise.state.objectives.iter().map(|o| o.status.clone());
    (
        exercise.clock_s(app.now),
        exercise.state.phase,
        statuses.collect(),
    )
}

#[test]
fn the_exercise_view_shows_the_drill_at_the_replay_clock_and_back_again_on_a_seek() {
    let (mut app, mut player) = replaying();
    press(&mut app, &mut player, KeyCode::Char('7'));
    assert_eq!(app.view, View::Exercise, "a replay offers its drill's view");
    assert!(app.views().contains(&View::Exercise));
    press(&mut app, &mut player, KeyCode::Char(' '));
    press(&mut app, &mut player, KeyCode::Char('>'));
    press(&mut app, &mut player, KeyCode::Char('>'));
    let pending = vec![ObjectiveStatus::Pending; 3];
    assert_eq!(drill(&app), (60.0, ExercisePhase::Running, pending.clone()));
    // Paused, the drill's clock is the replay's: it does not run on by the wall's.
    tick(&mut app, &mut player, Duration::from_secs(20));
    assert_eq!(drill(&app).0, 60.0);
    press(&mut app, &mut player, KeyCode::Char('>'));
    press(&mut app, &mut player, KeyCode::Char('>'));
    let (clock, _, statuses) = drill(&app);
    assert_eq!(clock, 120.0);
    assert_eq!(statuses[0], ObjectiveStatus::Met { at_s: 95.0 });
    assert!(matches!(statuses[1], ObjectiveStatus::Missed { at_s, .. } if at_s == 90.0));
    assert!(matches!(statuses[2], ObjectiveStatus::Missed { at_s, .. } if at_s == 95.0));
    assert_eq!(app.exercise.as_ref().unwrap().report, None);
    press(&mut app, &mut player, KeyCode::Char('$'));
    assert_eq!(drill(&app).1, ExercisePhase::Ended);
    let report = app.exercise.as_ref().unwrap().report.clone();
    let report = report.expect("the report at the end").unwrap();
    assert!(report.contains("Score: 3 / 6"), "{report}");
    // Back before the outage: nothing scored, no report.
    press(&mut app, &mut player, KeyCode::Char('0'));
    assert_eq!(drill(&app), (0.0, ExercisePhase::Running, pending));
    assert_eq!(app.exercise.as_ref().unwrap().report, None);
    assert!(app.flash.is_none(), "nothing was refused");
}

#[test]
fn a_replay_controls_no_drill_and_loads_no_queue() {
    let (mut app, mut player) = replaying();
    press(&mut app, &mut player, KeyCode::Char('>'));
    assert!(!app.inbox.source_load(0).loading, "no queue to load");
    press(&mut app, &mut player, KeyCode::Char('7'));
    for drill_key in ['a', 'E', 'm', 'o', 'i'] {
        app.flash = None;
        let effects = app.update(key(KeyCode::Char(drill_key)));
        assert!(effects.is_empty(), "{drill_key} asked for {effects:?}");
        assert!(app.overlays.is_empty(), "{drill_key} opened a layer");
        let flash = app.flash.as_ref().map(|f| f.text.as_str());
        assert_eq!(flash, Some(READ_ONLY), "{drill_key}");
    }
    press(&mut app, &mut player, KeyCode::Char('b'));
    assert!(!app.overlays.is_empty(), "the briefing shows");
}
