//! Builders shared by unit tests, integration tests and benchmarks, so that they all set
//! up the console the same way. Not part of the console itself.

use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use ratatui::layout::Rect;

use crate::api::FleetSnapshot;
use crate::app::{App, AppInit, ContextInfo, Msg};
use crate::sources::{SourceEvent, SourceMsg};

/// The name of the one source of [`lab_app`].
pub const SOURCE: &str = "lab";

/// The wall clock the fixtures were taken at: snapshots stay stable.
pub fn fixture_wall() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 14, 3, 0).unwrap()
}

/// A console on the lab context with one source and no data yet.
pub fn lab_app(width: u16, height: u16, now: Instant) -> App {
    App::new(AppInit {
        context: ContextInfo {
            name: "lab".into(),
            lab: true,
            read_only: false,
            production: false,
        },
        sources: vec![(SOURCE.into(), "http://127.0.0.1:7300".into())],
        problems: Vec::new(),
        theme_name: "dark".into(),
        themes: vec!["dark".into(), "light".into(), "high-contrast".into()],
        now,
        wall: fixture_wall(),
        area: Rect::new(0, 0, width, height),
    })
}

/// A report of the lab source, as its task would send it.
pub fn from_source(event: SourceEvent) -> Msg {
    Msg::Source(SourceMsg {
        source: SOURCE.into(),
        event,
    })
}

/// `fixtures/payloads/fleet-small.json`: two regions, an open breaker, a degraded mode.
pub fn small_fleet() -> FleetSnapshot {
    serde_json::from_str(include_str!("../fixtures/payloads/fleet-small.json"))
        .expect("fixture parses")
}

/// `fixtures/payloads/fleet-default.json`: the lab's default fleet as `GET /v1/fleet` served it.
pub fn default_fleet() -> FleetSnapshot {
    serde_json::from_str(include_str!("../fixtures/payloads/fleet-default.json"))
        .expect("fixture parses")
}
