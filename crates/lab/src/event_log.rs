//! What the lab has published: the fleet as of its latest revision ([`PublishedFleet`]), and
//! the log of recent revisions that event streams resume from ([`EventLog`]). Pure, no I/O.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::deadband::settle_all;
use super::sim::{FleetView, NOTICES_KEPT};
use protocol::{FleetDelta, FleetSnapshot, LabInfo, Notice};

/// Serialized events kept for resuming streams. Bounded in bytes, not events: an event is as
/// large as what changed, from a few hundred bytes to the whole fleet.
pub const EVENT_LOG_BYTES: usize = 1024 * 1024;

/// How a publication treats measurements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metrics {
    /// Moves within their band ([`crate::deadband`]) keep the published value: the
    /// simulation's wobble is no news, so a steady fleet publishes nothing. For ticks.
    WithinBands,
    /// As they are: after a command, whose effect the caller reads at once (and compares
    /// with its preflight).
    Exact,
}

/// The fleet as last published, with its revision.
pub struct PublishedFleet {
    snapshot: Arc<FleetSnapshot>,
}

impl PublishedFleet {
    /// Starts at revision 1 with the fleet as it is.
    pub fn new(
        view: FleetView,
        notices: Vec<Notice>,
        lab: LabInfo,
        at: DateTime<Utc>,
    ) -> PublishedFleet {
        PublishedFleet {
            snapshot: Arc::new(snapshot_of(1, at, view, notices, lab)),
        }
    }

    pub fn snapshot(&self) -> Arc<FleetSnapshot> {
        Arc::clone(&self.snapshot)
    }

    pub fn revision(&self) -> u64 {
        self.snapshot.revision
    }

    /// Publishes the fleet as it is now. When any object changed or notices were raised,
    /// that is the next revision and its delta (the changed objects, whole) is returned.
    /// The lab clock alone is no change.
    pub fn publish(
        &mut self,
        mut view: FleetView,
        fresh_notices: Vec<Notice>,
        lab: LabInfo,
        at: DateTime<Utc>,
        metrics: Metrics,
    ) -> Option<FleetDelta> {
        let old = &self.snapshot;
        if metrics == Metrics::WithinBands {
            settle_all(&mut view.regions, &old.regions, |r| &r.id);
            settle_all(&mut view.providers, &old.providers, |p| &p.id);
            settle_all(&mut view.gateways, &old.gateways, |g| &g.id);
            settle_all(&mut view.services, &old.services, |s| &s.id);
        }
        let delta = FleetDelta {
            revision: old.revision + 1,
            generated_at: at,
            regions: changed(&old.regions, &view.regions, |r| &r.id),
            providers: changed(&old.providers, &view.providers, |p| &p.id),
            gateways: changed(&old.gateways, &view.gateways, |g| &g.id),
            services: changed(&old.services, &view.services, |s| &s.id),
            notices: fresh_notices,
            operations: changed(&old.operations, &view.operations, |o| &o.id),
            lab: Some(lab.clone()),
            pools: changed(&old.pools, &view.pools, |p| &p.id),
        };
        if delta.is_empty() {
            return None;
        }
        let mut notices = old.notices.clone();
        notices.extend(delta.notices.iter().cloned());
        let excess = notices.len().saturating_sub(NOTICES_KEPT);
        notices.drain(..excess);
        self.snapshot = Arc::new(snapshot_of(delta.revision, at, view, notices, lab));
        Some(delta)
    }

    /// The next revision, with no change to the fleet: for a step that changed something
    /// else (an escalation), so that every revision still has its delta.
    pub fn publish_unchanged(&mut self, lab: LabInfo, at: DateTime<Utc>) -> FleetDelta {
        let revision = self.snapshot.revision + 1;
        self.snapshot = Arc::new(FleetSnapshot {
            revision,
            generated_at: at,
            lab: Some(lab.clone()),
            ..FleetSnapshot::clone(&self.snapshot)
        });
        FleetDelta {
            revision,
            generated_at: at,
            lab: Some(lab),
            ..FleetDelta::default()
        }
    }
}

