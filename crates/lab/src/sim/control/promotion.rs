//! Operations: changes that take time and end by themselves (or fail when their replica's
//! region goes down), and stay visible for a while. A promotion makes a standby active after
//! its takeover time; warming and cooling a standby (`readiness`) and a borrowed replica
//! joining its service (`pool`) are operations too, and finish there.

use super::{Outcome, Refusal, invalid};
use crate::audit::{AuditRecord, SYSTEM_ACTOR};
use crate::scenario::format_duration;
use crate::sim::{Sim, round, share_of};
use protocol::ReplicaRole;
use protocol::command::Command;
use protocol::commands::{AuditOutcome, Operation, OperationState};

/// Operations kept for `GET /v1/operations/{id}`, running ones always.
const OPERATIONS_KEPT: usize = 100;
/// A finished operation stays in the snapshot this long (simulated seconds)...
const OPERATION_SHOWN_S: f64 = 600.0;
/// ...and only the most recent ones.
const OPERATIONS_SHOWN: usize = 20;

/// What an operation does when its time is up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(in crate::sim) enum Work {
    /// Makes the standby active; the active ones become hot standbys.
    Promote,
    /// Moves a standby from one standby role to another.
    Readiness { from: ReplicaRole, to: ReplicaRole },
    /// A replica borrowed from a pool joins its service as a standby of `role`.
    Join { pool: usize, role: ReplicaRole },
}

impl Work {
    fn gerund(self) -> &'static str {
        match self {
            Work::Promote => "promoting",
            Work::Readiness { from, to } if warmer(to, from) => "warming",
            Work::Readiness { .. } => "cooling",
            Work::Join { .. } => "lending",
        }
    }
}

/// Whether role `a` is warmer than `b` (active is the warmest).
pub(super) fn warmer(a: ReplicaRole, b: ReplicaRole) -> bool {
    let warmth = |role| match role {
        ReplicaRole::ColdStandby => 0,
        ReplicaRole::WarmStandby => 1,
        ReplicaRole::HotStandby => 2,
        ReplicaRole::Active => 3,
    };
    warmth(a) > warmth(b)
}

/// An operation on one replica of a service: running, then succeeded or failed.
#[derive(Clone)]
pub(in crate::sim) struct SimOperation {
    pub(super) id: String,
    pub(super) service: usize,
    pub(super) replica: usize,
    pub(super) work: Work,
    by: String,
    reason: String,
    started_s: f64,
    takes_s: f64,
    pub(super) state: OperationState,
    message: String,
    finished_s: Option<f64>,
}

impl Sim {
    /// An operation by id, while it is kept.
    pub fn operation(&self, id: &str) -> Option<Operation> {
        self.operations
            .iter()
            .find(|op| op.id == id)
            .map(|op| self.operation_view(op))
    }

    /// Refuses a second operation on a service while one runs: they would race for its roles.
    pub(super) fn refuse_if_busy(&self, s: usize) -> Result<(), Refusal> {
        match self
            .operations
            .iter()
            .find(|op| op.service == s && op.state == OperationState::Running)
        {
            Some(running) => invalid(format!(
                "{} is already {} {} (started by {})",
                running.id,
                running.work.gerund(),
                self.topology.services[s].replicas[running.replica].id,
                running.by
            )),
            None => Ok(()),
        }
    }

    /// The index of replica `replica_id` of service `s`, or why there is none.
    pub(super) fn replica_index(&self, s: usize, replica_id: &str) -> Result<usize, Refusal> {
        let spec = &self.topology.services[s];
        let found = spec
            .replicas
            .iter()
            .zip(&self.services[s].replicas)
            .position(|(r, state)| r.id == replica_id && !state.returned);
        found.ok_or_else(|| {
            let ids: Vec<&str> = spec
                .replicas
                .iter()
                .zip(&self.services[s].replicas)
                .filter(|(_, state)| !state.returned)
                .map(|(r, _)| r.id.as_str())
                .collect();
            Refusal::Invalid(format!(
                "{} has no replica {replica_id:?}; its replicas: {}",
                spec.id,
                ids.join(", ")
            ))
        })
    }

    pub(super) fn promote(
        &mut self,
        s: usize,
        replica_id: &str,
        by: &str,
        reason: &str,
    ) -> Result<Outcome, Refusal> {
        let r = self.replica_index(s, replica_id)?;
        let state = &self.services[s].replicas[r];
        if state.role == ReplicaRole::Active {
            return invalid(format!("{replica_id} is already active"));
        }
        self.refuse_if_busy(s)?;
        let region = self.topology.services[s].replicas[r].region_index;
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
        let message = format!("{replica_id}, {warmth} in ~{}", format_duration(takes_s));
        let started = self.start_operation((s, r), Work::Promote, by, reason, takes_s, message);
        outcome.operation = Some(started);
        Ok(outcome)
    }

    /// Starts an operation on replica `(s, r)` that ends after `takes_s`; returns its view.
    pub(super) fn start_operation(
        &mut self,
        (service, replica): (usize, usize),
        work: Work,
        by: &str,
        reason: &str,
        takes_s: f64,
        message: String,
    ) -> Operation {
        self.operations_started += 1;
        let operation = SimOperation {
            id: format!("op-{}", self.operations_started),
            service,
            replica,
            work,
            by: by.to_string(),
            reason: reason.to_string(),
            started_s: self.elapsed_s,
            takes_s,
            state: OperationState::Running,
            message,
            finished_s: None,
        };
        let view = self.operation_view(&operation);
        self.operations.push(operation);
        if self.operations.len() > OPERATIONS_KEPT
            && let Some(oldest) = self
                .operations
                .iter()
                .position(|op| op.state != OperationState::Running)
        {
            self.operations.remove(oldest);
        }
        view
    }

