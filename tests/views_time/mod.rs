//! Screens about time, from tests/views.rs: the fleet detail pane's history charts (issue 8
//! item 11) and the clocks every time on screen is on (item 9).

use super::*;

/// The snapshot of [`small_fleet`], then `count` changes 30 s apart of openai@eu-west and
/// us-east: p95 climbs from 4.2 s, errors and 429s move.
fn with_history(width: u16, height: u16, count: usize) -> App {
    let now = Instant::now();
    let mut app = app(width, height, now);
    let fleet = small_fleet();
    for i in 1..=count {
        let mut provider = fleet.providers[2].clone();
        provider.latency.p95_ms = 4200.0 + 150.0 * i as f64 + if i % 3 == 0 { 400.0 } else { 0.0 };
        provider.error_rate = 0.5 + 0.02 * i as f64;
        provider.rate_limited_rate = 0.01 * (i % 4) as f64;
        let mut region = fleet.regions[0].clone();
        region.latency.p95_ms = 410.0 + 10.0 * (i % 5) as f64;
        app.update(source(SourceEvent::Delta(protocol::FleetDelta {
            revision: fleet.revision + i as u64,
            generated_at: fleet.generated_at + chrono::TimeDelta::seconds(30 * i as i64),
            providers: vec![provider],
            regions: vec![region],
            ..protocol::FleetDelta::default()
        })));
    }
    app
}

/// Selects openai@eu-west (second region, first vendor).
fn select_openai_eu_west(app: &mut App) {
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Right));
}

/// Item 11: the history is a chart with a time axis and a value axis over the data's range,
/// not rows of solid blocks scaled from zero; the facts keep their column.
#[test]
fn the_detail_history_is_a_chart_over_the_datas_range() {
    for (width, height) in [(80, 24), (160, 48)] {
        let mut app = with_history(width, height, 12);
        select_openai_eu_west(&mut app);
        let screen = text(&render(&app, &dark()));
        assert!(!screen.contains('█'), "{screen}");
        assert!(screen.contains("p95 latency"), "{screen}");
        assert!(
            screen.contains("-6m00s"),
            "time axis from the first sample: {screen}"
        );
        // Issue 9: the axis ends at the last change, so quiet events do not redraw it.
        assert!(screen.contains("last change"), "{screen}");
        // p95 ran 4350..6600 ms: the axis starts near the data, not at zero.
        assert!(!screen.lines().any(|l| l.contains("│0.0 ")), "{screen}");
        assert!(
            screen.contains("routes: risk-scorer"),
            "facts stay whole: {screen}"
        );
        insta::assert_snapshot!(format!("fleet_detail_history_{width}x{height}"), screen);
    }
}

/// Item 11: with no change yet there is one sample: the pane says so instead of drawing a
/// chart of one point.
#[test]
fn one_sample_is_said_not_charted() {
    let mut app = app(160, 48, Instant::now());
    select_openai_eu_west(&mut app);
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("history: 1 sample so far"), "{screen}");
    assert!(!screen.contains('█'), "{screen}");
}

/// Item 11: a hostile source sends NaN and huge latencies: the chart draws the finite ones,
/// its axis stays readable, nothing panics.
#[test]
fn bad_values_do_not_break_the_chart() {
    let mut app = with_history(160, 48, 3);
    let fleet = small_fleet();
    for (i, p95) in [(4, f64::NAN), (5, 1.0e300), (6, f64::INFINITY)] {
        let mut provider = fleet.providers[2].clone();
        provider.latency.p95_ms = p95;
        app.update(source(SourceEvent::Delta(protocol::FleetDelta {
            revision: fleet.revision + i,
            generated_at: fleet.generated_at + chrono::TimeDelta::seconds(30 * i as i64),
            providers: vec![provider],
            ..protocol::FleetDelta::default()
        })));
    }
    select_openai_eu_west(&mut app);
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("1e300"), "{screen}");
}

