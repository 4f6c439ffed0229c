//! Turns the bytes of `GET /v1/events` into protocol events.
//!
//! Liveness is judged on complete events, not bytes: an event or a keep-alive comment ended
//! by its blank line resets the idle timer, so a quiet fleet is not mistaken for a dead
//! connection, while a silent socket, or one that trickles a byte at a time without ever
//! finishing an event, is.

use std::fmt;
use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
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
    /// `runbook.run`: a run started, changed or ended.
    RunbookRun(Box<protocol::runbook_runs::RunbookRun>),
    /// `exercise.changed`: the drill changed; read it again (what it shows depends on who asks).
    ExerciseChanged(protocol::exercise::ExerciseChanged),
    /// `approval`: a request of the two-person rule was made or changed (the whole request).
    Approval(Box<protocol::approvals::ApprovalRequest>),
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
                    Ok(event) => Some(decode_event(&event.event, &event.data)),
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

/// Decodes one event of the stream from its name and data, as [`parse_events`] does for each
/// event it frames: `Ok(None)` for an event name this console does not know, an error when
/// the data does not decode. Public so that the fuzz targets (`fuzz/`) reach it directly.
pub fn decode_event(name: &str, data: &str) -> Result<Option<StreamEvent>, ClientError> {
    let decoded = match name {
        event_name::FLEET_DELTA => StreamEvent::Delta(payload(name, data)?),
        event_name::RESNAPSHOT => StreamEvent::Resnapshot(payload(name, data)?),
        event_name::OPERATORS => StreamEvent::Operators(payload(name, data)?),
        event_name::AUDIT => StreamEvent::Audit(payload(name, data)?),
        escalations::EVENT_NEW => escalation(EscalationEventKind::New, name, data)?,
        escalations::EVENT_CLAIMED => escalation(EscalationEventKind::Claimed, name, data)?,
        escalations::EVENT_RELEASED => escalation(EscalationEventKind::Released, name, data)?,
        escalations::EVENT_RESOLVED => escalation(EscalationEventKind::Resolved, name, data)?,
        protocol::runbook_runs::EVENT_RUN => StreamEvent::RunbookRun(payload(name, data)?),
        protocol::exercise::EVENT_CHANGED => StreamEvent::ExerciseChanged(payload(name, data)?),
        protocol::approvals::EVENT_APPROVAL => StreamEvent::Approval(payload(name, data)?),
        _ => return Ok(None),
    };
    Ok(Some(decoded))
}

fn escalation(
    kind: EscalationEventKind,
    name: &str,
    data: &str,
) -> Result<StreamEvent, ClientError> {
    Ok(StreamEvent::Escalation(EscalationEvent {
        kind,
        summary: payload(name, data)?,
    }))
}

fn payload<T: DeserializeOwned>(name: &str, data: &str) -> Result<T, ClientError> {
    serde_json::from_str(data)
        .map_err(|error| ClientError::malformed(&format!("{name} event"), error))
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
        EventStreamError::Transport(fault @ (ByteFault::Oversized | ByteFault::NotUtf8)) => {
            ClientError::malformed("event stream", fault)
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
    NotUtf8,
    Dropped(String),
}

impl fmt::Display for ByteFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ByteFault::Idle => f.write_str("no complete event within the idle timeout"),
            ByteFault::Oversized => write!(f, "event larger than {MAX_EVENT_BYTES} bytes"),
            ByteFault::NotUtf8 => f.write_str("not UTF-8"),
            ByteFault::Dropped(reason) => f.write_str(reason),
        }
    }
}

/// Passes the bytes through with every line ending made LF, ending with a fault when no event
/// completes within `idle`, one event grows too big, or a byte is not UTF-8 (after the bytes
/// before it, so the events they complete are delivered first).
fn guard_bytes<S, B, E>(
    bytes: S,
    idle: Duration,
) -> impl Stream<Item = Result<Vec<u8>, ByteFault>> + Send
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    let start = Guard {
        bytes: Box::pin(bytes),
        size: EventSize::default(),
        text: TextCheck::default(),
        deadline: tokio::time::Instant::now() + idle,
        fault: None,
    };
    futures::stream::unfold(Some(start), move |state| async move {
        let mut guard = state?;
        if let Some(fault) = guard.fault.take() {
            return Some((Err(fault), None));
        }
        match tokio::time::timeout_at(guard.deadline, guard.bytes.next()).await {
            Err(_) => Some((Err(ByteFault::Idle), None)),
            // A character the stream cut off at its end is not UTF-8 either.
            Ok(None) if guard.text.partial.is_empty() => None,
            Ok(None) => Some((Err(ByteFault::NotUtf8), None)),
            Ok(Some(Err(error))) => Some((Err(ByteFault::Dropped(error.to_string())), None)),
            Ok(Some(Ok(chunk))) => {
                let ended = guard.size.events_ended;
                if guard.size.feed(chunk.as_ref()) > MAX_EVENT_BYTES {
                    return Some((Err(ByteFault::Oversized), None));
                }
                if guard.size.events_ended > ended {
                    guard.deadline = tokio::time::Instant::now() + idle;
                }
                let (text, utf8) = guard.text.feed(chunk.as_ref());
                if utf8.is_err() {
                    guard.fault = Some(ByteFault::NotUtf8);
                }
                Some((Ok(text), Some(guard)))
            }
        }
    })
}

