use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::*;
use crate::api::{FleetDelta, Health};
use crate::domain::fleet::{Freshness, Link};
use crate::sources::SourceEvent;

use crate::testing::{from_source as source, lab_app, small_fleet as small_snapshot};

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn loaded(now: Instant) -> App {
    let mut app = lab_app(80, 24, now);
    app.update(source(SourceEvent::Snapshot(small_snapshot())));
    app
}

#[test]
fn a_snapshot_fills_the_matrix_and_marks_the_source_live() {
    let now = Instant::now();
    let app = loaded(now);
    assert_eq!(app.visible.regions.len(), 2);
    assert_eq!(
        app.visible.vendors,
        vec!["openai".to_string(), "anthropic".to_string()]
    );
    assert_eq!(app.sources[0].link, Link::Live);
    assert_eq!(app.sources[0].freshness(now), Freshness::Fresh);
    // The snapshot's inject notice reaches the timeline.
    assert!(
        app.timeline
            .iter()
            .any(|e| e.text.contains("openai@eu-west outage"))
    );
}

#[test]
fn a_delta_updates_one_region_and_keeps_the_rest() {
    let now = Instant::now();
    let mut app = loaded(now);
    let mut region = small_snapshot().regions[0].clone();
    region.health = Health::Down;
    let delta = FleetDelta {
        revision: 8,
        regions: vec![region],
        ..FleetDelta::default()
    };
    app.update(source(SourceEvent::Delta(delta)));
    let snapshot = app.sources[0].snapshot.as_ref().unwrap();
    assert_eq!(snapshot.revision, 8);
    assert_eq!(snapshot.regions[0].health, Health::Down);
    assert_eq!(snapshot.regions[1].health, Health::Degraded);
}

#[test]
fn a_lost_source_keeps_its_last_data_and_says_it_is_stale() {
    let now = Instant::now();
    let mut app = loaded(now);
    app.update(source(SourceEvent::Down {
        error: "cannot reach lab: \u{1b}[31mrefused".into(),
        retry_in: Duration::from_secs(4),
    }));
    let later = now + Duration::from_secs(12);
    app.update(Msg::Tick {
        now: later,
        wall: app.wall + chrono::Duration::seconds(12),
    });
    let data = &app.sources[0];
    assert!(data.snapshot.is_some(), "last known state is kept");
    assert_eq!(
        data.freshness(later),
        Freshness::Stale(Duration::from_secs(12))
    );
    match &data.link {
        // Error text from outside is sanitized before it is stored for display.
        Link::Down { error, .. } => assert_eq!(error, "cannot reach lab: refused"),
        other => panic!("expected down, got {other:?}"),
    }
    assert!(app.timeline.iter().any(|e| e.level == Level::Error));
    // Recovery is recorded too.
    app.update(source(SourceEvent::Snapshot(small_snapshot())));
    assert!(app.timeline.iter().any(|e| e.text == "connection restored"));
}

#[test]
fn repeated_failures_are_logged_once() {
    let mut app = loaded(Instant::now());
    for _ in 0..5 {
        app.update(source(SourceEvent::Down {
            error: "refused".into(),
            retry_in: Duration::from_secs(1),
        }));
    }
    assert_eq!(
        app.timeline
            .iter()
            .filter(|e| e.level == Level::Error)
            .count(),
        1
    );
}

#[test]
fn arrows_move_within_bounds() {
    let mut app = loaded(Instant::now());
    for _ in 0..5 {
        app.update(key(KeyCode::Down));
    }
    assert_eq!(app.selection.fleet_row, 1);
    for _ in 0..5 {
        app.update(key(KeyCode::Right));
    }
    assert_eq!(app.selection.fleet_col, 2, "region column + two vendors");
    app.update(key(KeyCode::Char('g')));
    assert_eq!(app.selection.fleet_row, 0);
}

#[test]
fn filter_narrows_rows_or_columns() {
    let mut app = loaded(Instant::now());
    app.update(key(KeyCode::Char('/')));
    for c in "eu".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    assert_eq!(app.visible.regions.len(), 1);
    assert_eq!(app.region_at(app.visible.regions[0]).id, "eu-west");
    app.update(key(KeyCode::Esc));
    assert_eq!(app.visible.regions.len(), 2);
    app.update(key(KeyCode::Char('/')));
    for c in "anthropic".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    app.update(key(KeyCode::Enter));
    assert!(!app.filter.editing);
    assert_eq!(app.visible.vendors, vec!["anthropic".to_string()]);
    assert_eq!(
        app.visible.regions.len(),
        2,
        "a vendor query keeps every region"
    );
}

#[test]
fn typing_q_in_the_filter_does_not_quit() {
    let mut app = loaded(Instant::now());
    app.update(key(KeyCode::Char('/')));
    let effects = app.update(key(KeyCode::Char('q')));
    assert!(effects.is_empty());
    assert_eq!(app.filter.query, "q");
}

#[test]
fn palette_runs_the_best_match() {
    let mut app = loaded(Instant::now());
    app.update(key(KeyCode::Char(':')));
    for c in "servi".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    app.update(key(KeyCode::Enter));
    assert!(app.palette.is_none());
    assert_eq!(app.view, View::Services);
    app.update(key(KeyCode::Char(':')));
    for c in "quit".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    assert_eq!(app.update(key(KeyCode::Enter)), vec![Effect::Quit]);
}

#[test]
fn help_takes_keys_first() {
    let mut app = loaded(Instant::now());
    app.update(key(KeyCode::Char('?')));
    assert!(app.help_open);
    // 'q' closes help rather than quitting the console.
    assert!(app.update(key(KeyCode::Char('q'))).is_empty());
    assert!(!app.help_open);
    assert_eq!(app.update(key(KeyCode::Char('q'))), vec![Effect::Quit]);
}

#[test]
fn theme_key_cycles_and_asks_the_runner_to_load() {
    let mut app = loaded(Instant::now());
    assert_eq!(
        app.update(key(KeyCode::Char('t'))),
        vec![Effect::LoadTheme("light".into())]
    );
    assert_eq!(app.theme_name, "light");
}

#[test]
fn clicking_a_tab_and_a_cell_selects_them() {
    let mut app = loaded(Instant::now());
    let click = |column, row| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Header: " Switchboard " is 13 wide, then " 1 Fleet " and " 2 Services ".
    app.update(click(25, 0));
    assert_eq!(app.view, View::Services);
    app.update(click(15, 0));
    assert_eq!(app.view, View::Fleet);
    // Body starts on row 1 (no banners); matrix border, header, then region rows.
    app.update(click(3, 4));
    assert_eq!(app.selection.fleet_row, 1);
    assert_eq!(app.selection.fleet_col, 0);
}

#[test]
fn terminate_quits() {
    let mut app = loaded(Instant::now());
    assert_eq!(app.update(Msg::Terminate), vec![Effect::Quit]);
}

#[test]
fn ticks_within_the_same_second_do_not_redraw() {
    let now = Instant::now();
    let mut app = loaded(now);
    app.dirty = false;
    app.update(Msg::Tick {
        now: now + Duration::from_millis(100),
        wall: app.wall + chrono::Duration::milliseconds(100),
    });
    assert!(!app.dirty);
    app.update(Msg::Tick {
        now: now + Duration::from_secs(1),
        wall: app.wall + chrono::Duration::seconds(1),
    });
    assert!(app.dirty);
}
