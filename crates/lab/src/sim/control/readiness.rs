//! Warming and cooling a standby (adaptive redundancy): an operation that moves a standby
//! between cold, warm and hot in the time the topology's `[readiness]` says, the replica
//! keeping its old role (and readiness) until it is done. A change set for a while goes back
//! by itself when its control expires, as a new operation started by `system`.

use super::promotion::{Work, warmer};
use super::{Control, Outcome, Refusal, invalid};
use crate::audit::{AuditRecord, SYSTEM_ACTOR};
use crate::scenario::format_duration;
use crate::sim::{Sim, nominal_lag};
use protocol::ReplicaRole;
use protocol::command::Command;
use protocol::commands::AuditOutcome;
use protocol::readiness::TimedRole;

/// A standby role held for a while: the role it goes back to when the control expires.
#[derive(Clone, Debug, PartialEq)]
pub(in crate::sim) struct RoleHold {
    reverts_to: ReplicaRole,
    control: Control,
}

impl Sim {
    pub(super) fn change_standby(
        &mut self,
        s: usize,
        replica_id: &str,
        to: ReplicaRole,
        (by, reason): (&str, &str),
        expires_in_s: Option<u64>,
    ) -> Result<Outcome, Refusal> {
        let r = self.replica_index(s, replica_id)?;
        let state = &self.services[s].replicas[r];
        let from = state.role;
        if from == ReplicaRole::Active || to == ReplicaRole::Active {
            return invalid(format!(
                "{replica_id} is {}: standby changes a standby's role between cold, warm and hot (promote makes one active)",
                from.word()
            ));
        }
        if state.joining {
            return invalid(format!(
                "{replica_id} has not joined {} yet",
                self.topology.services[s].id
            ));
        }
        if from == to {
            return invalid(format!("{replica_id} is already a {}", to.word()));
        }
        self.refuse_if_busy(s)?;
        let region = self.topology.services[s].replicas[r].region_index;
        let region_id = &self.topology.regions[region].id;
        if self.regions[region].down {
            return invalid(format!("cannot change {replica_id}: {region_id} is down"));
        }
        let takes_s = self
            .topology
            .readiness
            .change_s(from, to)
            .expect("both roles are standby roles");
        let hold = match expires_in_s {
            Some(seconds) if seconds as f64 <= takes_s => {
                return invalid(format!(
                    "{replica_id} takes ~{} to become a {}: hold it longer than that",
                    format_duration(takes_s),
                    to.word()
                ));
            }
            Some(_) => Some(RoleHold {
                reverts_to: from,
                control: self.control(by, reason, expires_in_s)?,
            }),
            None => None,
        };
        let mut outcome = Outcome::default();
        if !warmer(to, from) && self.ready_standbys_besides(s, r) == 0 {
            outcome.warnings.push(format!(
                "{} keeps no ready standby: a failover would wait for a cold start",
                self.topology.services[s].id
            ));
        }
        let verb = if warmer(to, from) { "warms" } else { "cools" };
        let message = format!(
            "{replica_id} {verb} from {} to {} in ~{}",
            from.word(),
            to.word(),
            format_duration(takes_s)
        );
        let service = &mut self.services[s];
        service.replicas[r].timed_role = hold;
        service.control_revision += 1;
        let work = Work::Readiness { from, to };
        outcome.operation = Some(self.start_operation((s, r), work, by, reason, takes_s, message));
        Ok(outcome)
    }

    /// Ready standbys of service `s` other than replica `r`.
    fn ready_standbys_besides(&self, s: usize, r: usize) -> usize {
        let replicas = &self.services[s].replicas;
        (0..replicas.len())
            .filter(|&k| k != r && replicas[k].role.is_standby() && replicas[k].ready)
            .filter(|&k| replicas[k].role != ReplicaRole::ColdStandby && !replicas[k].returned)
            .count()
    }

    pub(super) fn finish_readiness(&mut self, s: usize, r: usize, to: ReplicaRole) -> String {
        let now = self.elapsed_s;
        let replica = &mut self.services[s].replicas[r];
        replica.role = to;
        replica.ready = to != ReplicaRole::ColdStandby;
        replica.replication_lag_s = nominal_lag(to, now);
        let expires = replica
            .timed_role
            .as_ref()
            .and_then(|hold| hold.control.expires_s);
        let until = expires.map(|at| format!(" until {}", self.time_at(at).format("%H:%M:%S")));
        self.services[s].control_revision += 1;
        let id = &self.topology.services[s].replicas[r].id;
        format!("{id} is a {}{}", to.word(), until.unwrap_or_default())
    }

    pub(super) fn fail_readiness(
        &mut self,
        s: usize,
        r: usize,
        from: ReplicaRole,
        went_down: &str,
    ) -> String {
        self.services[s].replicas[r].timed_role = None;
        self.services[s].control_revision += 1;
        let id = &self.topology.services[s].replicas[r].id;
        format!("{went_down}; {id} stays a {}", from.word())
    }

    /// Starts the way back of every held standby role whose time is up.
    pub(super) fn expire_role_holds(&mut self, now: f64) {
        for s in 0..self.services.len() {
            for r in 0..self.services[s].replicas.len() {
                let Some(hold) = self.services[s].replicas[r]
                    .timed_role
                    .take_if(|hold| hold.control.expired(now))
                else {
                    continue;
                };
                self.services[s].control_revision += 1;
                self.revert_role(s, r, hold, now);
            }
        }
    }

    fn revert_role(&mut self, s: usize, r: usize, hold: RoleHold, now: f64) {
        let spec = &self.topology.services[s];
        let replica_id = spec.replicas[r].id.clone();
        let command = Command::Standby {
            service: spec.id.clone(),
            replica: replica_id.clone(),
            role: hold.reverts_to,
            expires_in_s: None,
        };
        let set = format!(
            "set by {} at {}",
            hold.control.set_by,
            self.time_at(hold.control.since_s).format("%H:%M:%S")
        );
        let role = self.services[s].replicas[r].role;
        let started = if role.is_standby() && role != hold.reverts_to {
            let reason = format!("expired ({set} — {})", hold.control.reason);
            self.change_standby(
                s,
                &replica_id,
                hold.reverts_to,
                (SYSTEM_ACTOR, &reason),
                None,
            )
            .map(|outcome| outcome.operation.map(|op| op.id))
        } else {
            Ok(None)
        };
        let detail = match started {
            Ok(Some(id)) => format!("{set}: {}; {id} takes it back", hold.control.reason),
            Ok(None) => format!("{set}: {}; nothing to take back", hold.control.reason),
            Err(refusal) => format!("{set}: {}; cannot go back: {refusal}", hold.control.reason),
        };
        self.notice(
            now,
            format!("expired: {command} ({set} — {})", hold.control.reason),
        );
        self.automatic.push(AuditRecord {
            at: self.time_at(now),
            actor: SYSTEM_ACTOR.to_string(),
            action: command.verb(),
            target: command.target_label(),
            reason: "expired".to_string(),
            idempotency_key: None,
            outcome: AuditOutcome::Reverted,
            detail: Some(detail),
            preflight: None,
        });
    }

    pub(in crate::sim) fn timed_role_view(&self, hold: &RoleHold) -> TimedRole {
        TimedRole {
            reverts_to: hold.reverts_to,
            control: self.timed_control(&hold.control),
        }
    }
}

#[cfg(test)]
#[path = "readiness_tests.rs"]
pub(super) mod tests;