    /// Ends the operations whose time is up, or whose replica's region went down.
    pub(in crate::sim) fn advance_operations(&mut self, now: f64) {
        for i in 0..self.operations.len() {
            let op = &self.operations[i];
            if op.state != OperationState::Running {
                continue;
            }
            let (s, r, work) = (op.service, op.replica, op.work);
            let region = self.topology.services[s].replicas[r].region_index;
            let (state, message) = if self.regions[region].down {
                (OperationState::Failed, self.fail_work(s, r, work))
            } else if now >= op.started_s + op.takes_s {
                (OperationState::Succeeded, self.finish_work(s, r, work))
            } else {
                continue;
            };
            let at = self.time_at(now);
            let command = self.operation_command(&self.operations[i]);
            let op = &mut self.operations[i];
            op.state = state;
            op.message = message.clone();
            op.finished_s = Some(now);
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
                preflight: None,
            };
            let noun = match work {
                Work::Promote => "promotion",
                Work::Readiness { .. } => "standby change",
                Work::Join { .. } => "loan",
            };
            self.automatic.push(record);
            self.notice(now, format!("{noun} {}: {message}", state.word()));
        }
    }

    /// What an operation whose time is up changes; what it says.
    fn finish_work(&mut self, s: usize, r: usize, work: Work) -> String {
        match work {
            Work::Promote => self.finish_promotion(s, r),
            Work::Readiness { to, .. } => self.finish_readiness(s, r, to),
            Work::Join { role, .. } => self.finish_join(s, r, role),
        }
    }

    /// What becomes of an operation whose replica's region went down; what it says.
    fn fail_work(&mut self, s: usize, r: usize, work: Work) -> String {
        let region = &self.topology.regions[self.topology.services[s].replicas[r].region_index].id;
        let went_down = format!("{region} went down");
        match work {
            Work::Promote => {
                let actives = self.actives(s);
                let stays = if actives.is_empty() {
                    "nothing is active".to_string()
                } else {
                    format!("{} stays active", actives.join(", "))
                };
                format!("{went_down} during the takeover; {stays}")
            }
            Work::Readiness { from, .. } => self.fail_readiness(s, r, from, &went_down),
            Work::Join { pool, .. } => self.fail_join(s, r, pool, &went_down),
        }
    }

    /// Ids of the service's active replicas.
    fn actives(&self, s: usize) -> Vec<String> {
        let spec = &self.topology.services[s];
        (0..spec.replicas.len())
            .filter(|&k| self.services[s].replicas[k].role == ReplicaRole::Active)
            .map(|k| spec.replicas[k].id.clone())
            .collect()
    }

    fn finish_promotion(&mut self, s: usize, r: usize) -> String {
        let actives = self.actives(s);
        let promoted = &self.topology.services[s].replicas[r].id;
        let message = if actives.is_empty() {
            format!("{promoted} is active")
        } else {
            format!(
                "{promoted} is active; {} is a hot standby",
                actives.join(", ")
            )
        };
        let service = &mut self.services[s];
        for replica in &mut service.replicas {
            if replica.role == ReplicaRole::Active {
                replica.role = ReplicaRole::HotStandby;
            }
        }
        let replica = &mut service.replicas[r];
        replica.role = ReplicaRole::Active;
        replica.ready = true;
        replica.replication_lag_s = 0.0;
        // A promoted replica is no standby to cool back later.
        replica.timed_role = None;
        service.control_revision += 1;
        message
    }

    /// The command an operation carries out, as its audit records name it.
    fn operation_command(&self, op: &SimOperation) -> Command {
        let spec = &self.topology.services[op.service];
        let service = spec.id.clone();
        let replica = spec.replicas[op.replica].id.clone();
        match op.work {
            Work::Promote => Command::Promote { service, replica },
            Work::Readiness { to, .. } => Command::Standby {
                service,
                replica,
                role: to,
                expires_in_s: None,
            },
            Work::Join { pool, role } => Command::Borrow {
                service,
                pool: self.topology.pools[pool].id.clone(),
                role,
            },
        }
    }

    fn operation_view(&self, op: &SimOperation) -> Operation {
        let until = op.finished_s.unwrap_or(self.elapsed_s);
        let progress = match op.state {
            OperationState::Succeeded => 1.0,
            _ => share_of(until - op.started_s, op.takes_s).clamp(0.0, 1.0),
        };
        let spec = &self.topology.services[op.service];
        Operation {
            id: op.id.clone(),
            kind: self.operation_command(op).kind().word().to_string(),
            target: format!("{}/{}", spec.id, spec.replicas[op.replica].id),
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
    pub(in crate::sim) fn operation_views(&self) -> Vec<Operation> {
        let recent = |op: &&SimOperation| {
            op.finished_s
                .is_none_or(|finished| self.elapsed_s - finished <= OPERATION_SHOWN_S)
        };
        let shown: Vec<&SimOperation> = self.operations.iter().filter(recent).collect();
        let skip = shown.len().saturating_sub(OPERATIONS_SHOWN);
        shown
            .into_iter()
            .enumerate()
            .filter(|(i, op)| *i >= skip || op.state == OperationState::Running)
            .map(|(_, op)| self.operation_view(op))
            .collect()
    }
}

#[cfg(test)]
#[path = "promotion_tests.rs"]
mod tests;
