//! How the lines of a metrics source's read (Prometheus, LiteLLM) are introduced wherever they
//! show: the source's name and the read's age, or why its facts may no longer hold.

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::domain::fleet::{Connection, Freshness, SourceData};
use crate::format::age;

/// `source metrics · read 4s ago`, or why its facts may no longer hold.
pub fn provenance(app: &App, source: &SourceData, read_at: Option<DateTime<Utc>>) -> String {
    let read = read_at.map(|at| (app.wall - at).to_std().unwrap_or_default());
    let read = read.map_or("no facts".to_string(), |a| format!("read {} ago", age(a)));
    match (&source.connection, source.freshness(app.now)) {
        (_, Freshness::Fresh) => format!("source {} · {read}", source.name),
        (Connection::Down { error, .. }, _) => {
            format!("source {} · DOWN ({error}) · STALE: {read}", source.name)
        }
        _ => format!("source {} · STALE: {read}, may have changed", source.name),
    }
}
