//! One step of the simulation's physics: injects start and end, gateways pick routes,
//! service demand goes to the regions that can serve it, and load reaches providers.

use std::f64::consts::TAU;

use rand::RngExt;

use super::{Effects, InjectPhase, LaneRoute, Sim, share_of};
use crate::scenario::{InjectKind, InjectTarget, format_duration};
use protocol::{BreakerState, DegradedModeKind, Fallback, ReplicaRole};

/// Demand swells and ebbs by a few percent over this period.
const DEMAND_PERIOD_S: f64 = 900.0;
const DEMAND_SWELL: f64 = 0.05;

impl Sim {
    /// Brings every derived number up to date for the current instant; `dt` is the time
    /// since the previous evaluation.
    pub(super) fn evaluate(&mut self, dt: f64) {
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
        self.spend_budgets(dt, now);
    }

    fn advance_injects(&mut self, now: f64) {
        let Some(scenario) = self.scenario.as_ref() else {
            return;
        };
        let mut fired = Vec::new();
        let phases = self.inject_phases.iter_mut().enumerate();
        for (inject, (index, phase)) in scenario.injects.iter().zip(phases) {
            if *phase == InjectPhase::Pending && now >= inject.at_s {
                *phase = InjectPhase::Active;
                self.fired_injects.push(index);
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
                            InjectKind::RegionDown
                            | InjectKind::StandbyNotWarm
                            | InjectKind::EscalationBurst
                            | InjectKind::SourceUnreachable
                            | InjectKind::Message => {}
                        }
                    }
                }
                InjectTarget::Region(r) => fx.region_down[*r] = true,
                InjectTarget::Replicas(replicas) => {
                    for &(s, r) in replicas {
                        fx.not_warm[s][r] = true;
                    }
                }
                // Escalations, the source's answers and messages are the server's, not physics.
                InjectTarget::Service(_) | InjectTarget::FleetSource | InjectTarget::Players => {}
            }
        }
        fx
    }

    pub(super) fn provider_usable(&self, p: usize) -> bool {
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
    pub(super) fn replica_serves(&self, s: usize, r: usize) -> bool {
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
}
