//! Operators' controls over the simulated fleet, with real consequences: drains move traffic
//! (and can overload the regions that take it), breaker overrides hold providers out of or in
//! rotation, degraded modes hold back demand or spare model calls, weights move traffic, and a
//! promotion takes the time its standby needs.
//!
//! Each change bumps its target's control revision (metrics never do), so that a command's
//! `If-Match` stays valid while the numbers move. Timed controls revert by themselves, and
//! operations end by themselves: both leave a notice and an audit record by `system`.

use std::collections::BTreeMap;

use super::{BreakerMachine, LaneRoute, ServiceState, Sim, round, share_of};
use crate::audit::{AuditRecord, SYSTEM_ACTOR};
use crate::scenario::format_duration;
use protocol::command::{Command, TargetKind};
use protocol::commands::{
    AuditOutcome, BreakerAction, Operation, OperationState, TimedControl, WeightScope,
};
use protocol::model::ModeEffect;
use protocol::{
    BreakerState, DegradedMode, DegradedModeKind, Provider, Region, ReplicaRole, Service,
};

/// Longest a timed control may last: a week.
pub const MAX_EXPIRY_S: u64 = 7 * 24 * 3600;
/// Operations kept for `GET /v1/operations/{id}`, running ones always.
const OPERATIONS_KEPT: usize = 100;
/// A finished operation stays in the snapshot this long (simulated seconds)...
const OPERATION_SHOWN_S: f64 = 600.0;
/// ...and only the most recent ones.
const OPERATIONS_SHOWN: usize = 20;

/// A control set by hand: who, why, since when, and when it reverts by itself.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Control {
    set_by: String,
    reason: String,
    since_s: f64,
    expires_s: Option<f64>,
}

impl Control {
    fn expired(&self, now: f64) -> bool {
        self.expires_s.is_some_and(|expires| now >= expires)
    }

    /// The duration it was set for, as the command that set it said.
    fn duration_s(&self) -> Option<u64> {
        self.expires_s
            .map(|expires| (expires - self.since_s).round() as u64)
    }
}

/// A degraded mode in force on a service.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ModeControl {
    mode: DegradedModeKind,
    control: Control,
}

impl ServiceState {
    pub(super) fn has_mode(&self, mode: DegradedModeKind) -> bool {
        self.degraded_modes.iter().any(|m| m.mode == mode)
    }

    /// What the service's degraded modes do to its traffic: the console's preflight
    /// predicts with the same rule.
    pub(super) fn mode_effect(&self) -> ModeEffect {
        ModeEffect::of(self.degraded_modes.iter().map(|m| m.mode))
    }
}

/// A promotion: an operation that makes a standby active after its takeover time.
pub(super) struct Promotion {
    id: String,
    service: usize,
    replica: usize,
    by: String,
    reason: String,
    started_s: f64,
    takes_s: f64,
    state: OperationState,
    message: String,
    finished_s: Option<f64>,
}

/// What an accepted command did.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The target's control revision after the change.
    pub control_revision: u64,
    /// The operation it started, if it takes time.
    pub operation: Option<Operation>,
    /// Consequences the operator should know about.
    pub warnings: Vec<String>,
    /// For the audit log: when it reverts, which operation it started.
    pub detail: Option<String>,
}

/// Why a command was refused; nothing changed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// No such region, provider or service.
    #[error("{0}")]
    UnknownTarget(String),
    /// The command makes no sense for the target as it is now.
    #[error("{0}")]
    Invalid(String),
}

/// The object a command changes, as it is now.
#[derive(Clone, Debug, PartialEq)]
pub enum ControlTarget {
    Region(Region),
    /// Boxed: a provider is the largest of the three.
    Provider(Box<Provider>),
    Service(Service),
}

impl ControlTarget {
    pub fn control_revision(&self) -> u64 {
        match self {
            ControlTarget::Region(region) => region.control_revision,
            ControlTarget::Provider(provider) => provider.control_revision,
            ControlTarget::Service(service) => service.control_revision,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let json = match self {
            ControlTarget::Region(region) => serde_json::to_value(region),
            ControlTarget::Provider(provider) => serde_json::to_value(provider),
            ControlTarget::Service(service) => serde_json::to_value(service),
        };
        json.expect("protocol types serialize to JSON")
    }
}

/// What a command method reports besides its change.
#[derive(Default)]
struct Outcome {
    operation: Option<Operation>,
    warnings: Vec<String>,
}

fn invalid<T>(detail: String) -> Result<T, Refusal> {
    Err(Refusal::Invalid(detail))
}

impl Sim {
    /// The object `id` of `kind` as a snapshot would show it now.
    pub fn control_target(&self, kind: TargetKind, id: &str) -> Result<ControlTarget, Refusal> {
        let index = self.target_index(kind, id)?;
        Ok(match kind {
            TargetKind::Region => ControlTarget::Region(self.region_view(index)),
            TargetKind::Provider => ControlTarget::Provider(Box::new(self.provider_view(index))),
            TargetKind::Service => ControlTarget::Service(self.service_view(index)),
        })
    }

    /// Carries out an operator's command now, as `by` for `reason`. The fleet's numbers are
    /// brought up to date at once, so the next view shows the consequences.
    pub fn apply(&mut self, command: &Command, by: &str, reason: &str) -> Result<Applied, Refusal> {
        let kind = command.target_kind();
        let target = self.target_index(kind, command.target_id())?;
        let overloaded_before = self.overloaded();
        let served_before = self.served_services();
        let outcome = match command {
            Command::Promote { replica, .. } => self.promote(target, replica, by, reason)?,
            Command::Drain { expires_in_s, .. } => self.drain(target, by, reason, *expires_in_s)?,
            Command::Undrain { .. } => self.undrain(target)?,
            Command::Breaker {
                action,
                expires_in_s,
                ..
            } => self.breaker(target, *action, by, reason, *expires_in_s)?,
            Command::Degrade {
                mode,
                enabled,
                expires_in_s,
                ..
            } => self.degrade(target, *mode, *enabled, by, reason, *expires_in_s)?,
            Command::Weights { scope, weights, .. } => self.set_weights(target, scope, weights)?,
        };
        let now = self.elapsed_s;
        self.notice(now, format!("{by}: {command} — {reason}"));
        self.evaluate(0.0);
        let mut warnings = outcome.warnings;
        warnings.extend(self.new_overloads(&overloaded_before));
        warnings.extend(self.newly_unserved(&served_before));
        let detail = match (&outcome.operation, command.expires_in_s()) {
            (Some(operation), _) => Some(format!("{}: {}", operation.id, operation.message)),
            (None, Some(seconds)) => Some(format!(
                "reverts at {}",
                self.time_at(now + seconds as f64).format("%H:%M:%S")
            )),
            (None, None) => None,
        };
        let control_revision = match kind {
            TargetKind::Region => self.regions[target].control_revision,
            TargetKind::Provider => self.providers[target].control_revision,
            TargetKind::Service => self.services[target].control_revision,
        };
        Ok(Applied {
            control_revision,
            operation: outcome.operation,
            warnings,
            detail,
        })
    }

