//! Shared pools (adaptive redundancy): a service borrows a replica from a pool, which joins
//! it as a standby after the pool's lend time (an operation), and gives it back. A returned
//! replica keeps its slot, hidden, so that indices into the service's replicas stay valid;
//! the next loan from the same pool to the same service takes that slot again.

use super::promotion::Work;
use super::{Outcome, Refusal, invalid};
use crate::scenario::format_duration;
use crate::sim::{Lane, LaneRoute, ReplicaState, Sim, nominal_lag};
use crate::topology::ReplicaSpec;
use protocol::ReplicaRole;
use protocol::readiness::{Pool, PoolLoan};

/// A pool's replicas lent now.
#[derive(Clone, Debug, Default)]
pub(in crate::sim) struct PoolState {
    loans: Vec<Loan>,
}

#[derive(Clone, Debug)]
struct Loan {
    service: usize,
    replica: usize,
    since_s: f64,
}

impl Sim {
    pub(super) fn borrow(
        &mut self,
        s: usize,
        pool_id: &str,
        role: ReplicaRole,
        (by, reason): (&str, &str),
    ) -> Result<Outcome, Refusal> {
        let Some(p) = self.topology.pool_index(pool_id) else {
            let ids: Vec<&str> = self.topology.pools.iter().map(|p| p.id.as_str()).collect();
            return invalid(match ids.is_empty() {
                true => format!("no pool {pool_id:?}: this fleet has no shared pools"),
                false => format!("no pool {pool_id:?}; pools: {}", ids.join(", ")),
            });
        };
        if role == ReplicaRole::Active {
            return invalid(
                "a borrowed replica joins as a standby: promote it once it has joined".into(),
            );
        }
        let pool = &self.topology.pools[p];
        let service = &self.topology.services[s];
        if self.pools[p].loans.len() as u32 >= pool.size {
            let lent: Vec<String> = self.pools[p]
                .loans
                .iter()
                .map(|loan| {
                    self.topology.services[loan.service].replicas[loan.replica]
                        .id
                        .clone()
                })
                .collect();
            return invalid(format!(
                "{pool_id} has no replica left: all {} are lent ({})",
                pool.size,
                lent.join(", ")
            ));
        }
        let region = pool.region_index;
        let region_id = &self.topology.regions[region].id;
        if self.regions[region].down {
            return invalid(format!("cannot borrow from {pool_id}: {region_id} is down"));
        }
        let reachable = service.routes.iter().any(|route| {
            self.topology
                .providers
                .iter()
                .any(|provider| provider.vendor == route.vendor && provider.region_index == region)
        });
        if !reachable {
            return invalid(format!(
                "none of {}'s route vendors serve in {region_id}, where {pool_id} runs",
                service.id
            ));
        }
        self.refuse_if_busy(s)?;
        let (lend_s, capacity_rps) = (pool.lend_s, pool.capacity_rps);
        let r = self.lend_slot(s, p, role);
        self.pools[p].loans.push(Loan {
            service: s,
            replica: r,
            since_s: self.elapsed_s,
        });
        self.services[s].control_revision += 1;
        let replica_id = &self.topology.services[s].replicas[r].id;
        let message = format!(
            "{replica_id} ({capacity_rps:.0} rps) joins {} as a {} in ~{}",
            self.topology.services[s].id,
            role.word(),
            format_duration(lend_s)
        );
        let work = Work::Join { pool: p, role };
        let operation = self.start_operation((s, r), work, by, reason, lend_s, message);
        Ok(Outcome {
            operation: Some(operation),
            warnings: Vec::new(),
        })
    }

