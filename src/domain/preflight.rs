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

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::domain::command::Command;
use protocol::commands::{BreakerAction, OperationState, WeightScope};
use protocol::model::{MAX_STANDBY_LAG_S, ModeEffect, TakeoverTimes};
use protocol::{
    BreakerState, DegradedModeKind, FleetSnapshot, Health, Provider, ReplicaRole, Service,
};

/// Headroom below this share of capacity is shown as low.
pub const LOW_HEADROOM: f64 = 0.2;
/// Moves smaller than this (requests per second) are rounding noise of the snapshot.
pub const MIN_SHIFT_RPS: f64 = 0.05;
/// A provider failing more than this share of its requests is called failing.
const FAILING_ERROR_RATE: f64 = 0.5;

/// How a target's headroom looks after the move.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Ok,
    /// Under [`LOW_HEADROOM`] of capacity left.
    Low,
    /// More load than capacity.
    Overload,
}

impl Verdict {
    pub fn of(headroom: f64) -> Verdict {
        if headroom < 0.0 {
            Verdict::Overload
        } else if headroom < LOW_HEADROOM {
            Verdict::Low
        } else {
            Verdict::Ok
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Low => "low",
            Verdict::Overload => "overload",
        }
    }
}

/// A region whose load the command changes.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct RegionShift {
    pub region: String,
    /// Share of the fleet's traffic (0..1).
    pub share_before: f64,
    pub share_after: f64,
    pub load_before_rps: f64,
    pub load_after_rps: f64,
    pub capacity_rps: f64,
    /// 1 - load / capacity after the move; negative when overloaded.
    pub headroom_after: f64,
    pub verdict: Verdict,
}

/// A replica of a service whose load the command changes.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ReplicaShift {
    pub service: String,
    pub replica: String,
    pub region: String,
    pub load_before_rps: f64,
    pub load_after_rps: f64,
    pub capacity_rps: f64,
    pub headroom_after: f64,
    pub verdict: Verdict,
}

/// A provider whose load the command changes.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ProviderShift {
    pub provider: String,
    pub region: String,
    pub load_before_rps: f64,
    pub load_after_rps: f64,
    /// The rate limit as the snapshot reveals it (load and headroom); unknown while idle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_rps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headroom_after: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

/// The standby a promotion makes active.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Takeover {
    pub service: String,
    pub replica: String,
    pub region: String,
    pub role: ReplicaRole,
    pub ready: bool,
    pub replication_lag_s: f64,
    /// How long until it serves, by its temperature and readiness (see [`TakeoverTimes::expected_s`]).
    pub expected_takeover_s: f64,
    /// The active replicas it replaces (they become hot standbys).
    pub replaces: Vec<String>,
}

/// Traffic that would be left with nowhere healthy to go.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct NoPath {
    pub service: String,
    /// The region whose gateway loses its last healthy provider; absent when the whole
    /// service would have no replica to serve it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub why: String,
}

/// What a command would do, as far as the snapshot tells.
#[derive(Serialize, Clone, Debug, PartialEq, Default)]
pub struct Preflight {
    /// The command and its effect in words.
    pub summary: String,
    /// Whether it moves traffic (and so may be blocked by what it would do).
    pub moves_traffic: bool,
    pub regions: Vec<RegionShift>,
    pub replicas: Vec<ReplicaShift>,
    pub providers: Vec<ProviderShift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub takeover: Option<Takeover>,
    pub no_path: Vec<NoPath>,
    /// Targets that would take more traffic than they can, in words.
    pub overloads: Vec<String>,
    pub warnings: Vec<String>,
    /// Why the command does not fit this fleet (unknown target, bad weights).
    pub errors: Vec<String>,
}

impl Preflight {
    /// Whether the command should not be sent without an explicit override: it does not fit
    /// the fleet, or it moves traffic onto something it would overload or leaves traffic
    /// with no healthy path. Commands that do not move traffic never block on what they do.
    pub fn blocks(&self) -> bool {
        !self.errors.is_empty()
            || (self.moves_traffic && !(self.no_path.is_empty() && self.overloads.is_empty()))
    }

