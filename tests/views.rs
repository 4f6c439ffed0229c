//! Snapshots of the console as drawn on a TestBackend, at the sizes on-call engineers use
//! (80x24 over SSH, 160x48 on a desk), plus checks that health colours land where they should.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use lab::escalations::EscalationQueue;
use protocol::escalations::{EscalationState, Lease};
use protocol::{Role, WhoAmI};
use switchboard::app::{App, Msg, ScreenMap, TaskPane, View};
use switchboard::domain::fleet::DownKind;
use switchboard::sources::{EscalationEvent, EscalationEventKind, SourceEvent};
use switchboard::testing::{
    default_fleet, escalation_queue, escalation_summaries, escalations_loaded, fixture_wall,
    from_source as source, lab_app, open_task_where, small_fleet,
};
use switchboard::theme::{self, Theme};

fn app(width: u16, height: u16, now: Instant) -> App {
    let mut app = lab_app(width, height, now);
    app.update(source(SourceEvent::Identity(WhoAmI {
        name: "alice".into(),
        role: Role::Admin,
    })));
    app.update(source(SourceEvent::Snapshot(small_fleet())));
    app
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn dark() -> Theme {
    let (theme, problem) = theme::load("dark", false);
    assert!(problem.is_none());
    theme
}

fn render(app: &App, theme: &Theme) -> Buffer {
    draw(app, theme).0
}

/// Draws `app` and hands it the frame's report, as the runner does.
fn show(app: &mut App) -> Buffer {
    let (buffer, map) = draw(app, &dark());
    app.update(Msg::Drawn(map));
    buffer
}

fn draw(app: &App, theme: &Theme) -> (Buffer, ScreenMap) {
    let mut terminal = Terminal::new(TestBackend::new(app.area.width, app.area.height)).unwrap();
    let mut map = ScreenMap::default();
    terminal
        .draw(|frame| map = switchboard::views::draw(app, theme, frame))
        .unwrap();
    (terminal.backend().buffer().clone(), map)
}

fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            let line: String = (0..area.width).map(|x| buffer[(x, y)].symbol()).collect();
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Position of the first cell where `needle` starts.
fn find(buffer: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let area = buffer.area;
    for y in 0..area.height {
        let line: Vec<&str> = (0..area.width).map(|x| buffer[(x, y)].symbol()).collect();
        let joined: String = line.concat();
        if let Some(byte) = joined.find(needle) {
            let col = joined[..byte].chars().count() as u16;
            return Some((col, y));
        }
    }
    None
}

#[test]
fn fleet_at_80x24() {
    let now = Instant::now();
    let app = app(80, 24, now);
    insta::assert_snapshot!(text(&render(&app, &dark())));
}

#[test]
fn fleet_at_160x48_with_a_provider_selected() {
    let now = Instant::now();
    let mut app = app(160, 48, now);
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Right));
    insta::assert_snapshot!(text(&render(&app, &dark())));
}

#[test]
fn services_at_80x24() {
    let now = Instant::now();
    let mut app = app(80, 24, now);
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Down));
    insta::assert_snapshot!(text(&render(&app, &dark())));
}

/// The lab source went down at `now` and has been unreachable for 42 s.
fn lab_down_for_42s(app: &mut App, now: Instant) {
    app.update(source(SourceEvent::Down {
        error: "cannot reach http://127.0.0.1:7300: connection refused".into(),
        kind: DownKind::Unreachable,
        retry_in: Duration::from_secs(8),
    }));
    app.update(Msg::Tick {
        now: now + Duration::from_secs(42),
        wall: Utc.with_ymd_and_hms(2026, 11, 22, 14, 3, 42).unwrap(),
    });
}

