//! Issue 11: a region that the lab and a Prometheus source both describe. The detail pane
//! shows each source's facts with the source's name and their age, says where the sources
//! disagree, and lists the alerts firing on it; the metrics source going down greys only its
//! own lines while the lab's stay live.

use std::collections::BTreeMap;

use super::*;
use switchboard::domain::measured::{AlertTarget, Fact, FactKind, FiringAlert, RegionFacts};
use switchboard::sources::SourceMsg;
use switchboard::sources::prometheus::FleetFacts;

const METRICS: &str = "metrics";

fn from_metrics(event: SourceEvent) -> Msg {
    Msg::Source(SourceMsg {
        source: METRICS.into(),
        event,
    })
}

/// The lab's small fleet (us-east ok) beside a Prometheus source that reads us-east failing,
/// 3 s before the console's clock, with an alert firing on it.
fn merged(width: u16, height: u16) -> App {
    let mut app = app(width, height, Instant::now());
    app.add_metrics_source(METRICS, "http://127.0.0.1:9090", Duration::from_secs(15));
    let at = fixture_wall() - chrono::TimeDelta::seconds(3);
    let fact = |value| Fact { value, at };
    let facts = BTreeMap::from([
        (FactKind::P95Ms, fact(1840.0)),
        (FactKind::ErrorRate, fact(0.62)),
        (FactKind::RateLimitedRate, fact(0.01)),
    ]);
    app.update(from_metrics(SourceEvent::Measured(Box::new(FleetFacts {
        source: METRICS.into(),
        regions: vec![RegionFacts {
            id: "us-east".into(),
            health: protocol::Health::Down,
            facts,
        }],
        providers: Vec::new(),
        services: Vec::new(),
        failed: Vec::new(),
        unplaced: Vec::new(),
    }))));
    let alert = FiringAlert {
        name: "RegionErrorRateHigh".into(),
        severity: Some("critical".into()),
        summary: Some("us-east fails 62% of requests".into()),
        started_at: fixture_wall() - chrono::TimeDelta::seconds(40),
        fingerprint: "f1".into(),
        target: AlertTarget {
            region: Some("us-east".into()),
            provider: None,
            service: None,
        },
        silenced_by: Vec::new(),
        labels: BTreeMap::new(),
    };
    app.update(from_metrics(SourceEvent::Alerts(Ok(vec![alert]))));
    app
}

/// Prometheus out of reach, as its worker says it.
fn metrics_down() -> Msg {
    from_metrics(SourceEvent::Down {
        error: "Prometheus: connection refused".into(),
        kind: DownKind::Unreachable,
        retry_in: Duration::from_secs(2),
    })
}

