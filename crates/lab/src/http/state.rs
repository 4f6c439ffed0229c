//! The state every route shares: one mutex over the simulation, the published fleet, the
//! event log, the roster, the audit log, the idempotency keys, the escalation queue and the
//! runbook runs, and the broadcast channel that carries each change to the open event streams.
//!
//! A tick publishes a revision under the lock and broadcasts its event; a stream subscribes
//! and reads its replay under the same lock, so no event falls between replay and live.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::FromRef;
use serde::Serialize;
use tokio::sync::{Notify, broadcast, watch};

use super::auth::Credentials;
use super::pages::PageAhead;
use super::problem::ApiError;
use crate::approvals::ApprovalBook;
use crate::audit::{AUDIT_KEPT, AuditLog, AuditRecord};
use crate::escalations::{EscalationQueue, QueueEvent};
use crate::event_log::{
    EVENT_LOG_BYTES, EventLog, LoggedEvent, Metrics, NamedEvent, PublishedFleet,
};
use crate::exercise::{Exercise, Happened};
use crate::idempotency::{IdempotencyStore, KEYS_KEPT_PER_CALLER};
use crate::roster::Roster;
use crate::runbook_runs::RunBoard;
use crate::scenario::{InjectKind, InjectTarget};
use crate::sim::Sim;
use protocol::approvals::EVENT_APPROVAL;
use protocol::commands::{ApprovalRequest, AuditEntry, AuditOutcome};
use protocol::exercise::{EVENT_CHANGED, ExerciseChanged};
use protocol::runbook_runs::EVENT_RUN;
use protocol::{FleetDelta, OperatorsChanged};

/// Events a slow stream may fall behind before it catches up from the event log.
const LIVE_BUFFER: usize = 256;
/// Ticks (of 250 ms) without news after which a revision carrying only the lab clock is
/// published: clients judge a source stale after 5 s without a delta.
const HEARTBEAT_TICKS: u32 = 8;
/// `Retry-After` of an escalation route answered before the backlog is built.
const BACKLOG_RETRY_AFTER_S: u32 = 1;

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

/// Whether the escalation queue holds the synthetic backlog the lab was started with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backlog {
    /// Being built off the async threads; the queue in [`LabCore`] is an empty stand-in.
    Building {
        tasks: usize,
    },
    Ready,
    /// Its building panicked (logged): the escalation routes cannot answer truthfully.
    Failed,
}

