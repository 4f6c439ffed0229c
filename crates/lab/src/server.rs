//! Serves protocol v1 from the simulation over HTTP (axum), and ticks the simulation.
//!
//! One mutex holds the simulation, the published feed, the event log and the roster. A tick
//! publishes a revision under it and broadcasts the event; a stream subscribes and reads
//! its replay under the same lock, so no event falls between replay and live.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, middleware};
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::audit::{AUDIT_KEPT, AuditLog};
use super::auth::{Caller, Credentials};
use super::escalations::EscalationQueue;
use super::feed::{EVENTS_KEPT, EventLog, Feed, LoggedEvent, NamedEvent, Resume};
use super::idempotency::{IdempotencyStore, KEYS_KEPT_PER_CALLER};
use super::problem::{ApiError, problem_json_errors, unknown_route};
use super::roster::Roster;
use super::scenario::Scenario;
use super::sim::Sim;
use super::topology::Topology;
use super::{BuiltinOperator, LabOptions};
use protocol::endpoints;
use protocol::{Liveness, Operator, OperatorsChanged, Resnapshot, WhoAmI, event_name};

/// Real time between ticks of the simulation.
const TICK: Duration = Duration::from_millis(250);
/// Fastest speed accepted: each tick then simulates this many quarter-seconds.
pub const MAX_SPEED: f64 = 1000.0;
const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// Events a slow stream may fall behind before it catches up from the event log.
const LIVE_BUFFER: usize = 256;
/// How long shutdown waits for the server and ticker before aborting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running lab: protocol v1 on `addr`, with the simulation ticking.
pub struct LabServer {
    pub addr: SocketAddr,
    pub operators: Vec<BuiltinOperator>,
    /// The scenario's narrative, for whoever runs the drill.
    briefing: Option<String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl LabServer {
    /// Loads the topology and scenario, binds `listen` (port 0 picks a free port), and
    /// spawns the HTTP server and the simulation ticker on the current tokio runtime.
    pub async fn start(opts: LabOptions, listen: SocketAddr) -> anyhow::Result<LabServer> {
        if !(opts.speed.is_finite() && opts.speed > 0.0 && opts.speed <= MAX_SPEED) {
            bail!(
                "speed must be above 0 and at most {MAX_SPEED}, not {}",
                opts.speed
            );
        }
        let topology = match &opts.topology {
            Some(path) => Topology::load(path)?,
            None => Topology::embedded_default(),
        };
        let scenario = match &opts.scenario {
            Some(file_or_name) => Some(Scenario::load(file_or_name, &topology)?),
            None => None,
        };
        let briefing = scenario
            .as_ref()
            .map(|s| s.narrative.clone())
            .filter(|n| !n.is_empty());
        let credentials = Arc::new(Credentials::new(opts.seed, &topology.operators));
        let epoch = DateTime::<Utc>::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
        let (stop, stopped) = watch::channel(false);
        let escalations = EscalationQueue::new(&topology, opts.seed, opts.escalations, epoch);
        let lab = Arc::new(LabShared::new(
            Sim::new(topology, scenario, opts.seed, epoch),
            escalations,
            opts.speed,
            stopped.clone(),
        ));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let app = router(AppState {
            lab: Arc::clone(&lab),
            credentials: Arc::clone(&credentials),
        });
        let mut server_stopped = stopped.clone();
        let server = tokio::spawn(async move {
            let shutdown = async move {
                // An error means the LabServer is gone: stop as well.
                let _ = server_stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(%error, "lab server stopped");
            }
        });
        let ticker = tokio::spawn(run_ticker(lab, stopped));
        Ok(LabServer {
            addr,
            operators: credentials.builtin_operators(),
            briefing,
            stop,
            tasks: vec![server, ticker],
        })
    }

    /// Base URL of the lab, e.g. `http://127.0.0.1:7300` (loopback when listening on all interfaces).
    pub fn url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        format!("http://{addr}")
    }

    pub fn token_for(&self, name: &str) -> Option<&str> {
        self.operators
            .iter()
            .find(|o| o.name == name)
            .map(|o| o.token.as_str())
    }

    /// The narrative of the scenario being played, if any.
    pub fn briefing(&self) -> Option<&str> {
        self.briefing.as_deref()
    }

