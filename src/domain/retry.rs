//! The paths a retry may take, judged for the operator choosing one: how often each already
//! failed for this task (from the task's lineage) and the room the live fleet leaves on it
//! (the provider's rate limit and its region's capacity), unknown when nobody knows.

use protocol::escalations::{AttemptOutcome, Escalation};
use protocol::{FleetSnapshot, Provider};

use super::preflight::{Verdict, rate_limit_of};

/// How the attempts of this task's step went on one path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathFailures {
    pub count: usize,
    /// Why they failed, each reason once, in the order first seen (`429`, `timeout`, ...).
    pub reasons: Vec<String>,
}

impl PathFailures {
    /// `✖ failed 2× (429, timeout)`, or nothing when the path never failed for the task.
    pub fn mark(&self) -> Option<String> {
        (self.count > 0).then(|| {
            format!(
                "✖ failed {}× ({})",
                self.count,
                if self.reasons.is_empty() {
                    "no reason given".to_string()
                } else {
                    self.reasons.join(", ")
                }
            )
        })
    }
}

/// The failed attempts of the task's escalated step on `provider`.
pub fn failures_on(escalation: &Escalation, provider: &str) -> PathFailures {
    let mut failures = PathFailures::default();
    let attempts = escalation
        .lineage
        .steps
        .iter()
        .filter(|step| step.name == escalation.summary.step)
        .flat_map(|step| &step.attempts)
        .filter(|a| a.provider.as_deref() == Some(provider) && a.outcome != AttemptOutcome::Ok);
    for attempt in attempts {
        failures.count += 1;
        let reason = match (&attempt.error, attempt.outcome) {
            (Some(error), _) => match error.status {
                Some(status) => status.to_string(),
                None => error.kind.word().to_string(),
            },
            (None, AttemptOutcome::Rejected) => {
                let refused: Vec<&str> = attempt
                    .verdicts
                    .iter()
                    .filter(|v| !v.passed)
                    .map(|v| v.validator.as_str())
                    .collect();
                format!("refused by {}", refused.join(", "))
            }
            (None, AttemptOutcome::Timeout) => "timeout".to_string(),
            (None, _) => "error".to_string(),
        };
        if !failures.reasons.contains(&reason) {
            failures.reasons.push(reason);
        }
    }
    failures
}

/// Spare room now, as a share of a limit, with its verdict; `None` when it cannot be known.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Room {
    pub share: f64,
    pub verdict: Verdict,
}

fn room(load: f64, limit: f64) -> Option<Room> {
    (limit > 0.0).then(|| {
        let share = 1.0 - load / limit;
        Room {
            share,
            verdict: Verdict::of(share),
        }
    })
}

/// Room under the provider's rate limit, as the preflight reads the limit; unknown while the
/// limit is neither published nor revealed by load.
pub fn rate_limit_room(provider: &Provider) -> Option<Room> {
    room(provider.load_rps, rate_limit_of(provider)?)
}

/// Room under the capacity of the provider's region; unknown when the fleet does not list it.
pub fn region_room(snapshot: &FleetSnapshot, provider: &Provider) -> Option<Room> {
    let region = snapshot.regions.iter().find(|r| r.id == provider.region)?;
    room(region.load_rps, region.capacity_rps)
}
