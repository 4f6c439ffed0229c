//! Where the lab's escalations come from.
//!
//! - The simulated fleet, as published: when no active path of a service works any more
//!   (its region is down, every breaker is open, every provider fails), the tasks in flight
//!   escalate at once, a burst; new tasks are refused at the front door until a path works
//!   again, so they do not escalate. Besides, a steady trickle of validator, confidence and
//!   policy escalations follows each service's traffic, with more validator failures while
//!   the service is unwell.
//! - A synthetic backlog, for scale tests.
//!
//! Deterministic: the same seed and the same sequence of fleets give the same escalations.

use chrono::{DateTime, TimeDelta, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalogue::{Catalogue, Path};
use super::lineage::{Fault, Origin, PathFault};
use protocol::escalations::EscalationReason;
use protocol::{BreakerState, FleetSnapshot, Health, ReplicaRole, Service};

/// Model calls a task makes on average (steps, tools, validators): tasks = demand / this.
const CALLS_PER_TASK: f64 = 20.0;
/// How long a task is in flight; the burst when paths run out is the tasks of this window.
const IN_FLIGHT_S: f64 = 12.0;
const BURST: std::ops::RangeInclusive<usize> = 2..=40;
/// Share of tasks that escalate for each steady reason.
const VALIDATOR_FAILED_PER_TASK: f64 = 1.0 / 4000.0;
const LOW_CONFIDENCE_PER_TASK: f64 = 1.0 / 3000.0;
const POLICY_PER_TASK: f64 = 1.0 / 8000.0;
/// Validator failures multiply on a degraded or down service (more malformed answers).
const UNWELL_VALIDATOR_FACTOR: f64 = 4.0;
/// A path whose failure share (errors plus 429s) reaches this does not work.
const FAILING_SHARE: f64 = 0.5;
/// p95 latency from which calls time out rather than fail.
const TIMEOUT_P95_MS: f64 = 10_000.0;
/// Longest gap between two looks that counts: after a stall, do not make up for it.
const MAX_GAP_S: f64 = 600.0;
/// Most paths one task tries before it escalates.
const MAX_PATHS_TRIED: usize = 6;
/// A synthetic backlog spreads its creation times over this past window.
const BACKLOG_WINDOW_S: i64 = 6 * 3600;

/// Watches published fleets and tells which tasks escalate.
pub struct FleetWatch {
    rng: ChaCha8Rng,
    last_seen: Option<DateTime<Utc>>,
    /// Per service: no active path worked at the last look.
    stranded: Vec<bool>,
}

impl FleetWatch {
    pub fn new(seed: u64, services: usize) -> FleetWatch {
        FleetWatch {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_e5ca_1a7e_0001),
            last_seen: None,
            stranded: vec![false; services],
        }
    }

    /// The tasks that escalated since the last look, given the fleet as published `now`.
    pub fn observe(
        &mut self,
        catalogue: &Catalogue,
        fleet: &FleetSnapshot,
        now: DateTime<Utc>,
    ) -> Vec<Origin> {
        let dt = match self.last_seen.replace(now) {
            Some(previous) => (now - previous).as_seconds_f64().clamp(0.0, MAX_GAP_S),
            None => 0.0,
        };
        let mut origins = Vec::new();
        for (s, profile) in catalogue.services.iter().enumerate() {
            let Some(service) = fleet.services.iter().find(|x| x.id == profile.id) else {
                continue;
            };
            // Roles as they are now: a promoted standby's region is where tasks run.
            let live: Vec<&Path> = profile
                .paths
                .iter()
                .filter(|path| {
                    let region = &catalogue.providers[path.provider as usize].region;
                    service
                        .replicas
                        .iter()
                        .any(|r| &r.region == region && r.role == ReplicaRole::Active)
                })
                .collect();
            if live.is_empty() {
                continue;
            }
            // Stops at the first working path: then the service is not stranded.
            let faults: Vec<PathFault> = live
                .iter()
                .map_while(|path| {
                    path_fault(catalogue, service, path, fleet).map(|fault| PathFault {
                        provider: path.provider,
                        fault,
                    })
                })
                .collect();
            let stranded = service.demand_rps > 0.0 && faults.len() == live.len();
            let tasks_per_s = service.demand_rps / CALLS_PER_TASK;
            if stranded && !self.stranded[s] {
                let burst = (tasks_per_s * IN_FLIGHT_S).round() as usize;
                for _ in 0..burst.clamp(*BURST.start(), *BURST.end()) {
                    let faults = tried_in_order(catalogue, &faults, &mut self.rng);
                    origins.push(self.origin(EscalationReason::PathsExhausted, s, faults));
                }
            }
            self.stranded[s] = stranded;
            if stranded || dt == 0.0 || !profile.can_escalate() {
                continue;
            }
            let unwell = if service.health == Health::Ok {
                1.0
            } else {
                UNWELL_VALIDATOR_FACTOR
            };
            let expected = [
                (
                    EscalationReason::ValidatorFailed,
                    VALIDATOR_FAILED_PER_TASK * unwell,
                ),
                (EscalationReason::LowConfidence, LOW_CONFIDENCE_PER_TASK),
                (EscalationReason::Policy, POLICY_PER_TASK),
            ];
            for (reason, per_task) in expected {
                for _ in 0..poisson(&mut self.rng, tasks_per_s * per_task * dt) {
                    origins.push(self.origin(reason, s, Box::new([])));
                }
            }
        }
        origins
    }

    /// `count` escalations at once (an exercise's escalation burst) for `service`, or spread
    /// over the services that can escalate; for the reasons of the steady trickle.
    pub fn burst(
        &mut self,
        catalogue: &Catalogue,
        service: Option<usize>,
        count: usize,
    ) -> Vec<Origin> {
        let services: Vec<usize> = match service {
            Some(s) if s < catalogue.services.len() => vec![s],
            Some(_) => Vec::new(),
            None => (0..catalogue.services.len())
                .filter(|&s| catalogue.services[s].can_escalate())
                .collect(),
        };
        if services.is_empty() {
            return Vec::new();
        }
        const REASONS: [EscalationReason; 3] = [
            EscalationReason::ValidatorFailed,
            EscalationReason::LowConfidence,
            EscalationReason::Policy,
        ];
        (0..count)
            .map(|_| {
                let s = services[self.rng.random_range(0..services.len())];
                let reason = REASONS[self.rng.random_range(0..REASONS.len())];
                self.origin(reason, s, Box::new([]))
            })
            .collect()
    }

    fn origin(
        &mut self,
        reason: EscalationReason,
        service: usize,
        faults: Box<[PathFault]>,
    ) -> Origin {
        Origin {
            reason,
            service: service as u16,
            seed: self.rng.random(),
            faults,
            retry: None,
        }
    }
}