    /// Targets that take more traffic and would be overloaded by it, in words.
    fn find_overloads(&self) -> Vec<String> {
        let overloaded =
            |kind: &str, name: &str, before: f64, after: f64, capacity: f64, verdict: Verdict| {
                (verdict == Verdict::Overload && gains(before, after)).then(|| {
                    format!(
                        "{kind} {name} at {:.0}% of capacity ({after:.0} of {capacity:.0} rps)",
                        100.0 * after / capacity
                    )
                })
            };
        let regions = self.regions.iter().filter_map(|r| {
            overloaded(
                "region",
                &r.region,
                r.load_before_rps,
                r.load_after_rps,
                r.capacity_rps,
                r.verdict,
            )
        });
        let replicas = self.replicas.iter().filter_map(|r| {
            overloaded(
                "replica",
                &r.replica,
                r.load_before_rps,
                r.load_after_rps,
                r.capacity_rps,
                r.verdict,
            )
        });
        let providers = self
            .providers
            .iter()
            .filter(|p| {
                p.verdict == Some(Verdict::Overload) && gains(p.load_before_rps, p.load_after_rps)
            })
            .map(|p| {
                format!(
                    "provider {} over its rate limit ({:.0} of {:.0} rps)",
                    p.provider,
                    p.load_after_rps,
                    p.rate_limit_rps.unwrap_or_default()
                )
            });
        regions.chain(replicas).chain(providers).collect()
    }

    /// Why it blocks, one reason a line; empty when it does not.
    pub fn blocking_reasons(&self) -> Vec<String> {
        if !self.blocks() {
            return Vec::new();
        }
        let no_path = self.no_path.iter().map(|n| match &n.region {
            Some(region) => format!("{} at {region}: {}", n.service, n.why),
            None => format!("{}: {}", n.service, n.why),
        });
        self.errors
            .iter()
            .cloned()
            .chain(no_path)
            .chain(self.overloads.iter().cloned())
            .collect()
    }
}

fn gains(before: f64, after: f64) -> bool {
    after - before > MIN_SHIFT_RPS
}

/// Computes the preflight of `command` against `snapshot`.
pub fn preflight(command: &Command, snapshot: &FleetSnapshot) -> Preflight {
    let fleet = Fleet::new(snapshot);
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
    };
    format!("{command}: {effect}")
}

/// What the command changes in the routing inputs, by index into the snapshot.
#[derive(Default)]
struct Change<'c> {
    /// Region and whether it is drained after.
    drained: Option<(usize, bool)>,
    /// Provider and whether its breaker is open after.
    breaker_open: Option<(usize, bool)>,
    /// Service and its region weights after (those given merged into those it has).
    region_weights: Option<(usize, BTreeMap<&'c str, f64>)>,
    /// Service, region, and the route weights given (by provider id).
    route_weights: Option<(usize, usize, &'c BTreeMap<String, f64>)>,
    /// Service and the replica made active; its actives become hot standbys.
    promote: Option<(usize, usize)>,
}

impl Change<'_> {
    /// Whether the routes of `region`'s gateway change.
    fn touches_routes_in(&self, region: usize, fleet: &Fleet) -> bool {
        self.breaker_open
            .is_some_and(|(p, _)| fleet.provider_region[p] == Some(region))
            || self.route_weights.is_some_and(|(_, r, _)| r == region)
    }

    fn weights_of(&self, service: usize) -> Option<&BTreeMap<&str, f64>> {
        match &self.region_weights {
            Some((s, weights)) if *s == service => Some(weights),
            _ => None,
        }
    }
}

/// Index of the snapshot, built once per preflight.
struct Fleet<'a> {
    snapshot: &'a FleetSnapshot,
    region_index: HashMap<&'a str, usize>,
    provider_index: HashMap<&'a str, usize>,
    service_index: HashMap<&'a str, usize>,
    provider_region: Vec<Option<usize>>,
    gateway_region: Vec<Option<usize>>,
    /// A region down in itself, not merely for want of providers (whose breakers tell that).
    region_down: Vec<bool>,
}

