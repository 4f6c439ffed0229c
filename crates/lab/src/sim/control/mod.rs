//! Operators' controls over the simulated fleet, with real consequences: drains move traffic
//! (and can overload the regions that take it), breaker overrides hold providers out of or in
//! rotation, degraded modes hold back demand or spare model calls, weights move traffic, and a
//! promotion takes the time its standby needs.
//!
//! Each change bumps its target's control revision (metrics never do), so that a command's
//! `If-Match` stays valid while the numbers move. Timed controls revert by themselves, and
//! operations end by themselves: both leave a notice and an audit record by `system`.
//!
//! This module judges and applies a command and reports its consequences; the controls
//! themselves are in `traffic` (drains, breakers, degraded modes, weights), `promotion`
//! (operations, and promotions among them), `readiness` (warming and cooling standbys),
//! `pool` (borrowing replicas from shared pools and giving them back) and `timed` (how timed
//! controls show and expire).

mod pool;
mod promotion;
mod readiness;
mod timed;
mod traffic;

pub(super) use pool::PoolState;
pub(super) use promotion::SimOperation;
pub(super) use readiness::RoleHold;

use super::{ServiceState, Sim};
use crate::audit::AuditRecord;
use protocol::command::{Command, TargetKind};
use protocol::commands::Operation;
use protocol::model::ModeEffect;
use protocol::{DegradedModeKind, Provider, Region, Service};

/// Longest a timed control may last: a week.
pub const MAX_EXPIRY_S: u64 = 7 * 24 * 3600;

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
            Command::Standby {
                replica,
                role,
                expires_in_s,
                ..
            } => self.change_standby(target, replica, *role, (by, reason), *expires_in_s)?,
            Command::Borrow { pool, role, .. } => self.borrow(target, pool, *role, (by, reason))?,
            Command::Return { replica, .. } => self.give_back(target, replica)?,
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

    /// Whether `command` would be accepted now: the very rules of [`Sim::apply`], judged on a
    /// copy of the simulation, so nothing changes here. A command held for a second operator
    /// is judged first: one that could not run is refused at once, not at its approval.
    pub fn judge(&self, command: &Command) -> Result<(), Refusal> {
        self.clone().apply(command, "", "").map(drop)
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

    /// Every region and replica with its load and capacity (rps), regions first.
    fn capacities(&self) -> impl Iterator<Item = (CapacityHolder<'_>, f64, f64)> + '_ {
        let regions = self
            .topology
            .regions
            .iter()
            .zip(&self.regions)
            .map(|(spec, state)| {
                let holder = CapacityHolder::Region(&spec.id);
                (holder, state.load_rps, spec.capacity_rps)
            });
        let replicas = self
            .topology
            .services
            .iter()
            .zip(&self.services)
            .flat_map(|(spec, state)| spec.replicas.iter().zip(&state.replicas))
            .map(|(replica, st)| {
                let holder = CapacityHolder::Replica(&replica.id);
                (holder, st.load_rps, replica.capacity_rps)
            });
        regions.chain(replicas)
    }

    /// Regions and replicas over capacity now, in the order of [`Sim::capacities`].
    fn overloaded(&self) -> Vec<bool> {
        self.capacities()
            .map(|(_, load, capacity)| load > capacity)
            .collect()
    }

    /// Warnings for what is over capacity now and was not `before` (see [`Sim::overloaded`]).
    fn new_overloads(&self, before: &[bool]) -> Vec<String> {
        self.capacities()
            .zip(before)
            .filter(|((_, load, capacity), was)| load > capacity && !**was)
            .map(|((holder, load, capacity), _)| match holder {
                CapacityHolder::Region(id) => format!(
                    "{id} is over capacity ({load:.0} rps for {capacity:.0}): it sheds the excess with 429s"
                ),
                CapacityHolder::Replica(id) => {
                    format!("{id} gets {load:.0} rps for {capacity:.0} rps of capacity")
                }
            })
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
}

/// What has a capacity that a command's traffic can overload.
enum CapacityHolder<'a> {
    Region(&'a str),
    Replica(&'a str),
}

#[cfg(test)]
mod tests;
