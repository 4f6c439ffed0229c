//! Adaptive redundancy (issue 15): how long a standby takes to warm up or cool down between
//! cold, warm and hot, a role held for a while and then given back, and the shared pools a
//! service borrows replicas from. The lab simulates these times and the console's preflight
//! predicts with the same rule, so both live here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ReplicaRole;
use crate::commands::TimedControl;

/// How long each step between standby roles takes (a topology's `[readiness]` table).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReadinessTimes {
    /// Seconds for a cold standby to start, restore and follow the active: then it is warm.
    pub cold_to_warm_s: f64,
    /// Seconds for a warm standby to fill its caches and connections: then it is hot.
    pub warm_to_hot_s: f64,
    /// Seconds for one step down (hot to warm, warm to cold): stopping is quick.
    pub cool_step_s: f64,
}

impl Default for ReadinessTimes {
    fn default() -> Self {
        ReadinessTimes {
            cold_to_warm_s: 300.0,
            warm_to_hot_s: 45.0,
            cool_step_s: 10.0,
        }
    }
}

/// A standby role's place on the dial: cold 0, warm 1, hot 2; an active replica is none.
fn warmth(role: ReplicaRole) -> Option<u8> {
    match role {
        ReplicaRole::Active => None,
        ReplicaRole::ColdStandby => Some(0),
        ReplicaRole::WarmStandby => Some(1),
        ReplicaRole::HotStandby => Some(2),
    }
}

impl ReadinessTimes {
    /// Seconds to move a standby from `from` to `to`, step by step; `None` when either is
    /// active (promotion is another command).
    pub fn change_s(&self, from: ReplicaRole, to: ReplicaRole) -> Option<f64> {
        let (from, to) = (warmth(from)?, warmth(to)?);
        let seconds = if to > from {
            (from..to)
                .map(|step| match step {
                    0 => self.cold_to_warm_s,
                    _ => self.warm_to_hot_s,
                })
                .sum()
        } else {
            f64::from(from - to) * self.cool_step_s
        };
        Some(seconds)
    }
}

/// The standby role one step warmer (`warmer`) or cooler than `role`; `None` at either end.
pub fn next_role(role: ReplicaRole, warmer: bool) -> Option<ReplicaRole> {
    const DIAL: [ReplicaRole; 3] = [
        ReplicaRole::ColdStandby,
        ReplicaRole::WarmStandby,
        ReplicaRole::HotStandby,
    ];
    let at = usize::from(warmth(role)?);
    let next = if warmer {
        at.checked_add(1)
    } else {
        at.checked_sub(1)
    };
    next.and_then(|i| DIAL.get(i)).copied()
}

/// A standby word as operators type it: `hot`, `warm`, `cold`.
pub fn standby_word(role: ReplicaRole) -> &'static str {
    match role {
        ReplicaRole::Active => "active",
        ReplicaRole::HotStandby => "hot",
        ReplicaRole::WarmStandby => "warm",
        ReplicaRole::ColdStandby => "cold",
    }
}

/// The roles a standby can be set to, warmest first.
pub const STANDBY_ROLES: [ReplicaRole; 3] = [
    ReplicaRole::HotStandby,
    ReplicaRole::WarmStandby,
    ReplicaRole::ColdStandby,
];

/// The standby role a word names (`hot`, `warm`, `cold`).
pub fn standby_role(word: &str) -> Option<ReplicaRole> {
    STANDBY_ROLES
        .into_iter()
        .find(|role| standby_word(*role) == word)
}

/// A standby role set for a while: when the control expires, the replica goes back.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TimedRole {
    /// The role it had before, which it returns to.
    pub reverts_to: ReplicaRole,
    #[serde(flatten)]
    pub control: TimedControl,
}

/// A shared pool of replicas that services borrow from and give back (the lab's `[[pool]]`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Pool {
    pub id: String,
    /// Where its replicas run.
    pub region: String,
    /// Replicas in the pool, lent or not.
    pub size: u32,
    /// What one replica costs per hour when it runs as an active or hot one (standby shares apply).
    pub cost_per_hour: f64,
    /// Seconds a borrowed replica needs to join its service.
    pub lend_s: f64,
    /// Capacity of each replica (rps).
    pub capacity_rps: f64,
    /// The replicas lent now.
    #[serde(default)]
    pub loans: Vec<PoolLoan>,
}

impl Pool {
    /// Replicas still free to borrow.
    pub fn free(&self) -> u32 {
        self.size.saturating_sub(self.loans.len() as u32)
    }
}

/// One replica a pool has lent.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PoolLoan {
    pub replica: String,
    pub service: String,
    pub since: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReplicaRole::*;

    #[test]
    fn warming_adds_up_the_steps_and_cooling_is_quick() {
        let times = ReadinessTimes::default();
        assert_eq!(times.change_s(ColdStandby, WarmStandby), Some(300.0));
        assert_eq!(times.change_s(WarmStandby, HotStandby), Some(45.0));
        assert_eq!(times.change_s(ColdStandby, HotStandby), Some(345.0));
        assert_eq!(times.change_s(HotStandby, ColdStandby), Some(20.0));
        assert_eq!(times.change_s(WarmStandby, WarmStandby), Some(0.0));
        assert_eq!(times.change_s(Active, HotStandby), None);
    }

    #[test]
    fn the_dial_steps_one_role_at_a_time_and_stops_at_its_ends() {
        assert_eq!(next_role(ColdStandby, true), Some(WarmStandby));
        assert_eq!(next_role(WarmStandby, true), Some(HotStandby));
        assert_eq!(next_role(HotStandby, true), None);
        assert_eq!(next_role(HotStandby, false), Some(WarmStandby));
        assert_eq!(next_role(ColdStandby, false), None);
        assert_eq!(next_role(Active, false), None);
        assert_eq!(standby_role("warm"), Some(WarmStandby));
        assert_eq!(standby_role("active"), None);
    }
}
