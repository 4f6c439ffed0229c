//! Which system performs a command on its target: the protocol v1 source that reports it, or
//! the control plane behind it (a Patroni cluster promotes its members and does nothing
//! else). Commands a system cannot perform are refused here with the reason, before anything
//! is confirmed or sent; where commands are prepared this is the one call that decides.

use super::command::Command;
use super::fleet::SourceData;
use super::patroni::{ClusterRead, Promotion};
use super::preflight::{self, Preflight};

/// Who carries out a command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Performer<'a> {
    /// The protocol v1 source that reports the target.
    Native,
    /// The Patroni cluster behind the service, as last read.
    Patroni(&'a ClusterRead),
}

/// The one call where commands are prepared: which of `sources` performs `command` (asked of
/// `source`, the one that reports its target) and its preflight there, or why no one can.
/// A promotion of a member of a Patroni cluster goes to that cluster whichever source
/// reported the service; anything else asked of a Patroni source is refused.
pub fn prepare(
    sources: &[SourceData],
    source: usize,
    command: &Command,
) -> Result<(usize, Preflight), String> {
    let (source, by) = performer(sources, source, command)?;
    Ok((source, by.preflight(command, &sources[source])))
}

/// Who performs `command`, and at which source: see [`prepare`].
pub fn performer<'a>(
    sources: &'a [SourceData],
    source: usize,
    command: &Command,
) -> Result<(usize, Performer<'a>), String> {
    if let Command::Promote { service, replica } = command {
        let cluster = sources.iter().position(|s| {
            s.patroni.as_ref().is_some_and(|read| {
                read.service == *service && read.cluster.member(replica).is_some()
            })
        });
        if let Some(index) = cluster.or(sources[source].patroni.is_some().then_some(source)) {
            let read = sources[index].patroni.as_ref().expect("found by its read");
            return Ok((index, Performer::Patroni(read)));
        }
    }
    match &sources[source].patroni {
        None => Ok((source, Performer::Native)),
        Some(read) => Err(format!(
            "Patroni has no {}: source {} only promotes a member of {} (a switchover, or a \
             failover without a healthy leader)",
            command.kind().word(),
            sources[source].name,
            read.service
        )),
    }
}

impl Performer<'_> {
    /// The preflight of `command` as this performer would carry it out, against what
    /// `source` last reported.
    pub fn preflight(&self, command: &Command, source: &SourceData) -> Preflight {
        match self {
            Performer::Native => match &source.snapshot {
                Some(snapshot) => preflight::preflight(command, snapshot),
                None => refused(
                    command,
                    format!("source {} has reported no fleet yet", source.name),
                ),
            },
            Performer::Patroni(read) => patroni_preflight(read, command),
        }
    }
}

fn refused(command: &Command, why: String) -> Preflight {
    Preflight {
        summary: command.to_string(),
        errors: vec![why],
        ..Preflight::default()
    }
}

/// Patroni's plan of the promotion in preflight terms: a refusal blocks (it cannot be
/// overridden: Patroni would refuse it too), the plan's warnings (lag beyond
/// `maximum_lag_on_failover`, a failover) are shown.
fn patroni_preflight(read: &ClusterRead, command: &Command) -> Preflight {
    let Command::Promote { replica, .. } = command else {
        return refused(command, "Patroni performs only promotions".into());
    };
    // Patroni's plan knows members, not load: no headroom is claimed for it.
    let mut out = Preflight::default();
    match read.cluster.plan_promotion(replica, read.max_lag) {
        Ok(plan) => {
            out.summary = match &plan.promotion {
                Promotion::Switchover { leader } => format!(
                    "Patroni switchover of {}: {leader} hands over to {replica}; writes pause \
                     while {leader} restarts as a replica",
                    read.service
                ),
                Promotion::Failover => format!(
                    "Patroni failover of {}: {replica} takes over with no healthy leader",
                    read.service
                ),
            };
            out.warnings = plan.warnings;
        }
        Err(refusal) => {
            out.summary = format!("Patroni promotion of {replica} in {}", read.service);
            out.errors.push(refusal);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::patroni::{Cluster, Lag, Member, Role};
    use protocol::DegradedModeKind;

    fn member(name: &str, role: Role, state: &str, lag: Option<Lag>) -> Member {
        Member {
            name: name.into(),
            role,
            state: state.into(),
            timeline: Some(3),
            lag,
            no_failover: false,
        }
    }

    fn patroni_source(replica_state: &str, lag: u64) -> SourceData {
        let cluster = Cluster {
            members: vec![
                member("node1", Role::Leader, "running", None),
                member("node2", Role::Replica, replica_state, Some(Lag::Bytes(lag))),
            ],
        };
        let mut source = SourceData::new("orders-db", "http://127.0.0.1:8008");
        source.patroni = Some(ClusterRead {
            service: "orders".into(),
            cluster,
            max_lag: 1 << 20,
            regions: BTreeMap::new(),
            read_at: chrono::DateTime::UNIX_EPOCH,
        });
        source
    }

    fn promote(replica: &str) -> Command {
        Command::Promote {
            service: "orders".into(),
            replica: replica.into(),
        }
    }

    #[test]
    fn a_patroni_service_is_promoted_by_patroni_and_refuses_everything_else() {
        let native = SourceData::new("lab", "http://127.0.0.1:7300");
        let sources = [native, patroni_source("streaming", 0)];
        // Whichever source reported the service, its members are promoted by Patroni.
        for asked in [0, 1] {
            assert!(matches!(
                performer(&sources, asked, &promote("node2")),
                Ok((1, Performer::Patroni(_)))
            ));
        }
        // A replica Patroni does not know stays the protocol v1 source's.
        assert_eq!(
            performer(&sources, 0, &promote("orders-eu")),
            Ok((0, Performer::Native))
        );
        let degrade = Command::Degrade {
            service: "orders".into(),
            mode: DegradedModeKind::ReadOnly,
            enabled: true,
            expires_in_s: None,
        };
        let refusal = performer(&sources, 1, &degrade).unwrap_err();
        assert!(
            refusal.starts_with("Patroni has no degrade: source orders-db only promotes"),
            "{refusal}"
        );
        assert_eq!(performer(&sources, 0, &degrade), Ok((0, Performer::Native)));
    }

    #[test]
    fn the_preflight_is_patronis_plan_lag_warns_and_a_member_not_running_blocks() {
        let preflight =
            |source: SourceData, replica: &str| prepare(&[source], 0, &promote(replica)).unwrap().1;
        let healthy = preflight(patroni_source("streaming", 0), "node2");
        assert!(
            healthy.summary.contains("node1 hands over to node2"),
            "{healthy:?}"
        );
        assert!(
            !healthy.blocks() && healthy.warnings.is_empty(),
            "{healthy:?}"
        );

        let lagging = preflight(patroni_source("streaming", 19_256_528), "node2");
        assert!(!lagging.blocks(), "lag warns, it does not block");
        assert!(lagging.warnings[0].contains("lags 18.4 MiB"), "{lagging:?}");

        let starting = preflight(patroni_source("starting", 0), "node2");
        assert!(starting.blocks());
        assert_eq!(
            starting.errors,
            ["node2 is starting, not running: it cannot take over"]
        );
        let leader = preflight(patroni_source("streaming", 0), "node1");
        assert_eq!(leader.errors, ["node1 already leads the cluster"]);
    }
}