    /// An operation by id, while it is kept.
    pub fn operation(&self, id: &str) -> Option<Operation> {
        self.operations
            .iter()
            .find(|op| op.id == id)
            .map(|op| self.operation_view(op))
    }

    /// What happened by itself (expiries, operations that ended) since the last call.
    pub fn take_automatic_records(&mut self) -> Vec<AuditRecord> {
        std::mem::take(&mut self.automatic)
    }

    fn target_index(&self, kind: TargetKind, id: &str) -> Result<usize, Refusal> {
        let (found, what) = match kind {
            TargetKind::Region => (self.topology.region_index(id), "region"),
            TargetKind::Provider => (self.topology.provider_index(id), "provider"),
            TargetKind::Service => (self.topology.service_index(id), "service"),
        };
        found.ok_or_else(|| Refusal::UnknownTarget(format!("no {what} {id:?} in this fleet")))
    }

    fn control(
        &self,
        by: &str,
        reason: &str,
        expires_in_s: Option<u64>,
    ) -> Result<Control, Refusal> {
        if let Some(seconds) = expires_in_s
            && !(1..=MAX_EXPIRY_S).contains(&seconds)
        {
            return invalid(format!(
                "expires_in_s must be from 1 to {MAX_EXPIRY_S} (a week), not {seconds}"
            ));
        }
        Ok(Control {
            set_by: by.to_string(),
            reason: reason.to_string(),
            since_s: self.elapsed_s,
            expires_s: expires_in_s.map(|seconds| self.elapsed_s + seconds as f64),
        })
    }

    fn drain(
        &mut self,
        r: usize,
        by: &str,
        reason: &str,
        expires_in_s: Option<u64>,
    ) -> Result<Outcome, Refusal> {
        let others_take_traffic = self
            .regions
            .iter()
            .enumerate()
            .any(|(other, state)| other != r && state.drain.is_none());
        if !others_take_traffic {
            return invalid(format!(
                "cannot drain {}: no other region would take its traffic",
                self.topology.regions[r].id
            ));
        }
        let control = self.control(by, reason, expires_in_s)?;
        let region = &mut self.regions[r];
        region.drain = Some(control);
        region.control_revision += 1;
        Ok(Outcome::default())
    }

    fn undrain(&mut self, r: usize) -> Result<Outcome, Refusal> {
        let region = &mut self.regions[r];
        if region.drain.take().is_none() {
            return invalid(format!("{} is not drained", self.topology.regions[r].id));
        }
        region.control_revision += 1;
        Ok(Outcome::default())
    }

    fn breaker(
        &mut self,
        p: usize,
        action: BreakerAction,
        by: &str,
        reason: &str,
        expires_in_s: Option<u64>,
    ) -> Result<Outcome, Refusal> {
        let id = self.topology.providers[p].id.clone();
        let timed = matches!(action, BreakerAction::ForceOpen | BreakerAction::Pin);
        if expires_in_s.is_some() && !timed {
            return invalid(format!(
                "expires_in_s applies to force-open and pin, not to {}",
                action.word()
            ));
        }
        let control = self.control(by, reason, expires_in_s)?;
        let policy = self.topology.breaker;
        let state = &mut self.providers[p];
        let mut outcome = Outcome::default();
        match action {
            BreakerAction::ForceOpen => {
                state
                    .breaker
                    .open(format!("quarantined by {by}: {reason}"), control.expires_s);
                state.quarantine = Some(control);
            }
            BreakerAction::Close => {
                if state.breaker.state == BreakerState::Closed && state.quarantine.is_none() {
                    return invalid(format!("the breaker of {id} is already closed"));
                }
                state.quarantine = None;
                state.breaker = BreakerMachine::closed();
                if state.error_rate > policy.error_threshold && state.pinned.is_none() {
                    outcome.warnings.push(format!(
                        "{id} fails {:.0}% of requests: its breaker will trip again after {} unless it is pinned",
                        state.error_rate * 100.0,
                        format_duration(policy.trip_after_s)
                    ));
                }
            }
            BreakerAction::Pin => {
                if state.breaker.state == BreakerState::Open {
                    outcome.warnings.push(format!(
                        "the breaker of {id} is open now: a pin only stops new trips (close it to put {id} back in rotation)"
                    ));
                }
                state.pinned = Some(control);
            }
            BreakerAction::Unpin => {
                if state.pinned.take().is_none() {
                    return invalid(format!("{id} is not pinned"));
                }
            }
        }
        state.control_revision += 1;
        Ok(outcome)
    }

    fn degrade(
        &mut self,
        s: usize,
        mode: DegradedModeKind,
        enabled: bool,
        by: &str,
        reason: &str,
        expires_in_s: Option<u64>,
    ) -> Result<Outcome, Refusal> {
        let service = &self.topology.services[s].id;
        if enabled {
            let control = self.control(by, reason, expires_in_s)?;
            let modes = &mut self.services[s].degraded_modes;
            match modes.iter_mut().find(|m| m.mode == mode) {
                Some(existing) => existing.control = control,
                None => modes.push(ModeControl { mode, control }),
            }
        } else {
            if expires_in_s.is_some() {
                return invalid(
                    "expires_in_s applies when setting a mode, not when clearing it".into(),
                );
            }
            let modes = &mut self.services[s].degraded_modes;
            let before = modes.len();
            modes.retain(|m| m.mode != mode);
            if modes.len() == before {
                return invalid(format!("{} is not set on {service}", mode.word()));
            }
        }
        self.services[s].control_revision += 1;
        Ok(Outcome::default())
    }

    fn set_weights(
        &mut self,
        s: usize,
        scope: &WeightScope,
        weights: &BTreeMap<String, f64>,
    ) -> Result<Outcome, Refusal> {
        let spec = &self.topology.services[s];
        if weights.is_empty() {
            return invalid("weights must name at least one region or provider".into());
        }
        if let Some((key, weight)) = weights.iter().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
            return invalid(format!(
                "the weight of {key} must be a number >= 0, not {weight}"
            ));
        }
        match scope {
            WeightScope::Regions => {
                let region_of = |r: usize| &self.topology.regions[spec.replicas[r].region_index].id;
                let mut merged: Vec<f64> = match &self.services[s].region_weights {
                    Some(current) => current.clone(),
                    None => spec.replicas.iter().map(|r| r.capacity_rps).collect(),
                };
                let regions: Vec<&str> = (0..spec.replicas.len())
                    .map(|r| region_of(r).as_str())
                    .collect();
                if let Err(unknown) = overwrite_weights(&mut merged, &regions, weights) {
                    return invalid(format!(
                        "{} has no replica in {unknown:?}; its regions: {}",
                        spec.id,
                        regions.join(", ")
                    ));
                }
                let state = &self.services[s];
                let active_weighted = merged
                    .iter()
                    .zip(&state.replicas)
                    .any(|(weight, replica)| *weight > 0.0 && replica.role == ReplicaRole::Active);
                if !active_weighted {
                    return invalid(format!(
                        "these weights would leave {} without traffic: give an active replica's region a weight above 0",
                        spec.id
                    ));
                }
                self.services[s].region_weights = Some(merged);
            }
            WeightScope::Providers { region } => {
                let Some(region_index) = self.topology.region_index(region) else {
                    return invalid(format!("no region {region:?} in this fleet"));
                };
                let Some(&(g, lane)) = self.lane_of[s].iter().find(|(g, _)| *g == region_index)
                else {
                    return invalid(format!("{} has no replica in {region}", spec.id));
                };
                let routes = &self.gateways[g].lanes[lane].routes;
                let provider_of = |route: &LaneRoute| &self.topology.providers[route.provider].id;
                let mut merged: Vec<f64> = routes.iter().map(|route| route.weight).collect();
                let known: Vec<&str> = routes
                    .iter()
                    .map(|route| provider_of(route).as_str())
                    .collect();
                if let Err(unknown) = overwrite_weights(&mut merged, &known, weights) {
                    return invalid(format!(
                        "{}'s routes at {region} go to {}, not {unknown:?}",
                        spec.id,
                        known.join(", ")
                    ));
                }
                if merged.iter().all(|weight| *weight <= 0.0) {
                    return invalid(format!(
                        "these weights would leave {} at {region} without a route: give one a weight above 0",
                        spec.id
                    ));
                }
                for (route, weight) in self.gateways[g].lanes[lane].routes.iter_mut().zip(merged) {
                    route.weight = weight;
                }
            }
        }
        self.services[s].control_revision += 1;
        Ok(Outcome::default())
    }

