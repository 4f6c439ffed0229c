//! Rules of the fleet model that both the lab (which simulates them) and the console's
//! preflight (which predicts them) must apply alike.

use serde::{Deserialize, Serialize};

use crate::{DegradedModeKind, ReplicaRole, Service};

/// A standby further behind than this would lose too much data if promoted: not a safe
/// failover target.
pub const MAX_STANDBY_LAG_S: f64 = 30.0;

/// Under serve-cache, the cache answers this share of requests without a model call.
pub const CACHE_HIT_SHARE: f64 = 0.4;
/// Under queue-non-urgent, this share of demand waits in a queue.
pub const NON_URGENT_SHARE: f64 = 0.3;
/// Under read-only, writes (this share of requests) are refused.
pub const WRITE_SHARE: f64 = 0.2;

/// How long a promoted standby takes to serve, by how warm it is (a topology's failover policy).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TakeoverTimes {
    /// Seconds for a hot standby: it runs and replicates, it only takes the traffic.
    pub hot_takeover_s: f64,
    /// For a warm standby: it runs, but its caches and connections must warm up.
    pub warm_takeover_s: f64,
    /// For a cold standby (or one that is not ready): it must start and restore from a backup.
    pub cold_takeover_s: f64,
}

impl Default for TakeoverTimes {
    fn default() -> Self {
        TakeoverTimes {
            hot_takeover_s: 5.0,
            warm_takeover_s: 60.0,
            cold_takeover_s: 300.0,
        }
    }
}

impl TakeoverTimes {
    /// Seconds until a replica of `role` serves once promoted; a standby that is not ready
    /// needs a cold start whatever its role.
    pub fn expected_s(&self, role: ReplicaRole, ready: bool) -> f64 {
        match role {
            ReplicaRole::Active => 0.0,
            _ if !ready => self.cold_takeover_s,
            ReplicaRole::HotStandby => self.hot_takeover_s,
            ReplicaRole::WarmStandby => self.warm_takeover_s,
            ReplicaRole::ColdStandby => self.cold_takeover_s,
        }
    }
}

/// What a service's degraded modes do to its traffic, combined.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModeEffect {
    /// Share of demand served now (the rest is queued, refused, or waits for people).
    pub served: f64,
    /// Share of served requests that still call a model (the rest hit the cache).
    pub model_calls: f64,
}

impl ModeEffect {
    pub fn of(modes: impl IntoIterator<Item = DegradedModeKind>) -> ModeEffect {
        let mut effect = ModeEffect {
            served: 1.0,
            model_calls: 1.0,
        };
        for mode in modes {
            match mode {
                DegradedModeKind::ServeCache => effect.model_calls *= 1.0 - CACHE_HIT_SHARE,
                DegradedModeKind::QueueNonUrgent => effect.served *= 1.0 - NON_URGENT_SHARE,
                DegradedModeKind::ReadOnly => effect.served *= 1.0 - WRITE_SHARE,
                // Every request waits for a person: nothing is served automatically.
                DegradedModeKind::HumanOnly => effect.served = 0.0,
                // A routing change: the fastest usable model takes the traffic.
                DegradedModeKind::FallbackModel => {}
            }
        }
        effect
    }

    /// The effect of the modes `service` has on now.
    pub fn of_service(service: &Service) -> ModeEffect {
        ModeEffect::of(service.degraded_modes.iter().map(|m| m.mode))
    }
}