/// The state of [`guard_bytes`] between chunks.
struct Guard<S> {
    bytes: std::pin::Pin<Box<S>>,
    size: EventSize,
    text: TextCheck,
    deadline: tokio::time::Instant,
    /// A fault found in the last chunk, reported after the bytes before it.
    fault: Option<ByteFault>,
}

/// What the bytes need remembered between chunks to reach the parser as whole UTF-8
/// characters with LF line endings and no byte order mark. The parser (eventsource-stream)
/// would otherwise hold a CR until the next byte (in case it is a CRLF's LF), buffer everything
/// after a byte that is not UTF-8 until the connection closes, and panic on a leading BOM
/// (it cuts the BOM's first byte of three).
#[derive(Default)]
struct TextCheck {
    /// The start of a character that the next chunk should finish.
    partial: Vec<u8>,
    started: bool,
    after_cr: bool,
}

impl TextCheck {
    /// The text of `chunk` for the parser; `Err` when a byte is not UTF-8, the text then
    /// being what came before it.
    fn feed(&mut self, chunk: &[u8]) -> (Vec<u8>, Result<(), ()>) {
        let mut bytes = std::mem::take(&mut self.partial);
        bytes.extend_from_slice(chunk);
        let utf8 = match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(()),
            Err(error) => {
                let rest = bytes.split_off(error.valid_up_to());
                match error.error_len() {
                    None => {
                        self.partial = rest;
                        Ok(())
                    }
                    Some(_) => Err(()),
                }
            }
        };
        let mut text = Vec::with_capacity(bytes.len() + 1);
        let mut bytes = bytes.as_slice();
        if !self.started && !bytes.is_empty() {
            self.started = true;
            bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
            // A blank line before any field is a no-op for the standard, and keeps a second
            // BOM (data, by then) away from the parser's BOM check.
            text.push(b'\n');
        }
        for &byte in bytes {
            match byte {
                b'\n' if self.after_cr => {}
                // A CR always ends a line: no value holds one.
                b'\r' => text.push(b'\n'),
                _ => text.push(byte),
            }
            self.after_cr = byte == b'\r';
        }
        (text, utf8)
    }
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

    /// What the parser delivers from `chunks` while the connection stays open after them.
    async fn parse_open(chunks: Vec<&'static [u8]>) -> Vec<Result<StreamEvent, ClientError>> {
        let bytes = stream::iter(chunks.into_iter().map(Ok::<_, String>)).chain(stream::pending());
        let mut events = std::pin::pin!(parse_events(bytes, "http://lab".into(), IDLE));
        let mut items = Vec::new();
        while let Ok(Some(item)) = tokio::time::timeout(IDLE / 2, events.next()).await {
            items.push(item);
        }
        items
    }

    fn resnapshot(revision: u64) -> Result<StreamEvent, ClientError> {
        Ok(StreamEvent::Resnapshot(Resnapshot {
            revision,
            reason: "r".into(),
        }))
    }

    /// Found by fuzz/ (sse_framing): the parser waited for the byte after a CR, in case it
    /// was the LF of a CRLF, so the last event of a stream with CR line endings was held
    /// until the next event (or lost when the stream ended).
    #[tokio::test(start_paused = true)]
    async fn an_event_ended_by_cr_line_endings_is_delivered_at_once() {
        let items = parse_open(vec![
            b"event: resnapshot\rdata: {\"revision\":3,\"reason\":\"r\"}\r",
            b"\r",
        ])
        .await;
        assert_eq!(items, vec![resnapshot(3)]);
        // A CRLF cut between its two bytes is still one line end.
        let items = parse_open(vec![
            b"event: resnapshot\r",
            b"\ndata: {\"revision\":4,\"reason\":\"r\"}\r\n\r",
            b"\n",
        ])
        .await;
        assert_eq!(items, vec![resnapshot(4)]);
    }

    /// Found by fuzz/ (sse_framing): a byte that is not UTF-8 was buffered with everything
    /// after it until the connection closed, so the stream went silent instead of failing.
    #[tokio::test(start_paused = true)]
    async fn bytes_that_are_not_utf8_end_the_stream_at_once() {
        let items = parse_open(vec![
            b"event: resnapshot\ndata: {\"revision\":5,\"reason\":\"r\"}\n\n\xff",
            b"event: resnapshot\ndata: {\"revision\":6,\"reason\":\"r\"}\n\n",
        ])
        .await;
        assert_eq!(
            items,
            vec![
                resnapshot(5),
                Err(ClientError::malformed("event stream", "not UTF-8"))
            ]
        );
        // A character cut between two chunks is not an error.
        let items = parse_open(vec![
            b"event: resnapshot\ndata: {\"revision\":7,\"reason\":\"\xc3",
            b"\xa9\"}\n\n",
        ])
        .await;
        assert_eq!(
            items,
            vec![Ok(StreamEvent::Resnapshot(Resnapshot {
                revision: 7,
                reason: "é".into(),
            }))]
        );
    }

    /// Found by fuzz/ (sse_framing): eventsource-stream cut one byte of the three of a
    /// leading byte order mark, and the worker panicked on the first chunk.
    #[tokio::test(start_paused = true)]
    async fn a_stream_that_starts_with_a_byte_order_mark_is_read() {
        let items = parse_open(vec![
            b"\xef\xbb\xbfevent: resnapshot\ndata: {\"revision\":8,\"reason\":\"r\"}\n\n",
        ])
        .await;
        assert_eq!(items, vec![resnapshot(8)]);
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
