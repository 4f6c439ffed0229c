//! A replay of a recorded drill (`switchboard replay`): the replay bar over the views the
//! live console draws, fed by the replay's player as the runner feeds it.

use std::sync::Arc;

use super::*;
use protocol::exercise::record::read_recording;
use switchboard::app::Effect;
use switchboard::runner::replay::{replay_app, replay_init};
use switchboard::sources::SourceMsg;
use switchboard::sources::replay::Player;
use switchboard::testing::{drill_records, recording_text};

/// The drill replayed at ×4 to T+01:40 and paused there, on the screen's view `view_key`.
fn replayed(width: u16, height: u16, view_key: char) -> App {
    replayed_at(width, height, view_key, 100.0)
}

/// The drill replayed at ×4, paused, and sought to `t_s`, on the screen's view `view_key`.
fn replayed_at(width: u16, height: u16, view_key: char, t_s: f64) -> App {
    let recording = read_recording(&recording_text(&drill_records())).unwrap();
    let mut app = replay_app(
        &recording,
        "/drills/provider-outage.jsonl",
        switchboard::app::AppInit {
            context: switchboard::app::ContextInfo {
                name: "replay".into(),
                lab: false,
                read_only: true,
                production: false,
            },
            sources: Vec::new(),
            ..switchboard::testing::lab_init(width, height, Instant::now())
        },
    );
    let mut player = Player::new(Arc::new(recording.clone()));
    let mut effects = app.start_replay(replay_init(&recording, 1.0));
    for code in [
        KeyCode::Char('+'),
        KeyCode::Char('+'),
        KeyCode::Char('n'),
        KeyCode::Char('n'),
        KeyCode::Char(' '),
    ] {
        effects.extend(app.update(key(code)));
    }
    effects.push(Effect::ReplayTo { t_s });
    for effect in effects {
        if let Effect::ReplayTo { t_s } = effect {
            for event in player.seek(t_s) {
                app.update(Msg::Source(SourceMsg {
                    source: switchboard::runner::replay::SOURCE.into(),
                    event,
                }));
            }
        }
    }
    // The Exercise view is offered once the first frame has brought the drill.
    app.update(key(KeyCode::Char(view_key)));
    app.replay.as_mut().unwrap().clock_s = t_s;
    app.flash = None;
    app
}

/// The bar names the run, the clock against the end, the speed and that it is paused; the
/// fleet as the recording showed it at T+01:40; the timeline holds the drill's injects and
/// controls; help lists the replay's keys first.
#[test]
fn a_paused_replay_shows_its_bar_over_the_recorded_fleet_and_timeline() {
    let app = replayed(80, 24, '1');
    let screen = text(&render(&app, &dark()));
    assert!(
        screen.contains("REPLAY  ex-20261122-140300-provider-outage T+01:40 / T+03:00 ×4 ⏸"),
        "{screen}"
    );
    insta::assert_snapshot!("replay_fleet_80x24", screen);
    let app = replayed(100, 30, '3');
    insta::assert_snapshot!("replay_timeline_100x30", text(&render(&app, &dark())));
    let mut app = replayed(80, 24, '1');
    app.update(key(KeyCode::Char('?')));
    let help = text(&render(&app, &dark()));
    assert!(help.contains("In a replay"), "{help}");
    assert!(help.contains("Jump to the next inject or action"), "{help}");
}

/// The Exercise view of a replay at T+01:40: the drill as its facilitator saw it then (the
/// outage with its detect / mitigate times and note, the objectives met and missed with their
/// times, the forced breaker among the risky actions, the score); at the end, the report.
#[test]
fn a_replay_shows_its_drill_at_the_clock_in_the_exercise_view() {
    let app = replayed(100, 40, '7');
    let screen = text(&render(&app, &dark()));
    for expected in [
        "✓ met at T+01:35",
        "✖ missed at T+01:30",
        "score 3/6",
        "FORCED",
        "detect 35s · mitigate 35s",
    ] {
        assert!(screen.contains(expected), "{expected}: {screen}");
    }
    insta::assert_snapshot!("replay_exercise_100x40", screen);
    let mut app = replayed(100, 40, '7');
    app.update(key(KeyCode::Char('$')));
    let recording = read_recording(&recording_text(&drill_records())).unwrap();
    let mut player = Player::new(std::sync::Arc::new(recording));
    for event in player.seek(180.0) {
        app.update(Msg::Source(SourceMsg {
            source: switchboard::runner::replay::SOURCE.into(),
            event,
        }));
    }
    for _ in 0..40 {
        app.update(key(KeyCode::PageDown));
    }
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("## What to improve"), "{screen}");
}

/// Where a live console says how fresh its data is and who the user is, a replay says what is
/// true: the fleet sample's time in the recording, that it is read-only, that a recording has
/// no tasks to list, follows no runbook, and shows the drill as its facilitator saw it.
#[test]
fn a_replay_says_what_is_true_where_a_live_console_says_live() {
    let screen = text(&render(&replayed(80, 24, '1'), &dark()));
    assert!(
        screen.contains("source replay · recorded at T+01:35"),
        "{screen}"
    );
    assert!(screen.contains("replay: read-only"), "{screen}");
    for live_only in ["live, updated", "identity unknown", "READ-ONLY"] {
        assert!(!screen.contains(live_only), "{live_only}: {screen}");
    }
    let screen = text(&render(&replayed(100, 30, '5'), &dark()));
    assert!(screen.contains("A replay shows no tasks"), "{screen}");
    assert!(!screen.contains("oading"), "{screen}");
    let screen = text(&render(&replayed(100, 30, '6'), &dark()));
    assert!(screen.contains("A replay follows no runbook"), "{screen}");
    assert!(!screen.contains("reading the runbooks"), "{screen}");
    let screen = text(&render(&replayed_at(100, 30, '4', 30.0), &dark()));
    assert!(
        screen.contains("No command up to T+00:30 of the recording."),
        "{screen}"
    );
    let screen = text(&render(&replayed_at(160, 40, '7', 30.0), &dark()));
    assert!(
        screen.contains("replay: as the facilitator saw it"),
        "{screen}"
    );
    assert!(
        screen.contains("upcoming (only the facilitator saw these)"),
        "{screen}"
    );
    let hints = screen.lines().rev().nth(1).unwrap();
    assert!(
        hints.contains("n next") && hints.contains("b briefing"),
        "{hints}"
    );
    for drill_key in ["next inject", "start/pause", " ack ", " end "] {
        assert!(!hints.contains(drill_key), "{drill_key}: {hints}");
    }
    let mut app = replayed(100, 30, '7');
    app.update(key(KeyCode::Char('b')));
    let screen = text(&render(&app, &dark()));
    assert!(
        screen.contains("Replay: the briefing the players were given."),
        "{screen}"
    );
    assert!(!screen.contains("You are facilitator"), "{screen}");
}
