//! Turns the bytes of `GET /v1/events` into protocol events.
//!
//! Liveness is judged on complete events, not bytes: an event or a keep-alive comment ended
//! by its blank line resets the idle timer, so a quiet fleet is not mistaken for a dead
//! connection, while a silent socket, or one that trickles a byte at a time without ever
//! finishing an event, is.

use std::fmt;
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::future::ready;
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;

use super::error::ClientError;
use super::{EscalationEvent, EscalationEventKind};
use protocol::commands::AuditEntry;
use protocol::escalations;
use protocol::{FleetDelta, OperatorsChanged, Resnapshot, event_name};

/// Largest event accepted; a server that sends more without a blank line is broken or hostile,
/// and the parser would otherwise buffer all of it.
pub const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// One event of `GET /v1/events`.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    /// `fleet.delta`; its `id:` is the delta's revision.
    Delta(FleetDelta),
    /// The server cannot resume from our revision: fetch `/v1/fleet` again.
    Resnapshot(Resnapshot),
    Operators(OperatorsChanged),
    /// `audit`: a new entry of the audit log.
    Audit(AuditEntry),
    /// `escalation.new|claimed|released|resolved`.
    Escalation(super::EscalationEvent),
}

/// Parses an SSE byte stream.
///
/// A payload that does not decode yields a `Malformed` error and parsing goes on; the caller
/// decides whether it can live with the gap. The stream yields one error and ends when no
/// complete event (or keep-alive) arrives for `idle`, when the transport fails or when the bytes are not an event
/// stream; it ends without an error when the server closes it. Unknown event names are
/// skipped, so newer servers can add events.
pub fn parse_events<S, B, E>(
    bytes: S,
    url: String,
    idle: Duration,
) -> impl Stream<Item = Result<StreamEvent, ClientError>> + Send + 'static
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    guard_bytes(bytes, idle)
        .eventsource()
        .scan(false, move |failed, item| {
            // After a stream-level error the parser state cannot be trusted: stop there.
            let next = if *failed {
                None
            } else {
                match item {
                    Ok(event) => Some(decode(&event)),
                    Err(error) => {
                        *failed = true;
                        Some(Err(stream_error(error, &url, idle)))
                    }
                }
            };
            ready(next)
        })
        .filter_map(|decoded| ready(decoded.transpose()))
}

fn decode(event: &Event) -> Result<Option<StreamEvent>, ClientError> {
    let decoded = match event.event.as_str() {
        event_name::FLEET_DELTA => StreamEvent::Delta(payload(event)?),
        event_name::RESNAPSHOT => StreamEvent::Resnapshot(payload(event)?),
        event_name::OPERATORS => StreamEvent::Operators(payload(event)?),
        event_name::AUDIT => StreamEvent::Audit(payload(event)?),
        escalations::EVENT_NEW => escalation(EscalationEventKind::New, event)?,
        escalations::EVENT_CLAIMED => escalation(EscalationEventKind::Claimed, event)?,
        escalations::EVENT_RELEASED => escalation(EscalationEventKind::Released, event)?,
        escalations::EVENT_RESOLVED => escalation(EscalationEventKind::Resolved, event)?,
        _ => return Ok(None),
    };
    Ok(Some(decoded))
}

fn escalation(kind: EscalationEventKind, event: &Event) -> Result<StreamEvent, ClientError> {
    Ok(StreamEvent::Escalation(EscalationEvent {
        kind,
        summary: payload(event)?,
    }))
}

fn payload<T: DeserializeOwned>(event: &Event) -> Result<T, ClientError> {
    serde_json::from_str(&event.data)
        .map_err(|error| ClientError::malformed(&format!("{} event", event.event), error))
}

fn stream_error(error: EventStreamError<ByteFault>, url: &str, idle: Duration) -> ClientError {
    match error {
        EventStreamError::Transport(ByteFault::Idle) => ClientError::StreamIdle {
            url: super::error::bounded(url),
            after: idle,
        },
        EventStreamError::Transport(ByteFault::Dropped(reason)) => {
            ClientError::dropped(url, &reason)
        }
        EventStreamError::Transport(oversized @ ByteFault::Oversized) => {
            ClientError::malformed("event stream", oversized)
        }
        EventStreamError::Utf8(_) => ClientError::malformed("event stream", "not UTF-8"),
        EventStreamError::Parser(error) => ClientError::malformed("event stream", error),
    }
}

/// Why the bytes under the parser stopped.
#[derive(Debug)]
enum ByteFault {
    Idle,
    Oversized,
    Dropped(String),
}

impl fmt::Display for ByteFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ByteFault::Idle => f.write_str("no complete event within the idle timeout"),
            ByteFault::Oversized => write!(f, "event larger than {MAX_EVENT_BYTES} bytes"),
            ByteFault::Dropped(reason) => f.write_str(reason),
        }
    }
}

