//! Preflight of adaptive redundancy's commands (warm or cool a standby, borrow a replica from
//! a shared pool, give it back): what the replica becomes and how long that takes, the spend
//! per hour before and after (protocol::posture's standby shares), the service's fastest
//! takeover before and after, and the pool left. None of them moves traffic.

use serde::Serialize;

use super::result::Preflight;
use crate::domain::command::{Command, duration_text};
use protocol::commands::OperationState;
use protocol::model::TakeoverTimes;
use protocol::posture::Criticality;
use protocol::readiness::{Pool, ReadinessTimes};
use protocol::{FleetSnapshot, Replica, ReplicaRole, Service};

/// What a standby change, a loan or a return does to one replica of a service.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ReadinessChange {
    pub service: String,
    /// The replica; for a loan, the pool's next one.
    pub replica: String,
    /// Its role now; absent for a replica still to be borrowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_before: Option<ReplicaRole>,
    /// Its role after; absent for a replica given back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_after: Option<ReplicaRole>,
    /// Seconds until it is ready at its new role (not ready at it meanwhile).
    pub takes_s: f64,
    /// Whether `takes_s` is the protocol's default because the source does not say.
    pub takes_assumed: bool,
    /// Spend per hour of the replica before and after, when what it costs is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend_before_per_hour: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend_after_per_hour: Option<f64>,
    /// The service's fastest takeover by a ready standby, before and after (seconds); absent
    /// when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub takeover_before_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub takeover_after_s: Option<f64>,
    /// Replicas the pool has free after a loan or a return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_left: Option<u32>,
    /// Seconds after which it goes back to `role_before` by itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverts_after_s: Option<u64>,
}

impl ReadinessChange {
    /// The spend change per hour (+ warming or borrowing, - cooling or returning).
    pub fn spend_change_per_hour(&self) -> Option<f64> {
        Some(self.spend_after_per_hour? - self.spend_before_per_hour?)
    }

    /// The change in words, one line each (ids from the source: sanitize before showing).
    pub fn describe(&self) -> Vec<String> {
        let role = |role: Option<ReplicaRole>, absent: &str| {
            role.map_or(absent.to_string(), |r| r.word().to_string())
        };
        let duration = |seconds: f64| duration_text(seconds.max(0.0).round() as u64);
        let mut lines = vec![format!(
            "{}: {} -> {}",
            self.replica,
            role(self.role_before, "in the pool"),
            role(self.role_after, "back to its pool")
        )];
        if self.takes_s > 0.0 {
            let assumed = if self.takes_assumed {
                " (assumed: the source does not say)"
            } else {
                ""
            };
            lines.push(format!(
                "not ready at its new role for ~{}{assumed}",
                duration(self.takes_s)
            ));
        }
        lines.push(
            match (self.spend_before_per_hour, self.spend_after_per_hour) {
                (Some(before), Some(after)) => format!(
                    "spend ${before:.2}/h -> ${after:.2}/h ({:+.2} $/h)",
                    after - before
                ),
                _ => "spend: unknown (the source does not say what this replica costs)".into(),
            },
        );
        let takeover = |seconds: Option<f64>| {
            seconds.map_or("none ready (a cold start)".to_string(), duration)
        };
        lines.push(format!(
            "fastest takeover {} -> {}",
            takeover(self.takeover_before_s),
            takeover(self.takeover_after_s)
        ));
        if let Some(left) = self.pool_left {
            lines.push(format!("pool left after: {left}"));
        }
        if let Some(seconds) = self.reverts_after_s {
            lines.push(format!(
                "goes back to {} after {}",
                role(self.role_before, "its role"),
                duration(seconds as f64)
            ));
        }
        lines
    }
}

