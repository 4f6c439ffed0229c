//! Issue 11: a service backed by a Patroni cluster. Its members show in the services view as
//! the service's leader and replicas (role, state, timeline, region, lag in bytes and as a
//! size against `maximum_lag_on_failover`) with the source's name and age; the lab placing the
//! active replica elsewhere is written out as a disagreement; Patroni down greys only its own
//! lines; the promotion's confirmation shows Patroni's plan, and what Patroni cannot do is
//! refused with the reason.

use std::collections::BTreeMap;

use super::*;
use switchboard::domain::patroni::{Cluster, ClusterRead, Lag, Member, Role as PatroniRole};
use switchboard::sources::SourceMsg;

const CLUSTER: &str = "credit-db";

fn from_cluster(event: SourceEvent) -> Msg {
    Msg::Source(SourceMsg {
        source: CLUSTER.into(),
        event,
    })
}

fn member(name: &str, role: PatroniRole, state: &str, lag: Option<Lag>) -> Member {
    Member {
        name: name.into(),
        role,
        state: state.into(),
        timeline: Some(3),
        lag,
        no_failover: false,
    }
}

/// The lab's small fleet (credit-decision active in us-east) beside the Patroni cluster that
/// backs credit-decision, whose leader the user mapped to eu-west, the replica `lag` behind.
fn with_cluster(width: u16, height: u16, lag: u64) -> App {
    let mut app = app(width, height, Instant::now());
    app.add_patroni_source(CLUSTER, "http://127.0.0.1:8008", Duration::from_secs(5));
    app.update(from_cluster(SourceEvent::Cluster(Box::new(cluster_read(
        lag,
    )))));
    // The services view, on credit-decision (the lab's second service).
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Down));
    app
}

fn cluster_read(lag: u64) -> ClusterRead {
    ClusterRead {
        service: "credit-decision".into(),
        cluster: Cluster {
            members: vec![
                member("pg-eu", PatroniRole::Leader, "running", None),
                member(
                    "pg-us",
                    PatroniRole::Replica,
                    "streaming",
                    Some(Lag::Bytes(lag)),
                ),
            ],
        },
        max_lag: 1 << 20,
        regions: BTreeMap::from([
            ("pg-eu".to_string(), "eu-west".to_string()),
            ("pg-us".to_string(), "us-east".to_string()),
        ]),
        read_at: fixture_wall(),
    }
}

/// A source out of reach, tried again in 4 s.
fn unreachable(error: &str) -> SourceEvent {
    SourceEvent::Down {
        error: error.into(),
        kind: DownKind::Unreachable,
        retry_in: Duration::from_secs(4),
    }
}

/// The lines of the services list (between its header and its bottom border).
fn service_rows(screen: &str) -> Vec<&str> {
    (screen.lines())
        .skip_while(|line| !line.contains("SERVICE"))
        .skip(1)
        .take_while(|line| !line.starts_with('└'))
        .collect()
}

