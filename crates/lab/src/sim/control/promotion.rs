//! Promotions: operations that make a standby active after its takeover time, end by
//! themselves (or fail when the standby's region goes down), and stay visible for a while.

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

/// A promotion: an operation that makes a standby active after its takeover time.
#[derive(Clone)]
pub(in crate::sim) struct Promotion {
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

impl Sim {
    /// An operation by id, while it is kept.
    pub fn operation(&self, id: &str) -> Option<Operation> {
        self.operations
            .iter()
            .find(|op| op.id == id)
            .map(|op| self.operation_view(op))
    }

    pub(super) fn promote(
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

    /// Ends the promotions whose standby is ready, or whose region went down.
    pub(in crate::sim) fn advance_operations(&mut self, now: f64) {
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
                preflight: None,
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
    pub(in crate::sim) fn operation_views(&self) -> Vec<Operation> {
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
}

#[cfg(test)]
#[path = "promotion_tests.rs"]
mod tests;
