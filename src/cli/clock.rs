//! Which clock a source's times are on, for the CLI as for the console's views: a lab faster
//! or slower than real time runs its own (its notices, deadlines, breaker expiries and audit
//! entries are simulated times), every other source is on UTC. Times are printed with the
//! clock's name, and durations ("30m ago", "SLA in 4m") are measured on the source's clock.

use chrono::{DateTime, Utc};

use crate::sources::Client;
use protocol::FleetSnapshot;

/// A source's clock as read from one of its snapshots.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceClock {
    /// `UTC`, a lab's `lab ×10`, or `source time` when the source could not be asked.
    name: String,
    /// The source's time when it was asked.
    now: DateTime<Utc>,
}

impl SourceClock {
    /// The clock of the source `client` talks to, from its fleet snapshot. A source that
    /// cannot be asked gives a clock named for what is not known: the wall's time as `now`,
    /// its times labelled `source time`, never claimed to be UTC.
    pub async fn of(client: &Client) -> SourceClock {
        match client.fleet().await {
            Ok(snapshot) => SourceClock::of_snapshot(&snapshot),
            Err(_) => SourceClock {
                name: "source time".into(),
                now: Utc::now(),
            },
        }
    }

    /// The clock a snapshot's times are on; its `generated_at` is the source's now.
    pub fn of_snapshot(snapshot: &FleetSnapshot) -> SourceClock {
        match &snapshot.lab {
            Some(lab) if lab.runs_own_time() => SourceClock {
                name: format!("lab ×{}", lab.speed),
                now: snapshot.generated_at,
            },
            _ => SourceClock::utc(),
        }
    }

    /// The wall's clock, for sources whose times are real.
    pub fn utc() -> SourceClock {
        SourceClock {
            name: "UTC".into(),
            now: Utc::now(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The source's time when it was asked.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// A date and time with the clock's name: `2026-12-01 08:00:00 lab ×10`.
    pub fn stamp(&self, at: DateTime<Utc>) -> String {
        format!("{} {}", at.format("%Y-%m-%d %H:%M:%S"), self.name)
    }

    /// A time of day with the clock's name: `08:00:00 UTC`.
    pub fn time_of_day(&self, at: DateTime<Utc>) -> String {
        format!("{} {}", at.format("%H:%M:%S"), self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::LabInfo;

    fn snapshot(speed: Option<f64>) -> FleetSnapshot {
        let mut snapshot = crate::testing::small_fleet();
        snapshot.generated_at = "2026-12-01T08:00:00Z".parse().unwrap();
        snapshot.lab = speed.map(|speed| LabInfo {
            seed: 42,
            speed,
            scenario: None,
            sim_elapsed_s: 0.0,
        });
        snapshot
    }

    #[test]
    fn a_lab_at_its_own_speed_names_its_clock_and_its_now_is_its_snapshots() {
        let clock = SourceClock::of_snapshot(&snapshot(Some(10.0)));
        let at = "2026-12-01T08:20:52Z".parse().unwrap();
        assert_eq!(clock.stamp(at), "2026-12-01 08:20:52 lab ×10");
        assert_eq!(clock.time_of_day(at), "08:20:52 lab ×10");
        assert_eq!(clock.now(), snapshot(None).generated_at);
    }

    #[test]
    fn a_real_fleet_and_a_lab_at_real_speed_are_on_utc() {
        for speed in [None, Some(1.0)] {
            let clock = SourceClock::of_snapshot(&snapshot(speed));
            assert_eq!(clock.name(), "UTC");
            let at = "2026-12-01T08:20:52Z".parse().unwrap();
            assert_eq!(clock.time_of_day(at), "08:20:52 UTC");
        }
    }
}