fn text(buffer: &Buffer) -> String {
    let width = buffer.area.width as usize;
    let symbols: Vec<&str> = buffer.content.iter().map(|c| c.symbol()).collect();
    symbols
        .chunks(width)
        .map(|row| row.concat())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The row of `screen` holding `needle`, and the buffer's style at its first character.
fn style_of(buffer: &Buffer, needle: &str) -> ratatui::style::Style {
    let screen = text(buffer);
    let (row, line) = screen
        .lines()
        .enumerate()
        .find(|(_, line)| line.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} on screen:\n{screen}"));
    let column = line[..line.find(needle).unwrap()].chars().count();
    buffer[(column as u16, row as u16)].style()
}

#[test]
fn each_source_keeps_its_facts_and_age_and_a_disagreement_shows() {
    let mut app = merged(120, 32);
    let buffer = show(&mut app);
    let screen = text(&buffer);
    assert!(screen.contains("source lab · live"), "{screen}");
    assert!(screen.contains("source metrics · read 3s ago"), "{screen}");
    assert!(
        screen.contains("p95 1840ms") || screen.contains("p95 1.8s"),
        "{screen}"
    );
    assert!(
        screen.contains("lab says ok: the sources disagree"),
        "{screen}"
    );
    assert!(
        screen.contains("! alert RegionErrorRateHigh [critical] on us-east"),
        "{screen}"
    );
    // The matrix marks the row, and its legend says what the mark means.
    assert!(screen.contains("│us-east ! "), "{screen}");
    assert!(screen.contains("! alert firing"), "{screen}");
    insta::assert_snapshot!("merged_region_120x32", screen);
}

#[test]
fn a_disagreement_without_an_alert_is_marked_in_the_matrix() {
    let mut app = merged(120, 32);
    app.update(from_metrics(SourceEvent::Alerts(Ok(Vec::new()))));
    let screen = text(&show(&mut app));
    assert!(screen.contains("│us-east ≠ "), "{screen}");
    assert!(screen.contains("≠ sources disagree"), "{screen}");
    // eu-west, which the metrics source does not read, is not marked.
    assert!(screen.contains("│eu-west "), "{screen}");
    assert!(!screen.contains("eu-west ≠"), "{screen}");
}

#[test]
fn the_metrics_source_down_greys_only_its_own_facts() {
    let mut app = merged(120, 32);
    app.update(metrics_down());
    let theme = dark();
    let buffer = render(&app, &theme);
    let screen = text(&buffer);
    assert!(screen.contains("source lab · live"), "{screen}");
    assert!(screen.contains("source metrics · DOWN"), "{screen}");
    assert!(
        !screen.contains("disagree"),
        "a stale source cannot disagree: {screen}"
    );
    assert_eq!(style_of(&buffer, "source metrics").fg, theme.stale.fg);
    assert_eq!(style_of(&buffer, "! alert").fg, theme.stale.fg);
    assert_ne!(
        style_of(&buffer, "● ok").fg,
        theme.stale.fg,
        "the lab stays live"
    );
    insta::assert_snapshot!("merged_region_metrics_down_120x32", screen);
}

#[test]
fn alerts_enter_the_timeline_and_leave_it_resolved() {
    let mut app = merged(120, 32);
    let fired: Vec<_> = app
        .timeline
        .iter()
        .filter(|e| e.source == METRICS && e.text.contains("RegionErrorRateHigh"))
        .collect();
    assert_eq!(fired.len(), 1, "{:?}", app.timeline);
    assert_eq!(fired[0].at, fixture_wall() - chrono::TimeDelta::seconds(40));
    // The same alert read again is no news.
    let again = app.source(1).measured.clone().unwrap().alerts;
    app.update(from_metrics(SourceEvent::Alerts(Ok(again))));
    app.update(from_metrics(SourceEvent::Alerts(Ok(Vec::new()))));
    let texts: Vec<&str> = app
        .timeline
        .iter()
        .filter(|e| e.source == METRICS)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(
        texts,
        vec![
            "alert RegionErrorRateHigh [critical] on us-east: us-east fails 62% of requests",
            "✓ resolved: alert RegionErrorRateHigh [critical] on us-east: us-east fails 62% of requests",
        ]
    );
    // Alertmanager out of reach is said once; the last alerts are kept.
    for _ in 0..2 {
        app.update(from_metrics(SourceEvent::Alerts(Err(
            "Alertmanager: connection refused".into(),
        ))));
    }
    let said = app
        .timeline
        .iter()
        .filter(|e| e.text.contains("alerts not read"))
        .count();
    assert_eq!(said, 1);
}

#[test]
fn a_region_only_prometheus_reads_still_appears_with_what_it_read() {
    let mut app = merged(120, 32);
    let at = fixture_wall() - chrono::TimeDelta::seconds(3);
    let facts = BTreeMap::from([(FactKind::ErrorRate, Fact { value: 0.01, at })]);
    app.update(from_metrics(SourceEvent::Measured(Box::new(FleetFacts {
        source: METRICS.into(),
        regions: vec![RegionFacts {
            id: "ap-east".into(),
            health: protocol::Health::Ok,
            facts,
        }],
        providers: Vec::new(),
        services: Vec::new(),
        failed: Vec::new(),
        unplaced: Vec::new(),
    }))));
    let screen = text(&show(&mut app));
    let row = screen
        .lines()
        .find(|l| l.contains("ap-east"))
        .unwrap_or_else(|| panic!("ap-east on screen:\n{screen}"));
    assert!(row.contains("● ok"), "{row}");
    assert!(row.contains("1.0%"), "{row}");
    assert!(row.contains('—'), "facts not read are not zero: {row}");
    assert!(!row.contains("0ms"), "{row}");

    app.update(metrics_down());
    let theme = dark();
    let buffer = render(&app, &theme);
    assert_eq!(style_of(&buffer, "ap-east").fg, theme.stale.fg, "greyed");
    let screen = text(&buffer);
    let row = screen.lines().find(|l| l.contains("ap-east")).unwrap();
    assert!(row.contains("unkn"), "no longer claimed ok: {row}");
}

/// A region only Prometheus reads is a row like the others: selected, its detail shows what
/// the metrics source read, and says that no source here can act on it.
#[test]
fn a_region_only_prometheus_reads_can_be_selected_and_says_no_source_can_act_on_it() {
    let mut app = merged(120, 32);
    let at = fixture_wall() - chrono::TimeDelta::seconds(3);
    let facts = BTreeMap::from([(FactKind::ErrorRate, Fact { value: 0.31, at })]);
    app.update(from_metrics(SourceEvent::Measured(Box::new(FleetFacts {
        source: METRICS.into(),
        regions: vec![RegionFacts {
            id: "ap-east".into(),
            health: protocol::Health::Down,
            facts,
        }],
        providers: Vec::new(),
        services: Vec::new(),
        failed: Vec::new(),
        unplaced: Vec::new(),
    }))));
    // Below the lab's two regions.
    app.update(key(KeyCode::Char('G')));
    assert_eq!(app.selection.fleet_row, 2);
    let theme = dark();
    let buffer = render(&app, &theme);
    assert_eq!(
        style_of(&buffer, "ap-east").bg,
        theme.selection.bg,
        "the row is selected"
    );
    let screen = text(&buffer);
    assert!(screen.contains("errors 31%"), "{screen}");
    assert!(
        screen.contains("only Prometheus (metrics) reads ap-east: no source here can act on it"),
        "{screen}"
    );
    // A command on it is refused with the reason, shown.
    app.update(key(KeyCode::Char('d')));
    assert_eq!(
        app.flash.as_ref().map(|f| f.text.as_str()),
        Some("only Prometheus (metrics) reads ap-east: no source here can drain it")
    );
    // The palette lists what cannot be done on it with why, as for a gateway's targets.
    app.update(key(KeyCode::Char(':')));
    for c in "drain".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    let screen = text(&render(&app, &theme));
    let drain = screen
        .lines()
        .find(|l| l.contains("│drain "))
        .expect(&screen);
    assert!(
        drain.contains("only Prometheus (metrics) reads ap-e"),
        "{screen}"
    );
    // Typed there, the same.
    for c in " ap-east 30m".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    app.update(key(KeyCode::Enter));
    assert_eq!(
        app.flash.as_ref().map(|f| f.text.as_str()),
        Some("only Prometheus (metrics) reads ap-east: no source here can drain it")
    );
}

/// Alerts whose labels name a service show in the services view as regions and providers
/// show them in the fleet: the service marked `!`, the alert in its detail with its source,
/// and `s` silences it from there.
#[test]
fn an_alert_matched_to_a_service_marks_it_and_shows_in_its_detail() {
    let mut app = switchboard::testing::alerting_app(120, 32, Instant::now());
    // The metrics source live (it has read its facts), its alert on risk-scorer.
    app.update(switchboard::testing::from_metrics(SourceEvent::Measured(
        Box::new(FleetFacts {
            source: METRICS.into(),
            regions: Vec::new(),
            providers: Vec::new(),
            services: Vec::new(),
            failed: Vec::new(),
            unplaced: Vec::new(),
        }),
    )));
    let mut alert = switchboard::testing::firing_alert("s1", "us-east", None);
    alert.name = "ScorerQueueBacklog".into();
    alert
        .labels
        .insert("alertname".into(), "ScorerQueueBacklog".into());
    alert.labels.insert("service".into(), "risk-scorer".into());
    alert.target.service = Some("risk-scorer".into());
    app.update(switchboard::testing::from_metrics(SourceEvent::Alerts(Ok(
        vec![alert],
    ))));
    app.update(key(KeyCode::Char('2')));
    let row = (app.visible.services.iter())
        .position(|&r| app.service_at(r).id == "risk-scorer")
        .unwrap();
    app.selection.service_row = row;
    let screen = text(&show(&mut app));
    let listed = screen
        .lines()
        .find(|l| l.contains("risk-scorer") && l.contains("active"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(listed.contains("risk-scorer !"), "{listed}");
    assert!(
        screen.contains("! alert ScorerQueueBacklog [critical] on us-east (service risk-scorer)"),
        "{screen}"
    );
    assert!(
        screen.contains("(source metrics,") && screen.contains("firing since 14:02:20)"),
        "{screen}"
    );
    let other = screen
        .lines()
        .find(|l| l.contains("credit-decision"))
        .unwrap();
    assert!(!other.contains(" !"), "{other}");
    app.update(key(KeyCode::Char('s')));
    assert!(app.overlays.silence_form().is_some());
}