impl<'a> Fleet<'a> {
    fn new(snapshot: &'a FleetSnapshot) -> Fleet<'a> {
        fn index<T>(items: &[T], id: impl Fn(&T) -> &str) -> HashMap<&str, usize> {
            items.iter().enumerate().map(|(i, t)| (id(t), i)).collect()
        }
        let region_index = index(&snapshot.regions, |r| &r.id);
        let provider_region: Vec<Option<usize>> = snapshot
            .providers
            .iter()
            .map(|p| region_index.get(p.region.as_str()).copied())
            .collect();
        let gateway_region = snapshot
            .gateways
            .iter()
            .map(|g| region_index.get(g.region.as_str()).copied())
            .collect();
        let mut breaker_not_open = vec![false; snapshot.regions.len()];
        for (provider, region) in snapshot.providers.iter().zip(&provider_region) {
            if let Some(r) = region
                && provider.breaker.state != BreakerState::Open
            {
                breaker_not_open[*r] = true;
            }
        }
        let region_down = snapshot
            .regions
            .iter()
            .zip(&breaker_not_open)
            .map(|(r, not_open)| r.health == Health::Down && *not_open)
            .collect();
        Fleet {
            snapshot,
            region_index,
            provider_index: index(&snapshot.providers, |p| &p.id),
            service_index: index(&snapshot.services, |s| &s.id),
            provider_region,
            gateway_region,
            region_down,
        }
    }

    fn region(&self, id: &str, out: &mut Preflight) -> Option<usize> {
        let found = self.region_index.get(id).copied();
        if found.is_none() {
            out.errors.push(format!("no region {id} in this fleet"));
        }
        found
    }

    fn service(&self, id: &str, out: &mut Preflight) -> Option<usize> {
        let found = self.service_index.get(id).copied();
        if found.is_none() {
            out.errors.push(format!("no service {id} in this fleet"));
        }
        found
    }

    fn drained(&self, region: usize, change: &Change, after: bool) -> bool {
        match change.drained {
            Some((r, drained)) if after && r == region => drained,
            _ => self.snapshot.regions[region].drain.is_some(),
        }
    }

    /// (usable, healthy) of a provider, before or after the change: usable when its breaker
    /// is not open and its region is not down; healthy when usable and not failing.
    fn provider_state(&self, p: usize, change: &Change, after: bool) -> (bool, bool) {
        let provider = &self.snapshot.providers[p];
        let open = match change.breaker_open {
            Some((q, open)) if after && q == p => open,
            _ => provider.breaker.state == BreakerState::Open,
        };
        let region_down = self.provider_region[p].is_some_and(|r| self.region_down[r]);
        let usable = !open && !region_down;
        let failing = provider.health == Health::Down || provider.error_rate >= FAILING_ERROR_RATE;
        (usable, usable && !failing)
    }

    /// Resolves the command against the fleet, noting what the server would refuse and the
    /// warnings that depend only on the target's state; `None` when nothing is to be predicted.
    fn change_for<'c>(&'c self, command: &'c Command, out: &mut Preflight) -> Option<Change<'c>> {
        let snapshot = self.snapshot;
        let mut change = Change::default();
        match command {
            Command::Drain { region, .. } => {
                let r = self.region(region, out)?;
                let others_take_traffic = snapshot
                    .regions
                    .iter()
                    .enumerate()
                    .any(|(other, region)| other != r && region.drain.is_none());
                if !others_take_traffic {
                    out.errors.push(format!(
                        "no other region would take the traffic of {region}"
                    ));
                }
                if snapshot.regions[r].drain.is_some() {
                    out.warnings.push(format!(
                        "{region} is already drained: this renews the drain"
                    ));
                }
                change.drained = Some((r, true));
            }
            Command::Undrain { region } => {
                let r = self.region(region, out)?;
                if snapshot.regions[r].drain.is_none() {
                    out.errors.push(format!("{region} is not drained"));
                }
                change.drained = Some((r, false));
            }
            Command::Breaker {
                provider, action, ..
            } => {
                let Some(&p) = self.provider_index.get(provider.as_str()) else {
                    out.errors
                        .push(format!("no provider {provider} in this fleet"));
                    return None;
                };
                breaker_checks(&snapshot.providers[p], *action, out);
                match action {
                    BreakerAction::ForceOpen => change.breaker_open = Some((p, true)),
                    BreakerAction::Close => change.breaker_open = Some((p, false)),
                    BreakerAction::Pin | BreakerAction::Unpin => return None,
                }
            }
            Command::Degrade {
                service,
                mode,
                enabled,
                ..
            } => {
                let s = self.service(service, out)?;
                let on = snapshot.services[s]
                    .degraded_modes
                    .iter()
                    .any(|m| m.mode == *mode);
                match (on, *enabled) {
                    (true, true) => out.warnings.push(format!(
                        "{} is already on for {service}: this renews it",
                        mode.word()
                    )),
                    (false, false) => out
                        .errors
                        .push(format!("{} is not set on {service}", mode.word())),
                    _ => {}
                }
                return None;
            }
            Command::Weights {
                service,
                scope,
                weights,
            } => {
                let s = self.service(service, out)?;
                if weights.is_empty() || weights.values().any(|w| !(w.is_finite() && *w >= 0.0)) {
                    out.errors
                        .push("weights are numbers of 0 or more, one at least".into());
                    return None;
                }
                match scope {
                    WeightScope::Regions => {
                        let merged = self.region_weights_after(&snapshot.services[s], weights, out);
                        change.region_weights = Some((s, merged));
                    }
                    WeightScope::Providers { region } => {
                        let r = self.region(region, out)?;
                        self.check_route_weights(&snapshot.services[s], r, weights, out);
                        change.route_weights = Some((s, r, weights));
                    }
                }
            }
            Command::Promote { service, replica } => {
                let s = self.service(service, out)?;
                let i = self.check_promotion(&snapshot.services[s], replica, out)?;
                out.takeover = Some(self.takeover(&snapshot.services[s], i, out));
                change.promote = Some((s, i));
            }
        }
        out.errors.is_empty().then_some(change)
    }

    /// The service's region weights once `given` is applied: given regions take the given
    /// weight, the others keep theirs, which is their replica's capacity while the service
    /// is spread by capacity.
    fn region_weights_after<'c>(
        &self,
        service: &'c Service,
        given: &'c BTreeMap<String, f64>,
        out: &mut Preflight,
    ) -> BTreeMap<&'c str, f64> {
        let mut weights: BTreeMap<&str, f64> = service
            .replicas
            .iter()
            .map(|r| {
                let current = if service.region_weights.is_empty() {
                    r.capacity_rps
                } else {
                    service
                        .region_weights
                        .get(&r.region)
                        .copied()
                        .unwrap_or(0.0)
                };
                (r.region.as_str(), current)
            })
            .collect();
        for (region, weight) in given {
            match weights.get_mut(region.as_str()) {
                Some(current) => *current = *weight,
                None => out.errors.push(format!(
                    "{} has no replica in {region}; its regions: {}",
                    service.id,
                    join(weights.keys().copied())
                )),
            }
        }
        let active_weighted = service.replicas.iter().any(|r| {
            r.role == ReplicaRole::Active
                && weights.get(r.region.as_str()).is_some_and(|w| *w > 0.0)
        });
        if !active_weighted {
            out.errors.push(format!(
                "these weights would leave {} without traffic: give an active replica's region a weight above 0",
                service.id
            ));
        }
        weights
    }

    fn check_route_weights(
        &self,
        service: &Service,
        region: usize,
        given: &BTreeMap<String, f64>,
        out: &mut Preflight,
    ) {
        let region_id = &self.snapshot.regions[region].id;
        if !service.replicas.iter().any(|r| &r.region == region_id) {
            out.errors
                .push(format!("{} has no replica in {region_id}", service.id));
            return;
        }
        let routes: Vec<&protocol::Route> = self
            .snapshot
            .gateways
            .iter()
            .zip(&self.gateway_region)
            .filter(|(_, r)| **r == Some(region))
            .flat_map(|(g, _)| &g.routes)
            .filter(|route| route.service == service.id)
            .collect();
        for provider in given.keys() {
            if !routes.iter().any(|route| &route.provider == provider) {
                out.errors.push(format!(
                    "{}'s routes at {region_id} go to {}, not {provider}",
                    service.id,
                    join(routes.iter().map(|route| route.provider.as_str()))
                ));
            }
        }
        let any_weighted = routes
            .iter()
            .any(|route| given.get(&route.provider).copied().unwrap_or(route.weight) > 0.0);
        if !any_weighted {
            out.errors.push(format!(
                "these weights would leave {} at {region_id} without a route: give one a weight above 0",
                service.id
            ));
        }
    }

    /// The index of the replica to promote, when the promotion can start.
    fn check_promotion(
        &self,
        service: &Service,
        replica: &str,
        out: &mut Preflight,
    ) -> Option<usize> {
        let Some(i) = service.replicas.iter().position(|r| r.id == replica) else {
            out.errors.push(format!(
                "{} has no replica {replica}; its replicas: {}",
                service.id,
                join(service.replicas.iter().map(|r| r.id.as_str()))
            ));
            return None;
        };
        let target = &service.replicas[i];
        if target.role == ReplicaRole::Active {
            out.errors.push(format!("{replica} is already active"));
        }
        if self
            .region_index
            .get(target.region.as_str())
            .is_some_and(|&r| self.region_down[r])
        {
            out.errors.push(format!(
                "cannot promote {replica}: {} is down",
                target.region
            ));
        }
        let prefix = format!("{}/", service.id);
        if let Some(running) = self.snapshot.operations.iter().find(|op| {
            op.kind == "promote"
                && op.state == OperationState::Running
                && op.target.starts_with(&prefix)
        }) {
            out.errors.push(format!(
                "{} is already promoting {} ({})",
                running.id, running.target, service.id
            ));
        }
        Some(i)
    }

    fn takeover(&self, service: &Service, replica: usize, out: &mut Preflight) -> Takeover {
        let target = &service.replicas[replica];
        let lag = target.replication_lag_s;
        if lag > MAX_STANDBY_LAG_S {
            out.warnings.push(format!(
                "replication lag {lag:.1}s (more than {MAX_STANDBY_LAG_S:.0}s): recent writes will be lost"
            ));
        } else if lag > 0.0 {
            out.warnings.push(format!(
                "replication lag {lag:.1}s: recent writes may be lost"
            ));
        }
        let takeover_s = TakeoverTimes::default().expected_s(target.role, target.ready);
        if !target.ready {
            out.warnings.push(format!(
                "{} is not ready: a cold start, about {takeover_s:.0}s before it serves",
                target.id
            ));
        }
        Takeover {
            service: service.id.clone(),
            replica: target.id.clone(),
            region: target.region.clone(),
            role: target.role,
            ready: target.ready,
            replication_lag_s: lag,
            expected_takeover_s: takeover_s,
            replaces: service
                .replicas
                .iter()
                .filter(|r| r.role == ReplicaRole::Active)
                .map(|r| r.id.clone())
                .collect(),
        }
    }
}