    /// The replica slot of service `s` a loan from pool `p` takes: one this pool lent before
    /// and got back, else a new one (with its lane at the pool's region's gateway).
    fn lend_slot(&mut self, s: usize, p: usize, role: ReplicaRole) -> usize {
        let joining = ReplicaState {
            role,
            ready: false,
            replication_lag_s: nominal_lag(role, self.elapsed_s),
            load_rps: 0.0,
            timed_role: None,
            joining: true,
            returned: false,
            pool: Some(p),
        };
        let reused = self.services[s]
            .replicas
            .iter()
            .position(|st| st.returned && st.pool == Some(p));
        if let Some(r) = reused {
            self.services[s].replicas[r] = joining;
            self.topology.services[s].replicas[r].role = role;
            return r;
        }
        let pool = &self.topology.pools[p];
        let region = pool.region_index;
        let service = &self.topology.services[s];
        let slots = self.services[s]
            .replicas
            .iter()
            .filter(|st| st.pool == Some(p))
            .count();
        let spec = ReplicaSpec {
            id: format!("{}@{}-{}", service.id, pool.id, slots + 1),
            region_index: region,
            role,
            capacity_rps: pool.capacity_rps,
        };
        let mut routes: Vec<LaneRoute> = service
            .routes
            .iter()
            .filter_map(|route| {
                let provider = self.topology.providers.iter().position(|provider| {
                    provider.vendor == route.vendor && provider.region_index == region
                })?;
                Some(LaneRoute {
                    provider,
                    rank: route.rank,
                    weight: route.weight,
                    share: 0.0,
                })
            })
            .collect();
        routes.sort_by_key(|route| route.rank);
        let gateway = &mut self.gateways[region];
        gateway.lanes.push(Lane {
            service: s,
            routes,
            in_use: Vec::new(),
            offered_rps: 0.0,
        });
        self.lane_of[s].push((region, gateway.lanes.len() - 1));
        // Under weights set by hand, it pulls what its region pulls (nothing in a new region).
        let state = &mut self.services[s];
        if let Some(weights) = &mut state.region_weights {
            let same_region = self.topology.services[s]
                .replicas
                .iter()
                .position(|other| other.region_index == region);
            weights.push(same_region.map_or(0.0, |k| weights[k]));
        }
        state.replicas.push(joining);
        self.topology.services[s].replicas.push(spec);
        self.topology.services[s].replicas.len() - 1
    }

    pub(super) fn give_back(&mut self, s: usize, replica_id: &str) -> Result<Outcome, Refusal> {
        let r = self.replica_index(s, replica_id)?;
        let service_id = &self.topology.services[s].id;
        let state = &self.services[s].replicas[r];
        let Some(p) = state.pool else {
            return invalid(format!(
                "{replica_id} is {service_id}'s own replica: only one borrowed from a pool can be given back"
            ));
        };
        if state.role == ReplicaRole::Active {
            return invalid(format!(
                "{replica_id} is {service_id}'s active replica: promote another before giving it back"
            ));
        }
        let others_ready = self.services[s]
            .replicas
            .iter()
            .enumerate()
            .any(|(k, other)| k != r && other.ready && !other.returned);
        if state.ready && !others_ready {
            return invalid(format!(
                "{replica_id} is {service_id}'s last ready replica: it would be left with none"
            ));
        }
        self.refuse_if_busy(s)?;
        let replica = &mut self.services[s].replicas[r];
        replica.returned = true;
        replica.ready = false;
        replica.load_rps = 0.0;
        replica.timed_role = None;
        self.services[s].control_revision += 1;
        self.pools[p]
            .loans
            .retain(|loan| (loan.service, loan.replica) != (s, r));
        Ok(Outcome::default())
    }

    pub(super) fn finish_join(&mut self, s: usize, r: usize, role: ReplicaRole) -> String {
        let now = self.elapsed_s;
        let replica = &mut self.services[s].replicas[r];
        replica.joining = false;
        replica.ready = role != ReplicaRole::ColdStandby;
        replica.replication_lag_s = nominal_lag(role, now);
        self.services[s].control_revision += 1;
        let service = &self.topology.services[s];
        format!(
            "{} joined {} as a {}",
            service.replicas[r].id,
            service.id,
            role.word()
        )
    }

    pub(super) fn fail_join(&mut self, s: usize, r: usize, p: usize, went_down: &str) -> String {
        let replica = &mut self.services[s].replicas[r];
        replica.returned = true;
        replica.joining = false;
        self.services[s].control_revision += 1;
        self.pools[p]
            .loans
            .retain(|loan| (loan.service, loan.replica) != (s, r));
        let id = &self.topology.services[s].replicas[r].id;
        format!(
            "{went_down} before {id} joined; it is back in {}",
            self.topology.pools[p].id
        )
    }

    pub(in crate::sim) fn pool_views(&self) -> Vec<Pool> {
        self.topology
            .pools
            .iter()
            .zip(&self.pools)
            .map(|(spec, state)| Pool {
                id: spec.id.clone(),
                region: self.topology.regions[spec.region_index].id.clone(),
                size: spec.size,
                cost_per_hour: spec.cost_per_hour,
                lend_s: spec.lend_s,
                capacity_rps: spec.capacity_rps,
                loans: state
                    .loans
                    .iter()
                    .map(|loan| {
                        let service = &self.topology.services[loan.service];
                        PoolLoan {
                            replica: service.replicas[loan.replica].id.clone(),
                            service: service.id.clone(),
                            since: self.time_at(loan.since_s),
                        }
                    })
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
