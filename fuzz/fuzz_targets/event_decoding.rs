//! The console's decoding of one stream event (`sources::sse::decode_event`: event name and
//! data into protocol types), then what the console does with it: the worker's report applied
//! to a console that holds a fleet, and every view drawn. Input: a byte that picks the event
//! name and the view, then the data.
//!
//! Properties: nothing panics; no drawn cell holds a control, bidi, format or separator
//! character, whatever the event's text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::sources::SourceEvent;
use switchboard::sources::sse::{StreamEvent, decode_event};
use switchboard::testing::from_source;
use switchboard_fuzz::{console, draw_view};

const NAMES: [&str; 10] = [
    protocol::event_name::FLEET_DELTA,
    protocol::event_name::RESNAPSHOT,
    protocol::event_name::OPERATORS,
    protocol::event_name::AUDIT,
    protocol::escalations::EVENT_NEW,
    protocol::escalations::EVENT_CLAIMED,
    protocol::escalations::EVENT_RELEASED,
    protocol::escalations::EVENT_RESOLVED,
    protocol::runbook_runs::EVENT_RUN,
    "message",
];

/// What the worker reports for an event (`sources::worker`); a resnapshot makes it fetch the
/// fleet again, which is the fleet_json target's business.
fn report(event: StreamEvent) -> Option<SourceEvent> {
    match event {
        StreamEvent::Delta(delta) => Some(SourceEvent::Delta(delta)),
        StreamEvent::Operators(changed) => Some(SourceEvent::Operators(changed.operators)),
        StreamEvent::Audit(entry) => Some(SourceEvent::Audit(entry)),
        StreamEvent::Escalation(event) => Some(SourceEvent::Escalation(event)),
        StreamEvent::RunbookRun(run) => Some(SourceEvent::RunbookRun(run)),
        StreamEvent::Resnapshot(resnapshot) => {
            let _ = protocol::sanitize::clean(&resnapshot.reason);
            None
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let [pick, data @ ..] = input else {
        return;
    };
    let Ok(data) = std::str::from_utf8(data) else {
        return;
    };
    let name = NAMES[usize::from(*pick) % NAMES.len()];
    let Ok(Some(event)) = decode_event(name, data) else {
        return;
    };
    let Some(report) = report(event) else {
        return;
    };
    let mut app = console(*pick / 16);
    app.update(from_source(report));
    for view in 0..5 {
        draw_view(&mut app, view);
    }
});