#[test]
fn unreachable_source_at_80x24_keeps_last_state_with_its_age() {
    let now = Instant::now();
    let mut app = app(80, 24, now);
    lab_down_for_42s(&mut app, now);
    let buffer = render(&app, &dark());
    let screen = text(&buffer);
    assert!(screen.contains("lab unreachable"), "{screen}");
    assert!(screen.contains("42s ago"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn help_and_palette_at_80x24() {
    let now = Instant::now();
    let mut app = app(80, 24, now);
    app.update(key(KeyCode::Char('?')));
    insta::assert_snapshot!("help", text(&render(&app, &dark())));
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char(':')));
    app.update(key(KeyCode::Char('t')));
    insta::assert_snapshot!("palette", text(&render(&app, &dark())));
}

#[test]
fn clicking_a_tab_and_a_cell_selects_them() {
    let now = Instant::now();
    let mut app = app(80, 24, now);
    let click = |column, row| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Header: " Switchboard " is 13 wide, then " 1 Fleet " and " 2 Services ".
    show(&mut app);
    app.update(click(25, 0));
    assert_eq!(app.view, View::Services);
    show(&mut app);
    app.update(click(15, 0));
    assert_eq!(app.view, View::Fleet);
    // Body starts on row 1 (no banners); matrix border, header, then region rows.
    show(&mut app);
    app.update(click(3, 4));
    assert_eq!(app.selection.fleet_row, 1);
    assert_eq!(app.selection.fleet_col, 0);
    // Under an overlay, a click lands on nothing.
    app.update(key(KeyCode::Char('?')));
    show(&mut app);
    app.update(click(25, 0));
    assert_eq!(app.view, View::Fleet);
}

#[test]
fn health_colours_follow_the_theme() {
    let now = Instant::now();
    let app = app(160, 48, now);
    let theme = dark();
    let buffer = render(&app, &theme);
    let fg_at = |needle: &str| {
        let (x, y) = find(&buffer, needle).unwrap_or_else(|| panic!("{needle:?} not on screen"));
        buffer[(x, y)].fg
    };
    assert_eq!(fg_at("▲ degraded"), theme.health_degraded.fg.unwrap());
    assert_eq!(fg_at("✖ open"), theme.breaker_open.fg.unwrap());
    // The open breaker and the degraded region are told apart by more than colour.
    assert_ne!(fg_at("● ok"), Color::Reset);
}

#[test]
fn no_color_theme_draws_no_colour_at_all() {
    let now = Instant::now();
    let app = app(80, 24, now);
    let (theme, _) = theme::load("dark", true);
    let buffer = render(&app, &theme);
    for cell in buffer.content() {
        assert_eq!(cell.fg, Color::Reset);
        assert_eq!(cell.bg, Color::Reset);
    }
    let screen = text(&buffer);
    assert!(
        screen.contains("▲ degraded") && screen.contains("✖ open"),
        "{screen}"
    );
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(key(KeyCode::Char(c)));
    }
}

#[test]
fn confirmation_of_an_overloading_drain_at_100x30() {
    let now = Instant::now();
    let mut app = app(100, 30, now);
    app.update(key(KeyCode::Char('d')));
    type_text(&mut app, "drill: eu brownout");
    app.update(key(KeyCode::Enter));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("Confirm: drain us-east"), "{screen}");
    assert!(screen.contains("no healthy path"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn confirmation_in_production_at_80x24() {
    let now = Instant::now();
    let mut app = app(80, 24, now);
    app.context.production = true;
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "breaker openai@us-east force-open 15m");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "503s from openai");
    // Issue 8 item 3: the palette's 15m shows as revert after (it was dropped before).
    insta::assert_snapshot!(text(&render(&app, &dark())));
}

/// On the selected service: `m`, the second mode, a reason, Enter; then the audit view.
fn send_a_degraded_mode(app: &mut App) {
    app.update(key(KeyCode::Char('m')));
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Enter));
    type_text(app, "eu-west brownout, cut load");
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('4')));
}

#[test]
fn menu_and_audit_view_at_80x24() {
    let now = Instant::now();
    let mut app = app(80, 24, now);
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Char('a')));
    insta::assert_snapshot!("menu", text(&render(&app, &dark())));
    app.update(key(KeyCode::Esc));
    send_a_degraded_mode(&mut app);
    // Issue 8 item 7: the detail pane gained the full target line (snapshot changed for it).
    insta::assert_snapshot!("audit", text(&render(&app, &dark())));
}

