//! Issue 15: a service's SLO as a Prometheus source reads it, in the services view's detail
//! pane: target and window, the burn of each alert window, the level (page, ticket) and the
//! budget left with the source's name and the read's age; the source down greys them. A
//! region only that source reads lists, in its pane, every service's SLO it reads.

use super::*;
use switchboard::domain::measured::{BurnThresholds, BurnWindow, Fact, RegionFacts, ServiceFacts};
use switchboard::sources::prometheus::FleetFacts;
use switchboard::testing::{METRICS, alerting_app, from_metrics};

/// The small fleet with risk-scorer's SLO (99.9% over 30d) read 4 s ago burning 20× over
/// 5 min and 16× over 1 h (a page), 3× over 6 h, its 30 min window not read, 40% of its budget
/// left; the services view with risk-scorer selected.
fn burning(width: u16, height: u16) -> App {
    let mut app = alerting_app(width, height, Instant::now());
    app.update(from_metrics(SourceEvent::Measured(Box::new(read(
        Vec::new(),
    )))));
    app.update(key(KeyCode::Char('2')));
    let row = (app.visible.services.iter())
        .position(|&r| app.service_at(r).id == "risk-scorer")
        .unwrap();
    app.selection.service_row = row;
    app
}

/// The metrics source's read: risk-scorer's SLO and the regions given.
fn read(regions: Vec<RegionFacts>) -> FleetFacts {
    let at = fixture_wall() - chrono::TimeDelta::seconds(4);
    let fact = |value| Fact { value, at };
    let risk_scorer = ServiceFacts {
        service: "risk-scorer".into(),
        slo: protocol::posture::Slo {
            target: 0.999,
            window_s: 30.0 * 86_400.0,
        },
        window: "30d".into(),
        burn: [
            (BurnWindow::FiveMinutes, fact(20.0)),
            (BurnWindow::OneHour, fact(16.0)),
            (BurnWindow::SixHours, fact(3.0)),
        ]
        .into(),
        budget_left: Some(fact(0.4)),
        thresholds: BurnThresholds::default(),
    };
    FleetFacts {
        source: METRICS.into(),
        regions,
        providers: Vec::new(),
        services: vec![risk_scorer],
        failed: Vec::new(),
        unplaced: Vec::new(),
    }
}

#[test]
fn a_services_slo_burn_shows_in_its_detail_with_its_level_and_age() {
    let mut app = burning(120, 32);
    let screen = text(&show(&mut app));
    // 40% of 30 days at 16 times the allowed rate: 0.4 × 720 h / 16 = 18 h.
    for said in [
        "SLO 99.9% over 30d · source metrics · read 4s ago",
        "burn 5m 20x  30m ?  1h 16x  6h 3.00x",
        "PAGE: 1h and 5m burn above 14.4x · budget 40% left, spent in 18h00m at the 1h burn",
    ] {
        assert!(screen.contains(said), "{said:?} missing:\n{screen}");
    }
    insta::assert_snapshot!("services_slo_burn_120x32", screen);
}

#[test]
fn the_metrics_source_down_greys_the_slo_and_says_so() {
    let mut app = burning(120, 32);
    app.update(from_metrics(SourceEvent::Down {
        error: "Prometheus: connection refused".into(),
        kind: DownKind::Unreachable,
        retry_in: Duration::from_secs(2),
    }));
    let buffer = show(&mut app);
    let screen = text(&buffer);
    assert!(
        screen.contains("SLO 99.9% over 30d · source metrics · DOWN (Prometheus: connection refused) · STALE: read 4s ago"),
        "{screen}"
    );
    let (x, y) = find(&buffer, "PAGE: 1h and 5m").unwrap();
    assert_eq!(
        buffer[(x, y)].fg,
        dark().stale.fg.unwrap(),
        "greyed when not live"
    );
}

#[test]
fn a_region_only_prometheus_reads_lists_the_slos_it_reads() {
    let mut app = alerting_app(120, 32, Instant::now());
    let region = RegionFacts {
        id: "ap-east".into(),
        health: protocol::Health::Ok,
        facts: Default::default(),
    };
    app.update(from_metrics(SourceEvent::Measured(Box::new(read(vec![
        region,
    ])))));
    // Below the lab's two regions.
    app.update(key(KeyCode::Char('G')));
    let screen = text(&show(&mut app));
    assert!(
        screen.contains("risk-scorer SLO 99.9% over 30d · source metrics · read 4s ago"),
        "{screen}"
    );
    assert!(
        screen.contains("PAGE: 1h and 5m burn above 14.4x"),
        "{screen}"
    );
}
