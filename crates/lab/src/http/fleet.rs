//! The fleet's read side over HTTP: `GET /v1/health`, `/v1/fleet`, `/v1/whoami`,
//! `/v1/operators`, and `/v1/events`, the server-sent event stream that first replays what a
//! client missed (from its `Last-Event-ID`) and then follows the lab live.
//!
//! An open stream keeps its operator online in the roster; closing it may take them offline,
//! and either change is an `operators` event for everyone.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use tokio::sync::{broadcast, watch};

use super::auth::Caller;
use super::problem::ApiError;
use super::state::{LabShared, LiveEvent, RouterState, to_json};
use crate::event_log::{EventLog, LoggedEvent, Resume};
use protocol::{Liveness, Operator, Resnapshot, WhoAmI, event_name};

const KEEP_ALIVE: Duration = Duration::from_secs(10);

pub(super) async fn health() -> Json<Liveness> {
    Json(Liveness {
        status: "ok".to_string(),
        protocol: 1,
    })
}

pub(super) async fn fleet(_caller: Caller, State(state): State<RouterState>) -> Response {
    let snapshot = state.lab.lock().published.snapshot();
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

pub(super) async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(caller.identity)
}

pub(super) async fn operators(
    _caller: Caller,
    State(state): State<RouterState>,
) -> Json<Vec<Operator>> {
    Json(state.lab.lock().roster.operators().to_vec())
}

pub(super) async fn events(
    caller: Caller,
    State(state): State<RouterState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last_seen = last_event_id(&headers)?;
    let stream = EventStream::open(&state.lab, &caller.identity.name, last_seen);
    Ok(Sse::new(stream.into_stream()).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let refusal = || ApiError::bad_request("Last-Event-ID must be a revision number from this lab");
    let text = value.to_str().map_err(|_| refusal())?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    super::revision_number(text).map(Some).ok_or_else(refusal)
}

fn resume_events(log: &EventLog, last_seen: u64) -> Vec<Event> {
    match log.resume_after(last_seen) {
        Resume::Replay(events) => events.iter().flat_map(revision_events).collect(),
        Resume::Resnapshot { reason } => vec![resnapshot_event(log.head(), reason)],
    }
}

/// Asks the client to fetch the snapshot again; the id moves its Last-Event-ID to `head`.
fn resnapshot_event(head: u64, reason: String) -> Event {
    let data = to_json(&Resnapshot {
        revision: head,
        reason,
    });
    Event::default()
        .id(head.to_string())
        .event(event_name::RESNAPSHOT)
        .data(data)
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

/// Without an id: audit entries are not replayed on resume (`GET /v1/audit` has them), only
/// when a live stream falls behind ([`EventStream::catch_up`]).
fn audit_event(data: &str) -> Event {
    Event::default().event(event_name::AUDIT).data(data)
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
    /// Id of the last audit entry this stream has sent or skipped as known.
    last_audit: u64,
    stopped: watch::Receiver<bool>,
    /// A drill's inject cutting the source off ends the stream.
    cut_off: watch::Receiver<Option<Arc<str>>>,
    /// Keeps the operator online; also the way back to the lab.
    presence: Presence,
}

impl EventStream {
    /// Opens an event stream for `name`, resuming after `last_seen` when given.
    fn open(lab: &Arc<LabShared>, name: &str, last_seen: Option<u64>) -> EventStream {
        let mut core = lab.lock();
        if core.roster.stream_opened(name) {
            let _ = lab
                .live
                .send(LiveEvent::Operators(lab.operators_changed(&core)));
        }
        let live = lab.live.subscribe();
        let head = core.log.head();
        let last_audit = core.audit.last_id();
        let mut queue = VecDeque::new();
        if let Some(last_seen) = last_seen {
            queue.extend(resume_events(&core.log, last_seen));
        }
        queue.push_back(operators_event(&lab.operators_changed(&core)));
        drop(core);
        EventStream {
            queue,
            live,
            last_sent: head,
            last_audit,
            stopped: lab.stopped.clone(),
            cut_off: lab.watch_cut_off(),
            presence: Presence {
                lab: Arc::clone(lab),
                name: name.to_string(),
            },
        }
    }

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
                _ = self.cut_off.wait_for(Option::is_some) => return None,
                received = self.live.recv() => received,
            };
            match received {
                Ok(LiveEvent::Delta(event)) if event.revision > self.last_sent => {
                    self.last_sent = event.revision;
                    self.queue.extend(revision_events(&event));
                }
                Ok(LiveEvent::Delta(_)) => {}
                Ok(LiveEvent::Operators(data)) => return Some(operators_event(&data)),
                Ok(LiveEvent::Audit { id, data }) if id > self.last_audit => {
                    self.last_audit = id;
                    return Some(audit_event(&data));
                }
                Ok(LiveEvent::Audit { .. }) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up(),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Fell behind the live channel, which dropped events of every kind: resubscribe, fill
    /// the gap from the event log and the audit log (or ask for a resnapshot when either no
    /// longer holds it), and send the roster as it is now.
    fn catch_up(&mut self) {
        let lab = Arc::clone(&self.presence.lab);
        let core = lab.lock();
        self.live = lab.live.subscribe();
        match core.audit.after(self.last_audit) {
            Some(entries) => {
                self.queue.extend(resume_events(&core.log, self.last_sent));
                let audit = entries.iter().map(|entry| audit_event(&to_json(entry)));
                self.queue.extend(audit);
            }
            None => self.queue.push_back(resnapshot_event(
                core.log.head(),
                "the stream fell behind further than the audit log reaches".into(),
            )),
        }
        self.queue
            .push_back(operators_event(&lab.operators_changed(&core)));
        self.last_sent = core.log.head();
        self.last_audit = core.audit.last_id();
    }
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;
