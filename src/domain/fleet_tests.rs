use super::*;
use protocol::BreakerState;

use crate::testing::small_fleet as snapshot;

fn live_source(now: Instant) -> SourceData {
    let mut source = SourceData::new("lab", "http://127.0.0.1:7300");
    source.apply_snapshot(snapshot(), now);
    source.connection = Connection::Live;
    source
}

/// [`live_source`] with every region ok and every breaker closed.
fn healthy_source(now: Instant) -> SourceData {
    let mut healthy = live_source(now);
    let snapshot = healthy.snapshot.as_mut().unwrap();
    snapshot
        .regions
        .iter_mut()
        .for_each(|r| r.health = Health::Ok);
    snapshot
        .providers
        .iter_mut()
        .for_each(|p| p.breaker.state = BreakerState::Closed);
    healthy
}

#[test]
fn a_delta_needs_a_snapshot_and_ignores_replays() {
    let now = Instant::now();
    let mut empty = SourceData::new("lab", "http://x");
    assert!(!empty.apply_delta(
        FleetDelta {
            revision: 1,
            ..FleetDelta::default()
        },
        now
    ));

    let mut source = live_source(now);
    let mut old = snapshot().regions[0].clone();
    old.health = Health::Down;
    let replay = FleetDelta {
        revision: 7,
        regions: vec![old],
        ..FleetDelta::default()
    };
    assert!(source.apply_delta(replay, now));
    assert_eq!(
        source.snapshot.as_ref().unwrap().regions[0].health,
        Health::Ok,
        "replay ignored"
    );
}

/// The lab publishes only news, and after 2 quiet seconds a revision with nothing but its
/// clock: that keeps the source fresh and its clock right, and changes nothing else.
#[test]
fn a_clock_only_delta_keeps_the_source_fresh_and_the_fleet_as_it_was() {
    let start = Instant::now();
    let mut source = live_source(start);
    let before = source.snapshot.clone().unwrap();
    let later = start + STALE_AFTER + Duration::from_secs(1);
    assert!(matches!(source.freshness(later), Freshness::Stale(_)));
    let generated_at = before.generated_at + chrono::TimeDelta::seconds(60);
    assert!(source.apply_delta(
        FleetDelta {
            revision: before.revision + 1,
            generated_at,
            ..FleetDelta::default()
        },
        later,
    ));
    assert_eq!(source.freshness(later), Freshness::Fresh);
    let after = source.snapshot.as_ref().unwrap();
    assert_eq!(after.generated_at, generated_at);
    assert_eq!(
        (&after.regions, &after.providers, &after.services),
        (&before.regions, &before.providers, &before.services)
    );
}

#[test]
fn new_objects_in_a_delta_are_added() {
    let now = Instant::now();
    let mut source = live_source(now);
    let mut region = snapshot().regions[0].clone();
    region.id = "ap-south".into();
    source.apply_delta(
        FleetDelta {
            revision: 8,
            regions: vec![region],
            ..FleetDelta::default()
        },
        now,
    );
    assert_eq!(source.snapshot.as_ref().unwrap().regions.len(), 3);
}

#[test]
fn history_is_bounded() {
    let now = Instant::now();
    let mut source = live_source(now);
    for revision in 8..(8 + HISTORY_LEN as u64 * 2) {
        let regions = snapshot().regions;
        source.apply_delta(
            FleetDelta {
                revision,
                regions,
                ..FleetDelta::default()
            },
            now,
        );
    }
    assert_eq!(
        source.history[&history_key_region("us-east")].len(),
        HISTORY_LEN
    );
}

#[test]
fn freshness_turns_stale_with_age_or_a_lost_link() {
    let now = Instant::now();
    let mut source = live_source(now);
    assert_eq!(source.freshness(now + STALE_AFTER), Freshness::Fresh);
    let later = now + STALE_AFTER + Duration::from_secs(1);
    assert_eq!(
        source.freshness(later),
        Freshness::Stale(STALE_AFTER + Duration::from_secs(1))
    );
    source.connection = Connection::Down {
        error: "refused".into(),
        kind: DownKind::Unreachable,
        retry_at: now,
    };
    assert_eq!(source.freshness(now), Freshness::Stale(Duration::ZERO));
    assert_eq!(
        seen_health(Health::Down, Freshness::Stale(Duration::ZERO)),
        Health::Unknown
    );
}

