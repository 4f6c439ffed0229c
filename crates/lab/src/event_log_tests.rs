use super::*;
use protocol::{Health, Latency, Region};

fn event(revision: u64) -> LoggedEvent {
    LoggedEvent {
        revision,
        data: Arc::from(format!("{{\"revision\":{revision}}}")),
        before_delta: Arc::new([]),
    }
}

fn revisions(resume: Resume) -> Vec<u64> {
    match resume {
        Resume::Replay(events) => events.iter().map(|e| e.revision).collect(),
        Resume::Resnapshot { reason } => panic!("unexpected resnapshot: {reason}"),
    }
}

#[test]
fn replays_exactly_the_events_after_the_revision_seen() {
    // Room for four events of the same size.
    let mut log = EventLog::new(4 * event(2).size(), 1);
    assert_eq!(revisions(log.resume_after(1)), Vec::<u64>::new());
    for revision in 2..=7 {
        log.push(event(revision));
    }
    // Kept: 4..=7, so a stream that saw 3 or later can resume.
    assert_eq!(revisions(log.resume_after(3)), [4, 5, 6, 7]);
    assert_eq!(revisions(log.resume_after(5)), [6, 7]);
    assert_eq!(revisions(log.resume_after(7)), Vec::<u64>::new());
    assert!(matches!(log.resume_after(2), Resume::Resnapshot { .. }));
    assert!(matches!(log.resume_after(0), Resume::Resnapshot { .. }));
    let Resume::Resnapshot { reason } = log.resume_after(8) else {
        panic!("a revision from the future cannot be resumed")
    };
    assert!(reason.contains("ahead"), "{reason}");
}

#[test]
fn the_log_stays_within_its_bytes_and_asks_for_a_resnapshot_beyond_them() {
    let small = |revision| LoggedEvent {
        data: Arc::from("x".repeat(100)),
        ..event(revision)
    };
    let mut log = EventLog::new(1000, 1);
    for revision in 2..=30 {
        log.push(small(revision));
        assert!(log.bytes() <= 1000, "{} bytes kept", log.bytes());
    }
    assert_eq!(log.bytes(), 1000);
    assert_eq!(
        revisions(log.resume_after(20)),
        (21..=30).collect::<Vec<_>>()
    );
    assert!(matches!(log.resume_after(19), Resume::Resnapshot { .. }));
    // An event larger than the bound is still kept alone: the newest can always be resumed.
    log.push(LoggedEvent {
        data: Arc::from("x".repeat(5000)),
        ..event(31)
    });
    assert_eq!(revisions(log.resume_after(30)), [31]);
    assert!(matches!(log.resume_after(29), Resume::Resnapshot { .. }));
}

fn region(id: &str, load: f64) -> Region {
    Region {
        id: id.to_string(),
        health: Health::Ok,
        latency: Latency::default(),
        error_rate: 0.0,
        rate_limited_rate: 0.0,
        capacity_rps: 100.0,
        load_rps: load,
        traffic_share: 0.5,
        drain: None,
        control_revision: 1,
    }
}

fn view(regions: Vec<Region>) -> FleetView {
    FleetView {
        regions,
        providers: Vec::new(),
        gateways: Vec::new(),
        services: Vec::new(),
        operations: Vec::new(),
        pools: Vec::new(),
        readiness: protocol::readiness::ReadinessTimes::default(),
        standby_shares: Default::default(),
    }
}

fn lab(elapsed: f64) -> LabInfo {
    LabInfo {
        seed: 1,
        speed: 1.0,
        scenario: None,
        sim_elapsed_s: elapsed,
    }
}

#[test]
fn deltas_carry_only_changed_objects_and_bump_the_revision() {
    let at = DateTime::<Utc>::UNIX_EPOCH;
    let mut published = PublishedFleet::new(
        view(vec![region("a", 1.0), region("b", 1.0)]),
        Vec::new(),
        lab(0.0),
        at,
    );
    assert_eq!(published.revision(), 1);
    let delta = published
        .publish(
            view(vec![region("a", 1.0), region("b", 50.0)]),
            Vec::new(),
            lab(1.0),
            at,
            Metrics::WithinBands,
        )
        .unwrap();
    assert_eq!(delta.revision, 2);
    assert_eq!(delta.regions, [region("b", 50.0)]);
    assert_eq!(published.snapshot().regions[1].load_rps, 50.0);
    // Nothing changed but the clock: no revision.
    assert_eq!(
        published.publish(
            view(vec![region("a", 1.0), region("b", 50.0)]),
            Vec::new(),
            lab(2.0),
            at,
            Metrics::Exact
        ),
        None
    );
    assert_eq!(published.revision(), 2);
    // A notice alone is news.
    let notice = Notice {
        at,
        text: "inject".into(),
    };
    let delta = published
        .publish(
            view(vec![region("a", 1.0), region("b", 50.0)]),
            vec![notice.clone()],
            lab(3.0),
            at,
            Metrics::WithinBands,
        )
        .unwrap();
    assert_eq!((delta.revision, delta.notices), (3, vec![notice.clone()]));
    assert_eq!(published.snapshot().notices, [notice]);
}

fn published_steps(
    sim: &mut crate::sim::Sim,
    published: &mut PublishedFleet,
    steps: usize,
) -> usize {
    (0..steps)
        .filter(|_| {
            sim.tick(0.25);
            let notices = sim.take_fresh_notices();
            published
                .publish(
                    sim.view(),
                    notices,
                    sim.lab_info(1.0),
                    sim.now(),
                    Metrics::WithinBands,
                )
                .is_some()
        })
        .count()
}

#[test]
fn a_steady_fleet_publishes_only_moves_beyond_the_metric_bands() {
    let topology = crate::topology::Topology::embedded_default();
    let mut sim = crate::sim::Sim::new(topology, None, 42, DateTime::<Utc>::UNIX_EPOCH);
    sim.take_fresh_notices();
    let mut published = PublishedFleet::new(sim.view(), Vec::new(), sim.lab_info(1.0), sim.now());
    // The first minute lets the fleet reach its steady state. In the next, the wobble of
    // every tick is no news (it was 240 revisions of the whole fleet); only the slow drift
    // of a metric out of its band is.
    published_steps(&mut sim, &mut published, 240);
    let revision = published.revision();
    let news = published_steps(&mut sim, &mut published, 240);
    assert!(news <= 6, "{news} revisions in a steady minute");
    assert_eq!(published.revision(), revision + news as u64);
}
