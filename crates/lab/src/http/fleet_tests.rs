use super::*;
use chrono::{DateTime, Utc};

use crate::audit::AuditRecord;
use crate::escalations::EscalationQueue;
use crate::sim::Sim;
use crate::topology::Topology;
use protocol::commands::AuditOutcome;
use tokio::sync::watch;

/// A lab without a server; it runs while the returned sender lives.
fn lab() -> (Arc<LabShared>, watch::Sender<bool>) {
    let topology = Topology::embedded_default();
    let epoch = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
    let escalations = EscalationQueue::new(&topology, 7, 0, epoch);
    let (stop, stopped) = watch::channel(false);
    let lab = LabShared::new(
        Sim::new(topology, None, 7, epoch),
        escalations,
        1.0,
        stopped,
    );
    (Arc::new(lab), stop)
}

fn audit_one(lab: &LabShared, n: usize) {
    let mut core = lab.lock();
    let record = AuditRecord {
        at: core.sim.now(),
        actor: "bob".into(),
        action: "drain".into(),
        target: "region ap-south".into(),
        reason: format!("drill {n}"),
        idempotency_key: None,
        outcome: AuditOutcome::Rejected,
        detail: None,
        preflight: None,
    };
    lab.audit(&mut core, record);
}

#[tokio::test]
async fn a_stream_that_falls_behind_the_live_channel_loses_no_audit_event() {
    let (lab, _running) = lab();
    let mut stream = EventStream::open(&lab, "victor", None);
    // Far more than the live channel holds, while the stream is not read.
    let audited = 600;
    for n in 0..audited {
        audit_one(&lab, n);
    }
    let mut seen = Vec::new();
    while seen.len() < audited {
        let event = tokio::time::timeout(Duration::from_secs(5), stream.next_event())
            .await
            .expect("an event in time")
            .expect("the stream stays open");
        let text = format!("{event:?}");
        assert!(
            !text.contains("event: resnapshot"),
            "the audit log holds them all"
        );
        if text.contains("event: audit") {
            seen.push(text);
        }
    }
    for (n, text) in seen.iter().enumerate() {
        assert!(
            text.contains(&format!("drill {n}\\\"")),
            "in order: {n} {text}"
        );
    }
}

#[tokio::test]
async fn a_steady_fleet_streams_little_but_a_clock_revision_every_two_seconds() {
    let (lab, _running) = lab();
    // Two simulated minutes to settle, then watch one more at 4 ticks a second.
    for _ in 0..480 {
        lab.tick(Duration::from_millis(250));
    }
    let mut stream = EventStream::open(&lab, "victor", None);
    let operators = stream.next_event().await.expect("the roster first");
    assert!(format!("{operators:?}").contains("event: operators"));
    for _ in 0..240 {
        lab.tick(Duration::from_millis(250));
    }
    let mut deltas = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(50), stream.next_event()).await
    {
        let text = format!("{event:?}");
        assert!(text.contains("event: fleet.delta"), "{text}");
        deltas.push(text);
    }
    let sections = ["regions", "providers", "gateways", "services", "operations"];
    let (news, clock): (Vec<_>, Vec<_>) = deltas
        .iter()
        .partition(|delta| sections.iter().any(|s| delta.contains(s)));
    // Was: 240 deltas of the whole fleet. Now a few moves out of their bands, and between
    // them a clock-only revision after every 8 quiet ticks.
    assert!(news.len() <= 6, "{news:#?}");
    assert!((25..=30).contains(&clock.len()), "{clock:#?}");
    assert!(clock.iter().all(|delta| delta.len() < 300), "{clock:#?}");
}
