//! The controls that move or hold traffic: drains, breaker overrides (quarantine, pin,
//! close), degraded modes and route weights.

use std::collections::BTreeMap;

use super::{ModeControl, Outcome, Refusal, invalid};
use crate::scenario::format_duration;
use crate::sim::{BreakerMachine, LaneRoute, Sim};
use protocol::commands::{BreakerAction, WeightScope};
use protocol::{BreakerState, DegradedModeKind, ReplicaRole};

impl Sim {
    pub(super) fn drain(
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

    pub(super) fn undrain(&mut self, r: usize) -> Result<Outcome, Refusal> {
        let region = &mut self.regions[r];
        if region.drain.take().is_none() {
            return invalid(format!("{} is not drained", self.topology.regions[r].id));
        }
        region.control_revision += 1;
        Ok(Outcome::default())
    }

    pub(super) fn breaker(
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

    pub(super) fn degrade(
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

    pub(super) fn set_weights(
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
#[path = "traffic_tests.rs"]
mod tests;