/// The preview of `command` on `service`; errors and warnings go to `out`.
pub(super) fn preview(
    command: &Command,
    snapshot: &FleetSnapshot,
    service: &Service,
    out: &mut Preflight,
) -> Option<ReadinessChange> {
    let times = snapshot.readiness.unwrap_or_default();
    let takes_assumed = snapshot.readiness.is_none();
    if let Some(running) = snapshot.operations.iter().find(|op| {
        op.state == OperationState::Running && op.target.starts_with(&format!("{}/", service.id))
    }) {
        out.errors.push(format!(
            "{} is running on {} ({} {}): one operation at a time",
            running.id, service.id, running.kind, running.target
        ));
    }
    let change = match command {
        Command::Standby {
            replica,
            role,
            expires_in_s,
            ..
        } => standby(snapshot, service, replica, *role, *expires_in_s, times, out)?,
        Command::Borrow { pool, role, .. } => borrow(snapshot, service, pool, *role, out)?,
        Command::Return { replica, .. } => give_back(snapshot, service, replica, out)?,
        _ => return None,
    };
    let change = ReadinessChange {
        takes_assumed: takes_assumed && matches!(command, Command::Standby { .. }),
        takeover_before_s: fastest_takeover(service.replicas.iter().cloned()),
        takeover_after_s: fastest_takeover(replicas_after(service, &change)),
        ..change
    };
    if let (Some(before), None) = (change.takeover_before_s, change.takeover_after_s) {
        let critical = service
            .posture
            .as_ref()
            .is_some_and(|p| p.criticality == Criticality::Critical);
        out.warnings.push(format!(
            "{}{} keeps no ready standby (a failover takes {before:.0}s now): it would wait for a cold start",
            service.id,
            if critical { ", a critical service," } else { "" }
        ));
    }
    Some(change)
}

/// The replica of `service` named `id`, or an error in `out`.
fn find<'s>(service: &'s Service, id: &str, out: &mut Preflight) -> Option<&'s Replica> {
    let found = service.replicas.iter().find(|r| r.id == id);
    if found.is_none() {
        let ids: Vec<&str> = service.replicas.iter().map(|r| r.id.as_str()).collect();
        out.errors.push(format!(
            "{} has no replica {id}; its replicas: {}",
            service.id,
            ids.join(", ")
        ));
    }
    found
}

fn standby(
    snapshot: &FleetSnapshot,
    service: &Service,
    id: &str,
    to: ReplicaRole,
    expires_in_s: Option<u64>,
    times: ReadinessTimes,
    out: &mut Preflight,
) -> Option<ReadinessChange> {
    let replica = find(service, id, out)?;
    let Some(takes_s) = times.change_s(replica.role, to) else {
        out.errors.push(format!(
            "{id} is {}: only a standby warms or cools (promote makes one active)",
            replica.role.word()
        ));
        return None;
    };
    if replica.role == to {
        out.errors.push(format!("{id} is already a {}", to.word()));
    }
    if let Some(seconds) = expires_in_s
        && seconds as f64 <= takes_s
    {
        out.errors.push(format!(
            "{id} takes ~{takes_s:.0}s to become a {}: hold it longer than that",
            to.word()
        ));
    }
    Some(ReadinessChange {
        service: service.id.clone(),
        replica: id.to_string(),
        role_before: Some(replica.role),
        role_after: Some(to),
        takes_s,
        takes_assumed: false,
        spend_before_per_hour: active_cost(snapshot, service, replica)
            .map(|active| spend(snapshot, replica.role, active)),
        spend_after_per_hour: active_cost(snapshot, service, replica)
            .map(|active| spend(snapshot, to, active)),
        takeover_before_s: None,
        takeover_after_s: None,
        pool_left: None,
        reverts_after_s: expires_in_s,
    })
}

fn pool<'p>(snapshot: &'p FleetSnapshot, id: &str, out: &mut Preflight) -> Option<&'p Pool> {
    let found = snapshot.pools.iter().find(|p| p.id == id);
    if found.is_none() {
        let ids: Vec<&str> = snapshot.pools.iter().map(|p| p.id.as_str()).collect();
        out.errors.push(match ids.is_empty() {
            true => format!("no pool {id}: this fleet has no shared pools"),
            false => format!("no pool {id}; pools: {}", ids.join(", ")),
        });
    }
    found
}

fn borrow(
    snapshot: &FleetSnapshot,
    service: &Service,
    pool_id: &str,
    role: ReplicaRole,
    out: &mut Preflight,
) -> Option<ReadinessChange> {
    let pool = pool(snapshot, pool_id, out)?;
    if role == ReplicaRole::Active {
        out.errors
            .push("a borrowed replica joins as a standby: promote it once it has joined".into());
    }
    if pool.free() == 0 {
        out.errors.push(format!(
            "{pool_id} has no replica left: all {} are lent",
            pool.size
        ));
    }
    let lent_here = service
        .replicas
        .iter()
        .filter(|r| r.pool.as_deref() == Some(pool_id));
    Some(ReadinessChange {
        service: service.id.clone(),
        replica: format!("{}@{pool_id}-{}", service.id, lent_here.count() + 1),
        role_before: None,
        role_after: Some(role),
        takes_s: pool.lend_s,
        takes_assumed: false,
        spend_before_per_hour: Some(0.0),
        spend_after_per_hour: Some(spend(snapshot, role, pool.cost_per_hour)),
        takeover_before_s: None,
        takeover_after_s: None,
        pool_left: Some(pool.free().saturating_sub(1)),
        reverts_after_s: None,
    })
}

