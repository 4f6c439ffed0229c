//! A Patroni cluster as its REST API's `/cluster` describes it, and the plan of a promotion:
//! which member leads, how far each replica is behind, and whether promoting a candidate is a
//! switchover (a healthy leader hands over), a failover (there is none), or refused.

use serde::Deserialize;
use serde_json::Value;

use crate::sources::error::bounded;

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

#[derive(Deserialize)]
pub(crate) struct ClusterWire {
    #[serde(default)]
    members: Vec<MemberWire>,
}

#[derive(Deserialize)]
struct MemberWire {
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    state: String,
    timeline: Option<u64>,
    /// A number of bytes, or the word "unknown".
    lag: Option<Value>,
    #[serde(default)]
    tags: Option<Value>,
}

impl From<ClusterWire> for Cluster {
    fn from(wire: ClusterWire) -> Cluster {
        let members = wire.members.into_iter().map(Member::from).collect();
        Cluster { members }
    }
}

impl From<MemberWire> for Member {
    fn from(wire: MemberWire) -> Member {
        let role = match wire.role.as_str() {
            "leader" | "master" | "primary" => Role::Leader,
            "standby_leader" => Role::StandbyLeader,
            "replica" => Role::Replica,
            "sync_standby" => Role::SyncStandby,
            other => Role::Other(bounded(other)),
        };
        let lag = match (&role, wire.lag) {
            (Role::Leader | Role::StandbyLeader, _) => None,
            (_, Some(Value::Number(n))) => Some(n.as_u64().map_or(Lag::Unknown, Lag::Bytes)),
            _ => Some(Lag::Unknown),
        };
        let no_failover = wire
            .tags
            .as_ref()
            .and_then(|tags| tags.get("nofailover"))
            .is_some_and(|v| v == &Value::Bool(true));
        Member {
            name: bounded(&wire.name),
            role,
            state: bounded(&wire.state),
            timeline: wire.timeline,
            lag,
            no_failover,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(json: &str) -> Cluster {
        serde_json::from_str::<ClusterWire>(json).unwrap().into()
    }

    const TWO: &str = r#"{"members": [
        {"name": "node1", "role": "leader", "state": "running", "timeline": 3},
        {"name": "node2", "role": "replica", "state": "streaming", "timeline": 3, "lag": 0}]}"#;

    #[test]
    fn a_healthy_leader_hands_over_in_a_switchover() {
        let plan = cluster(TWO).plan_promotion("node2", 1 << 20).unwrap();
        let leader = "node1".to_string();
        assert_eq!(plan.promotion, Promotion::Switchover { leader });
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn a_lagging_candidate_warns_and_an_unknown_lag_is_said() {
        let lagging = TWO.replace(r#""lag": 0"#, r#""lag": 19256528"#);
        let plan = cluster(&lagging).plan_promotion("node2", 1 << 20).unwrap();
        assert_eq!(
            plan.warnings,
            [
                "node2 lags 18.4 MiB behind the leader (more than the cluster's \
              maximum_lag_on_failover, 1.0 MiB): the switchover waits for it to catch up"
            ]
        );
        let unknown = TWO.replace(r#""lag": 0"#, r#""lag": "unknown""#);
        let plan = cluster(&unknown).plan_promotion("node2", 1 << 20).unwrap();
        assert_eq!(
            plan.warnings,
            ["node2's lag is unknown: Patroni cannot tell"]
        );
    }

    #[test]
    fn without_a_healthy_leader_it_is_a_failover() {
        let stopped = TWO.replace(r#""state": "running""#, r#""state": "stopped""#);
        let plan = cluster(&stopped).plan_promotion("node2", 1 << 20).unwrap();
        assert_eq!(plan.promotion, Promotion::Failover);
        assert!(plan.warnings[0].starts_with("no healthy leader"));
    }

    #[test]
    fn promotions_that_cannot_work_are_refused_with_the_reason() {
        let two = cluster(TWO);
        assert_eq!(
            two.plan_promotion("node1", 0).unwrap_err(),
            "node1 already leads the cluster"
        );
        assert_eq!(
            two.plan_promotion("node9", 0).unwrap_err(),
            "node9 is not a member of the cluster (node1, node2)"
        );
        let starting = TWO.replace(r#""state": "streaming""#, r#""state": "starting""#);
        assert_eq!(
            cluster(&starting).plan_promotion("node2", 0).unwrap_err(),
            "node2 is starting, not running: it cannot take over"
        );
        let tagged = TWO.replace(r#""lag": 0"#, r#""lag": 0, "tags": {"nofailover": true}"#);
        assert!(
            cluster(&tagged)
                .plan_promotion("node2", 0)
                .unwrap_err()
                .contains("nofailover")
        );
    }

    #[test]
    fn outside_words_are_cleaned_and_unknown_roles_kept() {
        let hostile =
            r#"{"members": [{"name": "n\u001b[2Jx", "role": "witness\n", "state": "ok"}]}"#;
        let member = &cluster(hostile).members[0];
        assert_eq!(member.name, "nx");
        assert_eq!(member.role, Role::Other("witness".into()));
    }
}
