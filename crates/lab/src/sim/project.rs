//! The simulation projected to protocol v1's wire types: what a snapshot shows of each
//! region, provider, gateway and service, rounded as the console displays it.

use super::{Sim, round};
use protocol::{Breaker, Gateway, Latency, Provider, Region, Replica, Route, Service};

impl Sim {
    pub(super) fn region_views(&self) -> Vec<Region> {
        (0..self.regions.len())
            .map(|r| self.region_view(r))
            .collect()
    }

    pub(super) fn region_view(&self, r: usize) -> Region {
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

    pub(super) fn provider_views(&self) -> Vec<Provider> {
        (0..self.providers.len())
            .map(|p| self.provider_view(p))
            .collect()
    }

    pub(super) fn provider_view(&self, p: usize) -> Provider {
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
            rate_limit_rps: Some(round(state.rate_limit_rps, 1)),
            cost_tier: spec.cost_tier.clone(),
            price_per_1k_tokens: spec.price_per_1k_tokens,
            load_rps: round(state.load_rps, 1),
            traffic_share: round(state.traffic_share, 4),
            quarantine: state.quarantine.as_ref().map(|c| self.timed_control(c)),
            pinned: state.pinned.as_ref().map(|c| self.timed_control(c)),
            control_revision: state.control_revision,
        }
    }

    pub(super) fn gateway_views(&self) -> Vec<Gateway> {
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

    pub(super) fn service_views(&self) -> Vec<Service> {
        (0..self.services.len())
            .map(|s| self.service_view(s))
            .collect()
    }

    pub(super) fn service_view(&self, s: usize) -> Service {
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
                .filter(|(_, (_, st))| !st.returned)
                .map(|(r, (replica, st))| Replica {
                    id: replica.id.clone(),
                    region: region_of(r),
                    role: st.role,
                    ready: st.ready,
                    replication_lag_s: round(st.replication_lag_s, 1),
                    capacity_rps: round(replica.capacity_rps, 1),
                    load_rps: round(st.load_rps, 1),
                    takeover_s: Some(self.topology.failover.expected_s(st.role, st.ready)),
                    timed_role: st
                        .timed_role
                        .as_ref()
                        .map(|hold| self.timed_role_view(hold)),
                    pool: st.pool.map(|p| self.topology.pools[p].id.clone()),
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
            posture: Some(
                state
                    .budget
                    .posture(&spec.posture, spec.demand_rps, self.elapsed_s),
            ),
        }
    }
}

fn round_latency(latency: Latency) -> Latency {
    Latency {
        p50_ms: round(latency.p50_ms, 1),
        p95_ms: round(latency.p95_ms, 1),
        p99_ms: round(latency.p99_ms, 1),
    }
}
