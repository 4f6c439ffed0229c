//! A service's posture (issue 15, DESIGN.md "Posture"): what its outage costs, how much of its
//! error budget is left and how fast it burns, what its redundancy costs per hour and what that
//! buys. The arithmetic lives here, in one place, because the lab burns budgets and prices its
//! fleet with it and the console computes the same figures for a preflight and the cost report:
//! both must agree to the cent.
//!
//! Conventions: rates are fractions (0..1), money is in the topology's currency per hour (or
//! per minute of downtime), times are seconds unless the name says otherwise.

use serde::{Deserialize, Serialize};

use crate::ReplicaRole;

mod findings;
pub mod labels;
mod wire;
pub use findings::{Finding, ReplicaPosture, ServicePosture, budget_exhaustion, findings};
pub use wire::{
    BlastRadius, DEFAULT_INCIDENTS_PER_MONTH, DEFAULT_REPAIR_MIN, FleetSpend, Posture, Spend,
    blast_radius, fleet_spend, roi, spend, spend_in,
};

const SECONDS_PER_HOUR: f64 = 3600.0;

/// How much a service's outage matters: it decides what redundancy is worth paying for.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Criticality {
    Critical,
    Important,
    NiceToHave,
}

impl Criticality {
    pub fn word(self) -> &'static str {
        match self {
            Criticality::Critical => "critical",
            Criticality::Important => "important",
            Criticality::NiceToHave => "nice-to-have",
        }
    }
}

/// A service level objective: the share of requests that must succeed over a rolling window.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Slo {
    /// E.g. 0.999.
    pub target: f64,
    pub window_s: f64,
}

impl Slo {
    /// The share of requests allowed to fail: the whole error budget, as a rate.
    pub fn allowed_error_rate(&self) -> f64 {
        1.0 - self.target
    }

    /// How fast an observed error rate spends the budget: 1 spends it exactly over the window,
    /// 14.4 spends a 30-day budget in about two days (the standard fast-burn page).
    pub fn burn_rate(&self, error_rate: f64) -> f64 {
        let allowed = self.allowed_error_rate();
        if allowed <= 0.0 {
            return if error_rate > 0.0 { f64::INFINITY } else { 0.0 };
        }
        error_rate.max(0.0) / allowed
    }

    /// The share of the window's budget left after `failed` requests, when the window is
    /// expected to carry `expected` requests in all (demand times the window): 1 untouched,
    /// 0 spent, below 0 overspent.
    pub fn budget_left(&self, failed: f64, expected: f64) -> f64 {
        let allowed = self.allowed_error_rate() * expected;
        if allowed <= 0.0 {
            return if failed > 0.0 { f64::NEG_INFINITY } else { 1.0 };
        }
        1.0 - failed / allowed
    }

    /// Seconds until the budget left (a share, see [`Slo::budget_left`]) is spent at
    /// `burn_rate`; `None` when it is not burning (or already spent: `Some(0)`).
    pub fn exhausted_in_s(&self, budget_left: f64, burn_rate: f64) -> Option<f64> {
        if budget_left <= 0.0 {
            return Some(0.0);
        }
        (burn_rate > 0.0).then(|| budget_left * self.window_s / burn_rate)
    }
}

/// What a standby costs as a share of an active replica: hot costs full, warm part, cold little.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct StandbyShares {
    #[serde(default = "default_warm")]
    pub warm: f64,
    #[serde(default = "default_cold")]
    pub cold: f64,
}

fn default_warm() -> f64 {
    0.4
}

fn default_cold() -> f64 {
    0.05
}

impl Default for StandbyShares {
    fn default() -> StandbyShares {
        StandbyShares {
            warm: default_warm(),
            cold: default_cold(),
        }
    }
}

impl StandbyShares {
    /// What a replica in `role` costs per hour when an active one costs `active_per_hour`.
    pub fn replica_per_hour(&self, role: ReplicaRole, active_per_hour: f64) -> f64 {
        let share = match role {
            ReplicaRole::Active | ReplicaRole::HotStandby => 1.0,
            ReplicaRole::WarmStandby => self.warm,
            ReplicaRole::ColdStandby => self.cold,
        };
        share * active_per_hour
    }
}

/// What a provider path costs per hour: its price per 1,000 tokens, the tokens a request
/// uses, and the requests per second it serves.
pub fn path_spend_per_hour(
    price_per_1k_tokens: f64,
    tokens_per_request: f64,
    load_rps: f64,
) -> f64 {
    price_per_1k_tokens / 1000.0 * tokens_per_request * load_rps.max(0.0) * SECONDS_PER_HOUR
}

/// What a standby is expected to save per hour: the downtime it shortens when the active
/// fails (`failures_per_hour` of them), at the service's downtime cost per minute.
pub fn loss_averted_per_hour(
    failures_per_hour: f64,
    downtime_min_without: f64,
    downtime_min_with: f64,
    downtime_cost_per_min: f64,
) -> f64 {
    failures_per_hour * (downtime_min_without - downtime_min_with).max(0.0) * downtime_cost_per_min
}

/// The seeds' ROI of redundancy: expected downtime loss averted over the extra run-cost, both
/// per hour; `None` when the redundancy costs nothing (nothing to weigh).
pub fn redundancy_roi(loss_averted_per_hour: f64, extra_cost_per_hour: f64) -> Option<f64> {
    (extra_cost_per_hour > 0.0).then(|| loss_averted_per_hour / extra_cost_per_hour)
}

#[cfg(test)]
mod tests;