/// How a path of `service` fails now, or `None` when it works: judged from the published
/// fleet (a replica that is not ready cannot take the task either).
pub fn path_fault(
    catalogue: &Catalogue,
    service: &Service,
    path: &Path,
    fleet: &FleetSnapshot,
) -> Option<Fault> {
    let provider = &catalogue.providers[path.provider as usize];
    let replica_ready = service
        .replicas
        .iter()
        .find(|r| r.region == provider.region)
        .is_none_or(|r| r.ready);
    provider_fault(&provider.id, &provider.region, fleet)
        .or((!replica_ready).then_some(Fault::Unreachable))
}

/// How calls to a provider fail now, or `None` when they mostly succeed.
pub fn provider_fault(provider: &str, region: &str, fleet: &FleetSnapshot) -> Option<Fault> {
    let region_down = fleet
        .regions
        .iter()
        .any(|r| r.id == region && r.health == Health::Down && r.error_rate >= 1.0);
    if region_down {
        return Some(Fault::Unreachable);
    }
    let Some(p) = fleet.providers.iter().find(|p| p.id == provider) else {
        return Some(Fault::Unreachable);
    };
    if p.breaker.state == BreakerState::Open {
        return Some(Fault::BreakerOpen);
    }
    if p.error_rate + p.rate_limited_rate < FAILING_SHARE {
        return None;
    }
    Some(if p.rate_limited_rate > p.error_rate {
        Fault::RateLimited
    } else if p.latency.p95_ms >= TIMEOUT_P95_MS {
        Fault::Slow
    } else {
        Fault::ServerErrors
    })
}