fn breaker_checks(provider: &Provider, action: BreakerAction, out: &mut Preflight) {
    let id = &provider.id;
    let failing = provider.error_rate >= FAILING_ERROR_RATE;
    let errors = provider.error_rate * 100.0;
    match action {
        BreakerAction::ForceOpen if provider.quarantine.is_some() => out
            .warnings
            .push(format!("{id} is already held open: this renews the quarantine")),
        BreakerAction::Close
            if provider.breaker.state == BreakerState::Closed && provider.quarantine.is_none() =>
        {
            out.errors
                .push(format!("the breaker of {id} is already closed"))
        }
        BreakerAction::Close if failing && provider.pinned.is_none() => out.warnings.push(format!(
            "{id} fails {errors:.0}% of requests: its breaker will trip again unless it is pinned"
        )),
        BreakerAction::Pin if provider.breaker.state == BreakerState::Open => {
            out.warnings.push(format!(
                "the breaker of {id} is open now: a pin only stops new trips (close it to put it back)"
            ))
        }
        BreakerAction::Pin if failing => out.warnings.push(format!(
            "{id} fails {errors:.0}% of requests: pinned, its failures reach callers"
        )),
        BreakerAction::Unpin if provider.pinned.is_none() => {
            out.errors.push(format!("{id} is not pinned"))
        }
        BreakerAction::Unpin if failing => out.warnings.push(format!(
            "{id} fails {errors:.0}% of requests: its breaker may trip at once"
        )),
        _ => {}
    }
}

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
struct Prediction<'f, 'a, 'c> {
    fleet: &'f Fleet<'a>,
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
    fn new(fleet: &'f Fleet<'a>, change: &'f Change<'c>) -> Self {
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

    fn run(mut self, out: &mut Preflight) {
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
            let limit = revealed_rate_limit(provider);
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
fn revealed_rate_limit(provider: &Provider) -> Option<f64> {
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

fn join<'s>(items: impl Iterator<Item = &'s str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{default_fleet, small_fleet};
    use protocol::{Breaker, DegradedMode};

    /// The fixture's loads are rounded to 0.1 rps: sums and splits of them drift by that much.
    const EPS: f64 = 0.05;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < EPS
    }

    fn region<'p>(preflight: &'p Preflight, id: &str) -> &'p RegionShift {
        preflight
            .regions
            .iter()
            .find(|r| r.region == id)
            .unwrap_or_else(|| panic!("no shift of {id}: {:#?}", preflight.regions))
    }

    fn provider<'p>(preflight: &'p Preflight, id: &str) -> &'p ProviderShift {
        preflight
            .providers
            .iter()
            .find(|p| p.provider == id)
            .unwrap_or_else(|| panic!("no shift of {id}: {:#?}", preflight.providers))
    }

    fn drain(region: &str) -> Command {
        Command::Drain {
            region: region.into(),
            expires_in_s: None,
        }
    }

    fn breaker(provider: &str, action: BreakerAction) -> Command {
        Command::Breaker {
            provider: provider.into(),
            action,
            expires_in_s: None,
        }
    }

    fn weights(service: &str, scope: WeightScope, pairs: &[(&str, f64)]) -> Command {
        Command::Weights {
            service: service.into(),
            scope,
            weights: pairs.iter().map(|(k, w)| (k.to_string(), *w)).collect(),
        }
    }

    fn open(snapshot: &mut FleetSnapshot, id: &str) {
        let provider = snapshot.providers.iter_mut().find(|p| p.id == id).unwrap();
        provider.breaker = Breaker {
            state: BreakerState::Open,
            reason: Some("test".into()),
            until: None,
        };
        provider.load_rps = 0.0;
    }

    #[test]
    fn draining_us_east_spreads_its_traffic_by_capacity_and_overloads_eu_west() {
        let check = preflight(&drain("us-east"), &default_fleet());
        // risk-scorer (240.9 rps) goes to us-west 90, eu-west 80, ap-south 40 of capacity;
        // feature-store (94.3) to us-west and eu-west, 45 each; credit-decision has nowhere.
        let east = region(&check, "us-east");
        assert!(close(east.load_after_rps, 0.0) && close(east.share_after, 0.0));
        let west = region(&check, "us-west");
        assert!(close(
            west.load_after_rps,
            97.1 + 240.9 * 90.0 / 210.0 - 65.7 + 94.3 / 2.0 - 31.4
        ));
        assert_eq!(west.verdict, Verdict::Low);
        let eu = region(&check, "eu-west");
        assert!(close(
            eu.load_after_rps,
            110.2 + 240.9 * 80.0 / 210.0 - 58.4 + 94.3 / 2.0 - 31.4
        ));
        assert_eq!(eu.verdict, Verdict::Overload);
        assert!(
            eu.headroom_after < -0.13 && eu.headroom_after > -0.14,
            "{eu:?}"
        );
        let ap = region(&check, "ap-south");
        assert!(close(ap.load_after_rps, 57.5 + 240.9 * 40.0 / 210.0 - 29.2));
        let total: f64 = check.regions.iter().map(|r| r.share_after).sum();
        assert!(close(total, 1.0), "shares add up: {total}");
        assert!(close(
            ap.share_after,
            ap.load_after_rps / (west.load_after_rps + eu.load_after_rps + ap.load_after_rps)
        ));

        assert_eq!(check.no_path.len(), 1, "{:#?}", check.no_path);
        let lost = &check.no_path[0];
        assert_eq!(
            (lost.service.as_str(), lost.region.as_deref()),
            ("credit-decision", None)
        );
        assert!(
            lost.why
                .contains("credit-decision@us-east (its region drained)"),
            "{}",
            lost.why
        );
        assert!(
            lost.why
                .contains("promote a standby first (credit-decision@us-west)"),
            "{}",
            lost.why
        );
        assert!(check.blocks());
        let reasons = check.blocking_reasons().join("\n");
        assert!(
            reasons.contains("region eu-west at 114% of capacity (159 of 140 rps)"),
            "{reasons}"
        );
        assert!(
            reasons.contains("replica feature-store@eu-west at 105% of capacity"),
            "{reasons}"
        );
        assert!(
            !check.overloads.iter().any(|o| o.contains("us-east")),
            "losing load never overloads: {reasons}"
        );
    }

    #[test]
    fn draining_a_quiet_region_moves_little_and_passes() {
        let mut fleet = default_fleet();
        // Without log-aggregator (its only replica is there), ap-south can go.
        fleet.services.retain(|s| s.id != "log-aggregator");
        let check = preflight(&drain("ap-south"), &fleet);
        assert!(check.no_path.is_empty(), "{:#?}", check.no_path);
        assert!(!check.blocks(), "{:#?}", check);
        let ap = region(&check, "ap-south");
        assert!(close(ap.load_after_rps, 57.5 - 29.2));
        let moved: f64 = check
            .regions
            .iter()
            .map(|r| r.load_after_rps - r.load_before_rps)
            .sum();
        assert!(close(moved, 0.0), "nothing lost: {moved}");
    }

    #[test]
    fn forcing_open_a_rank_one_provider_moves_its_lanes_to_rank_two() {
        let check = preflight(
            &breaker("openai@us-east", BreakerAction::ForceOpen),
            &default_fleet(),
        );
        assert!(check.regions.is_empty(), "traffic stays in us-east");
        let openai = provider(&check, "openai@us-east");
        assert!(close(openai.load_after_rps, 0.0));
        let anthropic = provider(&check, "anthropic@us-east");
        assert!(close(anthropic.load_after_rps, 84.5 + 87.6 * 0.6));
        // Its rate limit shows through its load and headroom: 84.5 / (1 - 0.437).
        assert!(close(anthropic.rate_limit_rps.unwrap(), 150.09));
        assert_eq!(anthropic.verdict, Some(Verdict::Low));
        let google = provider(&check, "google@us-east");
        assert!(close(google.load_after_rps, 87.6 * 0.4));
        assert_eq!(
            (google.rate_limit_rps, google.verdict),
            (None, None),
            "idle"
        );
        assert!(check.no_path.is_empty() && !check.blocks(), "{check:#?}");
    }

    #[test]
    fn forcing_open_the_last_healthy_provider_leaves_no_path() {
        let mut fleet = default_fleet();
        open(&mut fleet, "self-hosted@ap-south");
        let check = preflight(
            &breaker("google@ap-south", BreakerAction::ForceOpen),
            &fleet,
        );
        let lost: Vec<(&str, Option<&str>)> = check
            .no_path
            .iter()
            .map(|n| (n.service.as_str(), n.region.as_deref()))
            .collect();
        assert_eq!(
            lost,
            [
                ("log-aggregator", None),
                ("log-aggregator", Some("ap-south"))
            ]
        );
        assert!(
            check.no_path[0]
                .why
                .contains("no usable provider at its gateway")
        );
        assert!(check.blocks());
        // risk-scorer keeps anthropic@ap-south, which takes google's part.
        let anthropic = provider(&check, "anthropic@ap-south");
        assert!(close(anthropic.load_after_rps, 29.2), "{anthropic:?}");

        // A failing survivor is no healthy path either.
        let mut fleet = default_fleet();
        let google = fleet
            .providers
            .iter_mut()
            .find(|p| p.id == "google@ap-south")
            .unwrap();
        google.health = Health::Down;
        google.error_rate = 0.9;
        let check = preflight(
            &breaker("self-hosted@ap-south", BreakerAction::ForceOpen),
            &fleet,
        );
        assert_eq!(check.no_path.len(), 1, "{:#?}", check.no_path);
        assert_eq!(check.no_path[0].region.as_deref(), Some("ap-south"));
        assert!(check.no_path[0].why.contains("only failing providers"));
    }

    #[test]
    fn region_weights_start_from_capacity_and_zero_acts_like_a_drain_for_one_service() {
        let check = preflight(
            &weights("risk-scorer", WeightScope::Regions, &[("us-east", 0.0)]),
            &default_fleet(),
        );
        let east = region(&check, "us-east");
        assert!(close(east.load_after_rps, 203.5 - 87.6));
        let eu = region(&check, "eu-west");
        assert!(close(
            eu.load_after_rps,
            110.2 + 240.9 * 80.0 / 210.0 - 58.4
        ));
        assert_eq!(eu.verdict, Verdict::Overload);
        assert!(check.blocks());

        // More pull for us-east: weight 180 against 90 + 80 + 40 for the others.
        let check = preflight(
            &weights("risk-scorer", WeightScope::Regions, &[("us-east", 180.0)]),
            &default_fleet(),
        );
        let east = region(&check, "us-east");
        assert!(close(
            east.load_after_rps,
            203.5 - 87.6 + 240.9 * 180.0 / 390.0
        ));
        assert_eq!(east.verdict, Verdict::Low);
        assert!(!check.blocks(), "{check:#?}");

        let check = preflight(
            &weights("risk-scorer", WeightScope::Regions, &[("mars", 1.0)]),
            &default_fleet(),
        );
        assert!(check.errors[0].starts_with("risk-scorer has no replica in mars"));
        assert!(check.blocks());
        let check = preflight(
            &weights("credit-decision", WeightScope::Regions, &[("us-east", 0.0)]),
            &default_fleet(),
        );
        assert!(
            check.errors[0].contains("without traffic"),
            "{:?}",
            check.errors
        );
    }

    #[test]
    fn provider_weights_move_traffic_within_one_gateway() {
        let scope = WeightScope::Providers {
            region: "us-east".into(),
        };
        let check = preflight(
            &weights("risk-scorer", scope.clone(), &[("openai@us-east", 0.0)]),
            &default_fleet(),
        );
        let forced = preflight(
            &breaker("openai@us-east", BreakerAction::ForceOpen),
            &default_fleet(),
        );
        assert_eq!(check.providers, forced.providers);
        let check = preflight(
            &weights("risk-scorer", scope, &[("openai@eu-west", 1.0)]),
            &default_fleet(),
        );
        assert!(
            check.errors[0].contains("go to openai@us-east, anthropic@us-east"),
            "{:?}",
            check.errors
        );
    }

    #[test]
    fn promoting_the_hot_standby_moves_credit_decision_into_us_west() {
        let command = Command::Promote {
            service: "credit-decision".into(),
            replica: "credit-decision@us-west".into(),
        };
        let check = preflight(&command, &default_fleet());
        let takeover = check.takeover.as_ref().unwrap();
        assert_eq!(takeover.expected_takeover_s, 5.0);
        assert_eq!(takeover.replaces, ["credit-decision@us-east"]);
        assert_eq!(
            check.warnings,
            ["replication lag 0.4s: recent writes may be lost"]
        );
        let west = region(&check, "us-west");
        assert!(close(west.load_after_rps, 97.1 + 84.5));
        assert_eq!(west.verdict, Verdict::Overload);
        assert!(close(
            region(&check, "us-east").load_after_rps,
            203.5 - 84.5
        ));
        // us-west sheds what exceeds its 160 rps: every provider there gets its admitted part.
        let admitted = 160.0 / (97.1 + 84.5);
        assert!(close(
            provider(&check, "anthropic@us-west").load_after_rps,
            84.5 * admitted
        ));
        assert!(close(
            provider(&check, "openai@us-west").load_after_rps,
            65.7 * admitted
        ));
        assert!(check.blocks());

        let mut fleet = default_fleet();
        let standby = &mut fleet.services[1].replicas[1];
        standby.ready = false;
        standby.replication_lag_s = 45.0;
        let check = preflight(&command, &fleet);
        assert_eq!(check.takeover.as_ref().unwrap().expected_takeover_s, 300.0);
        assert!(
            check.warnings[0].contains("more than 30s"),
            "{:?}",
            check.warnings
        );
        assert!(
            check.warnings[1].contains("not ready: a cold start"),
            "{:?}",
            check.warnings
        );

        let active = Command::Promote {
            service: "credit-decision".into(),
            replica: "credit-decision@us-east".into(),
        };
        assert_eq!(
            preflight(&active, &default_fleet()).errors,
            ["credit-decision@us-east is already active"]
        );
    }

    #[test]
    fn fallback_model_sends_a_lane_to_its_fastest_usable_provider() {
        let mut fleet = default_fleet();
        fleet.services[3].degraded_modes.push(DegradedMode {
            mode: DegradedModeKind::FallbackModel,
            control: protocol::commands::TimedControl {
                set_by: "bob".into(),
                reason: "slow".into(),
                since: crate::testing::fixture_wall(),
                expires_at: None,
            },
        });
        let check = preflight(&breaker("google@eu-west", BreakerAction::ForceOpen), &fleet);
        // email-notifier: anthropic (p95 1089) is faster than openai (1175); feature-store
        // falls from google (rank 2) to openai (rank 3).
        assert!(close(
            provider(&check, "anthropic@eu-west").load_after_rps,
            20.3
        ));
        assert!(close(
            provider(&check, "openai@eu-west").load_after_rps,
            68.6 - 10.15 + 31.4
        ));
        assert!(close(
            provider(&check, "google@eu-west").load_after_rps,
            41.6 - 10.15 - 31.4
        ));
    }

    #[test]
    fn degraded_modes_hold_back_demand_and_spare_model_calls() {
        let effect = ModeEffect::of([DegradedModeKind::ServeCache, DegradedModeKind::ReadOnly]);
        assert!(close(effect.served, 0.8) && close(effect.model_calls, 0.6));
        assert_eq!(ModeEffect::of([DegradedModeKind::HumanOnly]).served, 0.0);

        // feature-store under serve-cache: its replicas' moves reach the gateways at 60%.
        let mut fleet = default_fleet();
        fleet.services[2].degraded_modes.push(DegradedMode {
            mode: DegradedModeKind::ServeCache,
            control: protocol::commands::TimedControl {
                set_by: "bob".into(),
                reason: "slow".into(),
                since: crate::testing::fixture_wall(),
                expires_at: None,
            },
        });
        let check = preflight(&drain("us-west"), &fleet);
        let east = region(&check, "us-east");
        let risk_moved = 240.9 * 120.0 / 240.0 - 87.6;
        let feature_moved = 94.3 / 2.0 - 31.4;
        assert!(close(
            east.load_after_rps,
            203.5 + risk_moved + 0.6 * feature_moved
        ));
    }

    #[test]
    fn commands_that_move_no_traffic_say_what_they_change_and_never_block_on_it() {
        let fleet = small_fleet();
        let pin = preflight(&breaker("openai@eu-west", BreakerAction::Pin), &fleet);
        assert_eq!(
            pin.summary,
            "breaker pin openai@eu-west: the automatic breaker will not trip it"
        );
        assert!(
            pin.warnings[0].contains("a pin only stops new trips"),
            "{:?}",
            pin.warnings
        );
        assert!(!pin.blocks());
        let unpin = preflight(&breaker("openai@eu-west", BreakerAction::Unpin), &fleet);
        assert_eq!(unpin.errors, ["openai@eu-west is not pinned"]);
        let degrade = |enabled| Command::Degrade {
            service: "credit-decision".into(),
            mode: DegradedModeKind::ServeCache,
            enabled,
            expires_in_s: Some(1800),
        };
        let on = preflight(&degrade(true), &fleet);
        assert!(
            on.summary
                .starts_with("degrade serve-cache on credit-decision for 30m"),
            "{}",
            on.summary
        );
        assert_eq!(
            on.warnings,
            ["serve-cache is already on for credit-decision: this renews it"]
        );
        assert!(!on.blocks());
        let undrain = preflight(
            &Command::Undrain {
                region: "us-east".into(),
            },
            &fleet,
        );
        assert_eq!(undrain.errors, ["us-east is not drained"]);
        // Closing an open breaker brings traffic back, which is shown but blocks nothing.
        let close_it = preflight(&breaker("openai@eu-west", BreakerAction::Close), &fleet);
        assert!(
            close_it.errors.is_empty() && !close_it.blocks(),
            "{close_it:#?}"
        );
        assert!(
            close_it.warnings[0].contains("fails 71% of requests"),
            "{:?}",
            close_it.warnings
        );
    }

    #[test]
    fn unknown_targets_are_errors_not_panics() {
        let fleet = small_fleet();
        for (command, error) in [
            (drain("mars"), "no region mars in this fleet"),
            (
                breaker("x@y", BreakerAction::ForceOpen),
                "no provider x@y in this fleet",
            ),
            (
                Command::Promote {
                    service: "nope".into(),
                    replica: "r".into(),
                },
                "no service nope in this fleet",
            ),
        ] {
            let check = preflight(&command, &fleet);
            assert_eq!(check.errors, [error]);
            assert!(check.blocks());
        }
    }
}
