//! The traffic model: how demand reaches replicas and how gateways route it to providers,
//! before and after a change, and the shifts of load that follow.

use std::collections::HashMap;

use super::change::{Change, FleetIndex};
use super::result::{
    MIN_SHIFT_RPS, NoPath, Preflight, ProviderShift, RegionShift, ReplicaShift, Verdict,
};
use protocol::model::ModeEffect;
use protocol::{DegradedModeKind, Provider, ReplicaRole};

/// How one gateway routes one service, before or after the change: to the lowest rank that
/// has a usable provider with a weight, split by weight; under fallback-model, all to the
/// fastest usable provider.
#[derive(Clone, Copy)]
struct Routing {
    fallback_model: bool,
    best_rank: u32,
    total_weight: f64,
    /// (p95 latency, provider index) of the fastest candidate, for fallback-model.
    fastest: Option<(f64, usize)>,
    /// A usable provider that is not failing is among the candidates.
    healthy: bool,
}

impl Routing {
    fn new(fallback_model: bool) -> Routing {
        Routing {
            fallback_model,
            best_rank: u32::MAX,
            total_weight: 0.0,
            fastest: None,
            healthy: false,
        }
    }

    fn add(&mut self, rank: u32, weight: f64, p95_ms: f64, provider: usize, healthy: bool) {
        self.healthy |= healthy;
        if self.fallback_model {
            if self.fastest.is_none_or(|(fastest, _)| p95_ms < fastest) {
                self.fastest = Some((p95_ms, provider));
            }
        } else if rank < self.best_rank {
            self.best_rank = rank;
            self.total_weight = weight;
        } else if rank == self.best_rank {
            self.total_weight += weight;
        }
    }

    fn has_path(&self) -> bool {
        if self.fallback_model {
            self.fastest.is_some()
        } else {
            self.total_weight > 0.0
        }
    }

    /// Share of the lane's traffic a candidate route gets.
    fn share(&self, rank: u32, weight: f64, provider: usize) -> f64 {
        if self.fallback_model {
            f64::from(u8::from(self.fastest.is_some_and(|(_, p)| p == provider)))
        } else if rank == self.best_rank && self.total_weight > 0.0 {
            weight / self.total_weight
        } else {
            0.0
        }
    }
}

/// One service at one region's gateway.
#[derive(Clone, Copy)]
struct Lane {
    before: Routing,
    after: Routing,
    /// Model calls per second offered to the gateway.
    offered_before: f64,
    offered_after: f64,
}

impl Lane {
    fn routing(&self, after: bool) -> &Routing {
        if after { &self.after } else { &self.before }
    }
}

/// The prediction's working state.
pub(super) struct Prediction<'f, 'a, 'c> {
    fleet: &'f FleetIndex<'a>,
    change: &'f Change<'c>,
    /// By (region, service).
    lanes: HashMap<(usize, usize), Lane>,
    /// Change of each region's offered load.
    region_delta: Vec<f64>,
    /// Scratch for one service at a time: which of its replicas serve after the change.
    serving_after: Vec<bool>,
}

impl<'f, 'a, 'c> Prediction<'f, 'a, 'c> {
    /// Builds every lane's routing before and after the change in one pass over the routes.
    pub(super) fn new(fleet: &'f FleetIndex<'a>, change: &'f Change<'c>) -> Self {
        let snapshot = fleet.snapshot;
        let mut lanes: HashMap<(usize, usize), Lane> = HashMap::new();
        for (gateway, region) in snapshot.gateways.iter().zip(&fleet.gateway_region) {
            let Some(r) = *region else { continue };
            for route in &gateway.routes {
                let (Some(&s), Some(&p)) = (
                    fleet.service_index.get(route.service.as_str()),
                    fleet.provider_index.get(route.provider.as_str()),
                ) else {
                    continue;
                };
                let lane = lanes.entry((r, s)).or_insert_with(|| {
                    let fallback = snapshot.services[s]
                        .degraded_modes
                        .iter()
                        .any(|m| m.mode == DegradedModeKind::FallbackModel);
                    Lane {
                        before: Routing::new(fallback),
                        after: Routing::new(fallback),
                        offered_before: 0.0,
                        offered_after: 0.0,
                    }
                });
                let p95 = snapshot.providers[p].latency.p95_ms;
                let (usable, healthy) = fleet.provider_state(p, change, false);
                if usable && route.weight > 0.0 {
                    lane.before.add(route.rank, route.weight, p95, p, healthy);
                }
                let (usable, healthy) = fleet.provider_state(p, change, true);
                let weight = route_weight_after(change, r, s, route);
                if usable && weight > 0.0 {
                    lane.after.add(route.rank, weight, p95, p, healthy);
                }
            }
        }
        Prediction {
            fleet,
            change,
            lanes,
            region_delta: vec![0.0; snapshot.regions.len()],
            serving_after: Vec::new(),
        }
    }