    fn promote(
        &mut self,
        s: usize,
        replica_id: &str,
        by: &str,
        reason: &str,
    ) -> Result<Outcome, Refusal> {
        let spec = &self.topology.services[s];
        let Some(r) = spec.replicas.iter().position(|r| r.id == replica_id) else {
            let ids: Vec<&str> = spec.replicas.iter().map(|r| r.id.as_str()).collect();
            return invalid(format!(
                "{} has no replica {replica_id:?}; its replicas: {}",
                spec.id,
                ids.join(", ")
            ));
        };
        let state = &self.services[s].replicas[r];
        if state.role == ReplicaRole::Active {
            return invalid(format!("{replica_id} is already active"));
        }
        if let Some(running) = self
            .operations
            .iter()
            .find(|op| op.service == s && op.state == OperationState::Running)
        {
            return invalid(format!(
                "{} is already promoting {} (started by {})",
                running.id, spec.replicas[running.replica].id, running.by
            ));
        }
        let region = spec.replicas[r].region_index;
        let region_id = &self.topology.regions[region].id;
        if self.regions[region].down {
            return invalid(format!("cannot promote {replica_id}: {region_id} is down"));
        }
        let failover = self.topology.failover;
        let (warmth, takes_s) = match state.role {
            _ if !state.ready && state.role != ReplicaRole::ColdStandby => {
                ("not ready: a cold start", failover.cold_takeover_s)
            }
            ReplicaRole::HotStandby => ("hot standby: takes over", failover.hot_takeover_s),
            ReplicaRole::WarmStandby => ("warm standby: warms up", failover.warm_takeover_s),
            _ => (
                "cold standby: starts and restores",
                failover.cold_takeover_s,
            ),
        };
        let mut outcome = Outcome::default();
        let lag = state.replication_lag_s;
        if lag > 0.0 {
            let lag = if lag < 60.0 {
                format!("{lag:.1}s")
            } else {
                format_duration(lag)
            };
            outcome.warnings.push(format!(
                "replication lag {lag}: writes from the last {lag} may be lost"
            ));
        }
        if self.regions[region].drain.is_some() {
            outcome.warnings.push(format!(
                "{region_id} is drained: {replica_id} takes no traffic there until it is undrained"
            ));
        }
        self.operations_started += 1;
        let promotion = Promotion {
            id: format!("op-{}", self.operations_started),
            service: s,
            replica: r,
            by: by.to_string(),
            reason: reason.to_string(),
            started_s: self.elapsed_s,
            takes_s,
            state: OperationState::Running,
            message: format!("{replica_id}, {warmth} in ~{}", format_duration(takes_s)),
            finished_s: None,
        };
        outcome.operation = Some(self.operation_view(&promotion));
        self.operations.push(promotion);
        if self.operations.len() > OPERATIONS_KEPT
            && let Some(oldest) = self
                .operations
                .iter()
                .position(|op| op.state != OperationState::Running)
        {
            self.operations.remove(oldest);
        }
        Ok(outcome)
    }

    /// Regions and replicas over capacity now, in that order.
    fn overloaded(&self) -> Vec<bool> {
        let regions = self
            .topology
            .regions
            .iter()
            .zip(&self.regions)
            .map(|(spec, state)| state.load_rps > spec.capacity_rps);
        let replicas =
            self.topology
                .services
                .iter()
                .zip(&self.services)
                .flat_map(|(spec, state)| {
                    spec.replicas
                        .iter()
                        .zip(&state.replicas)
                        .map(|(replica, st)| st.load_rps > replica.capacity_rps)
                });
        regions.chain(replicas).collect()
    }

    fn new_overloads(&self, before: &[bool]) -> Vec<String> {
        let regions = self
            .topology
            .regions
            .iter()
            .zip(&self.regions)
            .map(|(spec, state)| {
                format!(
                    "{} is over capacity ({:.0} rps for {:.0}): it sheds the excess with 429s",
                    spec.id, state.load_rps, spec.capacity_rps
                )
            });
        let replicas =
            self.topology
                .services
                .iter()
                .zip(&self.services)
                .flat_map(|(spec, state)| {
                    spec.replicas
                        .iter()
                        .zip(&state.replicas)
                        .map(|(replica, st)| {
                            format!(
                                "{} gets {:.0} rps for {:.0} rps of capacity",
                                replica.id, st.load_rps, replica.capacity_rps
                            )
                        })
                });
        regions
            .chain(replicas)
            .zip(self.overloaded())
            .zip(before)
            .filter(|((_, now), before)| *now && !**before)
            .map(|((text, _), _)| text)
            .collect()
    }

    /// Per service: whether any replica serves traffic.
    fn served_services(&self) -> Vec<bool> {
        self.services
            .iter()
            .map(|state| state.replicas.iter().any(|r| r.load_rps > 0.0))
            .collect()
    }

    fn newly_unserved(&self, before: &[bool]) -> Vec<String> {
        self.topology
            .services
            .iter()
            .zip(self.served_services())
            .zip(before)
            .zip(&self.services)
            .filter(|(((_, now), before), state)| {
                **before && !*now && state.deferred_rps < state.demand_rps
            })
            .map(|(((spec, _), _), _)| {
                format!(
                    "{} has no replica taking traffic now: its requests fail until a replica elsewhere is active",
                    spec.id
                )
            })
            .collect()
    }

