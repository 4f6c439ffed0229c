//! The lab's protocol v1 over real HTTP on 127.0.0.1: snapshot, SSE resume, auth, errors,
//! roster presence. Each test starts its own lab on an OS-assigned port, at high speed.

mod lab_support;

use std::time::Duration;

use futures::{Stream, StreamExt};
use lab::LabServer;
use protocol::{
    BreakerState, FleetDelta, FleetSnapshot, Liveness, Operator, OperatorsChanged, Resnapshot,
    Role, WhoAmI, event_name,
};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};

use eventsource_stream::Event;
use lab_support::{
    SPEC, WAIT, client, event_data, expect_problem, get, get_json, next_event, open_events, send,
};

/// Speed of the labs in this suite.
const SPEED: f64 = 60.0;

async fn start_lab(scenario: Option<&str>) -> LabServer {
    lab_support::start_lab(SPEED, scenario).await
}

/// The next `count` fleet deltas, skipping other events; checks each id is its revision.
async fn next_deltas(events: &mut (impl Stream<Item = Event> + Unpin), count: usize) -> Vec<u64> {
    let mut revisions = Vec::new();
    while revisions.len() < count {
        let event = next_event(events).await;
        if event.event == event_name::FLEET_DELTA {
            let delta: FleetDelta = event_data(&event, "FleetDelta");
            assert_eq!(event.id, delta.revision.to_string());
            assert!(delta.lab.is_some());
            revisions.push(delta.revision);
        }
    }
    revisions
}

fn contiguous_from(first: u64, revisions: &[u64]) -> bool {
    revisions
        .iter()
        .enumerate()
        .all(|(i, r)| *r == first + i as u64)
}