    pub(super) fn run(mut self, out: &mut Preflight) {
        for s in 0..self.fleet.snapshot.services.len() {
            self.service(s, out);
        }
        let load_after = self.regions(out);
        self.providers(&load_after, out);
    }

    /// Whether replica `i` of service `s` serves, before or after the change: active, ready,
    /// its region up and not drained, and its gateway has a usable provider for it.
    fn serves(&self, s: usize, i: usize, after: bool) -> bool {
        let replica = &self.fleet.snapshot.services[s].replicas[i];
        let (active, ready) = match self.change.promote {
            Some((ps, pi)) if after && ps == s => (pi == i, pi == i || replica.ready),
            _ => (replica.role == ReplicaRole::Active, replica.ready),
        };
        let Some(&r) = self.fleet.region_index.get(replica.region.as_str()) else {
            return false;
        };
        active
            && ready
            && !self.fleet.region_down[r]
            && !self.fleet.drained(r, self.change, after)
            && self
                .lanes
                .get(&(r, s))
                .is_some_and(|lane| lane.routing(after).has_path())
    }

    /// Spreads the service's demand over the replicas that serve after the change, when the
    /// change concerns it, and accounts for the moves.
    fn service(&mut self, s: usize, out: &mut Preflight) {
        let fleet = self.fleet;
        let service = &fleet.snapshot.services[s];
        let mut affected = self.change.promote.is_some_and(|(ps, _)| ps == s)
            || self.change.weights_of(s).is_some();
        let mut served_before = false;
        self.serving_after.clear();
        for i in 0..service.replicas.len() {
            let before = self.serves(s, i, false);
            let after = self.serves(s, i, true);
            affected |= before != after;
            served_before |= before;
            self.serving_after.push(after);
        }
        let weights = self.change.weights_of(s);
        let pull = |i: usize| -> f64 {
            let replica = &service.replicas[i];
            match weights {
                Some(weights) => weights.get(replica.region.as_str()).copied().unwrap_or(0.0),
                None if service.region_weights.is_empty() => replica.capacity_rps,
                None => service
                    .region_weights
                    .get(&replica.region)
                    .copied()
                    .unwrap_or(0.0),
            }
        };
        let serving = &self.serving_after;
        let weighted: f64 = (0..serving.len()).filter(|&i| serving[i]).map(pull).sum();
        // Weights are a preference, not an outage: with every server weighted 0, traffic
        // spills over to them by capacity.
        let by_capacity = weighted <= 0.0;
        let total_pull = if by_capacity {
            (0..serving.len())
                .filter(|&i| serving[i])
                .map(|i| service.replicas[i].capacity_rps)
                .sum()
        } else {
            weighted
        };
        let effect = ModeEffect::of_service(service);
        let served_demand = service.demand_rps * effect.served;
        for (i, replica) in service.replicas.iter().enumerate() {
            let Some(&r) = fleet.region_index.get(replica.region.as_str()) else {
                continue;
            };
            let after = if !affected {
                replica.load_rps
            } else if serving[i] && total_pull > 0.0 {
                let share = if by_capacity {
                    replica.capacity_rps
                } else {
                    pull(i)
                };
                served_demand * share / total_pull
            } else {
                0.0
            };
            if let Some(lane) = self.lanes.get_mut(&(r, s)) {
                lane.offered_before += replica.load_rps * effect.model_calls;
                lane.offered_after += after * effect.model_calls;
            }
            let delta = after - replica.load_rps;
            if delta.abs() <= MIN_SHIFT_RPS {
                continue;
            }
            self.region_delta[r] += delta * effect.model_calls;
            let headroom = headroom(after, replica.capacity_rps);
            out.replicas.push(ReplicaShift {
                service: service.id.clone(),
                replica: replica.id.clone(),
                region: replica.region.clone(),
                load_before_rps: replica.load_rps,
                load_after_rps: after,
                capacity_rps: replica.capacity_rps,
                headroom_after: headroom,
                verdict: Verdict::of(headroom),
            });
        }
        if affected && served_before && total_pull <= 0.0 && served_demand > 0.0 {
            out.no_path.push(NoPath {
                service: service.id.clone(),
                region: None,
                why: self.why_nothing_serves(s),
            });
        }
        self.lost_healthy_paths(s, out);
    }