/// Passes the bytes through, ending with a fault when no event completes within `idle` or
/// one event grows too big.
fn guard_bytes<S, B, E>(bytes: S, idle: Duration) -> impl Stream<Item = Result<B, ByteFault>> + Send
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    let deadline = tokio::time::Instant::now() + idle;
    let start = Some((Box::pin(bytes), EventSize::default(), deadline));
    futures::stream::unfold(start, move |state| async move {
        let (mut bytes, mut size, deadline) = state?;
        match tokio::time::timeout_at(deadline, bytes.next()).await {
            Err(_) => Some((Err(ByteFault::Idle), None)),
            Ok(None) => None,
            Ok(Some(Err(error))) => Some((Err(ByteFault::Dropped(error.to_string())), None)),
            Ok(Some(Ok(chunk))) => {
                let ended = size.events_ended;
                if size.feed(chunk.as_ref()) > MAX_EVENT_BYTES {
                    return Some((Err(ByteFault::Oversized), None));
                }
                let deadline = if size.events_ended > ended {
                    tokio::time::Instant::now() + idle
                } else {
                    deadline
                };
                Some((Ok(chunk), Some((bytes, size, deadline))))
            }
        }
    })
}

/// Counts the bytes of the event being received, i.e. since the last blank line, and the
/// events (keep-alive comments included) that a blank line ended.
#[derive(Default)]
struct EventSize {
    bytes: usize,
    events_ended: u64,
    line_len: usize,
    last: u8,
}

