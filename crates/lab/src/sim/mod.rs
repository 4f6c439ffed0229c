//! The simulated fleet. Pure: no I/O, no clock, no threads. The state after N ticks depends
//! only on (seed, topology, scenario, N, dt), and the start time that labels it.
//!
//! Each step: injects start or end, gateways pick routes (lowest rank with a usable provider),
//! service demand goes to the regions that can serve it, load reaches providers, providers
//! answer with latency, errors and 429s that follow from load and injects, breakers react, and
//! health is judged from those numbers.
//!
//! This module holds the state and the public API; the step itself is in `tick` (injects,
//! routes, demand, load) and `measure` (latency, errors, breakers, replicas, health),
//! `project` turns the state into protocol v1's wire types, and `control` holds operators'
//! commands (drains, breakers, degraded modes, weights, promotions) and their expiries.

mod budget;
mod control;
mod injects;
mod measure;
mod project;
mod tick;

use chrono::{DateTime, TimeDelta, Utc};
use protocol::round_to as round;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::audit::AuditRecord;
use crate::scenario::Scenario;
use crate::topology::Topology;
pub use control::{Applied, ControlTarget, Refusal};
use control::{Control, ModeControl, PoolState, RoleHold, SimOperation};
use protocol::commands::Operation;
use protocol::posture::StandbyShares;
use protocol::readiness::{Pool, ReadinessTimes};
use protocol::{
    BreakerState, Fallback, Gateway, Health, LabInfo, Latency, Notice, Provider, Region,
    ReplicaRole, Service,
};

/// Longest simulated step. Longer ticks (fast drills) are split into steps of this size, so
/// a drill plays out the same at any speed.
pub const MAX_STEP_S: f64 = 0.25;
/// Fastest speed a lab (or a drill) accepts: each tick of 250 ms then simulates this many
/// quarter-seconds.
pub const MAX_SPEED: f64 = 1000.0;
/// Notices kept for the snapshot.
pub const NOTICES_KEPT: usize = 50;
/// Usual replication lag of hot and warm standbys.
const HOT_STANDBY_LAG_S: f64 = 0.5;
const WARM_STANDBY_LAG_S: f64 = 8.0;
/// Cold standbys restore from a backup taken this often.
const COLD_BACKUP_INTERVAL_S: f64 = 3600.0;

/// The objects of a snapshot, as the simulation sees them now.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetView {
    pub regions: Vec<Region>,
    pub providers: Vec<Provider>,
    pub gateways: Vec<Gateway>,
    pub services: Vec<Service>,
    /// Operations running now or finished recently.
    pub operations: Vec<Operation>,
    pub pools: Vec<Pool>,
    pub readiness: ReadinessTimes,
    pub standby_shares: StandbyShares,
}