    /// Lanes of serving replicas whose last healthy provider the change takes away.
    fn lost_healthy_paths(&self, s: usize, out: &mut Preflight) {
        let service = &self.fleet.snapshot.services[s];
        for (i, replica) in service.replicas.iter().enumerate() {
            let Some(&r) = self.fleet.region_index.get(replica.region.as_str()) else {
                continue;
            };
            if !self.change.touches_routes_in(r, self.fleet) || !self.serves(s, i, false) {
                continue;
            }
            let Some(lane) = self.lanes.get(&(r, s)) else {
                continue;
            };
            if lane.before.healthy && !lane.after.healthy {
                let why = if lane.after.has_path() {
                    "only failing providers would be left to take its traffic"
                } else {
                    "no usable provider would be left: its replica there stops serving"
                };
                out.no_path.push(NoPath {
                    service: service.id.clone(),
                    region: Some(replica.region.clone()),
                    why: why.to_string(),
                });
            }
        }
    }

    fn why_nothing_serves(&self, s: usize) -> String {
        let fleet = self.fleet;
        let service = &fleet.snapshot.services[s];
        let promoted = self
            .change
            .promote
            .filter(|(ps, _)| *ps == s)
            .map(|(_, i)| i);
        let mut reasons = Vec::new();
        for (i, replica) in service.replicas.iter().enumerate() {
            if replica.role != ReplicaRole::Active && promoted != Some(i) {
                continue;
            }
            let region = fleet.region_index.get(replica.region.as_str()).copied();
            let why = match region {
                None => "in an unknown region",
                Some(r) if fleet.drained(r, self.change, true) => "its region drained",
                Some(r) if fleet.region_down[r] => "its region down",
                Some(r) if !self.lanes.get(&(r, s)).is_some_and(|l| l.after.has_path()) => {
                    "no usable provider at its gateway"
                }
                Some(_) if promoted.is_some() && promoted != Some(i) => "demoted to hot standby",
                Some(_) => "not ready",
            };
            reasons.push(format!("{} ({why})", replica.id));
        }
        let mut text = format!("no replica would take its traffic: {}", reasons.join(", "));
        let standbys: Vec<&str> = service
            .replicas
            .iter()
            .filter(|r| r.role.is_standby())
            .map(|r| r.id.as_str())
            .collect();
        if promoted.is_none() && !standbys.is_empty() {
            text.push_str(&format!(
                "; promote a standby first ({})",
                standbys.join(", ")
            ));
        }
        text
    }

    /// Regions whose load changes; returns every region's load after the change.
    fn regions(&self, out: &mut Preflight) -> Vec<f64> {
        let regions = &self.fleet.snapshot.regions;
        let load_after: Vec<f64> = regions
            .iter()
            .zip(&self.region_delta)
            .map(|(r, delta)| (r.load_rps + delta).max(0.0))
            .collect();
        let fleet_after: f64 = load_after.iter().sum();
        for (r, region) in regions.iter().enumerate() {
            let commanded = self.change.drained.is_some_and(|(d, _)| d == r);
            if !commanded && self.region_delta[r].abs() <= MIN_SHIFT_RPS {
                continue;
            }
            let headroom = headroom(load_after[r], region.capacity_rps);
            out.regions.push(RegionShift {
                region: region.id.clone(),
                share_before: region.traffic_share,
                share_after: if fleet_after > 0.0 {
                    load_after[r] / fleet_after
                } else {
                    0.0
                },
                load_before_rps: region.load_rps,
                load_after_rps: load_after[r],
                capacity_rps: region.capacity_rps,
                headroom_after: headroom,
                verdict: Verdict::of(headroom),
            });
        }
        load_after
    }