    /// Reverts the timed controls whose time is up.
    pub(super) fn expire_controls(&mut self, now: f64) {
        let mut expired: Vec<(Command, Control)> = Vec::new();
        for (spec, state) in self.topology.regions.iter().zip(&mut self.regions) {
            if let Some(control) = state.drain.take_if(|c| c.expired(now)) {
                state.control_revision += 1;
                let command = Command::Drain {
                    region: spec.id.clone(),
                    expires_in_s: control.duration_s(),
                };
                expired.push((command, control));
            }
        }
        for (spec, state) in self.topology.providers.iter().zip(&mut self.providers) {
            let breaker = |action, control: &Control| Command::Breaker {
                provider: spec.id.clone(),
                action,
                expires_in_s: control.duration_s(),
            };
            if let Some(control) = state.quarantine.take_if(|c| c.expired(now)) {
                // Back to the automatic breaker, which probes before it closes.
                state.breaker.state = BreakerState::HalfOpen;
                state.breaker.reason = Some("probing after the quarantine ended".to_string());
                state.breaker.until_s = None;
                state.breaker.probing_for_s = 0.0;
                state.control_revision += 1;
                expired.push((breaker(BreakerAction::ForceOpen, &control), control));
            }
            if let Some(control) = state.pinned.take_if(|c| c.expired(now)) {
                state.control_revision += 1;
                expired.push((breaker(BreakerAction::Pin, &control), control));
            }
        }
        for (spec, state) in self.topology.services.iter().zip(&mut self.services) {
            let before = expired.len();
            for mode in state
                .degraded_modes
                .extract_if(.., |m| m.control.expired(now))
            {
                let command = Command::Degrade {
                    service: spec.id.clone(),
                    mode: mode.mode,
                    enabled: true,
                    expires_in_s: mode.control.duration_s(),
                };
                expired.push((command, mode.control));
            }
            if expired.len() > before {
                state.control_revision += 1;
            }
        }
        for (command, control) in expired {
            let set = format!(
                "set by {} at {}",
                control.set_by,
                self.time_at(control.since_s).format("%H:%M:%S")
            );
            self.notice(
                now,
                format!("expired: {command} ({set} — {})", control.reason),
            );
            self.automatic.push(AuditRecord {
                at: self.time_at(now),
                actor: SYSTEM_ACTOR.to_string(),
                action: command.verb(),
                target: command.target_label(),
                reason: "expired".to_string(),
                idempotency_key: None,
                outcome: AuditOutcome::Reverted,
                detail: Some(format!("{set}: {}", control.reason)),
            });
        }
    }

