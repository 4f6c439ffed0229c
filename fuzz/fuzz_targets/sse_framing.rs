//! The console's SSE parser (`sources::sse::parse_events`) on a byte stream cut into arbitrary
//! chunks. Input: two bytes that choose two cuts, then the stream.
//!
//! Properties: it never panics; both cuts give the same events; the events are those of the
//! HTML standard's framing (so no event spans a frame boundary, and none is lost or merged),
//! decoded as `decode_event` does; each event is delivered as soon as its frame is complete,
//! not when the connection ends; bytes that are not UTF-8 end the stream with an error as
//! soon as they arrive.
#![no_main]

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt, stream};
use libfuzzer_sys::fuzz_target;
use switchboard::sources::ClientError;
use switchboard::sources::sse::{StreamEvent, decode_event, parse_events};
use switchboard_fuzz::{RUNTIME, chunked, reference_frames};

type Item = Result<StreamEvent, ClientError>;

const IDLE: Duration = Duration::from_secs(3600);

/// Everything the parser yields for `chunks`; `then_open` keeps the connection open after the
/// last chunk (so only what the parser can deliver without seeing the end comes out).
fn parse(chunks: Vec<Vec<u8>>, then_open: bool) -> Vec<Item> {
    let bytes = stream::iter(chunks.into_iter().map(Ok::<_, Infallible>));
    let bytes: std::pin::Pin<Box<dyn Stream<Item = Result<Vec<u8>, Infallible>> + Send>> =
        if then_open {
            Box::pin(bytes.chain(stream::pending()))
        } else {
            Box::pin(bytes)
        };
    let _runtime = RUNTIME.enter();
    let mut events = Box::pin(parse_events(bytes, "http://fuzz".into(), IDLE));
    let mut context = Context::from_waker(std::task::Waker::noop());
    let mut items = Vec::new();
    while let Poll::Ready(Some(item)) = events.poll_next_unpin(&mut context) {
        items.push(item);
    }
    items
}

fn not_utf8() -> Item {
    Err(ClientError::Malformed {
        what: "event stream".into(),
        reason: "not UTF-8".into(),
    })
}

fuzz_target!(|input: &[u8]| {
    let [cut_a, cut_b, bytes @ ..] = input else {
        return;
    };
    let closed_a = parse(chunked(bytes, *cut_a), false);
    let closed_b = parse(chunked(bytes, *cut_b), false);
    assert_eq!(closed_a, closed_b, "two cuts of one stream disagree");

    // What the standard makes of the bytes up to the first that is not UTF-8.
    let (text, utf8_fault) = match std::str::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(error) => (
            std::str::from_utf8(&bytes[..error.valid_up_to()]).expect("the valid prefix"),
            // `None`: the bytes end in the middle of a character, which more bytes may finish.
            Some(error.error_len().is_some()),
        ),
    };
    let mut expected: Vec<Item> = reference_frames(text)
        .iter()
        .filter_map(|frame| decode_event(&frame.event, &frame.data).transpose())
        .collect();
    let mut open_expected = expected.clone();
    match utf8_fault {
        Some(true) => {
            expected.push(not_utf8());
            open_expected.push(not_utf8());
        }
        Some(false) => expected.push(not_utf8()),
        None => {}
    }
    assert_eq!(
        closed_a, expected,
        "events differ from the standard's framing"
    );
    let open_a = parse(chunked(bytes, *cut_a), true);
    assert_eq!(
        open_a, open_expected,
        "events held back until the stream ends"
    );
});
