//! A replay of a recorded drill (`switchboard replay`): the replay bar over the views the
//! live console draws, fed by the replay's player as the runner feeds it.

use std::sync::Arc;

use super::*;
use switchboard::app::Effect;
use switchboard::runner::replay::{replay_app, replay_init};
use switchboard::sources::SourceMsg;
use switchboard::sources::replay::{Player, Recording};
use switchboard::testing::{drill_records, recording_text};

/// The drill replayed at ×4 to T+01:40 and paused there, on the screen's view `view_key`.
fn replayed(width: u16, height: u16, view_key: char) -> App {
    let recording = Recording::parse(&recording_text(&drill_records())).unwrap();
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
        KeyCode::Char(view_key),
    ] {
        effects.extend(app.update(key(code)));
    }
    effects.push(Effect::ReplayTo { t_s: 100.0 });
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
    app.replay.as_mut().unwrap().clock_s = 100.0;
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