/// Issue 8 item 7: the table cuts targets at 20 columns; the pane spells out target, key, reason.
#[test]
fn the_audit_detail_pane_shows_the_full_target_reason_and_key_at_80x24() {
    let mut app = app(80, 24, Instant::now());
    let target = "credit-decision/openai@eu-west-primary";
    let reason = "eu-west brownout since 02:40, fallback keeps decisions in SLO until the \
                  provider recovers";
    let entry = protocol::commands::AuditEntry {
        id: 41,
        at: Utc.with_ymd_and_hms(2026, 11, 22, 14, 2, 0).unwrap(),
        actor: "bob".into(),
        action: "pin".into(),
        target: target.into(),
        reason: reason.into(),
        idempotency_key: Some("0b7e6a52-6f1d-4c1e-9a43-8f2d7c3e5b10".into()),
        outcome: protocol::commands::AuditOutcome::Accepted,
        detail: None,
        preflight: None,
    };
    app.update(key(KeyCode::Char('4')));
    app.update(Msg::AuditLoaded {
        source: "lab".into(),
        result: Ok(vec![entry]),
    });
    let screen = text(&render(&app, &dark()));
    for whole in [
        target,
        "provider recovers",
        "0b7e6a52-6f1d-4c1e-9a43-8f2d7c3e5b10",
    ] {
        assert!(screen.contains(whole), "{whole} cut off:\n{screen}");
    }
    insta::assert_snapshot!(screen);
}

/// alice's console with the lab's backlog of `count` tasks, one of them claimed by bob,
/// showing the inbox.
fn inbox_app(width: u16, height: u16, count: usize) -> (App, EscalationQueue) {
    let now = Instant::now();
    let mut app = app(width, height, now);
    let queue = escalation_queue(7, count);
    let summaries = escalation_summaries(&queue);
    let mut held = summaries[2].clone();
    app.update(escalations_loaded(summaries));
    held.revision += 1;
    held.state = EscalationState::Claimed;
    held.lease = Some(Lease {
        holder: "bob".into(),
        claimed_at: fixture_wall(),
        expires_at: fixture_wall() + chrono::TimeDelta::seconds(300),
    });
    app.update(source(SourceEvent::Escalation(EscalationEvent {
        kind: EscalationEventKind::Claimed,
        summary: held,
    })));
    app.update(key(KeyCode::Char('5')));
    (app, queue)
}

/// Opens the first task (in SLA order) whose lineage has a retry and a failover and whose
/// step produced candidates.
fn open_rich_task(app: &mut App, queue: &EscalationQueue) -> String {
    open_task_where(app, queue, |detail| {
        let attempts = detail.lineage.steps.iter().flat_map(|s| &s.attempts);
        !detail.candidates.is_empty()
            && attempts.clone().any(|a| a.retry_reason.is_some())
            && attempts.clone().any(|a| a.failover_reason.is_some())
    })
}

#[test]
fn inbox_at_80x24_and_160x48() {
    let (app, _) = inbox_app(80, 24, 200);
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("claimed by bob"), "{screen}");
    assert!(screen.contains("BREACH"), "{screen}");
    insta::assert_snapshot!("inbox_80x24", screen);
    let (app, _) = inbox_app(160, 48, 200);
    insta::assert_snapshot!("inbox_160x48", text(&render(&app, &dark())));
}

/// A backlog still loading: the status bar says how far, the inbox shows what arrived, in
/// SLA order (a new screen: loading used to say nothing of its progress).
#[test]
fn a_loading_backlog_shows_its_progress_and_what_arrived_at_80x24() {
    let mut app = app(80, 24, Instant::now());
    let queue = escalation_queue(7, 40);
    let summaries = escalation_summaries(&queue);
    app.update(Msg::EscalationsCounted {
        source: "lab".into(),
        total: 34_000,
    });
    app.update(Msg::EscalationsLoaded {
        source: "lab".into(),
        result: Ok(summaries),
        done: false,
    });
    app.update(key(KeyCode::Char('5')));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("loading 40/34,000"), "{screen}");
    insta::assert_snapshot!("inbox_loading_at_80x24", screen);
}

