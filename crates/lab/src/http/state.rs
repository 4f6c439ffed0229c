//! The state every route shares: one mutex over the simulation, the published fleet, the
//! event log, the roster, the audit log, the idempotency keys and the escalation queue, and
//! the broadcast channel that carries each change to the open event streams.
//!
//! A tick publishes a revision under the lock and broadcasts its event; a stream subscribes
//! and reads its replay under the same lock, so no event falls between replay and live.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::FromRef;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::auth::Credentials;
use crate::audit::{AUDIT_KEPT, AuditLog, AuditRecord};
use crate::escalations::EscalationQueue;
use crate::event_log::{EVENTS_KEPT, EventLog, LoggedEvent, NamedEvent, PublishedFleet};
use crate::idempotency::{IdempotencyStore, KEYS_KEPT_PER_CALLER};
use crate::roster::Roster;
use crate::sim::Sim;
use protocol::OperatorsChanged;
use protocol::commands::AuditEntry;

/// Events a slow stream may fall behind before it catches up from the event log.
const LIVE_BUFFER: usize = 256;

/// What every stream receives live.
#[derive(Clone, Debug)]
pub(super) enum LiveEvent {
    Delta(LoggedEvent),
    /// Serialized [`OperatorsChanged`].
    Operators(Arc<str>),
    /// A [`protocol::commands::AuditEntry`]: its id, and itself serialized.
    Audit {
        id: u64,
        data: Arc<str>,
    },
}

/// The lab as the routes and the ticker share it.
pub(crate) struct LabShared {
    core: Mutex<LabCore>,
    pub(super) live: broadcast::Sender<LiveEvent>,
    speed: f64,
    /// Becomes true when the lab stops: open streams end.
    pub(super) stopped: watch::Receiver<bool>,
}

/// Everything behind the lab's one lock.
pub(super) struct LabCore {
    pub(super) sim: Sim,
    pub(super) published: PublishedFleet,
    pub(super) log: EventLog,
    pub(super) roster: Roster,
    pub(super) audit: AuditLog,
    pub(super) idempotency: IdempotencyStore,
    pub(super) escalations: EscalationQueue,
}

impl LabShared {
    pub(crate) fn new(
        mut sim: Sim,
        escalations: EscalationQueue,
        speed: f64,
        stopped: watch::Receiver<bool>,
    ) -> LabShared {
        // Notices raised while starting (an inject at 0s) are in the first snapshot.
        sim.take_fresh_notices();
        let published = PublishedFleet::new(
            sim.view(),
            sim.notices().to_vec(),
            sim.lab_info(speed),
            sim.now(),
        );
        let log = EventLog::new(EVENTS_KEPT, published.revision());
        let roster = Roster::new(&sim.topology().operators);
        LabShared {
            core: Mutex::new(LabCore {
                sim,
                published,
                log,
                roster,
                audit: AuditLog::new(AUDIT_KEPT),
                idempotency: IdempotencyStore::new(KEYS_KEPT_PER_CALLER),
                escalations,
            }),
            live: broadcast::channel(LIVE_BUFFER).0,
            speed,
            stopped,
        }
    }

    /// The state stays usable after a panic elsewhere: each change to it is a whole step.
    pub(super) fn lock(&self) -> MutexGuard<'_, LabCore> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Advances the simulation by `real` time (at the lab's speed) and publishes what changed.
    pub(crate) fn tick(&self, real: Duration) {
        let mut core = self.lock();
        core.sim.tick(real.as_secs_f64() * self.speed);
        // The queue sees the fleet as last published, as a console would.
        let (fleet, now) = (core.published.snapshot(), core.sim.now());
        core.escalations.advance(&fleet, now);
        self.publish(&mut core);
        self.audit_automatic(&mut core);
    }

    /// Publishes the simulation's current state and the escalation queue's events as the
    /// next revision, if anything changed: after each tick, and after anything else that
    /// changes the simulation or the queue.
    pub(super) fn publish(&self, core: &mut LabCore) {
        let view = core.sim.view();
        let mut notices = core.sim.take_fresh_notices();
        notices.extend(core.escalations.take_notices());
        let lab = core.sim.lab_info(self.speed);
        let at = core.sim.now();
        let before_delta: Arc<[NamedEvent]> = core
            .escalations
            .take_events()
            .into_iter()
            .map(|event| NamedEvent {
                name: event.name,
                data: to_json(&event.summary).into(),
            })
            .collect();
        let delta = match core.published.publish(view, notices, lab.clone(), at) {
            None if !before_delta.is_empty() => Some(core.published.publish_unchanged(lab, at)),
            delta => delta,
        };
        if let Some(delta) = delta {
            let event = LoggedEvent {
                revision: delta.revision,
                data: to_json(&delta).into(),
                before_delta,
            };
            core.log.push(event.clone());
            // No subscribers is fine: nobody is watching.
            let _ = self.live.send(LiveEvent::Delta(event));
        }
    }

    /// Appends to the audit log and tells every event stream.
    pub(super) fn audit(&self, core: &mut LabCore, record: AuditRecord) -> AuditEntry {
        let entry = core.audit.append(record);
        // No subscribers is fine: nobody is watching.
        let _ = self.live.send(LiveEvent::Audit {
            id: entry.id,
            data: to_json(&entry).into(),
        });
        entry
    }

    /// Audits what the simulation did by itself: expiries, operations that ended.
    pub(super) fn audit_automatic(&self, core: &mut LabCore) {
        for record in core.sim.take_automatic_records() {
            self.audit(core, record);
        }
    }

    /// The roster as an `operators` event.
    pub(super) fn operators_changed(&self, core: &LabCore) -> Arc<str> {
        to_json(&OperatorsChanged {
            revision: core.published.revision(),
            operators: core.roster.operators().to_vec(),
        })
        .into()
    }
}

/// What axum hands each route: the shared lab and the tokens it accepts.
#[derive(Clone)]
pub(crate) struct RouterState {
    pub(super) lab: Arc<LabShared>,
    credentials: Arc<Credentials>,
}

impl RouterState {
    pub(crate) fn new(lab: Arc<LabShared>, credentials: Arc<Credentials>) -> RouterState {
        RouterState { lab, credentials }
    }
}

impl FromRef<RouterState> for Arc<Credentials> {
    fn from_ref(state: &RouterState) -> Self {
        Arc::clone(&state.credentials)
    }
}

pub(super) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("protocol types serialize to JSON")
}
