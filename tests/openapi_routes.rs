//! The routes the lab serves are exactly the paths of `docs/openapi.yaml`, and exactly
//! protocol v1's endpoint table: nothing missing either way. And every one of them is really
//! routed: a started lab answers each with something other than its unknown-route `404` or
//! wrong-method `405`. The spec's header patterns are what the lab accepts, and its model of
//! the event stream is what the lab sends.

mod lab_support;

use std::collections::BTreeSet;

use protocol::endpoints::{self, Endpoint, Method};
use reqwest::StatusCode;

use lab::topology::DEFAULT_TOPOLOGY_TOML;
use lab_support::{SPEC, client, next_event, open_events, send, start_lab};

/// The methods an OpenAPI path item may hold; its other members (`parameters`, ...) are not
/// operations.
const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

type Route = (String, String);

fn route(endpoint: &Endpoint) -> Route {
    (
        endpoint.method.as_str().to_string(),
        endpoint.path.to_string(),
    )
}

/// Every (method, path) of the spec's `paths`.
fn spec_routes() -> BTreeSet<Route> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let spec: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let paths = spec["paths"].as_mapping().expect("the spec has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let path = path.as_str().expect("a path is text").to_string();
            let methods = item.as_mapping().expect("a path item is a mapping");
            methods
                .keys()
                .filter_map(|method| method.as_str())
                .filter(|method| OPERATIONS.contains(method))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

#[test]
fn the_lab_serves_exactly_the_spec_and_the_endpoint_table() {
    let spec = spec_routes();
    let served = lab::http::served_endpoints();
    let served_routes: BTreeSet<Route> = served.iter().map(route).collect();
    assert_eq!(
        served_routes.len(),
        served.len(),
        "no route is served twice"
    );
    let missing: Vec<_> = spec.difference(&served_routes).collect();
    let unspecified: Vec<_> = served_routes.difference(&spec).collect();
    assert!(
        missing.is_empty() && unspecified.is_empty(),
        "in the spec but not served: {missing:?}; served but not in the spec: {unspecified:?}"
    );
    let table: BTreeSet<Route> = endpoints::ALL.iter().map(route).collect();
    assert_eq!(table, spec, "protocol::endpoints::ALL is the spec's paths");
}

#[tokio::test]
async fn every_served_route_is_routed() {
    let lab = start_lab(1.0, None).await;
    for endpoint in lab::http::served_endpoints() {
        let url = format!("{}{}", lab.url(), endpoint.path_for("x"));
        let request = match endpoint.method {
            Method::Get => client().get(url),
            Method::Post => client().post(url),
        };
        // No token: a 401 proves the route exists as well as a 200 does.
        let status = send(request).await.status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{} {} answers {status}",
            endpoint.method.as_str(),
            endpoint.path
        );
    }
    lab.shutdown().await;
}