#[test]
fn breached_and_near_slas_are_red_and_marked_in_words() {
    let (app, _) = inbox_app(160, 48, 200);
    let theme = dark();
    let buffer = render(&app, &theme);
    let (x, y) = find(&buffer, "BREACH").expect("a breached task on screen");
    assert_eq!(buffer[(x, y)].fg, theme.error.fg.unwrap());
}

#[test]
fn task_overview_lineage_and_timeline_at_120x40() {
    let (mut app, queue) = inbox_app(120, 40, 200);
    open_rich_task(&mut app, &queue);
    insta::assert_snapshot!("task_overview", text(&render(&app, &dark())));
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    let screen = text(&render(&app, &dark()));
    assert!(
        screen.contains("↻ retry") && screen.contains("⇄ failover"),
        "{screen}"
    );
    insta::assert_snapshot!("task_lineage", screen);
    app.update(key(KeyCode::Tab));
    insta::assert_snapshot!("task_timeline", text(&render(&app, &dark())));
}

#[test]
fn resolve_confirmation_at_100x30() {
    let (mut app, queue) = inbox_app(100, 30, 200);
    let id = open_rich_task(&mut app, &queue);
    app.update(key(KeyCode::Char('a')));
    app.update(Msg::ClaimFinished {
        source: switchboard::testing::SOURCE.into(),
        id,
        result: Ok(Lease {
            holder: "alice".into(),
            claimed_at: fixture_wall(),
            expires_at: fixture_wall() + chrono::TimeDelta::seconds(300),
        }),
    });
    type_text(&mut app, "matches the ledger");
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("Resolve esc-"), "{screen}");
    // Issue 8 item 13: this candidate failed a validator, and the confirmation now says so.
    insta::assert_snapshot!("resolve_confirmation", screen);
}

/// Issue 8 item 13: each retry path with how it fared for this task and its room now.
#[test]
fn retry_confirmation_at_80x24() {
    let (mut app, queue) = inbox_app(80, 24, 200);
    open_rich_task(&mut app, &queue);
    app.update(key(KeyCode::Char('t')));
    insta::assert_snapshot!(text(&render(&app, &dark())));
}

#[test]
fn the_task_view_scrolls_within_its_content() {
    let (mut app, queue) = inbox_app(100, 30, 40);
    open_task_where(&mut app, &queue, |detail| {
        detail
            .lineage
            .steps
            .iter()
            .map(|s| s.attempts.len())
            .sum::<usize>()
            > 8
    });
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    assert_eq!(app.task.as_ref().unwrap().pane, TaskPane::Lineage);
    show(&mut app);
    // The pane as drawn bounds the scroll keys that follow, before the next frame.
    app.update(key(KeyCode::End));
    let drawn = app.task.as_ref().unwrap().drawn_pane().expect("drawn");
    let (rows, height) = (drawn.rows, drawn.height);
    assert!(rows > height, "{rows} rows in {height}");
    assert_eq!(
        app.task.as_ref().unwrap().scroll(TaskPane::Lineage),
        rows - height
    );
    app.update(key(KeyCode::Up));
    assert_eq!(
        app.task.as_ref().unwrap().scroll(TaskPane::Lineage),
        rows - height - 1
    );
}

/// Issue 8 item 4: at 80x24 the reason a drain is blocked stays on screen above the fields
/// (it was cut off); the details below it scroll with the keys the hint line names.
#[test]
fn blocked_drain_confirmation_at_80x24_shows_why() {
    let now = Instant::now();
    let mut app = app(80, 24, now);
    app.update(source(SourceEvent::Snapshot(default_fleet())));
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "drain ap-south");
    app.update(key(KeyCode::Enter));
    let screen = text(&render(&app, &dark()));
    assert!(
        screen.contains("no healthy path for log-aggregator"),
        "{screen}"
    );
    assert!(screen.contains("pgup/pgdn scroll"), "{screen}");
    insta::assert_snapshot!(screen);
    app.update(key(KeyCode::PageDown));
    let scrolled = text(&render(&app, &dark()));
    assert!(scrolled.contains("no healthy path for log-aggregator"));
    assert_ne!(scrolled, screen, "page down shows more of the details");
}

