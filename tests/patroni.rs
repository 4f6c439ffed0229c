//! The Patroni client against a real cluster (etcd and two PostgreSQL nodes under Patroni,
//! tests/patroni_support): members with role, state, timeline and lag; a lagging replica's
//! promotion warns; a switchover swaps the roles and is followed until the new leader runs; a
//! second console acting on what it read before the switchover is refused, naming who leads.

mod patroni_support;

use std::time::Duration;

use patroni_support::{Cluster as RealCluster, lag};
use switchboard::sources::Timeouts;
use switchboard::sources::patroni::{Lag, PatroniClient, PatroniError, Promotion, Role};
use switchboard::testing::free_port;

/// A switchover restarts the old leader: a few seconds; this bounds it.
const FOLLOW: Duration = Duration::from_secs(45);

fn client(cluster: &RealCluster) -> PatroniClient {
    let timeouts = Timeouts {
        request: Duration::from_secs(40),
        ..Timeouts::default()
    };
    PatroniClient::new(&cluster.api_urls(), timeouts).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn members_show_role_timeline_and_lag_and_a_lagging_candidate_warns() {
    let Some(real) = RealCluster::start() else {
        return;
    };
    let client = client(&real);
    let cluster = client.cluster().await.unwrap();
    let leader = cluster.member("node1").unwrap();
    assert_eq!((&leader.role, leader.running()), (&Role::Leader, true));
    assert_eq!(leader.lag, None);
    let replica = cluster.member("node2").unwrap();
    assert_eq!(replica.role, Role::Replica);
    assert_eq!(replica.lag, Some(Lag::Bytes(0)));
    assert_eq!(replica.timeline, leader.timeline);
    let max_lag = client.max_lag_on_failover().await.unwrap();
    assert_eq!(max_lag, 1_048_576, "the test cluster's config");
    let plan = cluster.plan_promotion("node2", max_lag).unwrap();
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);

    // The replica stops receiving while the leader writes: it falls behind.
    real.hold_replication(1, true);
    real.write(0, 300_000);
    real.wait_until("node2 lags more than 1 MiB", |m| {
        lag(m, "node2").is_some_and(|l| l > max_lag)
    });
    let cluster = client.cluster().await.unwrap();
    let plan = cluster.plan_promotion("node2", max_lag).unwrap();
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0].starts_with("node2 lags ")
            && plan.warnings[0].ends_with("the switchover waits for it to catch up"),
        "{:?}",
        plan.warnings
    );
    real.hold_replication(1, false);
    real.wait_until("node2 caught up", |m| lag(m, "node2") == Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_switchover_swaps_the_roles_and_a_console_acting_on_the_old_leader_is_refused() {
    let Some(real) = RealCluster::start() else {
        return;
    };
    let (first, second) = (client(&real), client(&real));
    let max_lag = first.max_lag_on_failover().await.unwrap();
    // Both consoles read the cluster and plan the same promotion.
    let before = first.cluster().await.unwrap();
    let plan = before.plan_promotion("node2", max_lag).unwrap();
    let stale = second
        .cluster()
        .await
        .unwrap()
        .plan_promotion("node2", max_lag)
        .unwrap();
    assert_eq!(
        plan.promotion,
        Promotion::Switchover {
            leader: "node1".into()
        }
    );

    let said = first.promote(&plan).await.unwrap();
    assert!(said.contains("node2"), "{said}");
    let after = first.follow("node2", FOLLOW).await.unwrap();
    let new_leader = after.member("node2").unwrap();
    assert!(new_leader.leads() && new_leader.running());
    // The old leader restarts as a replica, and the new timeline reaches /cluster shortly after.
    let old_timeline = before.member("node1").unwrap().timeline.unwrap();
    real.wait_until("node1 follows node2 on a new timeline", |m| {
        let follows = patroni_support::role_state(m, "node1")
            .is_some_and(|(role, state)| role == "replica" && state != "stopping");
        let moved_on = m.as_array().is_some_and(|members| {
            members
                .iter()
                .any(|x| x["name"] == "node2" && x["timeline"].as_u64() > Some(old_timeline))
        });
        follows && moved_on
    });
    let swapped = first.cluster().await.unwrap();
    let timeline = swapped.member("node2").unwrap().timeline;
    assert!(
        timeline > before.member("node1").unwrap().timeline,
        "{swapped:?}"
    );

    // The second console sends what it planned against node1: nothing changes.
    let error = second.promote(&stale).await.unwrap_err();
    assert_eq!(
        error,
        PatroniError::LeaderChanged {
            expected: "node1".into(),
            now: "node2 leads now".into()
        }
    );
    assert!(!error.outcome_unknown());
    let unchanged = second.cluster().await.unwrap();
    assert_eq!(unchanged.member("node2").unwrap().timeline, timeline);
    // And the plan a console makes now says node2 already leads.
    assert_eq!(
        unchanged.plan_promotion("node2", max_lag).unwrap_err(),
        "node2 already leads the cluster"
    );
}

#[tokio::test]
async fn with_no_member_answering_the_cluster_is_unreachable_naming_the_first() {
    let urls = [free_port(), free_port()].map(|port| format!("http://127.0.0.1:{port}"));
    let client = PatroniClient::new(&urls, Timeouts::default()).unwrap();
    let error = client.cluster().await.unwrap_err();
    let PatroniError::Unreachable { tried, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(*tried, 2);
    assert!(error.to_string().contains(&urls[0]), "{error}");
}

/// The worker of a Patroni source with no member answering: it says who it acts as, then
/// Down with Patroni's own error (the first member named) and a retry, never a hang.
#[tokio::test]
async fn the_worker_reports_a_cluster_out_of_reach_as_down_with_its_error() {
    use switchboard::sources::patroni::{PatroniSettings, PatroniSpec, spawn_patroni};
    use switchboard::sources::{SourceEvent, SourceMsg, SourceOptions};

    let urls = vec![format!("http://127.0.0.1:{}", free_port())];
    let spec = PatroniSpec {
        name: "orders-db".into(),
        urls: urls.clone(),
        credentials: Some("admin:secret".into()),
        settings: PatroniSettings {
            service: "orders".into(),
            members: Vec::new(),
            regions: Default::default(),
            poll_interval: Duration::from_secs(1),
        },
    };
    assert!(!format!("{spec:?}").contains("secret"), "{spec:?}");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<SourceMsg>(16);
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    spawn_patroni(spec, tx, shutdown, SourceOptions::default());
    let mut seen = Vec::new();
    let down = loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the worker reports within 10 s")
            .unwrap();
        assert_eq!(msg.source, "orders-db");
        match msg.event {
            SourceEvent::Down { error, kind, .. } => break (error, kind),
            SourceEvent::Identity(who) => seen.push(format!("identity {}", who.name)),
            SourceEvent::Connecting { attempt } => seen.push(format!("connecting {attempt}")),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(seen, ["identity patroni:admin", "connecting 1"]);
    assert!(
        down.0.starts_with("no Patroni member answered (1 tried)") && down.0.contains(&urls[0]),
        "{down:?}"
    );
    assert_eq!(down.1, switchboard::domain::fleet::DownKind::Unreachable);
}
