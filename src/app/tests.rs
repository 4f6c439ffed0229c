use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::domain::fleet::{Connection, DownKind, Freshness};
use crate::sources::SourceEvent;
use protocol::{FleetDelta, Health};

use crate::testing::{from_source as source, lab_app, small_fleet as small_snapshot};

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub(super) fn loaded(now: Instant) -> App {
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
    assert_eq!(app.sources[0].connection, Connection::Live);
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
        kind: DownKind::Unreachable,
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
    match &data.connection {
        // Error text from outside is sanitized before it is stored for display.
        Connection::Down { error, .. } => assert_eq!(error, "cannot reach lab: refused"),
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
            kind: DownKind::Unreachable,
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
    assert!(app.overlays.palette().is_none());
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
    assert!(app.overlays.is_open(crate::keymap::Layer::Help));
    // 'q' closes help rather than quitting the console.
    assert!(app.update(key(KeyCode::Char('q'))).is_empty());
    assert!(!app.overlays.is_open(crate::keymap::Layer::Help));
    assert_eq!(app.update(key(KeyCode::Char('q'))), vec![Effect::Quit]);
}

#[test]
fn esc_and_q_read_together_close_help_then_quit() {
    // tmux_e2e typed Esc then q; under load both arrived in one read as Alt+q and the console
    // stayed open: Alt+q is bound nowhere.
    let mut app = loaded(Instant::now());
    app.update(key(KeyCode::Char('?')));
    let alt_q = Msg::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::ALT));
    assert_eq!(app.update(alt_q), vec![Effect::Quit]);
    assert!(!app.overlays.is_open(crate::keymap::Layer::Help));
}

#[test]
fn theme_key_cycles_and_asks_the_runner_to_load() {
    let mut app = loaded(Instant::now());
    assert_eq!(
        app.update(key(KeyCode::Char('t'))),
        vec![Effect::LoadTheme("light".into())]
    );
    assert_eq!(app.theme_name, "light");
    let flash = &app.flash.as_ref().expect("the theme is named").text;
    assert!(flash.contains("theme light"), "{flash}");
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

fn as_role(app: &mut App, role: protocol::Role) {
    app.update(source(SourceEvent::Identity(protocol::WhoAmI {
        name: "bob".into(),
        role,
    })));
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(key(KeyCode::Char(c)));
    }
}

#[test]
fn a_viewer_gets_no_command_and_is_told_why() {
    let mut app = loaded(Instant::now());
    as_role(&mut app, protocol::Role::Viewer);
    assert!(app.update(key(KeyCode::Char('a'))).is_empty());
    assert!(app.overlays.menu().is_none() && app.overlays.confirm().is_none());
    let flash = app.flash.as_ref().expect("a refusal is shown");
    assert!(
        flash.text.contains("role viewer may not change the fleet"),
        "{}",
        flash.text
    );
}

#[test]
fn read_only_refuses_even_an_admin() {
    let mut app = loaded(Instant::now());
    app.context.read_only = true;
    as_role(&mut app, protocol::Role::Admin);
    app.update(key(KeyCode::Char('d')));
    assert!(app.overlays.confirm().is_none());
    assert!(app.flash.as_ref().unwrap().text.starts_with("read-only"));
}

#[test]
fn an_overloading_drain_is_refused_by_its_preflight() {
    let mut app = loaded(Instant::now());
    as_role(&mut app, protocol::Role::Operator);
    // us-east is selected; eu-west is already past capacity in the fixture.
    app.update(key(KeyCode::Char('d')));
    let confirm = app.overlays.confirm().expect("confirmation open");
    assert_eq!(confirm.command.to_string(), "drain us-east");
    assert!(confirm.preflight.blocks());
    type_text(&mut app, "drill");
    assert!(app.update(key(KeyCode::Enter)).is_empty(), "nothing sent");
    assert!(
        app.overlays
            .confirm()
            .unwrap()
            .problem
            .as_ref()
            .unwrap()
            .contains("preflight")
    );
    // The operator may overrule it, on purpose: the override field takes FORCE.
    app.update(key(KeyCode::Tab)); // expiry
    app.update(key(KeyCode::Tab)); // override
    assert_eq!(
        app.overlays.confirm().unwrap().fields[2].kind,
        FieldKind::Force
    );
    type_text(&mut app, "FORCE");
    let blocking = app.overlays.confirm().unwrap().preflight.blocking_reasons();
    let effects = app.update(key(KeyCode::Enter));
    let [Effect::SendCommand(request)] = effects.as_slice() else {
        panic!("sent against the preflight: {effects:?}");
    };
    // The command tells the source what was overridden: the audit log and exercise scores
    // count it as a risky action.
    let seen = request
        .preflight
        .as_ref()
        .expect("the preflight goes along");
    assert_eq!(seen.verdict, protocol::commands::PreflightVerdict::Block);
    assert!(seen.forced);
    assert!(!blocking.is_empty());
    assert_eq!(seen.findings[..blocking.len()], blocking[..]);
}

