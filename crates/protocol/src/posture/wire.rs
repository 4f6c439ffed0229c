//! A service's posture as a source reports it (`Service.posture`), and the figures every reader
//! derives from it and the snapshot the same way: spend per hour, blast radius, ROI.
//!
//! The wire carries what a source knows (criticality, SLO, budget and burn, prices, downtime
//! cost, dependencies); the derived figures are computed here, by the lab's tests, the console,
//! its preflight and the cost report alike, so that they agree to the cent.

use serde::{Deserialize, Serialize};

use super::{Criticality, Slo, StandbyShares, loss_averted_per_hour, path_spend_per_hour};
use crate::model::{ModeEffect, TakeoverTimes};
use crate::readiness::Pool;
use crate::{FleetSnapshot, Gateway, Replica, ReplicaRole, Service};

/// How often a service's active side fails, when the source does not say: once a month.
pub const DEFAULT_INCIDENTS_PER_MONTH: f64 = 1.0;
/// How long an outage lasts with no standby to take over, when the source does not say.
pub const DEFAULT_REPAIR_MIN: f64 = 60.0;
const HOURS_PER_MONTH: f64 = 730.0;

/// What a source knows of a service's posture; figures it does not know are absent.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Posture {
    pub criticality: Criticality,
    pub slo: Slo,
    /// Share of the window's error budget left: 1 untouched, 0 spent, below 0 overspent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_left: Option<f64>,
    /// Burn rates over the last hour and the last six hours (1 spends the budget exactly
    /// over the window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burn_rate_1h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burn_rate_6h: Option<f64>,
    /// What a minute of this service's outage costs (money per minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downtime_cost_per_min: Option<f64>,
    /// Services this one calls: their outage is its outage too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// What one active replica costs per hour; standbys cost a share of it by readiness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_cost_per_hour: Option<f64>,
    /// Model tokens one request uses, to price its provider paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_request: Option<f64>,
    #[serde(
        default = "default_incidents",
        skip_serializing_if = "is_default_incidents"
    )]
    pub incidents_per_month: f64,
    /// Minutes an outage lasts when no standby takes over.
    #[serde(default = "default_repair", skip_serializing_if = "is_default_repair")]
    pub repair_min: f64,
}

fn default_incidents() -> f64 {
    DEFAULT_INCIDENTS_PER_MONTH
}

fn default_repair() -> f64 {
    DEFAULT_REPAIR_MIN
}

fn is_default_incidents(value: &f64) -> bool {
    *value == DEFAULT_INCIDENTS_PER_MONTH
}

fn is_default_repair(value: &f64) -> bool {
    *value == DEFAULT_REPAIR_MIN
}

/// What a service's redundancy and traffic cost per hour; `None` where a price is unknown.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct Spend {
    /// Every replica, each by its role (active and hot full, warm and cold a share).
    pub replicas_per_hour: Option<f64>,
    /// The standbys' part of it.
    pub standbys_per_hour: Option<f64>,
    /// The hot standbys' part of that.
    pub hot_standbys_per_hour: Option<f64>,
    /// Model calls through each provider path, by its price per 1k tokens and traffic.
    pub paths_per_hour: Option<f64>,
}

impl Spend {
    /// Replicas and paths together, when both are known.
    pub fn total_per_hour(&self) -> Option<f64> {
        Some(self.replicas_per_hour? + self.paths_per_hour?)
    }
}

/// What a service costs, from the snapshot: replicas by role (a borrowed one at its pool's
/// price, the others at the service's) and provider paths by traffic. `price_of` gives a
/// provider's price per 1k tokens (the source's, else the config's).
pub fn spend(
    service: &Service,
    posture: &Posture,
    gateways: &[Gateway],
    pools: &[Pool],
    shares: &StandbyShares,
    price_of: impl Fn(&str) -> Option<f64>,
) -> Spend {
    let active_price = |replica: &Replica| match &replica.pool {
        Some(pool) => pools
            .iter()
            .find(|p| &p.id == pool)
            .map(|p| p.cost_per_hour),
        None => posture.replica_cost_per_hour,
    };
    let by_role = |keep: fn(ReplicaRole) -> bool| {
        (service.replicas.iter())
            .filter(|r| keep(r.role))
            .try_fold(0.0, |sum, r| {
                Some(sum + shares.replica_per_hour(r.role, active_price(r)?))
            })
    };
    Spend {
        replicas_per_hour: by_role(|_| true),
        standbys_per_hour: by_role(ReplicaRole::is_standby),
        hot_standbys_per_hour: by_role(|role| role == ReplicaRole::HotStandby),
        paths_per_hour: paths_spend(service, posture, gateways, price_of),
    }
}

/// [`spend`] of a service of `snapshot`, with the snapshot's gateways, pools and standby shares.
pub fn spend_in(
    snapshot: &FleetSnapshot,
    service: &Service,
    posture: &Posture,
    price_of: impl Fn(&str) -> Option<f64>,
) -> Spend {
    spend(
        service,
        posture,
        &snapshot.gateways,
        &snapshot.pools,
        &snapshot.standby_shares,
        price_of,
    )
}

/// What a whole fleet spends per hour at the prices its snapshot carries, on replicas and on
/// model calls, over the `priced` services whose spend is known; the others are left out
/// and named.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FleetSpend {
    pub replicas_per_hour: f64,
    pub paths_per_hour: f64,
    pub priced: usize,
    pub unpriced: Vec<String>,
}