/// Objects of `new` that differ from, or are missing in, `old`.
fn changed<T: Clone + PartialEq>(old: &[T], new: &[T], id: impl Fn(&T) -> &String) -> Vec<T> {
    new.iter()
        .filter(|item| old.iter().find(|o| id(o) == id(item)) != Some(*item))
        .cloned()
        .collect()
}

/// A published revision: its `fleet.delta` event, serialized once for every stream, and the
/// other events of the same step.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedEvent {
    pub revision: u64,
    pub data: Arc<str>,
    /// Sent before the delta and without an `id`, so that a stream cut among them resumes
    /// the whole revision: escalation events, whose data carries their own revision.
    pub before_delta: Arc<[NamedEvent]>,
}

/// An event of a revision besides its delta.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedEvent {
    pub name: &'static str,
    pub data: Arc<str>,
}

/// What a stream that last saw some revision gets first.
#[derive(Debug, PartialEq)]
pub enum Resume {
    /// Every event after the revision seen, in order (possibly none).
    Replay(Vec<LoggedEvent>),
    /// The gap cannot be filled: fetch the snapshot again.
    Resnapshot { reason: String },
}

impl LoggedEvent {
    /// The bytes of its data, counted against the log's bound.
    pub fn size(&self) -> usize {
        self.data.len()
            + self
                .before_delta
                .iter()
                .map(|named| named.name.len() + named.data.len())
                .sum::<usize>()
    }
}

/// The most recent events, contiguous by revision, up to the current revision, within a
/// bound in bytes (the newest event is kept whatever its size).
pub struct EventLog {
    max_bytes: usize,
    bytes: usize,
    events: VecDeque<LoggedEvent>,
    head: u64,
}

impl EventLog {
    pub fn new(max_bytes: usize, head: u64) -> EventLog {
        EventLog {
            max_bytes,
            bytes: 0,
            events: VecDeque::new(),
            head,
        }
    }

    /// Appends the event of the next revision, forgetting the oldest beyond the bound.
    pub fn push(&mut self, event: LoggedEvent) {
        debug_assert_eq!(event.revision, self.head + 1, "revisions are contiguous");
        self.head = event.revision;
        self.bytes += event.size();
        self.events.push_back(event);
        while self.bytes > self.max_bytes && self.events.len() > 1 {
            let oldest = self.events.pop_front().expect("more than one event");
            self.bytes -= oldest.size();
        }
    }

    /// Bytes of the events kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn head(&self) -> u64 {
        self.head
    }

    pub fn resume_after(&self, last_seen: u64) -> Resume {
        if last_seen > self.head {
            return Resume::Resnapshot {
                reason: format!(
                    "Last-Event-ID {last_seen} is ahead of the current revision {}",
                    self.head
                ),
            };
        }
        let oldest_resumable = self.events.front().map_or(self.head, |e| e.revision - 1);
        if last_seen < oldest_resumable {
            return Resume::Resnapshot {
                reason: format!(
                    "Last-Event-ID {last_seen} is older than the events kept (from revision {})",
                    oldest_resumable + 1
                ),
            };
        }
        let skip = (last_seen - oldest_resumable) as usize;
        Resume::Replay(self.events.iter().skip(skip).cloned().collect())
    }
}

fn snapshot_of(
    revision: u64,
    at: DateTime<Utc>,
    view: FleetView,
    notices: Vec<Notice>,
    lab: LabInfo,
) -> FleetSnapshot {
    FleetSnapshot {
        revision,
        generated_at: at,
        regions: view.regions,
        providers: view.providers,
        gateways: view.gateways,
        services: view.services,
        notices,
        operations: view.operations,
        lab: Some(lab),
        pools: view.pools,
        readiness: Some(view.readiness),
        standby_shares: view.standby_shares,
    }
}

#[cfg(test)]
#[path = "event_log_tests.rs"]
mod tests;
