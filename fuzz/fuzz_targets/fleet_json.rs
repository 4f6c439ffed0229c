//! `GET /v1/fleet` as the console decodes it (`FleetSnapshot` from JSON), then what the console
//! does with a snapshot: applied to the console's state, every view drawn. Input: a byte that
//! picks the screen size, then the body.
//!
//! Properties: nothing panics; no drawn cell holds a control, bidi, format or separator
//! character, whatever the snapshot's text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::FleetSnapshot;
use switchboard::sources::SourceEvent;
use switchboard::testing::from_source;
use switchboard_fuzz::{console, draw_view};

fuzz_target!(|input: &[u8]| {
    let [shape, body @ ..] = input else {
        return;
    };
    let Ok(snapshot) = serde_json::from_slice::<FleetSnapshot>(body) else {
        return;
    };
    let mut app = console(*shape);
    app.update(from_source(SourceEvent::Snapshot(snapshot)));
    for view in 0..5 {
        draw_view(&mut app, view);
    }
});