#[test]
fn summary_exit_codes() {
    let now = Instant::now();
    // The fixture has a degraded region and an open breaker: 1.
    let summary = FleetSummary::of(&[live_source(now)], now);
    assert_eq!((summary.regions_ok, summary.regions_degraded), (1, 1));
    assert_eq!(summary.providers_open_breakers, 1);
    assert_eq!(summary.exit_code(), 1);

    let healthy = healthy_source(now);
    assert_eq!(
        FleetSummary::of(std::slice::from_ref(&healthy), now).exit_code(),
        0
    );

    // A source with no data at all makes the verdict "down or unreachable".
    let blind = SourceData::new("other", "http://127.0.0.1:9");
    let summary = FleetSummary::of(&[healthy.clone(), blind], now);
    assert_eq!(summary.unreachable_sources, vec!["other".to_string()]);
    assert_eq!(summary.exit_code(), 2);

    // Stale data counts as unknown, never as ok.
    let summary = FleetSummary::of(&[healthy], now + STALE_AFTER * 2);
    assert_eq!(summary.regions_unknown, 2);
    assert_eq!(summary.exit_code(), 2);
}

/// A region two protocol v1 sources report counts once: the worse of what the live ones
/// say, what a stale one last said counting for nothing; a provider once.
#[test]
fn a_region_two_sources_report_counts_once() {
    let now = Instant::now();
    let (first, mut second) = (live_source(now), live_source(now));
    second.name = "lab-b".into();
    // The fixture: one region ok, one degraded, one breaker open.
    let summary = FleetSummary::of(&[first.clone(), second.clone()], now);
    assert_eq!((summary.regions_ok, summary.regions_degraded), (1, 1));
    assert_eq!(summary.providers_open_breakers, 1);
    let snapshot = second.snapshot.as_mut().unwrap();
    snapshot.regions[0].health = Health::Down;
    let summary = FleetSummary::of(&[first.clone(), second.clone()], now);
    assert_eq!(summary.regions_down, 1, "{summary:?}");
    assert_eq!(summary.regions_ok + summary.regions_degraded, 1);
    second.connection = Connection::Down {
        error: "refused".into(),
        kind: DownKind::Unreachable,
        retry_at: now,
    };
    let summary = FleetSummary::of(&[first, second], now);
    assert_eq!((summary.regions_ok, summary.regions_degraded), (1, 1));
    assert_eq!(summary.regions_unknown, 0);
    assert_eq!(summary.unreachable_sources, vec!["lab-b".to_string()]);
}

/// A region only a metrics source reads counts like the others: its health when the
/// source is live, unknown when it is not, once however many sources read it.
#[test]
fn a_region_only_a_metrics_source_reads_counts_in_the_verdict() {
    use crate::domain::measured::RegionFacts;
    let now = Instant::now();
    let healthy = healthy_source(now);
    let mut metrics = SourceData::metrics("metrics", "http://127.0.0.1:9090", STALE_AFTER);
    metrics.connection = Connection::Live;
    metrics.received_at = Some(now);
    let region = |id: &str, health| RegionFacts {
        id: id.into(),
        health,
        facts: Default::default(),
    };
    metrics.measured.as_mut().unwrap().regions = vec![
        region("us-east", Health::Down), // the lab's: counted there
        region("ap-east", Health::Down),
    ];
    let summary = FleetSummary::of(&[healthy.clone(), metrics.clone()], now);
    assert_eq!(
        (summary.regions_ok, summary.regions_down),
        (2, 1),
        "{summary:?}"
    );
    assert_eq!(summary.verdict(), "down or unreachable");
    let twice = FleetSummary::of(&[healthy.clone(), metrics.clone(), metrics.clone()], now);
    assert_eq!(twice.regions_down, 1, "one region, counted once");
    let later = now + STALE_AFTER * 3;
    let stale = FleetSummary::of(&[healthy, metrics], later);
    assert_eq!(stale.regions_down, 0);
    assert!(stale.regions_unknown >= 1, "{stale:?}");
}
