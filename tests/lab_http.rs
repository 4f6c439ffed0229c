//! The lab's protocol v1 over real HTTP on 127.0.0.1: snapshot, SSE resume, auth, errors,
//! roster presence. Each test starts its own lab on an OS-assigned port, at high speed.

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use switchboard::api::{
    BreakerState, FleetDelta, FleetSnapshot, Liveness, Operator, OperatorsChanged, PROBLEM_JSON,
    Problem, Resnapshot, Role, WhoAmI, event_name,
};
use switchboard::lab::{LabOptions, LabServer};

/// Bound on every wait, so that a broken lab fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(10);

/// `docs/openapi.yaml`: every answer in these tests is checked against it.
static SPEC: LazyLock<openapi::Spec> = LazyLock::new(openapi::Spec::load);

/// A JSON Schema checker for the keywords `docs/openapi.yaml` uses; it refuses others, so
/// that the spec cannot say more than is checked.
mod openapi {
    use serde_json::Value;

    pub struct Spec(Value);

    const IGNORED: &[&str] = &["description", "examples", "summary", "title"];

    impl Spec {
        pub fn load() -> Spec {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml");
            let text = std::fs::read_to_string(path).unwrap();
            Spec(serde_yaml_ng::from_str(&text).expect("docs/openapi.yaml is YAML"))
        }

        /// The schema of a `GET` answer, as the spec declares it.
        pub fn response(&self, path: &str, status: u16, media_type: &str) -> &Value {
            let operation = &self.0["paths"][path]["get"];
            assert!(operation.is_object(), "the spec has no GET {path}");
            let mut response = &operation["responses"][status.to_string()];
            if response.is_null() {
                response = &operation["responses"]["default"];
            }
            let response = self.resolve(response);
            let schema = &response["content"][media_type]["schema"];
            assert!(
                schema.is_object(),
                "the spec has no {media_type} {status} answer to GET {path}"
            );
            schema
        }

        pub fn schema(&self, name: &str) -> &Value {
            let schema = &self.0["components"]["schemas"][name];
            assert!(schema.is_object(), "the spec has no schema {name}");
            schema
        }

        pub fn assert_valid(&self, schema: &Value, value: &Value, what: &str) {
            let mut errors = Vec::new();
            self.check(schema, value, what.to_string(), &mut errors);
            assert!(
                errors.is_empty(),
                "{what} does not keep to docs/openapi.yaml:\n{}",
                errors.join("\n")
            );
        }

        fn resolve<'a>(&'a self, node: &'a Value) -> &'a Value {
            match node.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let pointer = reference.strip_prefix('#').expect("local $ref");
                    let target = self
                        .0
                        .pointer(pointer)
                        .unwrap_or_else(|| panic!("dangling $ref {reference}"));
                    self.resolve(target)
                }
                None => node,
            }
        }

        fn check(&self, schema: &Value, value: &Value, at: String, errors: &mut Vec<String>) {
            let keywords = schema.as_object().expect("a schema is an object");
            for (keyword, rule) in keywords {
                match keyword.as_str() {
                    "$ref" => self.check(self.resolve(schema), value, at.clone(), errors),
                    "type" => {
                        let ok = match rule.as_str().expect("one type") {
                            "object" => value.is_object(),
                            "array" => value.is_array(),
                            "string" => value.is_string(),
                            "number" => value.is_number(),
                            "integer" => value.is_u64() || value.is_i64(),
                            "boolean" => value.is_boolean(),
                            other => panic!("type {other} is not checked"),
                        };
                        if !ok {
                            errors.push(format!("{at}: {value} is not of type {rule}"));
                        }
                    }
                    "enum" => {
                        if !rule.as_array().unwrap().contains(value) {
                            errors.push(format!("{at}: {value} is not one of {rule}"));
                        }
                    }
                    "const" => {
                        if rule != value {
                            errors.push(format!("{at}: {value} is not {rule}"));
                        }
                    }
                    "minimum" | "maximum" | "exclusiveMinimum" => {
                        let (Some(bound), Some(number)) = (rule.as_f64(), value.as_f64()) else {
                            continue;
                        };
                        let ok = match keyword.as_str() {
                            "minimum" => number >= bound,
                            "maximum" => number <= bound,
                            _ => number > bound,
                        };
                        if !ok {
                            errors.push(format!("{at}: {number} breaks {keyword} {bound}"));
                        }
                    }
                    "format" => {
                        assert_eq!(rule, "date-time", "only date-time is checked");
                        let text = value.as_str().unwrap_or_default();
                        if chrono::DateTime::parse_from_rfc3339(text).is_err() {
                            errors.push(format!("{at}: {value} is not a date-time"));
                        }
                    }
                    "required" => {
                        for name in rule.as_array().unwrap() {
                            if value.get(name.as_str().unwrap()).is_none() {
                                errors.push(format!("{at}: lacks required {name}"));
                            }
                        }
                    }
                    "properties" => {
                        let Some(object) = value.as_object() else {
                            continue;
                        };
                        for (name, field) in object {
                            match rule.get(name) {
                                Some(field_schema) => {
                                    self.check(field_schema, field, format!("{at}.{name}"), errors)
                                }
                                None if keywords.get("additionalProperties")
                                    == Some(&Value::Bool(false)) =>
                                {
                                    errors.push(format!("{at}: {name} is not in the spec"));
                                }
                                None => {}
                            }
                        }
                    }
                    "items" => {
                        for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                            self.check(rule, item, format!("{at}[{i}]"), errors);
                        }
                    }
                    "additionalProperties" => {
                        assert_eq!(rule, &Value::Bool(false), "only `false` is checked")
                    }
                    ignored if IGNORED.contains(&ignored) => {}
                    other => panic!("schema keyword {other} is not checked"),
                }
            }
        }
    }
}

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
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    SPEC.assert_valid(SPEC.response(path, 200, "application/json"), &body, path);
    serde_json::from_value(body).unwrap()
}

/// Parses an event's data after checking it against the spec's schema `name`.
fn event_data<T: serde::de::DeserializeOwned>(event: &Event, name: &str) -> T {
    let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
    SPEC.assert_valid(SPEC.schema(name), &data, &format!("event {}", event.event));
    serde_json::from_value(data).unwrap()
}

async fn expect_problem(response: reqwest::Response, status: StatusCode) -> (Problem, HeaderMap) {
    assert_eq!(response.status(), status);
    let headers = response.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], PROBLEM_JSON);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    SPEC.assert_valid(SPEC.schema("Problem"), &body, "a problem");
    let problem: Problem = serde_json::from_value(body).unwrap();
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
        SPEC.response("/v1/health", 200, "application/json"),
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