impl FleetSpend {
    pub fn per_hour(&self) -> f64 {
        self.replicas_per_hour + self.paths_per_hour
    }
}

pub fn fleet_spend(snapshot: &FleetSnapshot) -> FleetSpend {
    let price_of = |provider: &str| {
        (snapshot.providers.iter())
            .find(|p| p.id == provider)
            .and_then(|p| p.price_per_1k_tokens)
    };
    let mut fleet = FleetSpend::default();
    for service in &snapshot.services {
        let known = service.posture.as_ref().and_then(|posture| {
            let spend = spend_in(snapshot, service, posture, price_of);
            Some((spend.replicas_per_hour?, spend.paths_per_hour?))
        });
        match known {
            Some((replicas, paths)) => {
                fleet.replicas_per_hour += replicas;
                fleet.paths_per_hour += paths;
                fleet.priced += 1;
            }
            None => fleet.unpriced.push(service.id.clone()),
        }
    }
    fleet
}

/// The model calls a service makes through each gateway route, priced; `None` when a route
/// that carries traffic has no known price, or the tokens per request are unknown.
fn paths_spend(
    service: &Service,
    posture: &Posture,
    gateways: &[Gateway],
    price_of: impl Fn(&str) -> Option<f64>,
) -> Option<f64> {
    let tokens = posture.tokens_per_request?;
    let model_calls = ModeEffect::of_service(service).model_calls;
    let mut total = 0.0;
    for gateway in gateways {
        let served: f64 = (service.replicas.iter())
            .filter(|r| r.region == gateway.region)
            .map(|r| r.load_rps)
            .sum();
        for route in gateway.routes.iter().filter(|r| r.service == service.id) {
            let calls = served * model_calls * route.share;
            if calls > 0.0 {
                total += path_spend_per_hour(price_of(&route.provider)?, tokens, calls);
            }
        }
    }
    Some(total)
}

/// Who is hit when `service` goes down: the services that depend on it, directly or not, and
/// what a minute of that costs (its own downtime cost and theirs; unknown costs count 0 and
/// are named in `unpriced`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct BlastRadius {
    pub dependents: Vec<String>,
    pub cost_per_min: f64,
    pub unpriced: Vec<String>,
}

pub fn blast_radius(service: &str, services: &[Service]) -> BlastRadius {
    let mut hit = vec![service.to_string()];
    let mut next = 0;
    while next < hit.len() {
        let down = hit[next].clone();
        next += 1;
        for other in services {
            let depends = other
                .posture
                .as_ref()
                .is_some_and(|p| p.depends_on.contains(&down));
            if depends && !hit.contains(&other.id) {
                hit.push(other.id.clone());
            }
        }
    }
    let mut radius = BlastRadius::default();
    for id in &hit {
        match (services.iter().find(|s| &s.id == id))
            .and_then(|s| s.posture.as_ref()?.downtime_cost_per_min)
        {
            Some(cost) => radius.cost_per_min += cost,
            None => radius.unpriced.push(id.clone()),
        }
    }
    hit.remove(0);
    radius.dependents = hit;
    radius
}

/// The seeds' ROI of a service's redundancy: downtime loss averted per hour over what the
/// redundancy costs per hour beyond the fewest active replicas that carry its demand. `None`
/// when either is unknown or the redundancy costs nothing.
pub fn roi(
    service: &Service,
    posture: &Posture,
    spend: &Spend,
    cost_per_min: f64,
    takeover: &TakeoverTimes,
) -> Option<f64> {
    let extra =
        spend.replicas_per_hour? - minimum_replicas(service)? * posture.replica_cost_per_hour?;
    let averted = loss_averted_per_hour(
        posture.incidents_per_month / HOURS_PER_MONTH,
        posture.repair_min,
        downtime_with_redundancy_s(service, takeover) / 60.0,
        cost_per_min,
    );
    super::redundancy_roi(averted, extra)
}

/// The fewest active replicas, largest first, whose capacity carries the demand; `None` when
/// even all of them do not.
fn minimum_replicas(service: &Service) -> Option<f64> {
    let mut capacities: Vec<f64> = (service.replicas.iter())
        .filter(|r| r.role == ReplicaRole::Active)
        .map(|r| r.capacity_rps)
        .collect();
    capacities.sort_by(|a, b| b.total_cmp(a));
    let mut carried = 0.0;
    for (count, capacity) in capacities.iter().enumerate() {
        carried += capacity;
        if carried >= service.demand_rps {
            return Some(count as f64 + 1.0);
        }
    }
    None
}

/// How long an outage of the active side lasts with the redundancy there is: none when another
/// ready active replica carries on, else the fastest ready standby's takeover, else a repair.
fn downtime_with_redundancy_s(service: &Service, takeover: &TakeoverTimes) -> f64 {
    let ready_actives = (service.replicas.iter())
        .filter(|r| r.role == ReplicaRole::Active && r.ready)
        .count();
    if ready_actives >= 2 {
        return 0.0;
    }
    let repair_s = service
        .posture
        .as_ref()
        .map_or(DEFAULT_REPAIR_MIN, |p| p.repair_min)
        * 60.0;
    (service.replicas.iter())
        .filter(|r| r.role.is_standby() && r.ready)
        .map(|r| {
            r.takeover_s
                .unwrap_or_else(|| takeover.expected_s(r.role, r.ready))
        })
        .fold(repair_s, f64::min)
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