impl EventSize {
    /// Accounts for `chunk` and returns the size of the event still open after it.
    fn feed(&mut self, chunk: &[u8]) -> usize {
        for &byte in chunk {
            match byte {
                // The LF of a CRLF pair ends nothing new.
                b'\n' if self.last == b'\r' => {}
                b'\n' | b'\r' => {
                    if self.line_len == 0 {
                        // Blank lines with nothing before them end no event.
                        if self.bytes > 0 {
                            self.events_ended += 1;
                        }
                        self.bytes = 0;
                    }
                    self.line_len = 0;
                }
                _ => {
                    self.line_len += 1;
                    self.bytes += 1;
                }
            }
            self.last = byte;
        }
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use futures::stream;
    use protocol::FleetDelta;

    const IDLE: Duration = Duration::from_secs(30);

    fn delta_json(revision: u64) -> String {
        let delta = FleetDelta {
            revision,
            generated_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            ..FleetDelta::default()
        };
        serde_json::to_string(&delta).unwrap()
    }

    async fn parse_chunks(chunks: Vec<String>) -> Vec<Result<StreamEvent, ClientError>> {
        let bytes = stream::iter(chunks.into_iter().map(Ok::<_, String>));
        parse_events(bytes, "http://lab".into(), IDLE)
            .collect()
            .await
    }

    fn revision_of(item: &Result<StreamEvent, ClientError>) -> u64 {
        match item {
            Ok(StreamEvent::Delta(delta)) => delta.revision,
            other => panic!("expected a delta, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn events_split_across_chunks_are_reassembled() {
        let first = format!("id: 7\nevent: fleet.delta\ndata: {}\n\n", delta_json(7));
        let second = format!(
            "id: 8\r\nevent: fleet.delta\r\ndata: {}\r\n\r\n",
            delta_json(8)
        );
        let whole = format!(": keep-alive\n\n{first}{second}");
        let (head, tail) = whole.split_at(whole.len() / 2);
        let items = parse_chunks(vec![head.to_string(), tail.to_string()]).await;
        assert_eq!(
            items.iter().map(revision_of).collect::<Vec<_>>(),
            vec![7, 8]
        );
    }

    #[tokio::test]
    async fn resnapshot_and_operators_events_are_decoded() {
        let body = concat!(
            "event: resnapshot\ndata: {\"revision\":3,\"reason\":\"restarted\"}\n\n",
            "event: operators\ndata: {\"revision\":4,\"operators\":",
            "[{\"name\":\"alice\",\"role\":\"admin\",\"on_call\":true,\"online\":false}]}\n\n",
        );
        let items = parse_chunks(vec![body.to_string()]).await;
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0],
            Ok(StreamEvent::Resnapshot(Resnapshot {
                revision: 3,
                reason: "restarted".into()
            }))
        );
        match &items[1] {
            Ok(StreamEvent::Operators(changed)) => {
                assert_eq!(changed.revision, 4);
                assert_eq!(changed.operators[0].name, "alice");
            }
            other => panic!("expected operators, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn audit_events_are_decoded() {
        let body = concat!(
            "id: 12\nevent: audit\ndata: {\"id\":5,\"at\":\"2026-11-22T14:03:00Z\",",
            "\"actor\":\"bob\",\"action\":\"drain\",\"target\":\"us-east\",",
            "\"reason\":\"brownout\",\"idempotency_key\":\"k-1\",\"outcome\":\"accepted\"}\n\n",
        );
        let items = parse_chunks(vec![body.to_string()]).await;
        match items.as_slice() {
            [Ok(StreamEvent::Audit(entry))] => {
                assert_eq!((entry.id, entry.actor.as_str()), (5, "bob"));
                assert_eq!(entry.idempotency_key.as_deref(), Some("k-1"));
                assert_eq!(entry.outcome, protocol::commands::AuditOutcome::Accepted);
            }
            other => panic!("expected one audit entry, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn unknown_events_are_skipped() {
        let body = format!(
            "event: escalation.created\ndata: {{\"id\":\"e1\"}}\n\ndata: plain message\n\n\
             event: fleet.delta\ndata: {}\n\n",
            delta_json(9)
        );
        let items = parse_chunks(vec![body]).await;
        assert_eq!(items.iter().map(revision_of).collect::<Vec<_>>(), vec![9]);
    }

    #[tokio::test]
    async fn malformed_payload_is_reported_and_parsing_goes_on() {
        let body = format!(
            "event: fleet.delta\ndata: {{\"revision\": \"x\"}}\n\nevent: fleet.delta\ndata: {}\n\n",
            delta_json(10)
        );
        let items = parse_chunks(vec![body]).await;
        assert_eq!(items.len(), 2);
        match &items[0] {
            Err(ClientError::Malformed { what, .. }) => assert_eq!(what, "fleet.delta event"),
            other => panic!("expected malformed, got {other:?}"),
        }
        assert_eq!(revision_of(&items[1]), 10);
    }

    #[tokio::test]
    async fn transport_failure_ends_the_stream_with_dropped() {
        let chunks = vec![
            Ok(format!("event: fleet.delta\ndata: {}\n\n", delta_json(1))),
            Err("connection reset".to_string()),
            Ok(format!("event: fleet.delta\ndata: {}\n\n", delta_json(2))),
        ];
        let items: Vec<_> = parse_events(stream::iter(chunks), "http://lab".into(), IDLE)
            .collect()
            .await;
        assert_eq!(items.len(), 2);
        assert_eq!(revision_of(&items[0]), 1);
        assert_eq!(
            items[1].as_ref().unwrap_err().to_string(),
            "connection to http://lab dropped: connection reset"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn silence_longer_than_idle_is_a_drop_but_keep_alives_are_not() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        // Two keep-alives 20 s apart (40 s in all) keep a 30 s idle timer happy; then silence.
        let pings = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&pings);
        let bytes = stream::unfold((), move |()| {
            let counter = Arc::clone(&counter);
            async move {
                if counter.load(Ordering::SeqCst) == 2 {
                    futures::future::pending::<()>().await;
                }
                tokio::time::sleep(Duration::from_secs(20)).await;
                counter.fetch_add(1, Ordering::SeqCst);
                Some((Ok::<_, String>(": ping\n\n".to_string()), ()))
            }
        });
        let items: Vec<_> = parse_events(bytes, "http://lab".into(), IDLE)
            .collect()
            .await;
        assert_eq!(pings.load(Ordering::SeqCst), 2);
        assert_eq!(items.len(), 1);
        match &items[0] {
            Err(ClientError::StreamIdle { after, .. }) => assert_eq!(*after, IDLE),
            other => panic!("expected idle, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_trickling_without_a_complete_event_are_a_drop() {
        // One byte a second of an event that never ends: bytes keep coming, events do not.
        let bytes = stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Ok::<_, String>("x".to_string()), ()))
        });
        let start = tokio::time::Instant::now();
        let items: Vec<_> = parse_events(bytes, "http://lab".into(), IDLE)
            .collect()
            .await;
        assert!(
            matches!(items.as_slice(), [Err(ClientError::StreamIdle { .. })]),
            "{items:?}"
        );
        assert!(start.elapsed() <= IDLE + Duration::from_secs(1));
    }

    #[tokio::test]
    async fn an_event_without_end_is_cut_off() {
        let line = format!("data: {}\n", "x".repeat(1024 * 1024));
        let chunks = vec![line; 9];
        let items = parse_chunks(chunks).await;
        assert_eq!(items.len(), 1);
        let message = items[0].as_ref().unwrap_err().to_string();
        assert!(
            message.starts_with("malformed event stream: event larger than"),
            "{message}"
        );
    }

    #[test]
    fn event_size_resets_on_blank_lines_of_any_line_ending() {
        let mut size = EventSize::default();
        assert_eq!(size.feed(b"data: abc\n"), 9);
        assert_eq!(size.feed(b"data: de\r\n"), 17);
        assert_eq!(size.feed(b"\r\n"), 0);
        assert_eq!(size.feed(b"data: x\r"), 7);
        assert_eq!(size.feed(b"\r"), 0);
        assert_eq!(size.feed(b"id: 1\n\ndata"), 4);
    }
}