/// The lab as the routes and the ticker share it.
pub(crate) struct LabShared {
    core: Mutex<LabCore>,
    pub(super) live: broadcast::Sender<LiveEvent>,
    speed: f64,
    /// Becomes true when the lab stops: open streams end.
    pub(super) stopped: watch::Receiver<bool>,
    backlog: watch::Sender<Backlog>,
    /// An escalation route asked for the backlog: time to build it.
    backlog_wanted: Notify,
    /// How long an escalation route waits for the backlog before answering `503`.
    backlog_wait: Duration,
    /// While a drill's `source-unreachable` inject lasts: what it cuts off. The fleet's
    /// routes answer `503` and open event streams end; the drill's own routes keep answering.
    cut_off: watch::Sender<Option<Arc<str>>>,
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
    pub(super) runs: RunBoard,
    /// Commands held for a second operator (two-person rule).
    pub(super) approvals: ApprovalBook,
    /// The list page its client will most likely ask for next.
    pub(super) page_ahead: Option<PageAhead>,
    /// The tabletop exercise being played, if the lab runs one.
    pub(super) exercise: Option<Exercise>,
    /// Ticks since the last revision was published.
    quiet_ticks: u32,
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
        let log = EventLog::new(EVENT_LOG_BYTES, published.revision());
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
                runs: RunBoard::default(),
                approvals: ApprovalBook::default(),
                page_ahead: None,
                exercise: None,
                quiet_ticks: 0,
            }),
            live: broadcast::channel(LIVE_BUFFER).0,
            speed,
            stopped,
            backlog: watch::Sender::new(Backlog::Ready),
            backlog_wanted: Notify::new(),
            backlog_wait: Duration::ZERO,
            cut_off: watch::Sender::new(None),
        }
    }

    /// The same lab whose queue gets a backlog of `tasks` later ([`LabShared::install_backlog`]):
    /// until then the escalation routes wait for it, at most `wait` each.
    pub(crate) fn with_backlog_building(mut self, tasks: usize, wait: Duration) -> LabShared {
        self.backlog.send_replace(Backlog::Building { tasks });
        self.backlog_wait = wait;
        self
    }

    /// The same lab playing `exercise`: the simulation runs only while the drill does.
    pub(crate) fn with_exercise(self, exercise: Exercise) -> LabShared {
        self.lock().exercise = Some(exercise);
        self
    }

    /// Puts the queue built with the backlog in place of the stand-in. Nothing has touched
    /// the stand-in: the escalation routes waited and the ticker starts after this.
    pub(crate) fn install_backlog(&self, queue: EscalationQueue) {
        self.lock().escalations = queue;
        self.backlog.send_replace(Backlog::Ready);
    }

    /// Waits until an escalation route asks for the backlog, or `at_most`.
    pub(crate) async fn backlog_wanted(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.backlog_wanted.notified()).await;
    }

    pub(crate) fn backlog_failed(&self) {
        self.backlog.send_replace(Backlog::Failed);
    }

    /// Waits until the queue holds the whole backlog, so that a list, a detail or a claim
    /// never answers from part of it; `503` with `Retry-After` beyond the wait.
    pub(super) async fn whole_queue(&self) -> Result<(), ApiError> {
        let mut backlog = self.backlog.subscribe();
        if matches!(*backlog.borrow(), Backlog::Building { .. }) {
            self.backlog_wanted.notify_one();
        }
        let built = backlog.wait_for(|b| !matches!(b, Backlog::Building { .. }));
        // In time or not, what counts is where the backlog is now.
        let _ = tokio::time::timeout(self.backlog_wait, built).await;
        let state = *backlog.borrow();
        match state {
            Backlog::Ready => Ok(()),
            Backlog::Building { tasks } => Err(ApiError::unavailable(
                format!(
                    "the lab is still building its backlog of {tasks} synthetic escalations: retry shortly"
                ),
                BACKLOG_RETRY_AFTER_S,
            )),
            Backlog::Failed => Err(ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "the lab could not build its backlog of synthetic escalations (see its log)",
            )),
        }
    }

    /// The state stays usable after a panic elsewhere: each change to it is a whole step.
    pub(super) fn lock(&self) -> MutexGuard<'_, LabCore> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Advances the simulation by `real` time (at the lab's speed, or the drill's while it
    /// runs; not at all while it is paused) and publishes what changed.
    pub(crate) fn tick(&self, real: Duration) {
        let mut core = self.lock();
        let simulated = match &core.exercise {
            Some(exercise) => exercise.sim_seconds(real.as_secs_f64()),
            None => real.as_secs_f64() * self.speed,
        };
        core.sim.tick(simulated);
        // The queue sees the fleet as last published, as a console would.
        let (fleet, now) = (core.published.snapshot(), core.sim.now());
        core.escalations.advance(&fleet, now);
        let expired = core.approvals.expire_due(now);
        let head = core.log.head();
        self.publish_with(&mut core, Metrics::WithinBands);
        for request in expired {
            let record = AuditRecord {
                at: now,
                actor: "system".into(),
                action: "approval expire".into(),
                target: format!("{} ({} {})", request.id, request.action, request.target),
                reason: "nobody decided in time".into(),
                idempotency_key: None,
                outcome: AuditOutcome::Reverted,
                detail: Some(format!(
                    "asked by {} at {}; the command was not carried out",
                    request.requested_by,
                    request.requested_at.format("%H:%M:%S UTC")
                )),
                preflight: None,
            };
            self.audit(&mut core, record);
        }
        if core.log.head() != head {
            core.quiet_ticks = 0;
        } else if core.quiet_ticks + 1 >= HEARTBEAT_TICKS {
            let lab = core.sim.lab_info(self.speed(&core));
            let heartbeat = core.published.publish_unchanged(lab, now);
            self.log_and_send(&mut core, &heartbeat, Arc::new([]));
            core.quiet_ticks = 0;
        } else {
            core.quiet_ticks += 1;
        }
        self.audit_automatic(&mut core);
    }

    /// Publishes the simulation's current state, its measurements exact, and the escalation
    /// queue's events as the next revision, if anything changed: after anything that changes
    /// the simulation or the queue (ticks leave measurements within their bands).
    pub(super) fn publish(&self, core: &mut LabCore) {
        self.publish_with(core, Metrics::Exact);
    }

    fn publish_with(&self, core: &mut LabCore, metrics: Metrics) {
        let fired = core.sim.take_fired_injects();
        self.serve_injects(core, &fired);
        let view = core.sim.view();
        let mut notices = core.sim.take_fresh_notices();
        notices.extend(core.escalations.take_notices());
        let lab = core.sim.lab_info(self.speed(core));
        let at = core.sim.now();
        let escalations = core.escalations.take_events();
        let runs = core.runs.take_events().into_iter();
        let approvals = core.approvals.take_events();
        let mut before_delta: Vec<NamedEvent> = escalations
            .iter()
            .map(|event| NamedEvent {
                name: event.name,
                data: to_json(&event.summary).into(),
            })
            .chain(runs.map(|run| NamedEvent {
                name: EVENT_RUN,
                data: to_json(&run).into(),
            }))
            .chain(approvals.iter().map(|request| NamedEvent {
                name: EVENT_APPROVAL,
                data: to_json(&request).into(),
            }))
            .collect();
        let delta = core
            .published
            .publish(view, notices, lab.clone(), at, metrics);
        if let Some(changed) = follow_exercise(core, &fired, &escalations, &approvals) {
            before_delta.push(NamedEvent {
                name: EVENT_CHANGED,
                data: to_json(&changed).into(),
            });
        }
        let before_delta: Arc<[NamedEvent]> = before_delta.into();
        let delta = match delta {
            None if !before_delta.is_empty() => Some(core.published.publish_unchanged(lab, at)),
            delta => delta,
        };
        if let Some(delta) = delta {
            self.log_and_send(core, &delta, before_delta);
        }
    }

    /// What the drill's injects do to the server rather than to the simulation: a burst of
    /// escalations joins the queue when it fires; a source cut off answers `503` while it lasts.
    fn serve_injects(&self, core: &mut LabCore, fired: &[usize]) {
        let at = core.sim.now();
        for &index in fired {
            let inject = &core.sim.injects()[index];
            if let (InjectKind::EscalationBurst, InjectTarget::Service(service)) =
                (inject.kind, &inject.target)
            {
                // The scenario's rules keep the count whole and within MAX_BURST.
                core.escalations
                    .burst(*service, inject.magnitude as usize, at);
            }
        }
        let elapsed = core.sim.elapsed_s();
        let cut_off = core
            .sim
            .injects()
            .iter()
            .find(|i| i.kind == InjectKind::SourceUnreachable && i.active_at(elapsed))
            .map(|i| Arc::<str>::from(i.target_label.as_str()));
        self.cut_off.send_if_modified(|now| {
            let changed = *now != cut_off;
            *now = cut_off;
            changed
        });
    }

    /// The source a drill's inject cuts off now, if one does.
    pub(super) fn cut_off(&self) -> Option<Arc<str>> {
        self.cut_off.borrow().clone()
    }

    /// Follows [`LabShared::cut_off`]: an event stream ends when its source is cut off.
    pub(super) fn watch_cut_off(&self) -> watch::Receiver<Option<Arc<str>>> {
        self.cut_off.subscribe()
    }

    /// Simulated seconds per real second: the drill's when one is played.
    fn speed(&self, core: &LabCore) -> f64 {
        core.exercise.as_ref().map_or(self.speed, Exercise::speed)
    }

    /// Logs a revision's events for resuming streams and sends them to the live ones.
    fn log_and_send(&self, core: &mut LabCore, delta: &FleetDelta, before: Arc<[NamedEvent]>) {
        let event = LoggedEvent {
            revision: delta.revision,
            data: to_json(delta).into(),
            before_delta: before,
        };
        core.log.push(event.clone());
        // No subscribers is fine: nobody is watching.
        let _ = self.live.send(LiveEvent::Delta(event));
    }

    /// Appends to the audit log and tells every event stream.
    pub(super) fn audit(&self, core: &mut LabCore, record: AuditRecord) -> AuditEntry {
        let entry = core.audit.append(record);
        if let Some(exercise) = core.exercise.as_mut() {
            let fleet = core.published.snapshot();
            exercise.audited(core.sim.elapsed_s(), &entry, &fleet);
        }
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

/// The drill follows what was just published: the injects that fired, the escalations that
/// opened or closed, the held commands asked or decided; answers the `exercise.changed`
/// news, if any.
fn follow_exercise(
    core: &mut LabCore,
    fired: &[usize],
    escalations: &[QueueEvent],
    approvals: &[ApprovalRequest],
) -> Option<ExerciseChanged> {
    let LabCore {
        exercise: Some(exercise),
        sim,
        published,
        ..
    } = core
    else {
        return None;
    };
    let fired: Vec<_> = fired.iter().map(|&i| (i, &sim.injects()[i])).collect();
    let fleet = published.snapshot();
    let happened = Happened {
        fired: &fired,
        escalations,
        approvals,
    };
    exercise.follow(sim.elapsed_s(), sim.now(), &fleet, happened);
    exercise.take_change()
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
