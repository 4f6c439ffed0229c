//! Preflight of a command: what it would do to the fleet, before anything is sent.
//!
//! The prediction follows the routing rules of protocol v1 fleets (and of the lab, which
//! implements them): each service's demand goes to its active, ready replicas in regions that
//! are neither down nor drained and whose gateway has a usable provider for it, split by the
//! service's region weights (by replica capacity when it has none); each gateway admits up to
//! its region's capacity and sends a service's traffic to the lowest rank that has a usable
//! provider (breaker not open), split by route weight. Only the services, lanes and regions
//! the command touches are recomputed; everything else keeps the numbers the snapshot shows.
//!
//! Pure and cheap: one pass over the fleet's routes and replicas, a few allocations sized by
//! the fleet, so a confirmation modal can run it on every keystroke.
//!
//! `result` holds what a preflight tells, `change` what a command changes in the routing
//! inputs, `traffic` the routing model that predicts the moves, `readiness` what warming,
//! cooling, borrowing or giving back a standby does (adaptive redundancy), `cost` what a
//! command does to spend and error budgets.

mod change;
mod cost;
mod readiness;
mod result;
mod traffic;

pub use cost::{BudgetRisk, CostChange, add_cost_effect};
pub use readiness::ReadinessChange;

pub use result::{
    LOW_HEADROOM, MIN_SHIFT_RPS, NoPath, Preflight, ProviderShift, RegionShift, ReplicaShift,
    Takeover, Verdict,
};

use crate::domain::command::Command;
use change::FleetIndex;
use protocol::FleetSnapshot;
use protocol::commands::{BreakerAction, WeightScope};
use traffic::Prediction;

/// A provider's rate limit (rps): as published, or as its load and headroom reveal it;
/// unknown while it idles without a published limit.
pub fn rate_limit_of(provider: &protocol::Provider) -> Option<f64> {
    provider
        .rate_limit_rps
        .or_else(|| traffic::revealed_rate_limit(provider))
}

/// Computes the preflight of `command` against `snapshot`.
pub fn preflight(command: &Command, snapshot: &FleetSnapshot) -> Preflight {
    let fleet = FleetIndex::new(snapshot);
    let mut out = Preflight {
        summary: summary(command),
        moves_traffic: command.moves_traffic(),
        ..Preflight::default()
    };
    if let Some(change) = fleet.change_for(command, &mut out) {
        Prediction::new(&fleet, &change).run(&mut out);
    }
    out.overloads = out.find_overloads();
    out
}

fn summary(command: &Command) -> String {
    let effect = match command {
        Command::Promote { .. } => "the standby becomes active, the active a hot standby",
        Command::Drain { .. } => "its traffic moves to the other regions",
        Command::Undrain { .. } => "it takes its share of traffic again",
        Command::Breaker { action, .. } => match action {
            BreakerAction::ForceOpen => "its gateways route around it until it is closed",
            BreakerAction::Close => "traffic may return to it; the automatic breaker runs again",
            BreakerAction::Pin => "the automatic breaker will not trip it",
            BreakerAction::Unpin => "the automatic breaker may trip it again",
        },
        Command::Degrade { enabled: true, .. } => "the service runs in this degraded mode",
        Command::Degrade { enabled: false, .. } => "the service leaves this degraded mode",
        Command::Weights {
            scope: WeightScope::Regions,
            ..
        } => "its traffic is spread across regions by these weights",
        Command::Weights { .. } => "its traffic at this gateway is spread by these weights",
        Command::Standby { .. } => "the standby moves to this role; it takes no traffic",
        Command::Borrow { .. } => "a replica of the pool joins the service as a standby",
        Command::Return { .. } => "the replica leaves the service and goes back to its pool",
    };
    format!("{command}: {effect}")
}

#[cfg(test)]
mod tests;