fn give_back(
    snapshot: &FleetSnapshot,
    service: &Service,
    id: &str,
    out: &mut Preflight,
) -> Option<ReadinessChange> {
    let replica = find(service, id, out)?;
    let Some(pool) = replica
        .pool
        .as_deref()
        .and_then(|p| self::pool(snapshot, p, out))
    else {
        out.errors.push(format!(
            "{id} is {}'s own replica: only one borrowed from a pool can be given back",
            service.id
        ));
        return None;
    };
    if replica.role == ReplicaRole::Active {
        out.errors.push(format!(
            "{id} is {}'s active replica: promote another before giving it back",
            service.id
        ));
    }
    let others_ready = service.replicas.iter().any(|r| r.id != id && r.ready);
    if replica.ready && !others_ready {
        out.errors.push(format!(
            "{id} is {}'s last ready replica: it would be left with none",
            service.id
        ));
    }
    Some(ReadinessChange {
        service: service.id.clone(),
        replica: id.to_string(),
        role_before: Some(replica.role),
        role_after: None,
        takes_s: 0.0,
        takes_assumed: false,
        spend_before_per_hour: Some(spend(snapshot, replica.role, pool.cost_per_hour)),
        spend_after_per_hour: Some(0.0),
        takeover_before_s: None,
        takeover_after_s: None,
        pool_left: Some(pool.free() + 1),
        reverts_after_s: None,
    })
}

/// What a replica of `role` costs per hour when an active one costs `active_per_hour`, by the
/// fleet's standby shares.
fn spend(snapshot: &FleetSnapshot, role: ReplicaRole, active_per_hour: f64) -> f64 {
    snapshot
        .standby_shares
        .replica_per_hour(role, active_per_hour)
}

/// What `replica` costs per hour running active: its pool's price when it is borrowed, its
/// service's replica cost otherwise; `None` when the source does not say.
fn active_cost(snapshot: &FleetSnapshot, service: &Service, replica: &Replica) -> Option<f64> {
    match &replica.pool {
        Some(pool) => snapshot
            .pools
            .iter()
            .find(|p| &p.id == pool)
            .map(|p| p.cost_per_hour),
        None => service.posture.as_ref()?.replica_cost_per_hour,
    }
}

/// The service's replicas once the change is done.
fn replicas_after(service: &Service, change: &ReadinessChange) -> Vec<Replica> {
    let mut replicas: Vec<Replica> = service
        .replicas
        .iter()
        .filter(|r| r.id != change.replica || change.role_after.is_some())
        .cloned()
        .collect();
    let Some(role) = change.role_after else {
        return replicas;
    };
    let ready = role != ReplicaRole::ColdStandby;
    match replicas.iter_mut().find(|r| r.id == change.replica) {
        Some(replica) => {
            replica.role = role;
            replica.ready = ready;
            replica.takeover_s = None;
        }
        None => replicas.push(Replica {
            id: change.replica.clone(),
            region: String::new(),
            role,
            ready,
            replication_lag_s: 0.0,
            capacity_rps: 0.0,
            load_rps: 0.0,
            takeover_s: None,
            timed_role: None,
            pool: None,
        }),
    }
    replicas
}

/// The fastest takeover among ready warm or hot standbys (seconds), by the source's own
/// estimate where it gives one.
fn fastest_takeover(replicas: impl IntoIterator<Item = Replica>) -> Option<f64> {
    replicas
        .into_iter()
        .filter(|r| r.role.is_standby() && r.ready && r.role != ReplicaRole::ColdStandby)
        .map(|r| {
            r.takeover_s
                .unwrap_or_else(|| TakeoverTimes::default().expected_s(r.role, r.ready))
        })
        .min_by(f64::total_cmp)
}

#[cfg(test)]
#[path = "readiness_tests.rs"]
mod tests;
