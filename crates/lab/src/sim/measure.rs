//! What a step's load leads to: providers answer with latency, errors and 429s, breakers
//! react, standbys replicate, and health is judged from those numbers.

use rand::RngExt;

use super::{BreakerMachine, Effects, ProviderState, ReplicaState, Sim, nominal_lag, share_of};
use crate::scenario::format_duration;
use crate::topology::ProviderSpec;
use protocol::model::MAX_STANDBY_LAG_S;
use protocol::{BreakerState, Health, Latency, ReplicaRole};

/// What a health probe reports for latency when nothing answers.
const PROBE_TIMEOUT_MS: f64 = 10_000.0;
/// Error or 429 share from which something counts as degraded, and as down.
const DEGRADED_RATE: f64 = 0.05;
const DOWN_RATE: f64 = 0.5;
/// p95 latency above this multiple of the baseline counts as degraded.
const SLOW_FACTOR: f64 = 2.0;
/// Seconds of replication lag a standby recovers per second once replication resumes.
const CATCH_UP_RATE: f64 = 5.0;
/// Time constant of the metric noise: wobbles last seconds, not one step.
const NOISE_MEMORY_S: f64 = 5.0;

impl Sim {
    pub(super) fn measure_providers(&mut self, dt: f64, fx: &Effects) {
        let memory = (-dt / NOISE_MEMORY_S).exp();
        let fresh = (1.0 - memory * memory).sqrt();
        for (p, spec) in self.topology.providers.iter().enumerate() {
            let (a, b): (f64, f64) = (self.rng.random(), self.rng.random());
            let state = &mut self.providers[p];
            state.rate_limit_rps = spec.rate_limit_rps * fx.rate_limit_factor[p];
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
                fx.outage_error[p],
                fx.extra_error[p],
            );
        }
    }

    /// Region numbers are its providers' weighted by traffic (or, without traffic, what
    /// health probes of all its providers see), plus the gateway's own queueing and shedding.
    pub(super) fn measure_regions(&mut self) {
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

    pub(super) fn update_breakers(&mut self, dt: f64, now: f64) {
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

    pub(super) fn update_replicas(&mut self, dt: f64, now: f64, fx: &Effects) {
        for (s, spec) in self.topology.services.iter().enumerate() {
            for (r, replica) in spec.replicas.iter().enumerate() {
                let jitter = 1.0 + 0.2 * (2.0 * self.rng.random::<f64>() - 1.0);
                let region_down = self.regions[replica.region_index].down;
                let state = &mut self.services[s].replicas[r];
                if state.returned {
                    continue;
                }
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
                state.ready = !stopped && !state.joining && state.role != ReplicaRole::ColdStandby;
            }
        }
    }

    pub(super) fn judge_health(&mut self) {
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
            let (health, failing_rps) = self.service_health(s);
            self.services[s].health = health;
            self.services[s].failing_rps = failing_rps;
        }
    }

    /// Down when most requests fail; degraded when some do, when they are slow, or when one
    /// more failure would hurt (a replica lost, no standby to fail over to, a replica overloaded).
    /// Demand a degraded mode holds back does not fail, but the mode itself degrades. With the
    /// health, the requests failing per second, which spend the service's error budget.
    fn service_health(&self, s: usize) -> (Health, f64) {
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
        let is_standby = |st: &ReplicaState| st.role.is_standby() && !st.returned;
        let has_standbys = state.replicas.iter().any(is_standby);
        let standby_ready = state
            .replicas
            .iter()
            .any(|st| is_standby(st) && st.ready && st.replication_lag_s <= MAX_STANDBY_LAG_S);
        redundancy_lost |= has_standbys && !standby_ready;
        let failing = share_of(failing_rps, state.demand_rps);
        let slow = share_of(slow_rps, calls_rps) > SLOW_FACTOR;
        let health = if failing >= DOWN_RATE {
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
        };
        (health, failing_rps)
    }
}

impl ProviderState {
    pub(super) fn new(rate_limit_rps: f64) -> Self {
        ProviderState {
            breaker: BreakerMachine::closed(),
            latency_noise: 0.0,
            error_noise: 0.0,
            load_rps: 0.0,
            latency: Latency::default(),
            error_rate: 0.0,
            rate_limited_rate: 0.0,
            rate_limit_headroom: 1.0,
            rate_limit_rps,
            traffic_share: 0.0,
            health: Health::Unknown,
            quarantine: None,
            pinned: None,
            control_revision: 1,
        }
    }

    /// Latency grows with utilisation (the tail faster), 429s with load past the rate
    /// limit, errors with injects and with load past capacity.
    fn measure(&mut self, spec: &ProviderSpec, slow: f64, outage_error: f64, extra_error: f64) {
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
        let limit = self.rate_limit_rps;
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
    pub(super) fn closed() -> Self {
        BreakerMachine {
            state: BreakerState::Closed,
            reason: None,
            until_s: None,
            above_for_s: 0.0,
            probing_for_s: 0.0,
        }
    }

    /// Opens the breaker; it tries half-open at `until_s`, or stays open without one.
    pub(super) fn open(&mut self, reason: String, until_s: Option<f64>) {
        self.state = BreakerState::Open;
        self.reason = Some(reason);
        self.until_s = until_s;
        self.above_for_s = 0.0;
        self.probing_for_s = 0.0;
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