#[derive(Clone)]
pub struct Sim {
    topology: Topology,
    scenario: Option<Scenario>,
    seed: u64,
    epoch: DateTime<Utc>,
    rng: ChaCha8Rng,
    elapsed_s: f64,
    regions: Vec<RegionState>,
    providers: Vec<ProviderState>,
    /// One per region, same index.
    gateways: Vec<GatewayState>,
    services: Vec<ServiceState>,
    /// For each service and replica: (gateway, lane) that carries its traffic.
    lane_of: Vec<Vec<(usize, usize)>>,
    inject_phases: Vec<InjectPhase>,
    /// Injects that fired since the last [`Sim::take_fired_injects`].
    fired_injects: Vec<usize>,
    notices: Vec<Notice>,
    fresh_notices: Vec<Notice>,
    /// Operations, oldest first: all running ones and the most recent finished ones.
    operations: Vec<SimOperation>,
    /// One per pool of the topology, same index.
    pools: Vec<PoolState>,
    operations_started: u64,
    /// What happened by itself (expiries, operations that ended) since the last take.
    automatic: Vec<AuditRecord>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum InjectPhase {
    Pending,
    Active,
    Ended,
}

#[derive(Clone)]
struct RegionState {
    down: bool,
    load_rps: f64,
    /// Share of offered load the gateway admits (it sheds the rest with 429s).
    admitted: f64,
    latency: Latency,
    error_rate: f64,
    rate_limited_rate: f64,
    traffic_share: f64,
    baseline_p95_ms: f64,
    health: Health,
    /// Set while drained: its replicas take no traffic.
    drain: Option<Control>,
    control_revision: u64,
}

#[derive(Clone)]
struct ProviderState {
    breaker: BreakerMachine,
    latency_noise: f64,
    error_noise: f64,
    load_rps: f64,
    latency: Latency,
    error_rate: f64,
    rate_limited_rate: f64,
    rate_limit_headroom: f64,
    /// The rate limit in force now (a scenario may cut it).
    rate_limit_rps: f64,
    traffic_share: f64,
    health: Health,
    /// Held open by hand.
    quarantine: Option<Control>,
    /// The automatic breaker may not trip.
    pinned: Option<Control>,
    control_revision: u64,
}

#[derive(Clone)]
struct BreakerMachine {
    state: BreakerState,
    reason: Option<String>,
    /// When an open breaker goes half-open (simulated seconds).
    until_s: Option<f64>,
    /// How long the error rate has been above the threshold while closed.
    above_for_s: f64,
    /// How long a half-open probe has lasted.
    probing_for_s: f64,
}

#[derive(Clone)]
struct GatewayState {
    region: usize,
    lanes: Vec<Lane>,
    last_fallback: Option<Fallback>,
}

/// How one gateway routes one service.
#[derive(Clone)]
struct Lane {
    service: usize,
    routes: Vec<LaneRoute>,
    /// Providers that took this lane's traffic in the last step.
    in_use: Vec<usize>,
    offered_rps: f64,
}

#[derive(Clone)]
struct LaneRoute {
    provider: usize,
    rank: u32,
    weight: f64,
    share: f64,
}

#[derive(Clone)]
struct ServiceState {
    demand_rps: f64,
    /// Demand held back by degraded modes (queued, refused writes, waiting for people).
    deferred_rps: f64,
    replicas: Vec<ReplicaState>,
    degraded_modes: Vec<ModeControl>,
    /// Per replica, same index: how its region pulls the service's traffic. `None`: by capacity.
    region_weights: Option<Vec<f64>>,
    control_revision: u64,
    health: Health,
    /// Requests failing per second at the last step.
    failing_rps: f64,
    budget: budget::BudgetLedger,
}

#[derive(Clone)]
struct ReplicaState {
    role: ReplicaRole,
    ready: bool,
    replication_lag_s: f64,
    load_rps: f64,
    /// A standby role held for a while, and the role it goes back to.
    timed_role: Option<RoleHold>,
    /// Borrowed from a pool and not joined yet: not ready.
    joining: bool,
    /// Given back to its pool: no longer part of the service (its slot stays for reuse).
    returned: bool,
    /// The pool it was borrowed from.
    pool: Option<usize>,
}

/// What the active injects do at one instant.
struct Effects {
    outage_error: Vec<f64>,
    rate_limit_factor: Vec<f64>,
    latency_factor: Vec<f64>,
    extra_error: Vec<f64>,
    region_down: Vec<bool>,
    /// Per service, per replica.
    not_warm: Vec<Vec<bool>>,
}

impl Sim {
    pub fn new(
        topology: Topology,
        scenario: Option<Scenario>,
        seed: u64,
        epoch: DateTime<Utc>,
    ) -> Sim {
        let regions = (0..topology.regions.len())
            .map(|r| {
                let base: Vec<f64> = topology
                    .providers
                    .iter()
                    .filter(|p| p.region_index == r)
                    .map(|p| p.base_latency.p95_ms)
                    .collect();
                RegionState {
                    down: false,
                    load_rps: 0.0,
                    admitted: 1.0,
                    latency: Latency::default(),
                    error_rate: 0.0,
                    rate_limited_rate: 0.0,
                    traffic_share: 0.0,
                    baseline_p95_ms: base.iter().sum::<f64>() / base.len().max(1) as f64,
                    health: Health::Unknown,
                    drain: None,
                    control_revision: 1,
                }
            })
            .collect();
        let providers = topology
            .providers
            .iter()
            .map(|spec| ProviderState::new(spec.rate_limit_rps))
            .collect();
        let (gateways, lane_of) = build_gateways(&topology);
        let services = topology
            .services
            .iter()
            .map(|s| ServiceState {
                demand_rps: s.demand_rps,
                deferred_rps: 0.0,
                replicas: s
                    .replicas
                    .iter()
                    .map(|r| ReplicaState {
                        role: r.role,
                        ready: r.role != ReplicaRole::ColdStandby,
                        replication_lag_s: nominal_lag(r.role, 0.0),
                        load_rps: 0.0,
                        timed_role: None,
                        joining: false,
                        returned: false,
                        pool: None,
                    })
                    .collect(),
                degraded_modes: Vec::new(),
                region_weights: None,
                control_revision: 1,
                health: Health::Unknown,
                failing_rps: 0.0,
                budget: budget::BudgetLedger::default(),
            })
            .collect();
        let pools = vec![PoolState::default(); topology.pools.len()];
        let inject_phases =
            vec![InjectPhase::Pending; scenario.as_ref().map_or(0, |s| s.injects.len())];
        let mut sim = Sim {
            topology,
            scenario,
            seed,
            epoch,
            rng: ChaCha8Rng::seed_from_u64(seed),
            elapsed_s: 0.0,
            regions,
            providers,
            gateways,
            services,
            lane_of,
            inject_phases,
            fired_injects: Vec::new(),
            notices: Vec::new(),
            fresh_notices: Vec::new(),
            operations: Vec::new(),
            pools,
            operations_started: 0,
            automatic: Vec::new(),
        };
        // Everyone watching sees what is being played.
        let mut openings = vec![with_description(
            format!("lab started on topology {}", sim.topology.name),
            &sim.topology.description,
        )];
        if let Some(scenario) = &sim.scenario {
            openings.push(with_description(
                format!("scenario {} started", scenario.name),
                &scenario.description,
            ));
        }
        for text in openings {
            sim.notice(0.0, text);
        }
        sim.evaluate(0.0);
        sim
    }