#[test]
fn a_command_needs_a_reason_then_sends_with_the_targets_control_revision() {
    let mut app = loaded(Instant::now());
    as_role(&mut app, protocol::Role::Operator);
    app.sources[0].snapshot.as_mut().unwrap().providers[0].control_revision = 7;
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "breaker openai@us-east pin");
    app.update(key(KeyCode::Enter));
    assert_eq!(
        app.overlays
            .confirm()
            .expect("confirmation open")
            .command
            .to_string(),
        "breaker pin openai@us-east"
    );
    assert!(
        app.update(key(KeyCode::Enter)).is_empty(),
        "no reason, nothing sent"
    );
    assert!(
        app.overlays
            .confirm()
            .unwrap()
            .problem
            .as_ref()
            .unwrap()
            .contains("reason is required")
    );
    type_text(&mut app, "flapping breaker during drill");
    app.update(key(KeyCode::Tab));
    type_text(&mut app, "30m");
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::SendCommand(CommandRequest {
            id: 1,
            source: "lab".into(),
            command: crate::domain::command::Command::Breaker {
                provider: "openai@us-east".into(),
                action: protocol::commands::BreakerAction::Pin,
                expires_in_s: Some(1800)
            },
            reason: "flapping breaker during drill".into(),
            preflight: Some(protocol::commands::PreflightSeen {
                verdict: protocol::commands::PreflightVerdict::Ok,
                findings: Vec::new(),
                forced: false,
                needs_approval: None,
                approval_expires_after_s: None,
            }),
            if_match: 7,
        })]
    );
    assert!(app.overlays.confirm().is_none());
    assert_eq!(app.sent[0].state, SentState::Sending);
    // The audit view shows it at once, before any server has logged it.
    assert_eq!(app.audit_rows(), 1);
}

#[test]
fn a_bad_expiry_is_explained_and_blocks_sending() {
    let mut app = loaded(Instant::now());
    as_role(&mut app, protocol::Role::Operator);
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "breaker openai@us-east pin");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "drill");
    app.update(key(KeyCode::Tab));
    type_text(&mut app, "soon");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(
        app.overlays
            .confirm()
            .unwrap()
            .problem
            .as_ref()
            .unwrap()
            .contains("not a duration")
    );
}

#[test]
fn production_asks_for_the_target_typed_out() {
    let mut app = loaded(Instant::now());
    app.context.production = true;
    as_role(&mut app, protocol::Role::Operator);
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "breaker openai@us-east pin");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "drill");
    app.update(key(KeyCode::Tab)); // expiry
    app.update(key(KeyCode::Tab)); // type the target
    type_text(&mut app, "openai@us-west");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    let problem = app.overlays.confirm().unwrap().problem.clone().unwrap();
    assert!(problem.contains("type openai@us-east"), "{problem}");
    for _ in 0.."us-west".len() {
        app.update(key(KeyCode::Backspace));
    }
    type_text(&mut app, "us-east");
    assert_eq!(app.update(key(KeyCode::Enter)).len(), 1);
}

#[test]
fn a_provider_cell_offers_breaker_commands_in_a_menu() {
    let mut app = loaded(Instant::now());
    as_role(&mut app, protocol::Role::Operator);
    app.update(key(KeyCode::Down)); // eu-west
    app.update(key(KeyCode::Right)); // openai@eu-west
    app.update(key(KeyCode::Char('a')));
    let menu = app.overlays.menu().expect("menu open");
    let items: Vec<String> = menu.commands.iter().map(|c| c.verb()).collect();
    assert_eq!(
        items,
        vec!["breaker force-open", "breaker close", "breaker pin"]
    );
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Enter));
    assert_eq!(
        app.overlays.confirm().unwrap().command.verb(),
        "breaker close"
    );
    app.update(key(KeyCode::Esc));
    assert!(
        app.overlays.confirm().is_none(),
        "esc cancels without sending"
    );
}

