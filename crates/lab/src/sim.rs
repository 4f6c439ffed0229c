//! The simulated fleet. Pure: no I/O, no clock, no threads. The state after N ticks depends
//! only on (seed, topology, scenario, N, dt), and the start time that labels it.
//!
//! Each step: injects start or end, gateways pick routes (lowest rank with a usable provider),
//! service demand goes to the regions that can serve it, load reaches providers, providers
//! answer with latency, errors and 429s that follow from load and injects, breakers react, and
//! health is judged from those numbers.
//!
//! Operators' commands (drains, breakers, degraded modes, weights, promotions) and their
//! expiries live in `control`.

mod control;

use std::f64::consts::TAU;

use chrono::{DateTime, TimeDelta, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::audit::AuditRecord;
use super::scenario::{InjectKind, InjectTarget, Scenario, format_duration};
use super::topology::{ProviderSpec, Topology};
pub use control::{Applied, ControlTarget, Refusal};
use control::{Control, ModeControl, Promotion};
use protocol::commands::Operation;
use protocol::model::MAX_STANDBY_LAG_S;
use protocol::{
    Breaker, BreakerState, DegradedModeKind, Fallback, Gateway, Health, LabInfo, Latency, Notice,
    Provider, Region, Replica, ReplicaRole, Route, Service,
};

/// Longest simulated step. Longer ticks (fast drills) are split into steps of this size, so
/// a drill plays out the same at any speed.
pub const MAX_STEP_S: f64 = 0.25;
/// Notices kept for the snapshot.
pub const NOTICES_KEPT: usize = 50;
/// What a health probe reports for latency when nothing answers.
const PROBE_TIMEOUT_MS: f64 = 10_000.0;
/// Error or 429 share from which something counts as degraded, and as down.
const DEGRADED_RATE: f64 = 0.05;
const DOWN_RATE: f64 = 0.5;
/// p95 latency above this multiple of the baseline counts as degraded.
const SLOW_FACTOR: f64 = 2.0;
/// Seconds of replication lag a standby recovers per second once replication resumes.
const CATCH_UP_RATE: f64 = 5.0;
/// Usual replication lag of hot and warm standbys.
const HOT_STANDBY_LAG_S: f64 = 0.5;
const WARM_STANDBY_LAG_S: f64 = 8.0;
/// Cold standbys restore from a backup taken this often.
const COLD_BACKUP_INTERVAL_S: f64 = 3600.0;
/// Time constant of the metric noise: wobbles last seconds, not one step.
const NOISE_MEMORY_S: f64 = 5.0;
/// Demand swells and ebbs by a few percent over this period.
const DEMAND_PERIOD_S: f64 = 900.0;
const DEMAND_SWELL: f64 = 0.05;

/// The objects of a snapshot, as the simulation sees them now.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetView {
    pub regions: Vec<Region>,
    pub providers: Vec<Provider>,
    pub gateways: Vec<Gateway>,
    pub services: Vec<Service>,
    /// Operations running now or finished recently.
    pub operations: Vec<Operation>,
}

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
    notices: Vec<Notice>,
    fresh_notices: Vec<Notice>,
    /// Promotions, oldest first: all running ones and the most recent finished ones.
    operations: Vec<Promotion>,
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

struct ProviderState {
    breaker: BreakerMachine,
    latency_noise: f64,
    error_noise: f64,
    load_rps: f64,
    latency: Latency,
    error_rate: f64,
    rate_limited_rate: f64,
    rate_limit_headroom: f64,
    traffic_share: f64,
    health: Health,
    /// Held open by hand.
    quarantine: Option<Control>,
    /// The automatic breaker may not trip.
    pinned: Option<Control>,
    control_revision: u64,
}

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

struct GatewayState {
    region: usize,
    lanes: Vec<Lane>,
    last_fallback: Option<Fallback>,
}

/// How one gateway routes one service.
struct Lane {
    service: usize,
    routes: Vec<LaneRoute>,
    /// Providers that took this lane's traffic in the last step.
    in_use: Vec<usize>,
    offered_rps: f64,
}

struct LaneRoute {
    provider: usize,
    rank: u32,
    weight: f64,
    share: f64,
}

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
}