    /// Ends the promotions whose standby is ready, or whose region went down.
    pub(super) fn advance_operations(&mut self, now: f64) {
        for i in 0..self.operations.len() {
            let op = &self.operations[i];
            if op.state != OperationState::Running {
                continue;
            }
            let (s, r) = (op.service, op.replica);
            let spec = &self.topology.services[s];
            let region = spec.replicas[r].region_index;
            let actives: Vec<usize> = (0..spec.replicas.len())
                .filter(|&k| self.services[s].replicas[k].role == ReplicaRole::Active)
                .collect();
            let names = |replicas: &[usize]| {
                replicas
                    .iter()
                    .map(|&k| spec.replicas[k].id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (state, message) = if self.regions[region].down {
                let stays = if actives.is_empty() {
                    "nothing is active".to_string()
                } else {
                    format!("{} stays active", names(&actives))
                };
                (
                    OperationState::Failed,
                    format!(
                        "{} went down during the takeover; {stays}",
                        self.topology.regions[region].id
                    ),
                )
            } else if now >= op.started_s + op.takes_s {
                let promoted = &spec.replicas[r].id;
                let message = if actives.is_empty() {
                    format!("{promoted} is active")
                } else {
                    format!("{promoted} is active; {} is a hot standby", names(&actives))
                };
                let service = &mut self.services[s];
                for k in actives {
                    service.replicas[k].role = ReplicaRole::HotStandby;
                }
                let replica = &mut service.replicas[r];
                replica.role = ReplicaRole::Active;
                replica.ready = true;
                replica.replication_lag_s = 0.0;
                service.control_revision += 1;
                (OperationState::Succeeded, message)
            } else {
                continue;
            };
            let at = self.time_at(now);
            let op = &mut self.operations[i];
            op.state = state;
            op.message = message.clone();
            op.finished_s = Some(now);
            let command = Command::Promote {
                service: spec.id.clone(),
                replica: spec.replicas[r].id.clone(),
            };
            let record = AuditRecord {
                at,
                actor: SYSTEM_ACTOR.to_string(),
                action: command.verb(),
                target: command.target_label(),
                reason: op.reason.clone(),
                idempotency_key: None,
                outcome: if state == OperationState::Succeeded {
                    AuditOutcome::Succeeded
                } else {
                    AuditOutcome::Failed
                },
                detail: Some(format!("{} started by {}: {message}", op.id, op.by)),
            };
            self.automatic.push(record);
            self.notice(now, format!("promotion {}: {message}", state.word()));
        }
    }

    fn operation_view(&self, op: &Promotion) -> Operation {
        let until = op.finished_s.unwrap_or(self.elapsed_s);
        let progress = match op.state {
            OperationState::Succeeded => 1.0,
            _ => share_of(until - op.started_s, op.takes_s).clamp(0.0, 1.0),
        };
        let spec = &self.topology.services[op.service];
        Operation {
            id: op.id.clone(),
            kind: "promote".to_string(),
            target: Command::Promote {
                service: spec.id.clone(),
                replica: spec.replicas[op.replica].id.clone(),
            }
            .target_label(),
            state: op.state,
            progress: round(progress, 3),
            message: op.message.clone(),
            started_at: self.time_at(op.started_s),
            finished_at: op.finished_s.map(|s| self.time_at(s)),
            eta: (op.state == OperationState::Running)
                .then(|| self.time_at(op.started_s + op.takes_s)),
        }
    }

    /// Running operations and the most recent finished ones, oldest first.
    pub(super) fn operation_views(&self) -> Vec<Operation> {
        let recent = |op: &&Promotion| {
            op.finished_s
                .is_none_or(|finished| self.elapsed_s - finished <= OPERATION_SHOWN_S)
        };
        let shown: Vec<&Promotion> = self.operations.iter().filter(recent).collect();
        let skip = shown.len().saturating_sub(OPERATIONS_SHOWN);
        shown
            .into_iter()
            .enumerate()
            .filter(|(i, op)| *i >= skip || op.state == OperationState::Running)
            .map(|(_, op)| self.operation_view(op))
            .collect()
    }

    pub(super) fn timed_control(&self, control: &Control) -> TimedControl {
        TimedControl {
            set_by: control.set_by.clone(),
            reason: control.reason.clone(),
            since: self.time_at(control.since_s),
            expires_at: control.expires_s.map(|s| self.time_at(s)),
        }
    }

    pub(super) fn degraded_mode_view(&self, mode: &ModeControl) -> DegradedMode {
        DegradedMode {
            mode: mode.mode,
            control: self.timed_control(&mode.control),
        }
    }
}

/// Sets `merged[i]` to the weight given for `names[i]`; the others keep theirs. A weight for
/// a name that is not there is the caller's error (returned).
fn overwrite_weights<'a>(
    merged: &mut [f64],
    names: &[&str],
    weights: &'a BTreeMap<String, f64>,
) -> Result<(), &'a str> {
    for (name, weight) in weights {
        let i = names.iter().position(|n| n == name).ok_or(name.as_str())?;
        merged[i] = *weight;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::scenario::Scenario;
    use crate::sim::FleetView;
    use crate::sim::tests::{
        provider, region, route_share, run_to, service, share_sum, sim, sim_with,
    };
    use crate::topology::{DEFAULT_TOPOLOGY_TOML, Topology};
    use protocol::Health;

    fn drain(region: &str, expires_in_s: Option<u64>) -> Command {
        Command::Drain {
            region: region.into(),
            expires_in_s,
        }
    }

    fn breaker(provider: &str, action: BreakerAction, expires_in_s: Option<u64>) -> Command {
        Command::Breaker {
            provider: provider.into(),
            action,
            expires_in_s,
        }
    }

    fn degrade(
        service: &str,
        mode: DegradedModeKind,
        enabled: bool,
        expires: Option<u64>,
    ) -> Command {
        Command::Degrade {
            service: service.into(),
            mode,
            enabled,
            expires_in_s: expires,
        }
    }

    fn promote(service: &str, replica: &str) -> Command {
        Command::Promote {
            service: service.into(),
            replica: replica.into(),
        }
    }

    fn weights(service: &str, scope: WeightScope, weights: &[(&str, f64)]) -> Command {
        Command::Weights {
            service: service.into(),
            scope,
            weights: weights.iter().map(|(k, w)| (k.to_string(), *w)).collect(),
        }
    }

    fn apply(sim: &mut Sim, command: &Command) -> Applied {
        sim.apply(command, "bob", "drill").unwrap()
    }

    fn refused(sim: &mut Sim, command: &Command) -> String {
        match sim.apply(command, "bob", "drill") {
            Err(Refusal::Invalid(detail)) => detail,
            other => panic!("{command} should be invalid, got {other:?}"),
        }
    }

    fn role_of(view: &FleetView, service_id: &str, replica: &str) -> ReplicaRole {
        service(view, service_id)
            .replicas
            .iter()
            .find(|r| r.id == replica)
            .unwrap()
            .role
    }

    fn replica_load(view: &FleetView, service_id: &str, replica: &str) -> f64 {
        service(view, service_id)
            .replicas
            .iter()
            .find(|r| r.id == replica)
            .unwrap()
            .load_rps
    }

    #[test]
    fn draining_us_east_moves_its_share_to_the_other_regions() {
        let mut sim = sim(42, None);
        let before = run_to(&mut sim, 10.0);
        assert!(region(&before, "us-east").traffic_share > 0.3);
        let applied = apply(&mut sim, &drain("us-east", None));
        assert_eq!(applied.control_revision, 2);
        let drained = sim.view();
        let east = region(&drained, "us-east");
        assert_eq!((east.traffic_share, east.load_rps), (0.0, 0.0));
        let control = east.drain.as_ref().unwrap();
        assert_eq!(
            (control.set_by.as_str(), control.reason.as_str()),
            ("bob", "drill")
        );
        assert_eq!(control.expires_at, None);
        assert!(
            (share_sum(&drained) - 1.0).abs() < 1e-3,
            "{}",
            share_sum(&drained)
        );
        for id in ["us-west", "eu-west", "ap-south"] {
            assert!(
                region(&drained, id).traffic_share > region(&before, id).traffic_share,
                "{id}"
            );
        }
        // Consequences: eu-west cannot absorb its share, and credit-decision had its only
        // active replica in us-east.
        let warned = |needle: &str| applied.warnings.iter().any(|w| w.contains(needle));
        assert!(warned("eu-west is over capacity"), "{:?}", applied.warnings);
        assert!(
            warned("credit-decision has no replica taking traffic"),
            "{:?}",
            applied.warnings
        );
        assert!(
            sim.notices()
                .iter()
                .any(|n| n.text.ends_with("bob: drain us-east — drill"))
        );

        let later = run_to(&mut sim, 60.0);
        assert_eq!(region(&later, "us-east").traffic_share, 0.0);
        assert_eq!(region(&later, "eu-west").health, Health::Degraded);
        assert_eq!(
            apply(
                &mut sim,
                &Command::Undrain {
                    region: "us-east".into()
                }
            )
            .control_revision,
            3
        );
        let back = run_to(&mut sim, 70.0);
        assert!(region(&back, "us-east").traffic_share > 0.3);
        assert_eq!(region(&back, "us-east").drain, None);
    }

    #[test]
    fn a_timed_drain_reverts_by_itself_with_a_notice_and_an_audit_record() {
        let mut sim = sim(42, None);
        run_to(&mut sim, 10.0);
        let applied = apply(&mut sim, &drain("us-east", Some(60)));
        assert_eq!(applied.detail.as_deref(), Some("reverts at 00:01:10"));
        let view = run_to(&mut sim, 69.75);
        let control = region(&view, "us-east").drain.clone().unwrap();
        assert_eq!(control.expires_at, Some(sim.time_at(70.0)));
        assert!(sim.take_automatic_records().is_empty());

        let view = run_to(&mut sim, 70.25);
        let east = region(&view, "us-east");
        assert_eq!((east.drain.is_none(), east.control_revision), (true, 3));
        assert!(east.traffic_share > 0.3);
        let records = sim.take_automatic_records();
        assert_eq!(records.len(), 1, "{records:?}");
        let record = &records[0];
        assert_eq!(
            (
                record.actor.as_str(),
                record.action.as_str(),
                record.target.as_str(),
                record.outcome
            ),
            ("system", "drain", "us-east", AuditOutcome::Reverted)
        );
        assert_eq!(
            record.detail.as_deref(),
            Some("set by bob at 00:00:10: drill")
        );
        assert!(sim.notices().iter().any(|n| {
            n.text
                .contains("expired: drain us-east for 1m00s (set by bob")
        }));
    }

    #[test]
    fn control_revisions_move_with_control_state_not_with_metrics() {
        let mut sim = sim(42, None);
        let first = run_to(&mut sim, 1.0);
        let later = run_to(&mut sim, 120.0);
        assert_ne!(first.regions, later.regions, "metrics move");
        let revisions = |view: &FleetView| -> Vec<u64> {
            view.regions
                .iter()
                .map(|r| r.control_revision)
                .chain(view.providers.iter().map(|p| p.control_revision))
                .chain(view.services.iter().map(|s| s.control_revision))
                .collect()
        };
        assert!(revisions(&later).iter().all(|r| *r == 1));
        apply(
            &mut sim,
            &degrade("risk-scorer", DegradedModeKind::ReadOnly, true, None),
        );
        let view = sim.view();
        assert_eq!(service(&view, "risk-scorer").control_revision, 2);
        assert_eq!(revisions(&view).iter().filter(|r| **r != 1).count(), 1);
    }

    #[test]
    fn promoting_a_cold_standby_takes_its_start_time() {
        let mut sim = sim(42, None);
        run_to(&mut sim, 10.0);
        let applied = apply(
            &mut sim,
            &promote("credit-decision", "credit-decision@eu-west"),
        );
        let operation = applied.operation.clone().unwrap();
        assert_eq!(
            (
                operation.id.as_str(),
                operation.kind.as_str(),
                operation.state
            ),
            ("op-1", "promote", OperationState::Running)
        );
        assert_eq!(operation.target, "credit-decision/credit-decision@eu-west");
        assert_eq!(operation.eta, Some(sim.time_at(310.0)));
        assert_eq!(operation.progress, 0.0);
        // A cold standby is as old as its last backup: half an hour at the start.
        assert!(
            applied
                .warnings
                .iter()
                .any(|w| w.starts_with("replication lag 30m") && w.ends_with("may be lost")),
            "{:?}",
            applied.warnings
        );
        assert_eq!(
            applied.control_revision, 1,
            "roles change when it completes"
        );

        let halfway = run_to(&mut sim, 160.0);
        assert_eq!(halfway.operations[0].progress, 0.5);
        let view = run_to(&mut sim, 309.75);
        assert_eq!(
            role_of(&view, "credit-decision", "credit-decision@eu-west"),
            ReplicaRole::ColdStandby
        );
        assert!(replica_load(&view, "credit-decision", "credit-decision@us-east") > 0.0);
        assert_eq!(view.operations[0].state, OperationState::Running);

        let view = run_to(&mut sim, 310.25);
        assert_eq!(
            role_of(&view, "credit-decision", "credit-decision@eu-west"),
            ReplicaRole::Active
        );
        assert_eq!(
            role_of(&view, "credit-decision", "credit-decision@us-east"),
            ReplicaRole::HotStandby
        );
        assert!(replica_load(&view, "credit-decision", "credit-decision@eu-west") > 0.0);
        assert_eq!(
            replica_load(&view, "credit-decision", "credit-decision@us-east"),
            0.0
        );
        assert_eq!(service(&view, "credit-decision").control_revision, 2);
        let done = &view.operations[0];
        assert_eq!(
            (done.state, done.progress, done.eta),
            (OperationState::Succeeded, 1.0, None)
        );
        assert_eq!(
            done.message,
            "credit-decision@eu-west is active; credit-decision@us-east is a hot standby"
        );
        assert_eq!(sim.operation("op-1").as_ref(), Some(done));
        let records = sim.take_automatic_records();
        assert_eq!(
            records
                .iter()
                .map(|r| (r.actor.as_str(), r.action.as_str(), r.outcome))
                .collect::<Vec<_>>(),
            [("system", "promote", AuditOutcome::Succeeded)]
        );
    }

    #[test]
    fn a_hot_standby_takes_over_in_seconds_and_warns_of_its_lag() {
        let mut sim = sim(42, None);
        run_to(&mut sim, 10.0);
        let applied = apply(
            &mut sim,
            &promote("credit-decision", "credit-decision@us-west"),
        );
        let lag = applied
            .warnings
            .iter()
            .find(|w| w.starts_with("replication lag "))
            .unwrap();
        let seconds = lag
            .strip_prefix("replication lag ")
            .and_then(|rest| rest.split_once("s: writes from the last "))
            .map(|(seconds, _)| seconds.parse::<f64>().unwrap())
            .unwrap();
        assert!(seconds > 0.0 && seconds < 1.0, "{lag}");
        assert!(
            lag.ends_with(&format!("{seconds:.1}s may be lost")),
            "{lag}"
        );
        let view = run_to(&mut sim, 14.75);
        assert_eq!(
            role_of(&view, "credit-decision", "credit-decision@us-west"),
            ReplicaRole::HotStandby
        );
        let view = run_to(&mut sim, 15.25);
        assert_eq!(
            role_of(&view, "credit-decision", "credit-decision@us-west"),
            ReplicaRole::Active
        );
    }

    #[test]
    fn a_warm_standby_warms_up_and_one_that_is_not_ready_needs_a_cold_start() {
        let text =
            DEFAULT_TOPOLOGY_TOML.replace("role = \"hot-standby\"", "role = \"warm-standby\"");
        let topology = Topology::parse("warm.toml", &text).unwrap();
        let mut warm = Sim::new(topology, None, 42, DateTime::<Utc>::UNIX_EPOCH);
        run_to(&mut warm, 10.0);
        let applied = apply(
            &mut warm,
            &promote("credit-decision", "credit-decision@us-west"),
        );
        assert_eq!(applied.operation.unwrap().eta, Some(warm.time_at(70.0)));

        // The standby stops replicating at 5s: promoting it is a cold start.
        let mut stale = sim(42, Some("standby-not-warm"));
        run_to(&mut stale, 20.0);
        let applied = apply(
            &mut stale,
            &promote("credit-decision", "credit-decision@us-west"),
        );
        let operation = applied.operation.unwrap();
        assert_eq!(operation.eta, Some(stale.time_at(320.0)));
        assert!(
            operation.message.contains("not ready"),
            "{}",
            operation.message
        );
    }

    #[test]
    fn a_promotion_fails_when_the_standby_region_goes_down() {
        let topology = Topology::embedded_default();
        let text = "name = \"x\"\n[[inject]]\nat = \"1m\"\nkind = \"region-down\"\n\
                    target = \"eu-west\"\nduration = \"10m\"\n";
        let scenario = Scenario::parse("x.toml", text, &topology).unwrap();
        let mut sim = sim_with(42, Some(scenario));
        run_to(&mut sim, 10.0);
        apply(
            &mut sim,
            &promote("credit-decision", "credit-decision@eu-west"),
        );
        let view = run_to(&mut sim, 61.0);
        let operation = &view.operations[0];
        assert_eq!(operation.state, OperationState::Failed);
        assert_eq!(
            operation.message,
            "eu-west went down during the takeover; credit-decision@us-east stays active"
        );
        assert!(
            operation.progress > 0.16 && operation.progress < 0.18,
            "{}",
            operation.progress
        );
        assert_eq!(
            role_of(&view, "credit-decision", "credit-decision@us-east"),
            ReplicaRole::Active
        );
        assert_eq!(service(&view, "credit-decision").control_revision, 1);
        let records = sim.take_automatic_records();
        assert_eq!(records[0].outcome, AuditOutcome::Failed);
        // A down region cannot take a promotion at all.
        assert!(
            refused(
                &mut sim,
                &promote("credit-decision", "credit-decision@eu-west")
            )
            .contains("eu-west is down")
        );
    }

    #[test]
    fn promotions_refuse_what_cannot_be_promoted() {
        let mut sim = sim(42, None);
        run_to(&mut sim, 5.0);
        assert_eq!(
            refused(
                &mut sim,
                &promote("credit-decision", "credit-decision@us-east")
            ),
            "credit-decision@us-east is already active"
        );
        assert!(
            refused(&mut sim, &promote("credit-decision", "nowhere"))
                .contains("its replicas: credit-decision@us-east, credit-decision@us-west")
        );
        assert!(
            refused(&mut sim, &promote("risk-scorer", "risk-scorer@us-east"))
                .contains("already active")
        );
        apply(
            &mut sim,
            &promote("credit-decision", "credit-decision@eu-west"),
        );
        assert_eq!(
            refused(
                &mut sim,
                &promote("credit-decision", "credit-decision@us-west")
            ),
            "op-1 is already promoting credit-decision@eu-west (started by bob)"
        );
        assert_eq!(
            sim.apply(&promote("nope", "x"), "bob", "drill"),
            Err(Refusal::UnknownTarget(
                "no service \"nope\" in this fleet".into()
            ))
        );
    }

    #[test]
    fn a_quarantine_holds_the_breaker_open_despite_low_errors_until_it_expires() {
        let mut sim = sim(42, None);
        run_to(&mut sim, 10.0);
        let openai = "openai@us-east";
        apply(
            &mut sim,
            &breaker(openai, BreakerAction::ForceOpen, Some(120)),
        );
        let view = run_to(&mut sim, 129.75);
        let held = provider(&view, openai);
        assert!(held.error_rate < 0.05, "a healthy provider");
        assert_eq!(held.breaker.state, BreakerState::Open);
        assert_eq!(
            held.breaker.reason.as_deref(),
            Some("quarantined by bob: drill")
        );
        assert_eq!(held.breaker.until, Some(sim.time_at(130.0)));
        assert_eq!(
            held.quarantine.as_ref().unwrap().expires_at,
            Some(sim.time_at(130.0))
        );
        assert_eq!(held.load_rps, 0.0);
        assert_eq!(
            route_share(&view, "us-east", "risk-scorer", "anthropic@us-east"),
            0.6
        );

        let view = run_to(&mut sim, 130.25);
        let released = provider(&view, openai);
        assert_eq!(released.quarantine, None);
        assert_eq!(released.breaker.state, BreakerState::HalfOpen);
        let records = sim.take_automatic_records();
        assert_eq!(records[0].action, "breaker force-open");
        assert_eq!(records[0].outcome, AuditOutcome::Reverted);
        let view = run_to(&mut sim, 140.0);
        assert_eq!(provider(&view, openai).breaker.state, BreakerState::Closed);
        assert_eq!(route_share(&view, "us-east", "risk-scorer", openai), 1.0);
    }

    #[test]
    fn close_lifts_a_quarantine_at_once() {
        let mut sim = sim(42, None);
        run_to(&mut sim, 10.0);
        let openai = "openai@us-east";
        assert_eq!(
            refused(&mut sim, &breaker(openai, BreakerAction::Close, None)),
            "the breaker of openai@us-east is already closed"
        );
        apply(&mut sim, &breaker(openai, BreakerAction::ForceOpen, None));
        let applied = apply(&mut sim, &breaker(openai, BreakerAction::Close, None));
        assert_eq!(applied.control_revision, 3);
        let view = sim.view();
        let closed = provider(&view, openai);
        assert_eq!(
            (closed.breaker.state, closed.quarantine.is_none()),
            (BreakerState::Closed, true)
        );
        assert_eq!(route_share(&view, "us-east", "risk-scorer", openai), 1.0);
        assert!(
            refused(&mut sim, &breaker(openai, BreakerAction::Close, Some(60)))
                .contains("applies to force-open and pin")
        );
    }

    #[test]
    fn a_pin_keeps_the_breaker_closed_through_an_outage() {
        let mut sim = sim(42, Some("provider-outage"));
        run_to(&mut sim, 5.0);
        let openai = "openai@us-east";
        apply(&mut sim, &breaker(openai, BreakerAction::Pin, None));
        let view = run_to(&mut sim, 60.0);
        let pinned = provider(&view, openai);
        assert!(pinned.error_rate > 0.5);
        assert_eq!(pinned.breaker.state, BreakerState::Closed);
        assert_eq!(pinned.control_revision, 2, "no automatic trip");
        assert_eq!(route_share(&view, "us-east", "risk-scorer", openai), 1.0);

        apply(&mut sim, &breaker(openai, BreakerAction::Unpin, None));
        let view = run_to(&mut sim, 66.0);
        let tripped = provider(&view, openai);
        assert_eq!(tripped.breaker.state, BreakerState::Open);
        assert_eq!(
            tripped.control_revision, 4,
            "unpin, then the automatic trip"
        );
        assert_eq!(
            refused(&mut sim, &breaker(openai, BreakerAction::Unpin, None)),
            "openai@us-east is not pinned"
        );
    }

    #[test]
    fn a_timed_pin_reverts_and_the_breaker_trips_again() {
        let mut sim = sim(42, Some("provider-outage"));
        run_to(&mut sim, 5.0);
        let openai = "openai@us-east";
        apply(&mut sim, &breaker(openai, BreakerAction::Pin, Some(30)));
        let view = run_to(&mut sim, 34.75);
        assert_eq!(provider(&view, openai).breaker.state, BreakerState::Closed);
        let view = run_to(&mut sim, 41.0);
        assert_eq!(provider(&view, openai).pinned, None);
        assert_eq!(provider(&view, openai).breaker.state, BreakerState::Open);
        assert_eq!(sim.take_automatic_records()[0].action, "breaker pin");
    }

    #[test]
    fn degraded_modes_change_the_numbers_and_expire() {
        let mut sim = sim(42, None);
        let before = run_to(&mut sim, 10.0);
        let openai = "openai@us-east";
        let risk = "risk-scorer";

        apply(
            &mut sim,
            &degrade(risk, DegradedModeKind::ServeCache, true, Some(60)),
        );
        let cached = sim.view();
        let ratio = provider(&cached, openai).load_rps / provider(&before, openai).load_rps;
        assert!(
            (ratio - (1.0 - protocol::model::CACHE_HIT_SHARE)).abs() < 0.05,
            "{ratio}"
        );
        let served = |view: &FleetView| -> f64 {
            service(view, risk)
                .replicas
                .iter()
                .map(|r| r.load_rps)
                .sum()
        };
        assert!((served(&cached) - service(&cached, risk).demand_rps).abs() < 0.5);
        let mode = &service(&cached, risk).degraded_modes[0];
        assert_eq!(
            (
                mode.mode,
                mode.control.set_by.as_str(),
                mode.control.expires_at
            ),
            (DegradedModeKind::ServeCache, "bob", Some(sim.time_at(70.0)))
        );
        assert_eq!(service(&cached, risk).health, Health::Degraded);

        let view = run_to(&mut sim, 70.25);
        assert!(service(&view, risk).degraded_modes.is_empty());
        assert_eq!(
            sim.take_automatic_records()[0].action,
            "degrade serve-cache on"
        );
        assert_eq!(service(&view, risk).health, Health::Ok);

        apply(
            &mut sim,
            &degrade(risk, DegradedModeKind::QueueNonUrgent, true, None),
        );
        let queued = sim.view();
        let share = served(&queued) / service(&queued, risk).demand_rps;
        assert!(
            (share - (1.0 - protocol::model::NON_URGENT_SHARE)).abs() < 0.01,
            "{share}"
        );
        assert_eq!(
            service(&queued, risk).health,
            Health::Degraded,
            "held back, not failing"
        );
        apply(
            &mut sim,
            &degrade(risk, DegradedModeKind::QueueNonUrgent, false, None),
        );
        assert_eq!(
            refused(
                &mut sim,
                &degrade(risk, DegradedModeKind::QueueNonUrgent, false, None)
            ),
            "queue-non-urgent is not set on risk-scorer"
        );

        let normal = sim.view();
        apply(
            &mut sim,
            &degrade(risk, DegradedModeKind::FallbackModel, true, None),
        );
        let fallback = sim.view();
        assert_eq!(
            route_share(&fallback, "us-east", risk, "self-hosted@us-east"),
            1.0
        );
        assert_eq!(
            route_share(&fallback, "eu-west", risk, "google@eu-west"),
            1.0
        );
        // The small model answers faster where it has room (in us-east it is nearly full).
        let p50 = |view: &FleetView| region(view, "eu-west").latency.p50_ms;
        assert!(
            p50(&fallback) < 0.9 * p50(&normal),
            "{} {}",
            p50(&fallback),
            p50(&normal)
        );

        apply(
            &mut sim,
            &degrade("credit-decision", DegradedModeKind::HumanOnly, true, None),
        );
        let human = sim.view();
        assert!(
            (served(&human) - service(&human, risk).demand_rps).abs() < 0.5,
            "other services are untouched"
        );
        let credit: f64 = service(&human, "credit-decision")
            .replicas
            .iter()
            .map(|r| r.load_rps)
            .sum();
        assert_eq!(credit, 0.0, "every request waits for a person");
        assert_eq!(service(&human, "credit-decision").health, Health::Degraded);

        apply(
            &mut sim,
            &degrade("email-notifier", DegradedModeKind::ReadOnly, true, None),
        );
        let read_only = sim.view();
        let email = service(&read_only, "email-notifier");
        let share = email.replicas[0].load_rps / email.demand_rps;
        assert!(
            (share - (1.0 - protocol::model::WRITE_SHARE)).abs() < 0.01,
            "{share}"
        );
    }

    #[test]
    fn region_weights_move_a_services_traffic_between_regions() {
        let mut sim = sim(42, None);
        let before = run_to(&mut sim, 10.0);
        let risk = "risk-scorer";
        apply(
            &mut sim,
            &weights(risk, WeightScope::Regions, &[("us-east", 0.0)]),
        );
        let view = sim.view();
        assert_eq!(replica_load(&view, risk, "risk-scorer@us-east"), 0.0);
        for replica in [
            "risk-scorer@us-west",
            "risk-scorer@eu-west",
            "risk-scorer@ap-south",
        ] {
            assert!(replica_load(&view, risk, replica) > replica_load(&before, risk, replica));
        }
        // Regions left out keep their weight: their replica's capacity.
        let expected: BTreeMap<String, f64> = [
            ("ap-south", 40.0),
            ("eu-west", 80.0),
            ("us-east", 0.0),
            ("us-west", 90.0),
        ]
        .iter()
        .map(|(k, w)| (k.to_string(), *w))
        .collect();
        assert_eq!(service(&view, risk).region_weights, expected);
        assert!(region(&view, "us-east").traffic_share < region(&before, "us-east").traffic_share);

        // An equal split overloads the small region.
        let applied = apply(
            &mut sim,
            &weights(
                risk,
                WeightScope::Regions,
                &[
                    ("us-east", 1.0),
                    ("us-west", 1.0),
                    ("eu-west", 1.0),
                    ("ap-south", 1.0),
                ],
            ),
        );
        assert!(
            applied
                .warnings
                .iter()
                .any(|w| w.starts_with("ap-south is over capacity")),
            "{:?}",
            applied.warnings
        );
        let view = sim.view();
        let east = replica_load(&view, risk, "risk-scorer@us-east");
        let south = replica_load(&view, risk, "risk-scorer@ap-south");
        assert!((east - south).abs() < 0.5, "{east} {south}");

        // Weights are preferences: draining every weighted region spills traffic by capacity.
        apply(
            &mut sim,
            &weights(
                risk,
                WeightScope::Regions,
                &[("us-west", 0.0), ("eu-west", 0.0), ("ap-south", 0.0)],
            ),
        );
        apply(&mut sim, &drain("us-east", None));
        let view = sim.view();
        assert!(replica_load(&view, risk, "risk-scorer@us-west") > 0.0);
    }

    #[test]
    fn provider_weights_move_a_services_traffic_within_a_gateway() {
        let mut sim = sim(42, None);
        run_to(&mut sim, 10.0);
        let risk = "risk-scorer";
        let scope = || WeightScope::Providers {
            region: "us-east".into(),
        };
        apply(
            &mut sim,
            &weights(
                risk,
                scope(),
                &[("openai@us-east", 0.0), ("google@us-east", 0.6)],
            ),
        );
        let view = sim.view();
        assert_eq!(route_share(&view, "us-east", risk, "openai@us-east"), 0.0);
        assert_eq!(
            route_share(&view, "us-east", risk, "anthropic@us-east"),
            0.5
        );
        assert_eq!(route_share(&view, "us-east", risk, "google@us-east"), 0.5);
        assert_eq!(
            route_share(&view, "us-west", risk, "openai@us-west"),
            1.0,
            "other gateways keep theirs"
        );
        assert_eq!(service(&view, risk).control_revision, 2);
    }

    #[test]
    fn bad_weights_and_bad_controls_are_refused_with_reasons() {
        let mut sim = sim(42, None);
        run_to(&mut sim, 5.0);
        let risk = "risk-scorer";
        let cases = [
            (weights(risk, WeightScope::Regions, &[]), "at least one"),
            (
                weights(risk, WeightScope::Regions, &[("us-east", -1.0)]),
                "must be a number >= 0",
            ),
            (
                weights(risk, WeightScope::Regions, &[("mars", 1.0)]),
                "has no replica in \"mars\"; its regions: us-east, us-west, eu-west, ap-south",
            ),
            (
                weights(
                    risk,
                    WeightScope::Regions,
                    &[
                        ("us-east", 0.0),
                        ("us-west", 0.0),
                        ("eu-west", 0.0),
                        ("ap-south", 0.0),
                    ],
                ),
                "without traffic",
            ),
            (
                weights("credit-decision", WeightScope::Regions, &[("us-east", 0.0)]),
                "without traffic",
            ),
            (
                weights(
                    risk,
                    WeightScope::Providers {
                        region: "us-east".into(),
                    },
                    &[("openai@us-west", 1.0)],
                ),
                "routes at us-east go to openai@us-east, anthropic@us-east, google@us-east, self-hosted@us-east",
            ),
            (
                weights(
                    "email-notifier",
                    WeightScope::Providers {
                        region: "us-east".into(),
                    },
                    &[("openai@us-east", 1.0)],
                ),
                "email-notifier has no replica in us-east",
            ),
            (
                Command::Undrain {
                    region: "us-east".into(),
                },
                "us-east is not drained",
            ),
            (drain("us-east", Some(0)), "expires_in_s must be from 1"),
            (
                degrade(risk, DegradedModeKind::ReadOnly, false, Some(5)),
                "when setting a mode",
            ),
        ];
        for (command, expected) in cases {
            let detail = refused(&mut sim, &command);
            assert!(detail.contains(expected), "{command}: {detail}");
        }
        for id in ["us-east", "us-west", "eu-west"] {
            apply(&mut sim, &drain(id, None));
        }
        assert_eq!(
            refused(&mut sim, &drain("ap-south", None)),
            "cannot drain ap-south: no other region would take its traffic"
        );
        let view = sim.view();
        assert_eq!(
            service(&view, risk).control_revision,
            1,
            "refusals change nothing"
        );
    }
}