/// The lab and Patroni both report credit-decision: one row, whose pane holds the lab's
/// replicas under `source lab` and Patroni's members under `patroni credit-db`, each with its
/// age, and where they place the active replica differently, the disagreement written out.
#[test]
fn a_service_both_sources_report_is_one_row_with_each_sources_facts_at_100x30() {
    let app = with_cluster(100, 30, 19_256_528);
    let screen = text(&render(&app, &dark()));
    let rows = service_rows(&screen);
    let named = |id: &str| rows.iter().filter(|r| r.contains(id)).count();
    assert_eq!(named("credit-decision"), 1, "{screen}");
    assert_eq!(rows.len(), 2, "{screen}");
    assert!(screen.contains("source lab · live"), "{screen}");
    assert!(
        screen.contains("us-east   active"),
        "the lab's replicas: {screen}"
    );
    assert!(
        screen.contains("patroni credit-db · read 0s ago"),
        "{screen}"
    );
    assert!(
        screen.contains("pg-us      replica        streaming"),
        "Patroni's members: {screen}"
    );
    assert!(
        screen.contains("≠ lab says us-east is active, Patroni says pg-eu leads in eu-west"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

/// On the service's one row, Patroni down greys its members and says why; the lab's
/// replicas beside them stay live, and so does the row's health.
#[test]
fn patroni_down_greys_only_its_own_lines_in_the_services_one_row() {
    let mut app = with_cluster(100, 30, 0);
    app.update(from_cluster(unreachable(
        "no Patroni member answered (1 tried): connection refused",
    )));
    let buffer = render(&app, &dark());
    let screen = text(&buffer);
    assert!(
        screen.contains("patroni credit-db · DOWN: unreachable (no Patroni member answered"),
        "{screen}"
    );
    let stale = dark().stale.fg.unwrap();
    let (x, y) = find(&buffer, "pg-us").expect("the replica stays on screen");
    assert_eq!(buffer[(x, y)].fg, stale, "greyed");
    let (x, y) = find(&buffer, "us-east   active").expect("the lab's replica");
    assert_ne!(
        buffer[(x, y)].fg,
        stale,
        "the lab's facts stay live: {screen}"
    );
    assert!(screen.contains("source lab · live"), "{screen}");
    assert!(screen.contains("● ok"), "{screen}");
}

/// The lab gone: on the service's one row its replicas grey, Patroni's members stay live.
#[test]
fn the_lab_down_greys_only_its_replicas_in_the_services_one_row() {
    let mut app = with_cluster(100, 30, 0);
    app.update(source(unreachable("connection refused")));
    let buffer = render(&app, &dark());
    let screen = text(&buffer);
    let stale = dark().stale.fg.unwrap();
    let (x, y) = find(&buffer, "us-east   active").expect("the lab's replica");
    assert_eq!(buffer[(x, y)].fg, stale, "greyed: {screen}");
    assert!(screen.contains("source lab · STALE"), "{screen}");
    let (x, y) = find(&buffer, "pg-us").expect("Patroni's replica");
    assert_ne!(
        buffer[(x, y)].fg,
        stale,
        "Patroni's facts stay live: {screen}"
    );
}

#[test]
fn the_promotion_confirmation_shows_patronis_plan_and_its_lag_warning_at_100x30() {
    let mut app = with_cluster(100, 30, 19_256_528);
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "promote pg-us");
    app.update(key(KeyCode::Enter));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("pg-eu hands over to"), "{screen}");
    assert!(
        !screen.contains("keeps headroom"),
        "Patroni knows no load: {screen}"
    );
    assert!(screen.contains("pg-us lags 18.4 MiB"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn what_patroni_cannot_do_is_refused_with_the_reason() {
    let mut app = with_cluster(100, 30, 0);
    app.update(key(KeyCode::Char(':')));
    type_text(&mut app, "degrade credit-decision read-only on");
    app.update(key(KeyCode::Enter));
    let screen = text(&render(&app, &dark()));
    // The lab reports credit-decision too: it performs the degrade.
    assert!(screen.contains("Confirm: degrade"), "{screen}");
    app.update(key(KeyCode::Esc));
    // A service only the cluster reports has its own row: the mode key finds nothing Patroni
    // performs there, and says why.
    let mut read = cluster_read(0);
    read.service = "ledger".into();
    app.update(from_cluster(SourceEvent::Cluster(Box::new(read))));
    app.update(key(KeyCode::End));
    app.update(key(KeyCode::Char('m')));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("Patroni has no degrade"), "{screen}");
}

/// On the service's one row, the menu offers Patroni's members beside the lab's replicas,
/// and promoting one goes to Patroni.
#[test]
fn the_one_rows_menu_promotes_patronis_members_through_patroni() {
    let mut app = with_cluster(100, 30, 0);
    app.update(key(KeyCode::Char('a')));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("promote credit-decision/pg-us"), "{screen}");
}
