//! The lab's protocol v1 over real HTTP on 127.0.0.1: snapshot, SSE resume, auth, errors,
//! roster presence. Each test starts its own lab on an OS-assigned port, at high speed.

use std::net::SocketAddr;
use std::time::Duration;

use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use switchboard::api::{
    FleetDelta, FleetSnapshot, Liveness, Operator, OperatorsChanged, PROBLEM_JSON, Problem,
    Resnapshot, Role, WhoAmI, event_name,
};
use switchboard::lab::{LabOptions, LabServer};

/// Bound on every wait, so that a broken lab fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(10);

async fn start_lab(scenario: Option<&str>) -> LabServer {
    let options = LabOptions {
        speed: 60.0,
        scenario: scenario.map(Into::into),
        ..LabOptions::default()
    };
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    LabServer::start(options, loopback).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get(
    lab: &LabServer,
    path: &str,
    token: Option<&str>,
    headers: HeaderMap,
) -> reqwest::Response {
    let mut request = client()
        .get(format!("{}{path}", lab.url()))
        .headers(headers);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    tokio::time::timeout(WAIT, request.send())
        .await
        .expect("answer in time")
        .unwrap()
}

async fn get_json<T: serde::de::DeserializeOwned>(lab: &LabServer, path: &str, token: &str) -> T {
    let response = get(lab, path, Some(token), HeaderMap::new()).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

async fn expect_problem(response: reqwest::Response, status: StatusCode) -> (Problem, HeaderMap) {
    assert_eq!(response.status(), status);
    let headers = response.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], PROBLEM_JSON);
    let problem: Problem = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(problem.status, status.as_u16());
    (problem, headers)
}

async fn open_events(
    lab: &LabServer,
    token: &str,
    last_event_id: Option<String>,
) -> impl Stream<Item = Event> + Unpin + use<> {
    let mut headers = HeaderMap::new();
    if let Some(id) = last_event_id {
        headers.insert("last-event-id", id.parse().unwrap());
    }
    let response = get(lab, "/v1/events", Some(token), headers).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/event-stream");
    // A broken connection ends the stream; `next_event` then reports it.
    Box::pin(
        response
            .bytes_stream()
            .eventsource()
            .take_while(|event| futures::future::ready(event.is_ok()))
            .filter_map(|event| futures::future::ready(event.ok())),
    )
}

async fn next_event(events: &mut (impl Stream<Item = Event> + Unpin)) -> Event {
    tokio::time::timeout(WAIT, events.next())
        .await
        .expect("an event in time")
        .expect("the stream stays open")
}

/// The next `count` fleet deltas, skipping other events; checks each id is its revision.
async fn next_deltas(events: &mut (impl Stream<Item = Event> + Unpin), count: usize) -> Vec<u64> {
    let mut revisions = Vec::new();
    while revisions.len() < count {
        let event = next_event(events).await;
        if event.event == event_name::FLEET_DELTA {
            let delta: FleetDelta = serde_json::from_str(&event.data).unwrap();
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

#[tokio::test]
async fn a_too_old_or_future_last_event_id_gets_a_resnapshot() {
    let lab = start_lab(None).await;
    let token = lab.token_for("bob").unwrap();
    for last_event_id in ["0", "1000000000000"] {
        let mut events = open_events(&lab, token, Some(last_event_id.to_string())).await;
        let event = next_event(&mut events).await;
        assert_eq!(event.event, event_name::RESNAPSHOT, "after {last_event_id}");
        let resnapshot: Resnapshot = serde_json::from_str(&event.data).unwrap();
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
    let liveness: Liveness = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((liveness.status.as_str(), liveness.protocol), ("ok", 1));
    lab.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_problems() {
    let lab = start_lab(None).await;
    let token = lab.token_for("alice").unwrap();
    let response = get(&lab, "/v1/nowhere", Some(token), HeaderMap::new()).await;
    expect_problem(response, StatusCode::NOT_FOUND).await;
    let response = tokio::time::timeout(
        WAIT,
        client()
            .post(format!("{}/v1/fleet", lab.url()))
            .bearer_auth(token)
            .send(),
    )
    .await
    .unwrap()
    .unwrap();
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
                let changed: OperatorsChanged = serde_json::from_str(&event.data).unwrap();
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
    let token = lab.token_for("victor").unwrap();
    let snapshot: FleetSnapshot = get_json(&lab, "/v1/fleet", token).await;
    assert_eq!(
        snapshot.lab.unwrap().scenario.as_deref(),
        Some("provider-outage")
    );
    let mut events = open_events(&lab, token, Some(snapshot.revision.to_string())).await;
    let notice = tokio::time::timeout(WAIT, async {
        loop {
            let event = next_event(&mut events).await;
            if event.event != event_name::FLEET_DELTA {
                continue;
            }
            let delta: FleetDelta = serde_json::from_str(&event.data).unwrap();
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