#[test]
fn palette_commands_take_arguments() {
    let mut app = loaded(Instant::now());
    as_role(&mut app, protocol::Role::Operator);
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "degrade credit-decision human-only on 1h");
    app.update(key(KeyCode::Enter));
    let confirm = app.overlays.confirm().expect("confirmation open");
    assert_eq!(
        confirm.command.to_string(),
        "degrade human-only on credit-decision for 1h00m"
    );
}

#[test]
fn results_and_conflicts_are_shown_for_what_they_are() {
    let mut app = loaded(Instant::now());
    as_role(&mut app, protocol::Role::Operator);
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "breaker openai@us-east pin");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "drill");
    app.update(key(KeyCode::Enter));
    app.update(Msg::CommandJournaled {
        id: 1,
        key: "k-1".into(),
    });
    assert_eq!(app.sent[0].key.as_deref(), Some("k-1"));
    app.update(Msg::CommandFinished {
        id: 1,
        result: Err(CommandFailure {
            kind: FailureKind::Conflict,
            message: "409: openai@us-east changed since you looked (now control revision 9)".into(),
        }),
    });
    let flash = app.flash.as_ref().unwrap();
    assert_eq!(flash.level, Level::Error);
    assert!(
        flash.text.contains("not applied, the target changed"),
        "{}",
        flash.text
    );
    assert!(app.timeline.iter().any(|e| e.text.contains("409")));
}

/// Opens the palette, types `line` and returns the confirmation's revert-after text and the
/// command as the confirmation would send it (after the fields are applied).
fn typed_confirmation(app: &mut App, line: &str) -> (String, Option<u64>) {
    app.update(key(KeyCode::Char(':')));
    type_text(app, line);
    app.update(key(KeyCode::Enter));
    let confirm = app.overlays.confirm().expect("confirmation open");
    let field = confirm
        .fields
        .iter()
        .find(|f| f.kind == FieldKind::Expiry)
        .expect("a revert-after field")
        .text();
    // A change of the fleet rebuilds the command from the fields: the expiry must survive it.
    app.update(source(SourceEvent::Snapshot(small_snapshot())));
    let command = &app.overlays.confirm().expect("still open").command;
    (field, command.expires_in_s())
}

#[test]
fn palette_durations_fill_revert_after_for_drain_breaker_and_degrade() {
    let mut app = loaded(Instant::now());
    as_role(&mut app, protocol::Role::Operator);
    for (line, text, seconds) in [
        ("drain eu-west 30m", "30m", 1800),
        ("breaker openai@us-east force-open 15m", "15m", 900),
        ("degrade credit-decision serve-cache on 1h", "1h", 3600),
        ("drain eu-west 1h30m", "1h30m", 5400),
        ("drain eu-west 90", "1m30s", 90),
    ] {
        let (field, expiry) = typed_confirmation(&mut app, line);
        assert_eq!((field.as_str(), expiry), (text, Some(seconds)), "{line}");
        app.update(key(KeyCode::Esc));
    }
}

#[test]
fn a_timed_palette_command_is_sent_with_its_expiry() {
    let mut app = loaded(Instant::now());
    as_role(&mut app, protocol::Role::Operator);
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "breaker openai@us-east force-open 15m");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "drill");
    let sent = app.update(key(KeyCode::Enter));
    let [Effect::SendCommand(request)] = sent.as_slice() else {
        panic!("one command sent: {sent:?}");
    };
    assert_eq!(request.command.expires_in_s(), Some(900));
}

#[test]
fn every_confirmation_of_an_expiring_command_starts_with_its_expiry() {
    // The menu and the single-command keys open confirmations through the same door.
    let mut app = loaded(Instant::now());
    as_role(&mut app, protocol::Role::Operator);
    let command = crate::domain::command::Command::Drain {
        region: "us-east".into(),
        expires_in_s: Some(600),
    };
    app.open_confirm(0, command);
    let confirm = app.overlays.confirm().expect("confirmation open");
    let field = confirm.fields.iter().find(|f| f.kind == FieldKind::Expiry);
    assert_eq!(field.map(|f| f.text()), Some("10m".to_string()));
}
