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
    let mut log = EventLog::new(4, 1);
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
            view(vec![region("a", 1.0), region("b", 2.0)]),
            Vec::new(),
            lab(1.0),
            at,
        )
        .unwrap();
    assert_eq!(delta.revision, 2);
    assert_eq!(delta.regions, [region("b", 2.0)]);
    assert_eq!(published.snapshot().regions[1].load_rps, 2.0);
    // Nothing changed but the clock: no revision.
    assert_eq!(
        published.publish(
            view(vec![region("a", 1.0), region("b", 2.0)]),
            Vec::new(),
            lab(2.0),
            at
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
            view(vec![region("a", 1.0), region("b", 2.0)]),
            vec![notice.clone()],
            lab(3.0),
            at,
        )
        .unwrap();
    assert_eq!((delta.revision, delta.notices), (3, vec![notice.clone()]));
    assert_eq!(published.snapshot().notices, [notice]);
}
