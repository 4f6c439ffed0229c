//! The words an escalated task is shown with wherever it appears (the inbox's rows, an open
//! task's head): its SLA countdown and who has it.

use chrono::{DateTime, TimeDelta, Utc};

use crate::app::SLA_WARNING;
use crate::format::age;
use protocol::escalations::EscalationSummary;
use protocol::sanitize::clean;

/// How close a task is to breaching its SLA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    Calm,
    /// Under [`SLA_WARNING`] left.
    Near,
    Breached,
}

/// The SLA countdown as shown: the time left, `! 4m12s` when near, `BREACH+3m` when past.
pub fn sla_text(deadline: DateTime<Utc>, now: DateTime<Utc>) -> (String, Urgency) {
    let left = deadline - now;
    if left <= TimeDelta::zero() {
        let over = (-left).to_std().unwrap_or_default();
        (format!("BREACH+{}", coarse(over)), Urgency::Breached)
    } else if left <= SLA_WARNING {
        (
            format!("! {}", age(left.to_std().unwrap_or_default())),
            Urgency::Near,
        )
    } else {
        (age(left.to_std().unwrap_or_default()), Urgency::Calm)
    }
}

/// A duration in its largest unit only: `40s`, `59m`, `3h`, `2d`.
fn coarse(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// Who has the task: its claim holder, or the operator it was handed to.
pub fn holder_text(summary: &EscalationSummary, me: Option<&str>) -> Option<String> {
    if let Some(lease) = &summary.lease {
        return Some(if Some(lease.holder.as_str()) == me {
            "claimed by you".to_string()
        } else {
            format!("claimed by {}", clean(&lease.holder))
        });
    }
    summary
        .assignee
        .as_ref()
        .map(|a| format!("handed to {}", clean(a)))
}