/// The failing paths in the order one task tries them: its own region first (a task runs in
/// one region of an active-active service), then the others; at most [`MAX_PATHS_TRIED`].
fn tried_in_order(
    catalogue: &Catalogue,
    faults: &[PathFault],
    rng: &mut ChaCha8Rng,
) -> Box<[PathFault]> {
    let region = |f: &PathFault| catalogue.providers[f.provider as usize].region.as_str();
    let home = region(&faults[rng.random_range(0..faults.len())]);
    let mut ordered: Vec<PathFault> = faults
        .iter()
        .filter(|f| region(f) == home)
        .copied()
        .collect();
    ordered.extend(faults.iter().filter(|f| region(f) != home));
    ordered.truncate(MAX_PATHS_TRIED);
    ordered.into_boxed_slice()
}

/// A Poisson-distributed count with mean `mean` (small means: Knuth's method; large ones: a
/// normal approximation, which is plenty for a simulation).
fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> usize {
    if !(mean.is_finite() && mean > 0.0) {
        return 0;
    }
    if mean > 30.0 {
        let (u, v): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
        let normal = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
        return (mean + mean.sqrt() * normal).round().max(0.0) as usize;
    }
    let limit = (-mean).exp();
    let mut product: f64 = rng.random();
    let mut count = 0;
    while product > limit {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

/// `count` escalations of every reason and service, created over the hours before `now`,
/// oldest first.
pub fn backlog(
    catalogue: &Catalogue,
    seed: u64,
    count: usize,
    now: DateTime<Utc>,
) -> Vec<(Origin, DateTime<Utc>)> {
    let services: Vec<usize> = (0..catalogue.services.len())
        .filter(|&s| catalogue.services[s].can_escalate())
        .collect();
    if services.is_empty() {
        return Vec::new();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xba0c_106e_5ca1_a7e5);
    let mut backlog: Vec<(Origin, DateTime<Utc>)> = (0..count)
        .map(|_| {
            let s = services[rng.random_range(0..services.len())];
            let reason = match rng.random_range(0..100) {
                0..35 => EscalationReason::PathsExhausted,
                35..60 => EscalationReason::ValidatorFailed,
                60..85 => EscalationReason::LowConfidence,
                _ => EscalationReason::Policy,
            };
            let faults = if reason == EscalationReason::PathsExhausted {
                invented_faults(catalogue, s, &mut rng)
            } else {
                Box::new([])
            };
            let age = TimeDelta::seconds(rng.random_range(0..BACKLOG_WINDOW_S));
            let origin = Origin {
                reason,
                service: s as u16,
                seed: rng.random(),
                faults,
                retry: None,
            };
            (origin, now - age)
        })
        .collect();
    backlog.sort_by_key(|(_, created_at)| *created_at);
    backlog
}

/// Faults for a synthetic paths-exhausted task: its region's paths, then the other active
/// regions', each failing in its own way; at least two paths.
fn invented_faults(
    catalogue: &Catalogue,
    service: usize,
    rng: &mut ChaCha8Rng,
) -> Box<[PathFault]> {
    let profile = &catalogue.services[service];
    let faults: Vec<PathFault> = profile
        .active_paths()
        .map(|path| PathFault {
            provider: path.provider,
            fault: match rng.random_range(0..100) {
                0..35 => Fault::ServerErrors,
                35..60 => Fault::RateLimited,
                60..75 => Fault::Slow,
                75..87 => Fault::BreakerOpen,
                87..95 => Fault::ContextOverflow,
                _ => Fault::Unreachable,
            },
        })
        .collect();
    let mut tried = tried_in_order(catalogue, &faults, rng).into_vec();
    if tried.len() < 2 {
        // A single active path: a standby's region is tried too, as a last resort.
        tried.extend(
            profile
                .paths
                .iter()
                .filter(|p| !p.active)
                .take(1)
                .map(|p| PathFault {
                    provider: p.provider,
                    fault: Fault::ServerErrors,
                }),
        );
    }
    tried.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_counts_average_their_mean() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for mean in [0.05, 2.0, 50.0] {
            let draws = 4000;
            let total: usize = (0..draws).map(|_| poisson(&mut rng, mean)).sum();
            let average = total as f64 / draws as f64;
            assert!(
                (average - mean).abs() < 0.1 * mean + 0.02,
                "mean {mean}: average {average}"
            );
        }
        assert_eq!(poisson(&mut rng, 0.0), 0);
        assert_eq!(poisson(&mut rng, f64::NAN), 0);
    }
}
