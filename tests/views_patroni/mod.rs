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
    let read = ClusterRead {
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
    };
    app.update(from_cluster(SourceEvent::Cluster(Box::new(read))));
    // The services view, on the cluster's row (after the lab's two services).
    app.update(key(KeyCode::Char('2')));
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Down));
    app
}

#[test]
fn the_members_show_as_the_services_replicas_with_lag_and_a_disagreement_at_100x30() {
    let app = with_cluster(100, 30, 19_256_528);
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("patroni credit-db · read"), "{screen}");
    assert!(
        screen.contains("lag 19256528 B (18.4 MiB) > max 1.0 MiB"),
        "{screen}"
    );
    assert!(
        screen.contains("≠ lab says us-east is active, Patroni says pg-eu leads in eu-west"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn patroni_down_greys_only_its_own_lines_and_says_why() {
    let mut app = with_cluster(100, 30, 0);
    app.update(from_cluster(SourceEvent::Down {
        error: "no Patroni member answered (1 tried): connection refused".into(),
        kind: DownKind::Unreachable,
        retry_in: Duration::from_secs(4),
    }));
    let buffer = render(&app, &dark());
    let screen = text(&buffer);
    assert!(
        screen.contains("patroni credit-db · DOWN: unreachable (no Patroni member answered"),
        "{screen}"
    );
    let (x, y) = find(&buffer, "pg-us").expect("the replica stays on screen");
    assert_eq!(buffer[(x, y)].fg, dark().stale.fg.unwrap(), "greyed");
    // The lab's service is still live: its row keeps its health.
    app.update(key(KeyCode::Up));
    app.update(key(KeyCode::Up));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("● ok"), "{screen}");
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
    // On the cluster's own row, the mode key finds nothing Patroni performs, and says why.
    app.update(key(KeyCode::Char('m')));
    let screen = text(&render(&app, &dark()));
    assert!(screen.contains("Patroni has no degrade"), "{screen}");
}
