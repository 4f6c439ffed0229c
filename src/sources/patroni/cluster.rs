//! Patroni's `/cluster` answer read into the console's model of a cluster
//! ([`crate::domain::patroni`]); every word from outside is cleaned and bounded here.

use serde::Deserialize;
use serde_json::Value;

pub use crate::domain::patroni::{Cluster, Lag, Member, Promotion, PromotionPlan, Role, bytes};
use crate::sources::error::bounded;

/// Reads a `/cluster` answer.
pub fn parse(json: &str) -> Result<Cluster, serde_json::Error> {
    serde_json::from_str::<ClusterWire>(json).map(Cluster::from)
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
        parse(json).unwrap()
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
        let member = &parse(hostile).unwrap().members[0];
        assert_eq!(member.name, "nx");
        assert_eq!(member.role, Role::Other("witness".into()));
    }
}