/// Sends `request` with alice's token and a fresh key; the answer must be a success.
async fn act(lab: &lab::LabServer, request: reqwest::RequestBuilder) {
    let response = send(
        request
            .bearer_auth(lab.token_for("alice").unwrap())
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .header("content-type", "application/json"),
    )
    .await;
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn every_event_the_lab_sends_keeps_to_the_spec_model_of_its_name() {
    let spec_names: BTreeSet<String> = SPEC.events().into_keys().collect();
    let table: BTreeSet<String> = protocol::event_name::ALL.map(String::from).into();
    assert_eq!(
        spec_names, table,
        "the spec models every event name, no other"
    );

    // At 60x the region-down inject escalates tasks within a second or two; played as a
    // drill, its start is an `exercise.changed` event too; drains wait for a second operator,
    // so that a drain makes an `approval` event.
    let record_dir = tempfile::tempdir().unwrap();
    let topology = record_dir.path().join("topology.toml");
    let policy = "\n[approvals]\nverbs = [\"drain\"]\n";
    std::fs::write(&topology, format!("{DEFAULT_TOPOLOGY_TOML}{policy}")).unwrap();
    let options = lab::LabOptions {
        speed: 60.0,
        exercise: Some("region-down".into()),
        record_dir: Some(record_dir.path().to_path_buf()),
        topology: Some(topology),
        ..lab::LabOptions::default()
    };
    let lab = lab::LabServer::start(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let token = lab.token_for("alice").unwrap().to_string();
    let start = client()
        .post(format!("{}/v1/exercise/control", lab.url()))
        .bearer_auth(lab.token_for("facilitator").unwrap())
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .header("content-type", "application/json")
        .body(serde_json::json!({"control": {"action": "start"}}).to_string());
    assert!(send(start).await.status().is_success());
    let mut seen = BTreeSet::new();
    let check = |event: &eventsource_stream::Event| {
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        SPEC.assert_valid_event(&event.event, &event.id, &data);
        event.event.clone()
    };
    // Far ahead of the lab: the stream must start over with a resnapshot.
    let mut ahead = open_events(&lab, &token, Some("999999".into())).await;
    seen.insert(check(&next_event(&mut ahead).await));
    drop(ahead);

    let mut events = open_events(&lab, &token, Some("1".into())).await;
    let escalated = loop {
        let event = next_event(&mut events).await;
        seen.insert(check(&event));
        if event.event == protocol::escalations::EVENT_NEW {
            let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
            break data["id"].as_str().unwrap().to_string();
        }
    };
    let url = |action: &str| format!("{}/v1/escalations/{escalated}/{action}", lab.url());
    act(&lab, client().post(url("claim"))).await;
    act(&lab, client().post(url("release"))).await;
    act(&lab, client().post(url("claim"))).await;
    let abort = serde_json::json!({"resolution": {"kind": "abort"}, "note": "drill"});
    act(&lab, client().post(url("resolve")).body(abort.to_string())).await;
    let start = serde_json::json!({"runbook_id": "provider-outage", "runbook_version": 1});
    let runs = format!("{}/v1/runbook-runs", lab.url());
    act(&lab, client().post(runs).body(start.to_string())).await;
    let fleet = send(
        client()
            .get(format!("{}/v1/fleet", lab.url()))
            .bearer_auth(&token),
    )
    .await
    .bytes()
    .await
    .unwrap();
    let fleet: serde_json::Value = serde_json::from_slice(&fleet).unwrap();
    let revision = fleet["regions"][0]["control_revision"].as_u64().unwrap();
    let region = fleet["regions"][0]["id"].as_str().unwrap();
    let drain = client()
        .post(format!("{}/v1/regions/{region}/drain", lab.url()))
        .header("if-match", revision.to_string())
        .body(r#"{"reason": "drill"}"#);
    act(&lab, drain).await;
    while seen != spec_names {
        seen.insert(check(&next_event(&mut events).await));
    }
    lab.shutdown().await;
}

/// Values of each header parameter of the spec, valid and not: the spec's pattern and the
/// lab must agree on every one.
fn header_samples(name: &str) -> Vec<String> {
    let common = ["", " ", "é", "+3", "3x", "-1", "a b"].map(String::from);
    let specific: Vec<String> = match name {
        "Idempotency-Key" => vec!["k-1".into(), "x".repeat(128), "x".repeat(129)],
        "If-Match" => vec![
            "3".into(),
            "\"3\"".into(),
            "W/\"3\"".into(),
            "\"3".into(),
            "9".repeat(19),
            "9".repeat(20),
        ],
        "Last-Event-ID" => vec!["1".into(), "9".repeat(19), "9".repeat(20)],
        other => panic!("no samples for the header {other}: add some"),
    };
    common.into_iter().chain(specific).collect()
}

/// Whether the lab takes `value` for the header `name`: anything but a 400 naming it.
async fn lab_accepts(lab: &lab::LabServer, name: &str, value: &str) -> bool {
    let token = lab.token_for("alice").unwrap();
    let mut request = match name {
        "Last-Event-ID" => client().get(format!("{}/v1/events", lab.url())),
        _ => client()
            .post(format!("{}/v1/regions/us-east/drain", lab.url()))
            .header("content-type", "application/json")
            .body(r#"{"reason": "drill", "expires_in_s": 60}"#),
    };
    if name != "Idempotency-Key" {
        request = request.header("idempotency-key", uuid::Uuid::new_v4().to_string());
    }
    if name != "If-Match" {
        request = request.header("if-match", "999");
    }
    let value = reqwest::header::HeaderValue::from_bytes(value.as_bytes()).unwrap();
    let response = send(request.bearer_auth(token).header(name, value)).await;
    if response.status() != StatusCode::BAD_REQUEST {
        return true;
    }
    let problem: protocol::Problem =
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let detail = problem.detail.unwrap_or_default();
    assert!(detail.contains(name), "a 400 names the header: {detail}");
    false
}

#[tokio::test]
async fn header_patterns_of_the_spec_are_what_the_lab_accepts() {
    let lab = start_lab(1.0, None).await;
    let headers = SPEC.header_parameters();
    assert!(headers.contains_key("Idempotency-Key") && headers.contains_key("If-Match"));
    for (name, schema) in &headers {
        assert!(schema.get("pattern").is_some(), "{name} has a pattern");
        let pattern = regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
        for value in header_samples(name) {
            // Header values lose surrounding spaces on the wire.
            let sent = value.trim();
            assert_eq!(
                lab_accepts(&lab, name, &value).await,
                pattern.is_match(sent),
                "{name}: {value:?}"
            );
        }
    }
    lab.shutdown().await;
}