/// Issue 8 item 1: banners wrap instead of losing their end (this also changed the
/// unreachable-source snapshot: its error now shows in full). A console started on defaults because its config is invalid says so in full
/// at 80 columns (the outcome was cut off), with the key that dismisses it in the hints; the
/// banner stays through other keys and goes on that key.
#[test]
fn invalid_config_banner_at_80x24() {
    let now = Instant::now();
    let mut app = app(80, 24, now);
    app.problems.push(
        "config /home/oncall/.config/switchboard/config.toml:7:1: unknown field `timeout`, \
         expected one of `url`, `kind`, `token_env` (running on defaults)"
            .into(),
    );
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Char('1')));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("running on defaults"), "{screen}");
    assert!(screen.contains("esc dismiss banner"), "{screen}");
    insta::assert_snapshot!(screen);
    app.update(key(KeyCode::Esc));
    let screen = text(&render(&app, &dark()));
    assert!(!screen.contains("running on defaults"), "{screen}");
    assert!(!screen.contains("dismiss banner"), "{screen}");
}

/// The default fleet with an overloaded region (eu-west at -15%), a provider near its rate
/// limit (openai@us-east at 7.5%) and a healthy provider held open by hand (google@us-east).
fn fleet_under_pressure() -> protocol::FleetSnapshot {
    let mut fleet = default_fleet();
    let eu = fleet
        .regions
        .iter_mut()
        .find(|r| r.id == "eu-west")
        .unwrap();
    eu.load_rps = eu.capacity_rps * 1.15;
    let openai = fleet
        .providers
        .iter_mut()
        .find(|p| p.id == "openai@us-east")
        .unwrap();
    openai.rate_limit_headroom = 0.075;
    let google = fleet
        .providers
        .iter_mut()
        .find(|p| p.id == "google@us-east")
        .unwrap();
    google.breaker.state = protocol::BreakerState::Open;
    google.quarantine = Some(protocol::commands::TimedControl {
        set_by: "alice".into(),
        reason: "drill".into(),
        since: fixture_wall(),
        expires_at: None,
    });
    fleet
}

/// Issue 8 item 10: overload, a near rate limit and a quarantine show at every width (at 80
/// columns SHARE and ROOM were dropped and the provider read `● ok`).
#[test]
fn fleet_under_pressure_at_80x24_and_160x48() {
    for (width, height) in [(80, 24), (160, 48)] {
        let mut app = app(width, height, Instant::now());
        app.update(source(SourceEvent::Snapshot(fleet_under_pressure())));
        let screen = text(&render(&app, &dark()));
        assert!(screen.contains("-15%"), "{screen}");
        assert!(screen.contains("▲ limit"), "{screen}");
        let quarantined = if width >= 160 {
            "✖ quarantined"
        } else {
            "✖ held"
        };
        assert!(screen.contains(quarantined), "{screen}");
        insta::assert_snapshot!(format!("fleet_under_pressure_{width}x{height}"), screen);
    }
}

// Checks of what is on screen without a snapshot; in their own file to keep this one short.
#[path = "views_checks/mod.rs"]
mod checks;

// The history charts and the clocks; in their own file to keep this one short.
#[path = "views_time/mod.rs"]
mod time;

// The fleet matrix at scale and at every width; in its own file to keep this one short.
#[path = "views_fleet/mod.rs"]
mod fleet;

#[path = "views_measured/mod.rs"]
mod measured;

#[path = "views_adaptive/mod.rs"]
mod adaptive;
#[path = "views_approvals/mod.rs"]
mod approvals;
#[path = "views_cost/mod.rs"]
mod cost;
#[path = "views_exercise/mod.rs"]
mod exercise;
#[path = "views_gateway/mod.rs"]
mod gateway;
#[path = "views_patroni/mod.rs"]
mod patroni;
#[path = "views_replay/mod.rs"]
mod replay;
#[path = "views_runbooks/mod.rs"]
mod runbooks;
#[path = "views_silences/mod.rs"]
mod silences;
#[path = "views_slo/mod.rs"]
mod slo;