    /// Advances simulated time by `dt` seconds, in steps of at most [`MAX_STEP_S`].
    pub fn tick(&mut self, dt: f64) {
        if !(dt.is_finite() && dt > 0.0) {
            return;
        }
        let steps = (dt / MAX_STEP_S).ceil().max(1.0);
        let step = dt / steps;
        for _ in 0..steps as u64 {
            self.elapsed_s += step;
            self.evaluate(step);
        }
    }

    pub fn elapsed_s(&self) -> f64 {
        self.elapsed_s
    }

    /// The simulated clock: the start time plus simulated seconds.
    pub fn now(&self) -> DateTime<Utc> {
        self.time_at(self.elapsed_s)
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn lab_info(&self, speed: f64) -> LabInfo {
        LabInfo {
            seed: self.seed,
            speed,
            scenario: self.scenario.as_ref().map(|s| s.name.clone()),
            sim_elapsed_s: round(self.elapsed_s, 2),
        }
    }

    /// The most recent notices, oldest first.
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    /// Notices raised since the last call.
    pub fn take_fresh_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.fresh_notices)
    }

    pub fn view(&self) -> FleetView {
        FleetView {
            regions: self.region_views(),
            providers: self.provider_views(),
            gateways: self.gateway_views(),
            services: self.service_views(),
            operations: self.operation_views(),
            pools: self.pool_views(),
            readiness: self.topology.readiness,
            standby_shares: self.topology.standby_shares,
        }
    }

    fn time_at(&self, sim_s: f64) -> DateTime<Utc> {
        self.epoch + TimeDelta::milliseconds((sim_s * 1000.0).round() as i64)
    }

    fn notice(&mut self, at_s: f64, text: String) {
        let at = self.time_at(at_s);
        // The time is in `at`: the console shows it in its own column, on this lab's clock.
        let notice = Notice { at, text };
        if self.notices.len() == NOTICES_KEPT {
            self.notices.remove(0);
        }
        self.notices.push(notice.clone());
        self.fresh_notices.push(notice);
    }
}

/// One gateway per region, with a lane per service that has a replica there, holding the
/// service's routes to the vendors present in that region.
fn build_gateways(topology: &Topology) -> (Vec<GatewayState>, Vec<Vec<(usize, usize)>>) {
    let mut gateways: Vec<GatewayState> = (0..topology.regions.len())
        .map(|region| GatewayState {
            region,
            lanes: Vec::new(),
            last_fallback: None,
        })
        .collect();
    let mut lane_of = Vec::with_capacity(topology.services.len());
    for (s, service) in topology.services.iter().enumerate() {
        let mut lanes = Vec::with_capacity(service.replicas.len());
        for replica in &service.replicas {
            let gateway = &mut gateways[replica.region_index];
            let mut routes: Vec<LaneRoute> = service
                .routes
                .iter()
                .filter_map(|route| {
                    let provider = topology.providers.iter().position(|p| {
                        p.vendor == route.vendor && p.region_index == replica.region_index
                    })?;
                    Some(LaneRoute {
                        provider,
                        rank: route.rank,
                        weight: route.weight,
                        share: 0.0,
                    })
                })
                .collect();
            routes.sort_by_key(|r| r.rank);
            gateway.lanes.push(Lane {
                service: s,
                routes,
                in_use: Vec::new(),
                offered_rps: 0.0,
            });
            lanes.push((replica.region_index, gateway.lanes.len() - 1));
        }
        lane_of.push(lanes);
    }
    (gateways, lane_of)
}

fn with_description(text: String, description: &str) -> String {
    if description.is_empty() {
        text
    } else {
        format!("{text}: {description}")
    }
}

/// Usual replication lag of a healthy standby; a cold standby is as old as its last backup.
fn nominal_lag(role: ReplicaRole, now: f64) -> f64 {
    match role {
        ReplicaRole::Active => 0.0,
        ReplicaRole::HotStandby => HOT_STANDBY_LAG_S,
        ReplicaRole::WarmStandby => WARM_STANDBY_LAG_S,
        ReplicaRole::ColdStandby => (COLD_BACKUP_INTERVAL_S / 2.0 + now) % COLD_BACKUP_INTERVAL_S,
    }
}

fn share_of(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

#[cfg(test)]
mod tests;
