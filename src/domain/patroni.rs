//! A Patroni cluster as its members' REST API describes it, and the plan of a promotion:
//! which member leads, how far each replica is behind, and whether promoting a candidate is a
//! switchover (a healthy leader hands over), a failover (there is none), or refused.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use protocol::{FleetSnapshot, Health, RedundancyTier, Replica, ReplicaRole, Service};

/// One member (a PostgreSQL node under Patroni).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub role: Role,
    /// Patroni's word: `running`, `streaming`, `starting`, `stopped`, `crashed`, ...
    pub state: String,
    pub timeline: Option<u64>,
    /// How far a replica's WAL is behind the leader's; `None` for the leader.
    pub lag: Option<Lag>,
    /// Tagged `nofailover`: Patroni never promotes it.
    pub no_failover: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Leader,
    /// The leader of a standby cluster (it replicates from another cluster).
    StandbyLeader,
    Replica,
    SyncStandby,
    /// A role this console does not know; shown as Patroni said it.
    Other(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lag {
    Bytes(u64),
    /// Patroni could not tell (the member does not report its WAL position).
    Unknown,
}

impl Member {
    pub fn leads(&self) -> bool {
        matches!(self.role, Role::Leader | Role::StandbyLeader)
    }

    /// Running PostgreSQL (a replica also while it streams).
    pub fn running(&self) -> bool {
        matches!(self.state.as_str(), "running" | "streaming")
    }
}

impl Role {
    pub fn word(&self) -> &str {
        match self {
            Role::Leader => "leader",
            Role::StandbyLeader => "standby leader",
            Role::Replica => "replica",
            Role::SyncStandby => "sync standby",
            Role::Other(word) => word,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cluster {
    pub members: Vec<Member>,
}

/// How Patroni is asked to promote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Promotion {
    /// The healthy leader hands over: nothing written is lost.
    Switchover { leader: String },
    /// There is no healthy leader: the candidate takes over with what it has received.
    Failover,
}

/// A promotion the console may send, with what the person confirming it must know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromotionPlan {
    pub candidate: String,
    pub promotion: Promotion,
    pub warnings: Vec<String>,
}

impl Cluster {
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The member that leads and runs, if any.
    pub fn healthy_leader(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.leads() && m.running())
    }

    /// Whether promoting `candidate` can be sent, and how. `max_lag` is the cluster's
    /// `maximum_lag_on_failover`: beyond it a switchover waits for the replica to catch up,
    /// and a failover would lose what it has not received.
    pub fn plan_promotion(&self, candidate: &str, max_lag: u64) -> Result<PromotionPlan, String> {
        let Some(member) = self.member(candidate) else {
            let names: Vec<&str> = self.members.iter().map(|m| m.name.as_str()).collect();
            return Err(format!(
                "{candidate} is not a member of the cluster ({})",
                names.join(", ")
            ));
        };
        if member.leads() {
            return Err(format!("{candidate} already leads the cluster"));
        }
        if !member.running() {
            return Err(format!(
                "{candidate} is {}, not running: it cannot take over",
                member.state
            ));
        }
        if member.no_failover {
            return Err(format!(
                "{candidate} is tagged nofailover: Patroni never promotes it"
            ));
        }
        let mut warnings = Vec::new();
        let promotion = match self.healthy_leader() {
            Some(leader) => Promotion::Switchover {
                leader: leader.name.clone(),
            },
            None => {
                warnings.push(format!(
                    "no healthy leader: this is a failover, {candidate} takes over with the WAL it has"
                ));
                Promotion::Failover
            }
        };
        match member.lag {
            Some(Lag::Bytes(lag)) if lag > max_lag => warnings.push(format!(
                "{candidate} lags {} behind the leader (more than the cluster's \
                 maximum_lag_on_failover, {}): {}",
                bytes(lag),
                bytes(max_lag),
                match promotion {
                    Promotion::Switchover { .. } => "the switchover waits for it to catch up",
                    Promotion::Failover => "a failover loses what it has not received",
                }
            )),
            Some(Lag::Unknown) | None => {
                warnings.push(format!("{candidate}'s lag is unknown: Patroni cannot tell"))
            }
            Some(Lag::Bytes(_)) => {}
        }
        Ok(PromotionPlan {
            candidate: candidate.to_string(),
            promotion,
            warnings,
        })
    }
}

/// A byte count in the unit people read lag in.
pub fn bytes(count: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    match count {
        0..1024 => format!("{count} B"),
        1024..1_048_576 => format!("{:.1} KiB", count as f64 / 1024.0),
        _ => format!("{:.1} MiB", count as f64 / MIB),
    }
}

/// One read of a Patroni source: its cluster, the limit its promotions are judged by, and
/// what the config says around it (the service it backs, the members' regions).
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterRead {
    /// The service whose database the cluster is.
    pub service: String,
    pub cluster: Cluster,
    /// The cluster's `maximum_lag_on_failover`, in bytes.
    pub max_lag: u64,
    /// Member name -> region, as the user mapped them.
    pub regions: BTreeMap<String, String>,
    /// When it was read, on the console's clock.
    pub read_at: DateTime<Utc>,
}

/// Shown where the user mapped no region to a member.
pub const NO_REGION: &str = "—";

impl ClusterRead {
    pub fn region_of(&self, member: &str) -> &str {
        self.regions.get(member).map_or(NO_REGION, String::as_str)
    }

    /// The service as the fleet model knows services: the leader is its active replica, the
    /// others its hot standbys, ready while they run. Patroni knows no load, capacity or lag
    /// in seconds: those stay zero, and the services view shows Patroni's own words instead.
    /// `control_revision` is the leader's timeline, which every promotion moves on.
    pub fn as_service(&self) -> Service {
        let leader = self.cluster.healthy_leader();
        let all_run = self.cluster.members.iter().all(Member::running);
        let health = match leader {
            Some(_) if all_run => Health::Ok,
            Some(_) => Health::Degraded,
            None => Health::Down,
        };
        let replicas = (self.cluster.members.iter())
            .map(|member| Replica {
                id: member.name.clone(),
                region: self.region_of(&member.name).to_string(),
                role: match member.leads() {
                    true => ReplicaRole::Active,
                    false => ReplicaRole::HotStandby,
                },
                ready: member.running(),
                replication_lag_s: 0.0,
                capacity_rps: 0.0,
                load_rps: 0.0,
                takeover_s: None,
                timed_role: None,
                pool: None,
            })
            .collect();
        Service {
            posture: None,
            id: self.service.clone(),
            tier: RedundancyTier::ActivePassive,
            health,
            demand_rps: 0.0,
            replicas,
            degraded_modes: Vec::new(),
            region_weights: BTreeMap::new(),
            control_revision: leader.and_then(|l| l.timeline).unwrap_or(0),
        }
    }

    /// The read as a fleet snapshot holding its one service, so that the services view, the
    /// selection and the commands find it as they find any other.
    pub fn as_snapshot(&self) -> FleetSnapshot {
        FleetSnapshot {
            standby_shares: Default::default(),
            revision: 0,
            generated_at: self.read_at,
            regions: Vec::new(),
            providers: Vec::new(),
            gateways: Vec::new(),
            services: vec![self.as_service()],
            notices: Vec::new(),
            operations: Vec::new(),
            lab: None,
            pools: Vec::new(),
            readiness: None,
        }
    }

    /// Where another source's report of the same service disagrees with this cluster: the
    /// region it says is active is not the region of the member Patroni says leads (only
    /// judged where the user mapped the leader's region).
    pub fn disagreement(&self, other: &Service) -> Option<String> {
        let leader = self.cluster.healthy_leader()?;
        let region = self.regions.get(&leader.name)?;
        let active: Vec<&str> = (other.replicas.iter())
            .filter(|r| r.role == ReplicaRole::Active)
            .map(|r| r.region.as_str())
            .collect();
        (!active.is_empty() && !active.contains(&region.as_str())).then(|| {
            format!(
                "says {} is active, Patroni says {} leads in {region}",
                active.join(", "),
                leader.name
            )
        })
    }
}