    /// Providers in the regions whose load or routes change: each lane's offered load,
    /// admitted up to the region's capacity, split by route share.
    fn providers(&self, load_after: &[f64], out: &mut Preflight) {
        let fleet = self.fleet;
        let snapshot = fleet.snapshot;
        let mut provider_delta = vec![0.0; snapshot.providers.len()];
        for (gateway, region) in snapshot.gateways.iter().zip(&fleet.gateway_region) {
            let Some(r) = *region else { continue };
            if self.region_delta[r].abs() <= MIN_SHIFT_RPS
                && !self.change.touches_routes_in(r, fleet)
            {
                continue;
            }
            let capacity = snapshot.regions[r].capacity_rps;
            let admitted_before = admitted(snapshot.regions[r].load_rps, capacity);
            let admitted_after = admitted(load_after[r], capacity);
            for route in &gateway.routes {
                let (Some(&s), Some(&p)) = (
                    fleet.service_index.get(route.service.as_str()),
                    fleet.provider_index.get(route.provider.as_str()),
                ) else {
                    continue;
                };
                let Some(lane) = self.lanes.get(&(r, s)) else {
                    continue;
                };
                let weight = route_weight_after(self.change, r, s, route);
                let (usable, _) = fleet.provider_state(p, self.change, true);
                let share_after = if usable && weight > 0.0 {
                    lane.after.share(route.rank, weight, p)
                } else {
                    0.0
                };
                provider_delta[p] += lane.offered_after * admitted_after * share_after
                    - lane.offered_before * admitted_before * route.share;
            }
        }
        for (p, provider) in snapshot.providers.iter().enumerate() {
            let commanded = self.change.breaker_open.is_some_and(|(q, _)| q == p);
            if !commanded && provider_delta[p].abs() <= MIN_SHIFT_RPS {
                continue;
            }
            let after = (provider.load_rps + provider_delta[p]).max(0.0);
            let limit = super::rate_limit_of(provider);
            let headroom_after = limit.map(|limit| headroom(after, limit));
            out.providers.push(ProviderShift {
                provider: provider.id.clone(),
                region: provider.region.clone(),
                load_before_rps: provider.load_rps,
                load_after_rps: after,
                rate_limit_rps: limit,
                headroom_after,
                verdict: headroom_after.map(Verdict::of),
            });
        }
    }
}

/// A route's weight after the change.
fn route_weight_after(
    change: &Change,
    region: usize,
    service: usize,
    route: &protocol::Route,
) -> f64 {
    match change.route_weights {
        Some((s, r, given)) if s == service && r == region => {
            given.get(&route.provider).copied().unwrap_or(route.weight)
        }
        _ => route.weight,
    }
}

fn headroom(load: f64, capacity: f64) -> f64 {
    if capacity > 0.0 {
        1.0 - load / capacity
    } else if load > 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Share of offered load a gateway admits (it sheds the rest).
fn admitted(load: f64, capacity: f64) -> f64 {
    if load > capacity && load > 0.0 {
        capacity / load
    } else {
        1.0
    }
}

/// A provider's rate limit, from what its load and headroom reveal: below the limit the
/// headroom is 1 - load / limit; past it, the share of 429s is 1 - limit / load. An idle
/// provider reveals nothing.
pub(super) fn revealed_rate_limit(provider: &Provider) -> Option<f64> {
    let load = provider.load_rps;
    let headroom = provider.rate_limit_headroom;
    if load <= 0.0 || headroom >= 1.0 {
        None
    } else if headroom > 0.0 {
        Some(load / (1.0 - headroom))
    } else {
        Some(load * (1.0 - provider.rate_limited_rate))
    }
}