struct ReplicaState {
    role: ReplicaRole,
    ready: bool,
    replication_lag_s: f64,
    load_rps: f64,
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
            .map(|_| ProviderState::new())
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
                    })
                    .collect(),
                degraded_modes: Vec::new(),
                region_weights: None,
                control_revision: 1,
                health: Health::Unknown,
            })
            .collect();
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
            notices: Vec::new(),
            fresh_notices: Vec::new(),
            operations: Vec::new(),
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
        }
    }

    fn time_at(&self, sim_s: f64) -> DateTime<Utc> {
        self.epoch + TimeDelta::milliseconds((sim_s * 1000.0).round() as i64)
    }

    fn notice(&mut self, at_s: f64, text: String) {
        let at = self.time_at(at_s);
        let notice = Notice {
            at,
            text: format!("{} {text}", at.format("%H:%M:%S")),
        };
        if self.notices.len() == NOTICES_KEPT {
            self.notices.remove(0);
        }
        self.notices.push(notice.clone());
        self.fresh_notices.push(notice);
    }

    /// Brings every derived number up to date for the current instant; `dt` is the time
    /// since the previous evaluation.
    fn evaluate(&mut self, dt: f64) {
        let now = self.elapsed_s;
        self.advance_injects(now);
        let effects = self.effects(now);
        for (region, down) in self.regions.iter_mut().zip(&effects.region_down) {
            region.down = *down;
        }
        self.expire_controls(now);
        self.advance_operations(now);
        self.route(now);
        self.distribute_demand(now);
        self.load_providers();
        self.measure_providers(dt, &effects);
        self.measure_regions();
        self.update_breakers(dt, now);
        self.update_replicas(dt, now, &effects);
        self.judge_health();
    }

    fn advance_injects(&mut self, now: f64) {
        let Some(scenario) = self.scenario.as_ref() else {
            return;
        };
        let mut fired = Vec::new();
        for (inject, phase) in scenario.injects.iter().zip(self.inject_phases.iter_mut()) {
            if *phase == InjectPhase::Pending && now >= inject.at_s {
                *phase = InjectPhase::Active;
                let narrative = if inject.narrative.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", inject.narrative)
                };
                let text = format!(
                    "inject: {} for {}{narrative}",
                    inject.summary(),
                    format_duration(inject.duration_s)
                );
                fired.push((inject.at_s, text));
            }
            if *phase == InjectPhase::Active && now >= inject.end_s() {
                *phase = InjectPhase::Ended;
                fired.push((
                    inject.end_s(),
                    format!("inject ended: {}", inject.summary()),
                ));
            }
        }
        for (at, text) in fired {
            self.notice(at, text);
        }
    }

    fn effects(&self, now: f64) -> Effects {
        let providers = self.topology.providers.len();
        let mut fx = Effects {
            outage_error: vec![0.0; providers],
            rate_limit_factor: vec![1.0; providers],
            latency_factor: vec![1.0; providers],
            extra_error: vec![0.0; providers],
            region_down: vec![false; self.topology.regions.len()],
            not_warm: self
                .topology
                .services
                .iter()
                .map(|s| vec![false; s.replicas.len()])
                .collect(),
        };
        let Some(scenario) = self.scenario.as_ref() else {
            return fx;
        };
        for inject in scenario.injects.iter().filter(|i| i.active_at(now)) {
            let progress = ((now - inject.at_s) / inject.duration_s).clamp(0.0, 1.0);
            match &inject.target {
                InjectTarget::Providers(targets) => {
                    for &p in targets {
                        match inject.kind {
                            InjectKind::ProviderOutage => {
                                fx.outage_error[p] = fx.outage_error[p].max(inject.magnitude);
                            }
                            InjectKind::RateLimitStorm => {
                                fx.rate_limit_factor[p] *= inject.magnitude
                            }
                            InjectKind::LatencyBrownout => {
                                fx.latency_factor[p] *= inject.magnitude;
                                // Timeouts mount as the brownout drags on.
                                fx.extra_error[p] += (0.05 * inject.magnitude).min(0.4) * progress;
                            }
                            InjectKind::RegionDown | InjectKind::StandbyNotWarm => {}
                        }
                    }
                }
                InjectTarget::Region(r) => fx.region_down[*r] = true,
                InjectTarget::Replicas(replicas) => {
                    for &(s, r) in replicas {
                        fx.not_warm[s][r] = true;
                    }
                }
            }
        }
        fx
    }

    fn provider_usable(&self, p: usize) -> bool {
        !self.regions[self.topology.providers[p].region_index].down
            && self.providers[p].breaker.state != BreakerState::Open
    }

    fn unusable_reason(&self, p: usize) -> String {
        let spec = &self.topology.providers[p];
        if self.regions[spec.region_index].down {
            format!(
                "region {} down",
                self.topology.regions[spec.region_index].id
            )
        } else {
            let why = self.providers[p]
                .breaker
                .reason
                .as_deref()
                .unwrap_or("open");
            format!("breaker open on {}: {why}", spec.id)
        }
    }

    /// Each gateway sends each service's traffic to the lowest rank that has a usable
    /// provider with a weight, split by weight; losing a provider in use is a fallback. Under
    /// the fallback-model mode, the fastest usable model takes it all, whatever its rank.
    fn route(&mut self, now: f64) {
        let usable: Vec<bool> = (0..self.providers.len())
            .map(|p| self.provider_usable(p))
            .collect();
        let topology = &self.topology;
        let services = &self.services;
        let mut fallbacks = Vec::new();
        for (g, gateway) in self.gateways.iter_mut().enumerate() {
            for lane in &mut gateway.lanes {
                let candidate = |r: &LaneRoute| usable[r.provider] && r.weight > 0.0;
                let base_p95 = |r: &LaneRoute| topology.providers[r.provider].base_latency.p95_ms;
                let chosen: Vec<bool> =
                    if services[lane.service].has_mode(DegradedModeKind::FallbackModel) {
                        let fastest = lane
                            .routes
                            .iter()
                            .filter(|r| candidate(r))
                            .min_by(|a, b| base_p95(a).total_cmp(&base_p95(b)))
                            .map(|r| r.provider);
                        lane.routes
                            .iter()
                            .map(|r| Some(r.provider) == fastest)
                            .collect()
                    } else {
                        let best_rank = lane
                            .routes
                            .iter()
                            .filter(|r| candidate(r))
                            .map(|r| r.rank)
                            .min();
                        lane.routes
                            .iter()
                            .map(|r| candidate(r) && Some(r.rank) == best_rank)
                            .collect()
                    };
                let total_weight: f64 = lane
                    .routes
                    .iter()
                    .zip(&chosen)
                    .filter(|(_, chosen)| **chosen)
                    .map(|(r, _)| r.weight)
                    .sum();
                for (route, chosen) in lane.routes.iter_mut().zip(&chosen) {
                    route.share = if *chosen {
                        route.weight / total_weight
                    } else {
                        0.0
                    };
                }
                let in_use: Vec<usize> = lane
                    .routes
                    .iter()
                    .filter(|r| r.share > 0.0)
                    .map(|r| r.provider)
                    .collect();
                if let Some(&lost) = lane.in_use.iter().find(|p| !usable[**p]) {
                    fallbacks.push((g, lane.service, lost, in_use.clone()));
                }
                lane.in_use = in_use;
            }
        }
        let at = self.time_at(now);
        for (g, service, lost, in_use) in fallbacks {
            let to = if in_use.is_empty() {
                "no usable provider".to_string()
            } else {
                in_use
                    .iter()
                    .map(|&p| self.topology.providers[p].id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            self.gateways[g].last_fallback = Some(Fallback {
                at,
                service: self.topology.services[service].id.clone(),
                from: self.topology.providers[lost].id.clone(),
                to,
                reason: self.unusable_reason(lost),
            });
        }
    }

    /// Whether a replica can take traffic: active, ready, its region up and not drained, and
    /// its region's gateway has a route.
    fn replica_serves(&self, s: usize, r: usize) -> bool {
        let spec = &self.topology.services[s].replicas[r];
        let state = &self.services[s].replicas[r];
        let region = &self.regions[spec.region_index];
        let (g, lane) = self.lane_of[s][r];
        state.role == ReplicaRole::Active
            && state.ready
            && !region.down
            && region.drain.is_none()
            && !self.gateways[g].lanes[lane].in_use.is_empty()
    }

    /// Splits each service's demand over the active replicas that can serve it, by their
    /// regions' weights (by capacity unless an operator set weights). When every replica that
    /// can serve is weighted 0, traffic spills over to them by capacity: a weight is a
    /// preference, not an outage. An active-passive service has one active: when it cannot
    /// serve, nothing does. Degraded modes hold back part of the demand and spare model calls.
    fn distribute_demand(&mut self, now: f64) {
        for s in 0..self.services.len() {
            let spec = &self.topology.services[s];
            let swell = 1.0 + DEMAND_SWELL * (TAU * now / DEMAND_PERIOD_S + s as f64).sin();
            let jitter = 1.0 + 0.02 * (2.0 * self.rng.random::<f64>() - 1.0);
            let demand = spec.demand_rps * swell * jitter;
            let serving: Vec<bool> = (0..spec.replicas.len())
                .map(|r| self.replica_serves(s, r))
                .collect();
            let state = &self.services[s];
            let weighted = |r: usize| match &state.region_weights {
                Some(weights) => weights[r],
                None => spec.replicas[r].capacity_rps,
            };
            let mut pull: Vec<f64> = (0..spec.replicas.len())
                .map(|r| if serving[r] { weighted(r) } else { 0.0 })
                .collect();
            if pull.iter().sum::<f64>() <= 0.0 {
                pull = (0..spec.replicas.len())
                    .map(|r| {
                        if serving[r] {
                            spec.replicas[r].capacity_rps
                        } else {
                            0.0
                        }
                    })
                    .collect();
            }
            let total_pull: f64 = pull.iter().sum();
            let effect = state.mode_effect();
            let served_demand = demand * effect.served;
            let state = &mut self.services[s];
            state.demand_rps = demand;
            state.deferred_rps = demand - served_demand;
            for (r, pull) in pull.iter().enumerate() {
                let load = served_demand * share_of(*pull, total_pull);
                state.replicas[r].load_rps = load;
                let (g, lane) = self.lane_of[s][r];
                self.gateways[g].lanes[lane].offered_rps = load * effect.model_calls;
            }
        }
    }

    /// Gateways admit up to their region's capacity and pass the admitted traffic to providers.
    fn load_providers(&mut self) {
        for provider in &mut self.providers {
            provider.load_rps = 0.0;
        }
        for gateway in &self.gateways {
            let region = &mut self.regions[gateway.region];
            let capacity = self.topology.regions[gateway.region].capacity_rps;
            region.load_rps = gateway.lanes.iter().map(|l| l.offered_rps).sum();
            region.admitted = if region.load_rps > capacity {
                capacity / region.load_rps
            } else {
                1.0
            };
            for lane in &gateway.lanes {
                for route in &lane.routes {
                    self.providers[route.provider].load_rps +=
                        lane.offered_rps * region.admitted * route.share;
                }
            }
        }
    }

    fn measure_providers(&mut self, dt: f64, fx: &Effects) {
        let memory = (-dt / NOISE_MEMORY_S).exp();
        let fresh = (1.0 - memory * memory).sqrt();
        for (p, spec) in self.topology.providers.iter().enumerate() {
            let (a, b): (f64, f64) = (self.rng.random(), self.rng.random());
            let state = &mut self.providers[p];
            state.latency_noise = memory * state.latency_noise + fresh * (2.0 * a - 1.0);
            state.error_noise = memory * state.error_noise + fresh * (2.0 * b - 1.0);
            if self.regions[spec.region_index].down {
                state.latency = timeout_latency();
                state.error_rate = 1.0;
                state.rate_limited_rate = 0.0;
                state.rate_limit_headroom = 1.0;
                continue;
            }
            state.measure(
                spec,
                fx.latency_factor[p],
                fx.rate_limit_factor[p],
                fx.outage_error[p],
                fx.extra_error[p],
            );
        }
    }

    /// Region numbers are its providers' weighted by traffic (or, without traffic, what
    /// health probes of all its providers see), plus the gateway's own queueing and shedding.
    fn measure_regions(&mut self) {
        let fleet_load: f64 = self.regions.iter().map(|r| r.load_rps).sum();
        for (r, spec) in self.topology.regions.iter().enumerate() {
            let members: Vec<usize> = (0..self.providers.len())
                .filter(|&p| self.topology.providers[p].region_index == r)
                .collect();
            let region_provider_load: f64 =
                members.iter().map(|&p| self.providers[p].load_rps).sum();
            for &p in &members {
                self.providers[p].traffic_share =
                    share_of(self.providers[p].load_rps, region_provider_load);
            }
            let region = &mut self.regions[r];
            region.traffic_share = share_of(region.load_rps, fleet_load);
            if region.down {
                region.latency = timeout_latency();
                region.error_rate = 1.0;
                region.rate_limited_rate = 0.0;
                continue;
            }
            let weights: Vec<f64> = members
                .iter()
                .map(|&p| {
                    if region_provider_load > 0.0 {
                        self.providers[p].load_rps / region_provider_load
                    } else {
                        1.0 / members.len() as f64
                    }
                })
                .collect();
            let weighted = |value: &dyn Fn(&ProviderState) -> f64| -> f64 {
                members
                    .iter()
                    .zip(&weights)
                    .map(|(&p, w)| w * value(&self.providers[p]))
                    .sum()
            };
            let gateway = queueing_factor(region.load_rps / spec.capacity_rps, 0.3);
            region.latency = Latency {
                p50_ms: weighted(&|p| p.latency.p50_ms) * gateway,
                p95_ms: weighted(&|p| p.latency.p95_ms) * gateway,
                p99_ms: weighted(&|p| p.latency.p99_ms) * gateway,
            };
            region.error_rate = region.admitted * weighted(&|p| p.error_rate);
            region.rate_limited_rate =
                (1.0 - region.admitted) + region.admitted * weighted(&|p| p.rate_limited_rate);
        }
    }

    fn update_breakers(&mut self, dt: f64, now: f64) {
        let policy = self.topology.breaker;
        let threshold_pct = policy.error_threshold * 100.0;
        let mut changes = Vec::new();
        for (p, spec) in self.topology.providers.iter().enumerate() {
            // A gateway in a region that is down is not running: its breakers stand still.
            if self.regions[spec.region_index].down {
                continue;
            }
            let state = &mut self.providers[p];
            // A quarantine holds the breaker open whatever the error rate.
            if state.quarantine.is_some() {
                continue;
            }
            let error_pct = state.error_rate * 100.0;
            // A pinned provider's errors do not count towards tripping.
            let above = state.error_rate > policy.error_threshold && state.pinned.is_none();
            let breaker = &mut state.breaker;
            let before = breaker.state;
            match breaker.state {
                BreakerState::Closed if above => {
                    breaker.above_for_s += dt;
                    if breaker.above_for_s >= policy.trip_after_s {
                        let reason = format!(
                            "error rate {error_pct:.0}% > {threshold_pct:.0}% for {}",
                            format_duration(breaker.above_for_s)
                        );
                        breaker.open(reason.clone(), Some(now + policy.cooldown_s));
                        changes.push(format!("breaker open: {} — {reason}", spec.id));
                    }
                }
                BreakerState::Closed => breaker.above_for_s = 0.0,
                BreakerState::Open => {
                    if breaker.until_s.is_some_and(|until| now >= until) {
                        breaker.state = BreakerState::HalfOpen;
                        breaker.reason = Some(format!(
                            "probing after {} cooldown",
                            format_duration(policy.cooldown_s)
                        ));
                        breaker.until_s = None;
                        breaker.probing_for_s = 0.0;
                    }
                }
                BreakerState::HalfOpen if above => {
                    let reason =
                        format!("probe failed: error rate {error_pct:.0}% > {threshold_pct:.0}%");
                    breaker.open(reason.clone(), Some(now + policy.cooldown_s));
                    changes.push(format!("breaker reopened: {} — {reason}", spec.id));
                }
                BreakerState::HalfOpen => {
                    breaker.probing_for_s += dt;
                    if breaker.probing_for_s >= policy.probe_s {
                        *breaker = BreakerMachine::closed();
                        changes.push(format!("breaker closed: {} — probe passed", spec.id));
                    }
                }
            }
            if state.breaker.state != before {
                state.control_revision += 1;
            }
        }
        for text in changes {
            self.notice(now, text);
        }
    }

    fn update_replicas(&mut self, dt: f64, now: f64, fx: &Effects) {
        for (s, spec) in self.topology.services.iter().enumerate() {
            for (r, replica) in spec.replicas.iter().enumerate() {
                let jitter = 1.0 + 0.2 * (2.0 * self.rng.random::<f64>() - 1.0);
                let region_down = self.regions[replica.region_index].down;
                let state = &mut self.services[s].replicas[r];
                if state.role == ReplicaRole::Active {
                    state.ready = !region_down;
                    state.replication_lag_s = 0.0;
                    continue;
                }
                let stopped = fx.not_warm[s][r] || region_down;
                let nominal = nominal_lag(state.role, now)
                    * if state.role == ReplicaRole::ColdStandby {
                        1.0
                    } else {
                        jitter
                    };
                state.replication_lag_s = if stopped {
                    state.replication_lag_s + dt
                } else if state.replication_lag_s > nominal {
                    (state.replication_lag_s - CATCH_UP_RATE * dt).max(nominal)
                } else {
                    nominal
                };
                state.ready = !stopped && state.role != ReplicaRole::ColdStandby;
            }
        }
    }

    fn judge_health(&mut self) {
        for (p, spec) in self.topology.providers.iter().enumerate() {
            let down = self.regions[spec.region_index].down;
            let state = &mut self.providers[p];
            state.health = if down
                || state.breaker.state == BreakerState::Open
                || state.error_rate >= DOWN_RATE
                || state.rate_limited_rate >= DOWN_RATE
            {
                Health::Down
            } else if state.breaker.state == BreakerState::HalfOpen
                || state.error_rate >= DEGRADED_RATE
                || state.rate_limited_rate >= DEGRADED_RATE
                || state.latency.p95_ms > SLOW_FACTOR * spec.base_latency.p95_ms
            {
                Health::Degraded
            } else {
                Health::Ok
            };
        }
        for (r, spec) in self.topology.regions.iter().enumerate() {
            let members = || {
                (0..self.providers.len()).filter(|&p| self.topology.providers[p].region_index == r)
            };
            let any_usable = members().any(|p| self.provider_usable(p));
            let any_unwell = members().any(|p| self.providers[p].health != Health::Ok);
            let region = &mut self.regions[r];
            region.health = if region.down || !any_usable {
                Health::Down
            } else if region.error_rate >= DEGRADED_RATE
                || region.rate_limited_rate >= DEGRADED_RATE
                || region.latency.p95_ms > SLOW_FACTOR * region.baseline_p95_ms
                || region.load_rps > spec.capacity_rps
                || any_unwell
            {
                Health::Degraded
            } else {
                Health::Ok
            };
        }
        for s in 0..self.services.len() {
            self.services[s].health = self.service_health(s);
        }
    }

    /// Down when most requests fail; degraded when some do, when they are slow, or when one
    /// more failure would hurt (a replica lost, no standby to fail over to, a replica overloaded).
    /// Demand a degraded mode holds back does not fail, but the mode itself degrades.
    fn service_health(&self, s: usize) -> Health {
        let spec = &self.topology.services[s];
        let state = &self.services[s];
        let mut failing_rps = 0.0;
        let mut served_rps = 0.0;
        let mut calls_rps = 0.0;
        let mut redundancy_lost = false;
        let mut overloaded = false;
        // Model calls weighted by how many times slower than usual their providers answer.
        let mut slow_rps = 0.0;
        for (r, replica) in spec.replicas.iter().enumerate() {
            let replica_state = &state.replicas[r];
            if replica_state.role == ReplicaRole::Active && !self.replica_serves(s, r) {
                redundancy_lost = true;
            }
            overloaded |= replica_state.load_rps > replica.capacity_rps;
            served_rps += replica_state.load_rps;
            let (g, lane) = self.lane_of[s][r];
            let calls = self.gateways[g].lanes[lane].offered_rps;
            if calls <= 0.0 {
                continue;
            }
            let admitted = self.regions[replica.region_index].admitted;
            let (mut provider_failing, mut slowdown) = (0.0, 0.0);
            for route in &self.gateways[g].lanes[lane].routes {
                let p = &self.providers[route.provider];
                let base_p95 = self.topology.providers[route.provider].base_latency.p95_ms;
                provider_failing += route.share * (p.error_rate + p.rate_limited_rate).min(1.0);
                slowdown += route.share * p.latency.p95_ms / base_p95;
            }
            calls_rps += calls;
            failing_rps += calls * ((1.0 - admitted) + admitted * provider_failing);
            slow_rps += calls * slowdown;
        }
        failing_rps += (state.demand_rps - state.deferred_rps - served_rps).max(0.0);
        let is_standby = |st: &ReplicaState| st.role.is_standby();
        let has_standbys = state.replicas.iter().any(is_standby);
        let standby_ready = state
            .replicas
            .iter()
            .any(|st| is_standby(st) && st.ready && st.replication_lag_s <= MAX_STANDBY_LAG_S);
        redundancy_lost |= has_standbys && !standby_ready;
        let failing = share_of(failing_rps, state.demand_rps);
        let slow = share_of(slow_rps, calls_rps) > SLOW_FACTOR;
        if failing >= DOWN_RATE {
            Health::Down
        } else if failing >= DEGRADED_RATE
            || slow
            || redundancy_lost
            || overloaded
            || !state.degraded_modes.is_empty()
        {
            Health::Degraded
        } else {
            Health::Ok
        }
    }

    fn region_views(&self) -> Vec<Region> {
        (0..self.regions.len())
            .map(|r| self.region_view(r))
            .collect()
    }

    fn region_view(&self, r: usize) -> Region {
        let spec = &self.topology.regions[r];
        let state = &self.regions[r];
        Region {
            id: spec.id.clone(),
            health: state.health,
            latency: round_latency(state.latency),
            error_rate: round(state.error_rate, 4),
            rate_limited_rate: round(state.rate_limited_rate, 4),
            capacity_rps: round(spec.capacity_rps, 1),
            load_rps: round(state.load_rps, 1),
            traffic_share: round(state.traffic_share, 4),
            drain: state.drain.as_ref().map(|c| self.timed_control(c)),
            control_revision: state.control_revision,
        }
    }

    fn provider_views(&self) -> Vec<Provider> {
        (0..self.providers.len())
            .map(|p| self.provider_view(p))
            .collect()
    }

    fn provider_view(&self, p: usize) -> Provider {
        let spec = &self.topology.providers[p];
        let state = &self.providers[p];
        Provider {
            id: spec.id.clone(),
            vendor: spec.vendor.clone(),
            model: spec.model.clone(),
            region: self.topology.regions[spec.region_index].id.clone(),
            health: state.health,
            latency: round_latency(state.latency),
            error_rate: round(state.error_rate, 4),
            rate_limited_rate: round(state.rate_limited_rate, 4),
            breaker: Breaker {
                state: state.breaker.state,
                reason: state.breaker.reason.clone(),
                until: state.breaker.until_s.map(|s| self.time_at(s)),
            },
            rate_limit_headroom: round(state.rate_limit_headroom, 4),
            cost_tier: spec.cost_tier.clone(),
            load_rps: round(state.load_rps, 1),
            traffic_share: round(state.traffic_share, 4),
            quarantine: state.quarantine.as_ref().map(|c| self.timed_control(c)),
            pinned: state.pinned.as_ref().map(|c| self.timed_control(c)),
            control_revision: state.control_revision,
        }
    }

    fn gateway_views(&self) -> Vec<Gateway> {
        self.gateways
            .iter()
            .map(|gateway| {
                let region = &self.topology.regions[gateway.region].id;
                Gateway {
                    id: format!("gw-{region}"),
                    region: region.clone(),
                    routes: gateway
                        .lanes
                        .iter()
                        .flat_map(|lane| {
                            lane.routes.iter().map(|route| Route {
                                service: self.topology.services[lane.service].id.clone(),
                                provider: self.topology.providers[route.provider].id.clone(),
                                rank: route.rank,
                                weight: route.weight,
                                share: round(route.share, 4),
                            })
                        })
                        .collect(),
                    last_fallback: gateway.last_fallback.clone(),
                }
            })
            .collect()
    }

    fn service_views(&self) -> Vec<Service> {
        (0..self.services.len())
            .map(|s| self.service_view(s))
            .collect()
    }

    fn service_view(&self, s: usize) -> Service {
        let spec = &self.topology.services[s];
        let state = &self.services[s];
        let region_of = |r: usize| {
            self.topology.regions[spec.replicas[r].region_index]
                .id
                .clone()
        };
        Service {
            id: spec.id.clone(),
            tier: spec.tier,
            health: state.health,
            demand_rps: round(state.demand_rps, 1),
            replicas: spec
                .replicas
                .iter()
                .zip(&state.replicas)
                .enumerate()
                .map(|(r, (replica, st))| Replica {
                    id: replica.id.clone(),
                    region: region_of(r),
                    role: st.role,
                    ready: st.ready,
                    replication_lag_s: round(st.replication_lag_s, 1),
                    capacity_rps: round(replica.capacity_rps, 1),
                    load_rps: round(st.load_rps, 1),
                })
                .collect(),
            degraded_modes: state
                .degraded_modes
                .iter()
                .map(|m| self.degraded_mode_view(m))
                .collect(),
            region_weights: state
                .region_weights
                .iter()
                .flatten()
                .enumerate()
                .map(|(r, weight)| (region_of(r), *weight))
                .collect(),
            control_revision: state.control_revision,
        }
    }
}

impl ProviderState {
    fn new() -> Self {
        ProviderState {
            breaker: BreakerMachine::closed(),
            latency_noise: 0.0,
            error_noise: 0.0,
            load_rps: 0.0,
            latency: Latency::default(),
            error_rate: 0.0,
            rate_limited_rate: 0.0,
            rate_limit_headroom: 1.0,
            traffic_share: 0.0,
            health: Health::Unknown,
            quarantine: None,
            pinned: None,
            control_revision: 1,
        }
    }

    /// Latency grows with utilisation (the tail faster), 429s with load past the rate
    /// limit, errors with injects and with load past capacity.
    fn measure(
        &mut self,
        spec: &ProviderSpec,
        slow: f64,
        rate_limit_factor: f64,
        outage_error: f64,
        extra_error: f64,
    ) {
        let utilisation = self.load_rps / spec.capacity_rps;
        let queue = queueing_factor(utilisation, 0.6);
        let jitter = 1.0 + 0.06 * self.latency_noise;
        let base = spec.base_latency;
        let p50 = base.p50_ms * queue * slow * jitter;
        let p95 = (base.p95_ms * queue.powf(1.3) * slow * jitter).max(p50);
        let p99 = (base.p99_ms * queue.powf(1.6) * slow * jitter).max(p95);
        self.latency = Latency {
            p50_ms: p50,
            p95_ms: p95,
            p99_ms: p99,
        };
        let limit = spec.rate_limit_rps * rate_limit_factor;
        self.rate_limited_rate = if self.load_rps > limit {
            1.0 - limit / self.load_rps
        } else {
            0.0
        };
        self.rate_limit_headroom = (1.0 - self.load_rps / limit).clamp(0.0, 1.0);
        let mut intrinsic = (spec.base_error_rate * (1.0 + 0.5 * self.error_noise)).max(0.0);
        if outage_error > 0.0 {
            intrinsic = intrinsic.max((outage_error * (1.0 + 0.03 * self.error_noise)).min(1.0));
        }
        let overload = if utilisation > 1.0 {
            ((utilisation - 1.0) * 0.5).min(0.5)
        } else {
            0.0
        };
        self.error_rate = (intrinsic + extra_error + overload).clamp(0.0, 1.0);
    }
}

impl BreakerMachine {
    fn closed() -> Self {
        BreakerMachine {
            state: BreakerState::Closed,
            reason: None,
            until_s: None,
            above_for_s: 0.0,
            probing_for_s: 0.0,
        }
    }

    /// Opens the breaker; it tries half-open at `until_s`, or stays open without one.
    fn open(&mut self, reason: String, until_s: Option<f64>) {
        self.state = BreakerState::Open;
        self.reason = Some(reason);
        self.until_s = until_s;
        self.above_for_s = 0.0;
        self.probing_for_s = 0.0;
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

/// How much slower a server answers at `utilisation` (load / capacity): gently at first,
/// steeply past capacity as queues build.
fn queueing_factor(utilisation: f64, steepness: f64) -> f64 {
    let u = utilisation.max(0.0);
    if u <= 1.0 {
        1.0 + steepness * u * u
    } else {
        1.0 + steepness + 6.0 * steepness * (u - 1.0)
    }
}

fn timeout_latency() -> Latency {
    Latency {
        p50_ms: PROBE_TIMEOUT_MS,
        p95_ms: PROBE_TIMEOUT_MS,
        p99_ms: PROBE_TIMEOUT_MS,
    }
}

fn share_of(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

fn round_latency(latency: Latency) -> Latency {
    Latency {
        p50_ms: round(latency.p50_ms, 1),
        p95_ms: round(latency.p95_ms, 1),
        p99_ms: round(latency.p99_ms, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    pub(super) fn sim_with(seed: u64, scenario: Option<Scenario>) -> Sim {
        Sim::new(
            Topology::embedded_default(),
            scenario,
            seed,
            DateTime::<Utc>::UNIX_EPOCH,
        )
    }

    pub(super) fn sim(seed: u64, shipped: Option<&str>) -> Sim {
        let topology = Topology::embedded_default();
        let scenario = shipped.map(|name| Scenario::load(Path::new(name), &topology).unwrap());
        sim_with(seed, scenario)
    }

    /// Runs until simulated second `t`.
    pub(super) fn run_to(sim: &mut Sim, t: f64) -> FleetView {
        sim.tick(t - sim.elapsed_s());
        assert!((sim.elapsed_s() - t).abs() < 1e-9);
        sim.view()
    }

    pub(super) fn provider<'a>(view: &'a FleetView, id: &str) -> &'a Provider {
        view.providers.iter().find(|p| p.id == id).unwrap()
    }

    pub(super) fn region<'a>(view: &'a FleetView, id: &str) -> &'a Region {
        view.regions.iter().find(|r| r.id == id).unwrap()
    }

    pub(super) fn service<'a>(view: &'a FleetView, id: &str) -> &'a Service {
        view.services.iter().find(|s| s.id == id).unwrap()
    }

    pub(super) fn route_share(
        view: &FleetView,
        region: &str,
        service: &str,
        provider: &str,
    ) -> f64 {
        let gateway = view.gateways.iter().find(|g| g.region == region).unwrap();
        let route = gateway
            .routes
            .iter()
            .find(|r| r.service == service && r.provider == provider)
            .unwrap();
        route.share
    }

    pub(super) fn share_sum(view: &FleetView) -> f64 {
        view.regions.iter().map(|r| r.traffic_share).sum()
    }

    #[test]
    fn same_seed_gives_the_same_fleet_and_another_seed_does_not() {
        let mut a = sim(42, Some("provider-outage"));
        let mut b = sim(42, Some("provider-outage"));
        let mut c = sim(43, Some("provider-outage"));
        for _ in 0..120 {
            a.tick(1.5);
            b.tick(1.5);
            c.tick(1.5);
        }
        assert_eq!(a.view(), b.view());
        assert_eq!(a.notices(), b.notices());
        assert_ne!(a.view(), c.view());
    }

    #[test]
    fn long_ticks_play_out_like_short_ones() {
        let mut fast = sim(7, Some("region-down"));
        let mut slow = sim(7, Some("region-down"));
        for _ in 0..10 {
            fast.tick(3.0);
        }
        for _ in 0..120 {
            slow.tick(0.25);
        }
        assert_eq!(fast.view(), slow.view());
        assert_eq!(fast.notices(), slow.notices());
    }

    #[test]
    fn without_a_scenario_the_fleet_stays_healthy() {
        let mut sim = sim(42, None);
        for t in (5..=600).step_by(5) {
            let view = run_to(&mut sim, t as f64);
            let unwell: Vec<String> = view
                .regions
                .iter()
                .map(|r| (&r.id, r.health))
                .chain(view.providers.iter().map(|p| (&p.id, p.health)))
                .chain(view.services.iter().map(|s| (&s.id, s.health)))
                .filter(|(_, health)| *health != Health::Ok)
                .map(|(id, health)| format!("{id} {}", health.word()))
                .collect();
            assert!(unwell.is_empty(), "t={t}: {unwell:?}");
            assert!((share_sum(&view) - 1.0).abs() < 1e-3);
            assert!(
                view.providers
                    .iter()
                    .all(|p| p.breaker.state == BreakerState::Closed)
            );
        }
        let notices: Vec<&str> = sim.notices().iter().map(|n| n.text.as_str()).collect();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].starts_with("00:00:00 lab started on topology default: Four regions"));
    }

    #[test]
    fn provider_outage_trips_the_breaker_and_traffic_fails_over_to_the_next_rank() {
        let mut sim = sim(42, Some("provider-outage"));
        let before = run_to(&mut sim, 9.75);
        assert_eq!(provider(&before, "openai@us-east").health, Health::Ok);
        assert_eq!(
            route_share(&before, "us-east", "risk-scorer", "openai@us-east"),
            1.0
        );
        assert_eq!(
            route_share(&before, "us-east", "risk-scorer", "anthropic@us-east"),
            0.0
        );

        // The outage shows at once; the breaker waits for trip_after_s.
        let failing = run_to(&mut sim, 10.0);
        let openai = provider(&failing, "openai@us-east");
        assert!(openai.error_rate > 0.5, "{}", openai.error_rate);
        assert_eq!(openai.health, Health::Down);
        assert_eq!(openai.breaker.state, BreakerState::Closed);
        assert_eq!(region(&failing, "us-east").health, Health::Degraded);
        let waiting = run_to(&mut sim, 14.5);
        assert_eq!(
            provider(&waiting, "openai@us-east").breaker.state,
            BreakerState::Closed
        );

        let tripped = run_to(&mut sim, 15.5);
        let openai = provider(&tripped, "openai@us-east");
        assert_eq!(openai.breaker.state, BreakerState::Open);
        assert!(
            openai
                .breaker
                .reason
                .as_deref()
                .unwrap()
                .contains("> 50% for 5s")
        );
        assert!(openai.breaker.until.unwrap() > sim.now());
        assert_eq!(openai.load_rps, 0.0);
        assert_eq!(
            route_share(&tripped, "us-east", "risk-scorer", "openai@us-east"),
            0.0
        );
        assert_eq!(
            route_share(&tripped, "us-east", "risk-scorer", "anthropic@us-east"),
            0.6
        );
        assert_eq!(
            route_share(&tripped, "us-east", "risk-scorer", "google@us-east"),
            0.4
        );
        assert!(provider(&tripped, "google@us-east").load_rps > 20.0);
        let gateway = tripped
            .gateways
            .iter()
            .find(|g| g.region == "us-east")
            .unwrap();
        let fallback = gateway.last_fallback.as_ref().unwrap();
        assert_eq!(
            (
                fallback.service.as_str(),
                fallback.from.as_str(),
                fallback.to.as_str()
            ),
            (
                "risk-scorer",
                "openai@us-east",
                "anthropic@us-east, google@us-east"
            )
        );
        assert!(
            fallback
                .reason
                .starts_with("breaker open on openai@us-east"),
            "{}",
            fallback.reason
        );
        assert!(
            sim.notices()
                .iter()
                .any(|n| n.text.contains("breaker open: openai@us-east"))
        );
        // Other regions are untouched.
        assert_eq!(
            route_share(&tripped, "us-west", "risk-scorer", "openai@us-west"),
            1.0
        );

        // The outage ends at 4m10s; a probe after the next cooldown closes the breaker.
        let recovered = run_to(&mut sim, 300.0);
        assert_eq!(
            provider(&recovered, "openai@us-east").breaker.state,
            BreakerState::Closed
        );
        assert_eq!(
            route_share(&recovered, "us-east", "risk-scorer", "openai@us-east"),
            1.0
        );
        assert!(
            sim.notices()
                .iter()
                .any(|n| n.text.contains("breaker closed: openai@us-east"))
        );
    }

    #[test]
    fn region_down_moves_its_traffic_share_to_the_other_regions() {
        let mut sim = sim(42, Some("region-down"));
        let before = run_to(&mut sim, 14.75);
        assert!(region(&before, "us-east").traffic_share > 0.3);
        assert_eq!(service(&before, "credit-decision").health, Health::Ok);

        let after = run_to(&mut sim, 20.0);
        let east = region(&after, "us-east");
        assert_eq!(
            (east.health, east.load_rps, east.traffic_share),
            (Health::Down, 0.0, 0.0)
        );
        assert!(
            (share_sum(&after) - 1.0).abs() < 1e-3,
            "shares sum to {}",
            share_sum(&after)
        );
        for id in ["us-west", "eu-west", "ap-south"] {
            assert!(
                region(&after, id).traffic_share > region(&before, id).traffic_share,
                "{id}"
            );
        }
        // eu-west cannot absorb its new share: it sheds with 429s.
        let eu = region(&after, "eu-west");
        assert!(eu.headroom() < 0.0 && eu.rate_limited_rate > 0.05, "{eu:?}");
        let risk = service(&after, "risk-scorer");
        let served: f64 = risk.replicas.iter().map(|r| r.load_rps).sum();
        assert!(
            (served - risk.demand_rps).abs() < 0.5,
            "all demand served elsewhere"
        );
        assert_eq!(risk.health, Health::Degraded);
        // Active-passive: nothing serves credit-decision until its standby is promoted.
        assert_eq!(service(&after, "credit-decision").health, Health::Down);

        let back = run_to(&mut sim, 620.0);
        assert_eq!(region(&back, "us-east").health, Health::Ok);
        assert!(region(&back, "us-east").traffic_share > 0.3);
    }

    #[test]
    fn rate_limit_storm_raises_429s_across_regions() {
        let mut sim = sim(42, Some("rate-limit-storm"));
        let before = run_to(&mut sim, 14.75);
        let storm = run_to(&mut sim, 20.0);
        for region_id in ["us-east", "us-west", "eu-west"] {
            let id = format!("openai@{region_id}");
            assert_eq!(provider(&before, &id).rate_limited_rate, 0.0, "{id}");
            assert!(provider(&storm, &id).rate_limited_rate > 0.2, "{id}");
            assert_eq!(provider(&storm, &id).rate_limit_headroom, 0.0, "{id}");
            assert!(
                region(&storm, region_id).rate_limited_rate > 0.1,
                "{region_id}"
            );
            assert_eq!(region(&storm, region_id).health, Health::Degraded);
        }
        assert_eq!(provider(&storm, "google@eu-west").rate_limited_rate, 0.0);
        // 429s are not errors: no breaker opens.
        assert!(
            storm
                .providers
                .iter()
                .all(|p| p.breaker.state == BreakerState::Closed)
        );
        let after = run_to(&mut sim, 200.0);
        assert_eq!(provider(&after, "openai@us-east").rate_limited_rate, 0.0);
    }

    #[test]
    fn region_brownout_slows_the_region_and_its_errors_rise() {
        let mut sim = sim(42, Some("region-brownout"));
        let before = run_to(&mut sim, 9.75);
        let early = run_to(&mut sim, 15.0);
        assert!(
            region(&early, "eu-west").latency.p95_ms
                > 3.0 * region(&before, "eu-west").latency.p95_ms
        );
        assert_eq!(region(&early, "eu-west").health, Health::Degraded);
        assert_eq!(region(&early, "us-east").health, Health::Ok);
        let late = run_to(&mut sim, 280.0);
        assert!(region(&late, "eu-west").error_rate > region(&early, "eu-west").error_rate + 0.1);
        assert_eq!(service(&late, "email-notifier").health, Health::Degraded);
    }

    #[test]
    fn a_standby_that_is_not_warm_is_not_ready_and_falls_behind() {
        let mut sim = sim(42, Some("standby-not-warm"));
        let standby = |view: &FleetView| service(view, "credit-decision").replicas[1].clone();
        let before = run_to(&mut sim, 4.75);
        assert!(standby(&before).ready && standby(&before).replication_lag_s < 2.0);
        let stale = run_to(&mut sim, 50.0);
        assert!(!standby(&stale).ready);
        assert!(standby(&stale).replication_lag_s > MAX_STANDBY_LAG_S);
        assert_eq!(service(&stale, "credit-decision").health, Health::Degraded);
        let down = run_to(&mut sim, 70.0);
        assert_eq!(service(&down, "credit-decision").health, Health::Down);
    }

    #[test]
    fn injects_start_and_end_on_time() {
        let topology = Topology::embedded_default();
        let text = "name = \"blip\"\n[[inject]]\nat = \"10s\"\nkind = \"provider-outage\"\n\
                    target = \"google@ap-south\"\nduration = \"20s\"\nnarrative = \"blip\"\n";
        let scenario = Scenario::parse("blip.toml", text, &topology).unwrap();
        let mut sim = sim_with(1, Some(scenario));
        let mut failing_at = Vec::new();
        while sim.elapsed_s() < 40.0 {
            sim.tick(0.25);
            let failing = provider(&sim.view(), "google@ap-south").error_rate > 0.5;
            if failing != failing_at.len().is_multiple_of(2) {
                continue;
            }
            failing_at.push(sim.elapsed_s());
        }
        assert_eq!(failing_at, [10.0, 30.0], "start and end");
        let texts: Vec<&str> = sim.notices().iter().map(|n| n.text.as_str()).collect();
        assert_eq!(texts[1], "00:00:00 scenario blip started");
        assert_eq!(
            texts[2],
            "00:00:10 inject: google@ap-south outage (503s, 90% errors) for 20s — blip"
        );
        assert!(
            texts.contains(&"00:00:30 inject ended: google@ap-south outage (503s, 90% errors)"),
            "{texts:?}"
        );
    }

    #[test]
    fn fresh_notices_are_handed_out_once() {
        let mut sim = sim(42, Some("provider-outage"));
        let started = sim.take_fresh_notices();
        assert_eq!(started.len(), 2);
        assert!(
            started[1]
                .text
                .starts_with("00:00:00 scenario provider-outage started: openai@us-east answers")
        );
        sim.tick(11.0);
        let fresh = sim.take_fresh_notices();
        assert_eq!(fresh.len(), 1);
        assert!(
            fresh[0]
                .text
                .starts_with("00:00:10 inject: openai@us-east outage")
        );
        assert!(sim.take_fresh_notices().is_empty());
        assert_eq!(sim.notices(), [started, fresh].concat().as_slice());
    }
}
