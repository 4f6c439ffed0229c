//! What a command changes in the routing inputs, resolved against an index of the snapshot,
//! with the errors and warnings that depend only on the target's state.

use std::collections::{BTreeMap, HashMap};

use super::result::{Preflight, Takeover};
use crate::domain::command::Command;
use protocol::commands::{BreakerAction, OperationState, WeightScope};
use protocol::model::{MAX_STANDBY_LAG_S, TakeoverTimes};
use protocol::{BreakerState, FleetSnapshot, Health, Provider, ReplicaRole, Service};

/// A provider failing more than this share of its requests is called failing.
const FAILING_ERROR_RATE: f64 = 0.5;

/// What the command changes in the routing inputs, by index into the snapshot.
#[derive(Default)]
pub(super) struct Change<'c> {
    /// Region and whether it is drained after.
    pub(super) drained: Option<(usize, bool)>,
    /// Provider and whether its breaker is open after.
    pub(super) breaker_open: Option<(usize, bool)>,
    /// Service and its region weights after (those given merged into those it has).
    pub(super) region_weights: Option<(usize, BTreeMap<&'c str, f64>)>,
    /// Service, region, and the route weights given (by provider id).
    pub(super) route_weights: Option<(usize, usize, &'c BTreeMap<String, f64>)>,
    /// Service and the replica made active; its actives become hot standbys.
    pub(super) promote: Option<(usize, usize)>,
}

impl Change<'_> {
    /// Whether the routes of `region`'s gateway change.
    pub(super) fn touches_routes_in(&self, region: usize, fleet: &FleetIndex) -> bool {
        self.breaker_open
            .is_some_and(|(p, _)| fleet.provider_region[p] == Some(region))
            || self.route_weights.is_some_and(|(_, r, _)| r == region)
    }

    pub(super) fn weights_of(&self, service: usize) -> Option<&BTreeMap<&str, f64>> {
        match &self.region_weights {
            Some((s, weights)) if *s == service => Some(weights),
            _ => None,
        }
    }
}

/// Index of the snapshot, built once per preflight.
pub(super) struct FleetIndex<'a> {
    pub(super) snapshot: &'a FleetSnapshot,
    pub(super) region_index: HashMap<&'a str, usize>,
    pub(super) provider_index: HashMap<&'a str, usize>,
    pub(super) service_index: HashMap<&'a str, usize>,
    pub(super) provider_region: Vec<Option<usize>>,
    pub(super) gateway_region: Vec<Option<usize>>,
    /// A region down in itself, not merely for want of providers (whose breakers tell that).
    pub(super) region_down: Vec<bool>,
}

impl<'a> FleetIndex<'a> {
    pub(super) fn new(snapshot: &'a FleetSnapshot) -> FleetIndex<'a> {
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
        FleetIndex {
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

    pub(super) fn drained(&self, region: usize, change: &Change, after: bool) -> bool {
        match change.drained {
            Some((r, drained)) if after && r == region => drained,
            _ => self.snapshot.regions[region].drain.is_some(),
        }
    }

    /// (usable, healthy) of a provider, before or after the change: usable when its breaker
    /// is not open and its region is not down; healthy when usable and not failing.
    pub(super) fn provider_state(&self, p: usize, change: &Change, after: bool) -> (bool, bool) {
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
    pub(super) fn change_for<'c>(
        &'c self,
        command: &'c Command,
        out: &mut Preflight,
    ) -> Option<Change<'c>> {
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
            Command::Standby { service, .. }
            | Command::Borrow { service, .. }
            | Command::Return { service, .. } => {
                let s = self.service(service, out)?;
                out.readiness =
                    super::readiness::preview(command, snapshot, &snapshot.services[s], out);
                // No traffic moves: a standby takes none until it is promoted.
                return None;
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
        // The source's own estimate; the protocol's defaults only when it gives none.
        let takeover_s = target
            .takeover_s
            .unwrap_or_else(|| TakeoverTimes::default().expected_s(target.role, target.ready));
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

fn join<'s>(items: impl Iterator<Item = &'s str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}
