//! Which clock a time on screen is on. Each source's times (its events, deadlines, leases,
//! audit entries) are on that source's clock, and so are the console's own records of what
//! it did to the source: a lab runs simulated time at its speed, so its clock is not the
//! wall's. The status bar shows every clock under the label used here.

use chrono::{DateTime, Utc};

use crate::app::App;
use protocol::LabInfo;

/// Whether a source runs its own time: a lab faster or slower than real time. Every other
/// source's clock is the wall's, in UTC.
pub fn runs_own_time(app: &App, source: usize) -> bool {
    app.source(source).lab().is_some_and(LabInfo::runs_own_time)
}

/// The name of a source's clock: the source's name, with its speed when it runs its own
/// time (`lab ×10`).
pub fn label(app: &App, source: usize) -> String {
    let data = app.source(source);
    match data.lab() {
        Some(lab) if runs_own_time(app, source) => format!("{} ×{}", data.name, lab.speed),
        _ => data.name.clone(),
    }
}

/// A time of day as every view prints it.
pub fn time(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S").to_string()
}