/// The small fleet from a lab at ×10, seen 3 s (real) after it arrived: the lab's clock reads
/// 14:03:30, the wall 14:03:03.
fn lab_at_x10(width: u16, height: u16) -> App {
    let now = Instant::now();
    let mut app = lab_app(width, height, now);
    app.update(source(SourceEvent::Identity(WhoAmI {
        name: "alice".into(),
        role: Role::Admin,
    })));
    let mut fleet = small_fleet();
    fleet.lab.as_mut().unwrap().speed = 10.0;
    app.update(source(SourceEvent::Snapshot(fleet)));
    app.update(Msg::Tick {
        now: now + Duration::from_secs(3),
        wall: Utc.with_ymd_and_hms(2026, 11, 22, 14, 3, 3).unwrap(),
    });
    app
}

fn status_bar(screen: &str) -> &str {
    screen.lines().last().unwrap_or_default()
}

/// Item 9: the status bar showed only the wall's time, next to deadlines on the lab's clock.
/// It shows the lab's clock under its name and speed, and the wall's labelled UTC.
#[test]
fn the_status_bar_shows_each_clock_labelled() {
    for (width, height) in [(80, 24), (160, 48)] {
        let mut app = lab_at_x10(width, height);
        select_openai_eu_west(&mut app);
        let screen = text(&render(&app, &dark()));
        let status = status_bar(&screen);
        assert!(status.contains("lab ×10 14:03:30"), "{status}");
        assert!(status.contains("14:03:03 UTC"), "{status}");
        insta::assert_snapshot!(format!("clocks_on_the_fleet_{width}x{height}"), screen);
    }
}

/// Item 9: what the console logs about a source (it went down) is on the source's clock,
/// like the source's notices around it, not on the wall's.
#[test]
fn console_news_about_a_source_is_on_its_clock() {
    let mut app = lab_at_x10(80, 24);
    app.update(source(SourceEvent::Down {
        error: "connection refused".into(),
        kind: DownKind::Unreachable,
        retry_in: Duration::from_secs(8),
    }));
    app.update(key(KeyCode::Char('3')));
    let screen = text(&render(&app, &dark()));
    // The timeline's row, not the banner's.
    let row = screen
        .lines()
        .find(|l| l.starts_with('│') && l.contains("connection refused"))
        .unwrap();
    assert!(row.contains("14:03:30 lab"), "{screen}");
    assert!(screen.contains("lab rows on lab ×10 time"), "{screen}");
}

/// Item 9: a command sent from this console is listed in the audit at its source's time,
/// among the source's entries.
#[test]
fn a_command_sent_is_audited_on_its_sources_clock() {
    let mut app = lab_at_x10(80, 24);
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Down));
    send_a_degraded_mode(&mut app);
    let screen = text(&render(&app, &dark()));
    let row = screen.lines().find(|l| l.contains("sending")).unwrap();
    assert!(row.contains("14:03:30"), "{screen}");
}

/// Item 9: the timeline cut long messages with no way to read them: the selected entry is
/// spelled out in full, wrapped, under the list.
#[test]
fn a_long_timeline_message_is_read_in_full() {
    let mut app = lab_at_x10(80, 24);
    let mut delta = protocol::FleetDelta {
        revision: 8,
        generated_at: small_fleet().generated_at + chrono::TimeDelta::seconds(30),
        ..protocol::FleetDelta::default()
    };
    delta.notices.push(protocol::Notice {
        at: delta.generated_at,
        text: "inject: openai@eu-west outage (503s, 92% errors) for 4m — the provider's \
               status page blames a bad deploy; expect fallbacks to us-east and a rise in \
               p95 there until the breaker closes again zebra42"
            .into(),
    });
    app.update(source(SourceEvent::Delta(delta)));
    app.update(key(KeyCode::Char('3')));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("zebra42"), "{screen}");
    assert!(
        screen.contains("14:03:30 lab ×10 · lab · warning"),
        "{screen}"
    );
    insta::assert_snapshot!("timeline_with_a_long_notice_80x24", screen);
}