    /// Stops the ticker and the server, ending open event streams.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for LabServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What every stream receives live.
#[derive(Clone, Debug)]
pub(super) enum LiveEvent {
    Delta(LoggedEvent),
    /// Serialized [`OperatorsChanged`].
    Operators(Arc<str>),
    /// Serialized [`protocol::commands::AuditEntry`].
    Audit(Arc<str>),
}

pub(super) struct LabShared {
    core: Mutex<LabCore>,
    pub(super) live: broadcast::Sender<LiveEvent>,
    speed: f64,
    stopped: watch::Receiver<bool>,
}

pub(super) struct LabCore {
    pub(super) sim: Sim,
    pub(super) feed: Feed,
    log: EventLog,
    roster: Roster,
    pub(super) audit: AuditLog,
    pub(super) idempotency: IdempotencyStore,
    pub(super) escalations: EscalationQueue,
}

impl LabShared {
    fn new(
        mut sim: Sim,
        escalations: EscalationQueue,
        speed: f64,
        stopped: watch::Receiver<bool>,
    ) -> LabShared {
        // Notices raised while starting (an inject at 0s) are in the first snapshot.
        sim.take_fresh_notices();
        let feed = Feed::new(
            sim.view(),
            sim.notices().to_vec(),
            sim.lab_info(speed),
            sim.now(),
        );
        let log = EventLog::new(EVENTS_KEPT, feed.revision());
        let roster = Roster::new(&sim.topology().operators);
        LabShared {
            core: Mutex::new(LabCore {
                sim,
                feed,
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

    /// Advances the simulation by one tick and publishes what changed.
    fn tick(&self) {
        let mut core = self.lock();
        core.sim.tick(TICK.as_secs_f64() * self.speed);
        // The queue sees the fleet as last published, as a console would.
        let (fleet, now) = (core.feed.snapshot(), core.sim.now());
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
        let delta = match core.feed.publish(view, notices, lab.clone(), at) {
            None if !before_delta.is_empty() => Some(core.feed.publish_unchanged(lab, at)),
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

    fn operators_changed(&self, core: &LabCore) -> Arc<str> {
        to_json(&OperatorsChanged {
            revision: core.feed.revision(),
            operators: core.roster.operators().to_vec(),
        })
        .into()
    }

    /// Opens an event stream for `name`, resuming after `last_seen` when given.
    fn open_stream(self: &Arc<Self>, name: &str, last_seen: Option<u64>) -> EventStream {
        let mut core = self.lock();
        if core.roster.stream_opened(name) {
            let _ = self
                .live
                .send(LiveEvent::Operators(self.operators_changed(&core)));
        }
        let live = self.live.subscribe();
        let head = core.log.head();
        let mut queue = VecDeque::new();
        if let Some(last_seen) = last_seen {
            queue.extend(resume_events(&core.log, last_seen));
        }
        queue.push_back(operators_event(&self.operators_changed(&core)));
        drop(core);
        EventStream {
            queue,
            live,
            last_sent: head,
            stopped: self.stopped.clone(),
            presence: Presence {
                lab: Arc::clone(self),
                name: name.to_string(),
            },
        }
    }
}

fn resume_events(log: &EventLog, last_seen: u64) -> Vec<Event> {
    match log.resume_after(last_seen) {
        Resume::Replay(events) => events.iter().flat_map(revision_events).collect(),
        Resume::Resnapshot { reason } => {
            let head = log.head();
            let data = to_json(&Resnapshot {
                revision: head,
                reason,
            });
            // The id moves the client's Last-Event-ID to the present.
            vec![
                Event::default()
                    .id(head.to_string())
                    .event(event_name::RESNAPSHOT)
                    .data(data),
            ]
        }
    }
}

/// The events of a revision: its other events without an id, then its delta with the id, so
/// that a client's Last-Event-ID moves past a revision only once it has all of it.
fn revision_events(event: &LoggedEvent) -> impl Iterator<Item = Event> + use<'_> {
    let delta = Event::default()
        .id(event.revision.to_string())
        .event(event_name::FLEET_DELTA)
        .data(&*event.data);
    event
        .before_delta
        .iter()
        .map(|named| Event::default().event(named.name).data(&*named.data))
        .chain(std::iter::once(delta))
}

fn operators_event(data: &str) -> Event {
    Event::default().event(event_name::OPERATORS).data(data)
}

/// Without an id: audit entries are not replayed on resume (`GET /v1/audit` has them).
fn audit_event(data: &str) -> Event {
    Event::default().event(event_name::AUDIT).data(data)
}

pub(super) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("protocol types serialize to JSON")
}

/// Keeps an operator online while their stream lives.
struct Presence {
    lab: Arc<LabShared>,
    name: String,
}

impl Drop for Presence {
    fn drop(&mut self) {
        let mut core = self.lab.lock();
        if core.roster.stream_closed(&self.name) {
            let _ = self
                .lab
                .live
                .send(LiveEvent::Operators(self.lab.operators_changed(&core)));
        }
    }
}

/// One client's `/v1/events` stream: first what it missed, then live events.
struct EventStream {
    queue: VecDeque<Event>,
    live: broadcast::Receiver<LiveEvent>,
    /// Revision of the last delta this stream has sent or skipped as known.
    last_sent: u64,
    stopped: watch::Receiver<bool>,
    /// Keeps the operator online; also the way back to the lab.
    presence: Presence,
}

impl EventStream {
    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        futures::stream::unfold(self, |mut stream| async move {
            let event = stream.next_event().await?;
            Some((Ok(event), stream))
        })
    }

    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            let received = tokio::select! {
                _ = self.stopped.wait_for(|stop| *stop) => return None,
                received = self.live.recv() => received,
            };
            match received {
                Ok(LiveEvent::Delta(event)) if event.revision > self.last_sent => {
                    self.last_sent = event.revision;
                    self.queue.extend(revision_events(&event));
                }
                Ok(LiveEvent::Delta(_)) => {}
                Ok(LiveEvent::Operators(data)) => return Some(operators_event(&data)),
                Ok(LiveEvent::Audit(data)) => return Some(audit_event(&data)),
                Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up(),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Fell behind the live channel: resubscribe and fill the gap from the event log.
    fn catch_up(&mut self) {
        let lab = Arc::clone(&self.presence.lab);
        let core = lab.lock();
        self.live = lab.live.subscribe();
        self.queue.extend(resume_events(&core.log, self.last_sent));
        self.last_sent = core.log.head();
    }
}

async fn run_ticker(lab: Arc<LabShared>, mut stopped: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(TICK);
    // After a stall, keep the cadence rather than bursting: simulated time follows ticks.
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        tokio::select! {
            _ = interval.tick() => lab.tick(),
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

#[derive(Clone)]
pub(super) struct AppState {
    pub(super) lab: Arc<LabShared>,
    credentials: Arc<Credentials>,
}

impl FromRef<AppState> for Arc<Credentials> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.credentials)
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route(endpoints::HEALTH.path, get(health))
        .route(endpoints::FLEET.path, get(fleet))
        .route(endpoints::EVENTS.path, get(events))
        .route(endpoints::WHOAMI.path, get(whoami))
        .route(endpoints::OPERATORS.path, get(operators))
        .merge(super::commands::routes())
        .merge(super::escalation_routes::routes())
        .fallback(unknown_route)
        .layer(middleware::from_fn(problem_json_errors))
        .with_state(state)
}

async fn health() -> Json<Liveness> {
    Json(Liveness {
        status: "ok".to_string(),
        protocol: 1,
    })
}

async fn fleet(_caller: Caller, State(state): State<AppState>) -> Response {
    let snapshot = state.lab.lock().feed.snapshot();
    // Serialized outside the lock: the snapshot is shared, not copied.
    let body = to_json(&*snapshot);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(caller.identity)
}

async fn operators(_caller: Caller, State(state): State<AppState>) -> Json<Vec<Operator>> {
    Json(state.lab.lock().roster.operators().to_vec())
}

async fn events(
    caller: Caller,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last_seen = last_event_id(&headers)?;
    let stream = state.lab.open_stream(&caller.identity.name, last_seen);
    Ok(Sse::new(stream.into_stream()).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| ApiError::bad_request("Last-Event-ID must be a revision number from this lab"))
}