/// Polls `GET /v1/operators` until `name`'s online flag is `online`.
async fn wait_for_online(lab: &LabServer, name: &str, online: bool) {
    let token = lab.token_for("alice").unwrap();
    tokio::time::timeout(WAIT, async {
        loop {
            let operators: Vec<Operator> = get_json(lab, "/v1/operators", token).await;
            if operators
                .iter()
                .any(|o| o.name == name && o.online == online)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{name} online={online} in time"));
}

#[tokio::test]
async fn snapshot_has_the_whole_fleet_and_a_rising_revision() {
    let lab = start_lab(None).await;
    let token = lab.token_for("victor").unwrap();
    let first: FleetSnapshot = get_json(&lab, "/v1/fleet", token).await;
    assert!(first.revision >= 1);
    assert_eq!(first.regions.len(), 4);
    assert_eq!(first.gateways.len(), 4);
    assert_eq!(first.services.len(), 5);
    assert!(first.providers.iter().any(|p| p.id == "openai@us-east"));
    // Nothing set by hand yet: every control revision starts at 1.
    assert!(
        first
            .regions
            .iter()
            .all(|r| r.control_revision == 1 && r.drain.is_none())
    );
    assert!(first.services.iter().all(|s| s.control_revision == 1));
    assert!(first.operations.is_empty());
    let info = first.lab.as_ref().unwrap();
    assert_eq!(
        (info.seed, info.speed, info.scenario.as_deref()),
        (42, 60.0, None)
    );
    let later = tokio::time::timeout(WAIT, async {
        loop {
            let snapshot: FleetSnapshot = get_json(&lab, "/v1/fleet", token).await;
            if snapshot.revision > first.revision {
                return snapshot;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the revision rises as the simulation ticks");
    assert!(later.lab.unwrap().sim_elapsed_s > info.sim_elapsed_s);
    lab.shutdown().await;
}

#[tokio::test]
async fn events_resume_after_a_reconnect_with_nothing_lost_or_repeated() {
    let lab = start_lab(None).await;
    let token = lab.token_for("bob").unwrap();
    let snapshot: FleetSnapshot = get_json(&lab, "/v1/fleet", token).await;

    let mut events = open_events(&lab, token, Some(snapshot.revision.to_string())).await;
    let first = next_deltas(&mut events, 5).await;
    assert!(
        contiguous_from(snapshot.revision + 1, &first),
        "{first:?} after {}",
        snapshot.revision
    );
    drop(events);

    // Let a few revisions pass while disconnected.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let last_seen = *first.last().unwrap();
    let mut events = open_events(&lab, token, Some(last_seen.to_string())).await;
    let second = next_deltas(&mut events, 8).await;
    assert!(
        contiguous_from(last_seen + 1, &second),
        "{second:?} after {last_seen}"
    );
    lab.shutdown().await;
}

/// A steady fleet is news only where a metric leaves its band: the stream carries far less
/// than the fleet each tick (it carried all of it, 4 times a second), yet a revision at least
/// every 2 seconds (the clock-only heartbeat), so a console never sees the source go stale.
#[tokio::test]
async fn a_steady_lab_streams_small_deltas_and_a_revision_every_two_seconds() {
    let lab = start_lab(None).await;
    let token = lab.token_for("bob").unwrap();
    let snapshot: FleetSnapshot = get_json(&lab, "/v1/fleet", token).await;
    let fleet_bytes = serde_json::to_string(&snapshot).unwrap().len();
    let mut events = open_events(&lab, token, Some(snapshot.revision.to_string())).await;
    let span = Duration::from_secs(5);
    let started = tokio::time::Instant::now();
    let (mut last, mut longest_gap, mut bytes, mut deltas) = (started, Duration::ZERO, 0, 0);
    while let Ok(Some(event)) = tokio::time::timeout_at(started + span, events.next()).await {
        if event.event == event_name::FLEET_DELTA {
            let _: FleetDelta = event_data(&event, "FleetDelta");
            longest_gap = longest_gap.max(last.elapsed());
            last = tokio::time::Instant::now();
            bytes += event.data.len();
            deltas += 1;
        }
    }
    longest_gap = longest_gap.max(last.elapsed());
    assert!(deltas >= 2, "{deltas} deltas in {span:?}");
    assert!(
        longest_gap <= Duration::from_millis(2600),
        "{longest_gap:?}"
    );
    // 20 ticks sent 20 fleets before. The lab's first seconds (health judged for the first
    // time, first loads) carry most objects once; a settled fleet then sends heartbeats only.
    assert!(
        bytes < 2 * fleet_bytes,
        "{bytes} B of deltas vs a {fleet_bytes} B fleet"
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn a_too_old_or_future_last_event_id_gets_a_resnapshot() {
    let lab = start_lab(None).await;
    let token = lab.token_for("bob").unwrap();
    for last_event_id in ["0", "1000000000000"] {
        let mut events = open_events(&lab, token, Some(last_event_id.to_string())).await;
        let event = next_event(&mut events).await;
        assert_eq!(event.event, event_name::RESNAPSHOT, "after {last_event_id}");
        let resnapshot: Resnapshot = event_data(&event, "Resnapshot");
        assert_eq!(event.id, resnapshot.revision.to_string());
        assert!(!resnapshot.reason.is_empty());
        // Then it goes on live, from the revision it named.
        let live = next_deltas(&mut events, 2).await;
        assert!(contiguous_from(resnapshot.revision + 1, &live), "{live:?}");
    }
    let mut headers = HeaderMap::new();
    headers.insert("last-event-id", "yesterday".parse().unwrap());
    let response = get(&lab, "/v1/events", Some(token), headers).await;
    let (problem, _) = expect_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(problem.detail.unwrap().contains("Last-Event-ID"));
    lab.shutdown().await;
}

#[tokio::test]
async fn missing_or_invalid_tokens_get_401_problems_with_a_bearer_challenge() {
    let lab = start_lab(None).await;
    for path in ["/v1/fleet", "/v1/events", "/v1/whoami", "/v1/operators"] {
        for token in [None, Some("sb_lab_alice_0000000000000000")] {
            let response = get(&lab, path, token, HeaderMap::new()).await;
            let (_, headers) = expect_problem(response, StatusCode::UNAUTHORIZED).await;
            let challenge = headers[WWW_AUTHENTICATE].to_str().unwrap();
            assert!(challenge.starts_with("Bearer "), "{path}: {challenge}");
            assert_eq!(
                challenge.contains("invalid_token"),
                token.is_some(),
                "{path}: {challenge}"
            );
        }
    }
    let response = get(&lab, "/v1/health", None, HeaderMap::new()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    SPEC.assert_valid(
        SPEC.response("get", "/v1/health", 200, "application/json"),
        &body,
        "/v1/health",
    );
    let liveness: Liveness = serde_json::from_value(body).unwrap();
    assert_eq!((liveness.status.as_str(), liveness.protocol), ("ok", 1));
    lab.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_problems() {
    let lab = start_lab(None).await;
    let token = lab.token_for("alice").unwrap();
    let response = get(&lab, "/v1/nowhere", Some(token), HeaderMap::new()).await;
    expect_problem(response, StatusCode::NOT_FOUND).await;
    let response = send(
        client()
            .post(format!("{}/v1/fleet", lab.url()))
            .bearer_auth(token),
    )
    .await;
    let (_, headers) = expect_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    assert!(headers["allow"].to_str().unwrap().contains("GET"));
    lab.shutdown().await;
}

#[tokio::test]
async fn whoami_names_the_holder_of_each_token() {
    let lab = start_lab(None).await;
    let expected = [
        ("alice", Role::Admin),
        ("bob", Role::Operator),
        ("victor", Role::Viewer),
    ];
    assert_eq!(lab.operators.len(), expected.len());
    for (name, role) in expected {
        let token = lab.token_for(name).unwrap();
        assert!(token.starts_with(&format!("sb_lab_{name}_")));
        let who: WhoAmI = get_json(&lab, "/v1/whoami", token).await;
        assert_eq!((who.name.as_str(), who.role), (name, role));
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn an_operator_is_online_while_their_stream_is_open() {
    let lab = start_lab(None).await;
    let operators: Vec<Operator> =
        get_json(&lab, "/v1/operators", lab.token_for("victor").unwrap()).await;
    let names: Vec<(&str, bool, bool)> = operators
        .iter()
        .map(|o| (o.name.as_str(), o.on_call, o.online))
        .collect();
    assert_eq!(
        names,
        [
            ("alice", true, false),
            ("bob", true, false),
            ("victor", false, false)
        ]
    );

    let mut watcher = open_events(&lab, lab.token_for("alice").unwrap(), None).await;
    let bob_stream = open_events(&lab, lab.token_for("bob").unwrap(), None).await;
    wait_for_online(&lab, "bob", true).await;
    // Other streams hear of it as an `operators` event.
    let announced = tokio::time::timeout(WAIT, async {
        loop {
            let event = next_event(&mut watcher).await;
            if event.event == event_name::OPERATORS {
                let changed: OperatorsChanged = event_data(&event, "OperatorsChanged");
                if changed
                    .operators
                    .iter()
                    .any(|o| o.name == "bob" && o.online)
                {
                    return changed;
                }
            }
        }
    })
    .await
    .expect("an operators event announcing bob");
    assert!(
        announced
            .operators
            .iter()
            .any(|o| o.name == "alice" && o.online)
    );

    drop(bob_stream);
    wait_for_online(&lab, "bob", false).await;
    lab.shutdown().await;
}

#[tokio::test]
async fn a_shipped_scenario_by_name_raises_its_inject_notice() {
    let lab = start_lab(Some("provider-outage")).await;
    assert!(
        lab.briefing()
            .unwrap()
            .contains("OpenAI's us-east deployment")
    );
    let token = lab.token_for("victor").unwrap();
    let snapshot: FleetSnapshot = get_json(&lab, "/v1/fleet", token).await;
    assert_eq!(
        snapshot.lab.unwrap().scenario.as_deref(),
        Some("provider-outage")
    );
    // From the first revision: the inject may have fired before the snapshot was taken.
    let mut events = open_events(&lab, token, Some("1".to_string())).await;
    let notice = tokio::time::timeout(WAIT, async {
        loop {
            let event = next_event(&mut events).await;
            if event.event != event_name::FLEET_DELTA {
                continue;
            }
            let delta: FleetDelta = event_data(&event, "FleetDelta");
            if let Some(notice) = delta
                .notices
                .into_iter()
                .find(|n| n.text.contains("inject:"))
            {
                return (notice, delta.providers);
            }
        }
    })
    .await
    .expect("the inject fires within the first sim-minute");
    let (notice, providers) = notice;
    assert!(
        notice.text.contains("openai@us-east outage"),
        "{}",
        notice.text
    );
    // Its effect is in the same delta.
    let openai = providers.iter().find(|p| p.id == "openai@us-east").unwrap();
    assert!(openai.error_rate > 0.5);
    // Soon the breaker opens and the gateway falls back; the snapshot (checked against the
    // spec, optional fields included) says why.
    let snapshot = tokio::time::timeout(WAIT, async {
        loop {
            let snapshot: FleetSnapshot = get_json(&lab, "/v1/fleet", token).await;
            let openai = snapshot
                .providers
                .iter()
                .find(|p| p.id == "openai@us-east")
                .unwrap();
            if openai.breaker.state == BreakerState::Open {
                return snapshot;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the breaker opens within seconds");
    let openai = snapshot
        .providers
        .iter()
        .find(|p| p.id == "openai@us-east")
        .unwrap();
    assert!(openai.breaker.reason.is_some() && openai.breaker.until.is_some());
    let gateway = snapshot
        .gateways
        .iter()
        .find(|g| g.region == "us-east")
        .unwrap();
    let fallback = gateway
        .last_fallback
        .as_ref()
        .expect("the gateway fell back");
    assert_eq!(
        (fallback.service.as_str(), fallback.from.as_str()),
        ("risk-scorer", "openai@us-east")
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let lab = start_lab(None).await;
    let mut events = open_events(&lab, lab.token_for("bob").unwrap(), None).await;
    next_event(&mut events).await;
    tokio::time::timeout(WAIT, lab.shutdown())
        .await
        .expect("shutdown in time");
    let ended = tokio::time::timeout(WAIT, async { while events.next().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the stream ends when the lab stops");
}
