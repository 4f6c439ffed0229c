//! Shared by the lab's HTTP test suites (`lab_http`, `lab_commands`, `lab_escalations`,
//! `openapi_routes`): a lab on 127.0.0.1, a client, event streams, and a checker that holds
//! every answer to `docs/openapi.yaml`. Each suite uses a different part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
use lab::{LabOptions, LabServer};
use protocol::{PROBLEM_JSON, Problem};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};

/// Bound on every wait, so that a broken lab fails the test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(10);

/// `docs/openapi.yaml`: every answer in these tests is checked against it.
pub static SPEC: LazyLock<openapi::Spec> = LazyLock::new(openapi::Spec::load);

/// A JSON Schema checker for the keywords `docs/openapi.yaml` uses; it refuses others, so
/// that the spec cannot say more than is checked.
pub mod openapi {
    use serde_json::Value;

    pub struct Spec(Value);

    const IGNORED: &[&str] = &["description", "examples", "summary", "title", "default"];

    impl Spec {
        pub fn load() -> Spec {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml");
            let text = std::fs::read_to_string(path).unwrap();
            Spec(serde_yaml_ng::from_str(&text).expect("docs/openapi.yaml is YAML"))
        }

        /// The schema of an answer to `method path` (`path` as the spec writes it, e.g.
        /// `/v1/regions/{id}/drain`), as the spec declares it.
        pub fn response(&self, method: &str, path: &str, status: u16, media_type: &str) -> &Value {
            let operation = &self.0["paths"][path][method];
            assert!(operation.is_object(), "the spec has no {method} {path}");
            let mut response = &operation["responses"][status.to_string()];
            if response.is_null() {
                response = &operation["responses"]["default"];
            }
            let response = self.resolve(response);
            let schema = &response["content"][media_type]["schema"];
            assert!(
                schema.is_object(),
                "the spec has no {media_type} {status} answer to {method} {path}"
            );
            schema
        }

        /// The schema of the JSON body `method path` takes.
        pub fn request(&self, method: &str, path: &str) -> &Value {
            let body = self.resolve(&self.0["paths"][path][method]["requestBody"]);
            let schema = &body["content"]["application/json"]["schema"];
            assert!(
                schema.is_object(),
                "the spec has no body for {method} {path}"
            );
            schema
        }

        /// Every header parameter of the spec, by name, with its schema (one per name).
        pub fn header_parameters(&self) -> std::collections::BTreeMap<String, Value> {
            let mut headers = std::collections::BTreeMap::new();
            let operations = self.0["paths"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|item| {
                    item.as_object()
                        .unwrap()
                        .values()
                        .filter(|op| op.is_object())
                });
            for operation in operations {
                let parameters = operation["parameters"].as_array().into_iter().flatten();
                for parameter in parameters.map(|p| self.resolve(p)) {
                    if parameter["in"] != "header" {
                        continue;
                    }
                    let name = parameter["name"].as_str().unwrap().to_string();
                    let schema = parameter["schema"].clone();
                    let earlier = headers.insert(name.clone(), schema.clone());
                    assert!(
                        earlier.is_none_or(|earlier| earlier == schema),
                        "{name} has two schemas"
                    );
                }
            }
            headers
        }

        /// The item schemas of the `/v1/events` stream, by event name.
        pub fn events(&self) -> std::collections::BTreeMap<String, &Value> {
            let stream = &self.0["paths"]["/v1/events"]["get"]["responses"]["200"]["content"]["text/event-stream"];
            let items = stream["x-item-schema"]["oneOf"]
                .as_array()
                .expect("the spec models the events");
            items
                .iter()
                .map(|item| {
                    let item = self.resolve(item);
                    let name = item["properties"]["event"]["const"].as_str().unwrap();
                    (name.to_string(), item)
                })
                .collect()
        }

        /// Checks one server-sent event against the spec's item schema of its name.
        pub fn assert_valid_event(&self, name: &str, id: &str, data: &Value) {
            let events = self.events();
            let item = events
                .get(name)
                .unwrap_or_else(|| panic!("the spec has no event {name:?}"));
            // A client keeps the last id it saw for the events without one (the SSE rule), so
            // only an event that must have an id is checked for it.
            let required = item["required"].as_array().unwrap();
            if required.contains(&Value::from("id")) {
                let id_schema = &item["properties"]["id"];
                self.assert_valid(id_schema, &Value::from(id), &format!("event {name} id"));
            }
            let data_schema = &item["properties"]["data"];
            assert_eq!(data_schema["contentMediaType"], "application/json");
            self.assert_valid(
                &data_schema["contentSchema"],
                data,
                &format!("event {name} data"),
            );
        }

        pub fn schema(&self, name: &str) -> &Value {
            let schema = &self.0["components"]["schemas"][name];
            assert!(schema.is_object(), "the spec has no schema {name}");
            schema
        }

        pub fn assert_valid(&self, schema: &Value, value: &Value, what: &str) {
            let errors = self.errors(schema, value, what);
            assert!(
                errors.is_empty(),
                "{what} does not keep to docs/openapi.yaml:\n{}",
                errors.join("\n")
            );
        }

        fn errors(&self, schema: &Value, value: &Value, at: &str) -> Vec<String> {
            let mut errors = Vec::new();
            self.check(schema, value, at.to_string(), &mut errors);
            errors
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
                    "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                        let (Some(bound), Some(number)) = (rule.as_f64(), value.as_f64()) else {
                            continue;
                        };
                        let ok = match keyword.as_str() {
                            "minimum" => number >= bound,
                            "maximum" => number <= bound,
                            "exclusiveMaximum" => number < bound,
                            _ => number > bound,
                        };
                        if !ok {
                            errors.push(format!("{at}: {number} breaks {keyword} {bound}"));
                        }
                    }
                    "minLength" | "maxLength" => {
                        let (Some(bound), Some(text)) = (rule.as_u64(), value.as_str()) else {
                            continue;
                        };
                        let length = text.chars().count() as u64;
                        let ok = if keyword == "minLength" {
                            length >= bound
                        } else {
                            length <= bound
                        };
                        if !ok {
                            errors.push(format!("{at}: length {length} breaks {keyword} {bound}"));
                        }
                    }
                    "pattern" => {
                        let Some(text) = value.as_str() else {
                            continue;
                        };
                        let pattern = regex::Regex::new(rule.as_str().unwrap()).unwrap();
                        if !pattern.is_match(text) {
                            errors.push(format!("{at}: {value} does not match {rule}"));
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
                            if let Some(field_schema) = rule.get(name) {
                                self.check(field_schema, field, format!("{at}.{name}"), errors);
                            }
                        }
                    }
                    "additionalProperties" => {
                        let Some(object) = value.as_object() else {
                            continue;
                        };
                        let listed = keywords.get("properties");
                        let others = object
                            .iter()
                            .filter(|(name, _)| listed.and_then(|l| l.get(name)).is_none());
                        for (name, field) in others {
                            match rule {
                                Value::Bool(false) => {
                                    errors.push(format!("{at}: {name} is not in the spec"))
                                }
                                Value::Object(_) => {
                                    self.check(rule, field, format!("{at}.{name}"), errors)
                                }
                                other => panic!("additionalProperties {other} is not checked"),
                            }
                        }
                    }
                    "oneOf" => {
                        let matching = rule
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter(|option| self.errors(option, value, &at).is_empty())
                            .count();
                        if matching != 1 {
                            errors.push(format!(
                                "{at}: {value} matches {matching} of the oneOf schemas, not 1"
                            ));
                        }
                    }
                    "items" => {
                        for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                            self.check(rule, item, format!("{at}[{i}]"), errors);
                        }
                    }
                    ignored if IGNORED.contains(&ignored) => {}
                    other => panic!("schema keyword {other} is not checked"),
                }
            }
        }
    }
}

pub async fn start_lab(speed: f64, scenario: Option<&str>) -> LabServer {
    let options = LabOptions {
        speed,
        scenario: scenario.map(Into::into),
        ..LabOptions::default()
    };
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    LabServer::start(options, loopback).await.unwrap()
}

/// A lab whose queue starts with `count` synthetic escalations (a backlog).
pub async fn start_lab_with_escalations(count: usize) -> LabServer {
    let options = LabOptions {
        escalations: count,
        ..LabOptions::default()
    };
    LabServer::start(options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Sends `request`, bounded by [`WAIT`].
pub async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    tokio::time::timeout(WAIT, request.send())
        .await
        .expect("answer in time")
        .unwrap()
}

pub async fn get(
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
    send(request).await
}

/// `GET path` as `token`: a 200 JSON answer, checked against the spec's answer to `spec_path`
/// (the path as the spec writes it).
pub async fn get_json_as<T: serde::de::DeserializeOwned>(
    lab: &LabServer,
    path: &str,
    spec_path: &str,
    token: &str,
) -> T {
    let response = get(lab, path, Some(token), HeaderMap::new()).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    SPEC.assert_valid(
        SPEC.response("get", spec_path, 200, "application/json"),
        &body,
        path,
    );
    serde_json::from_value(body).unwrap()
}

pub async fn get_json<T: serde::de::DeserializeOwned>(
    lab: &LabServer,
    path: &str,
    token: &str,
) -> T {
    get_json_as(lab, path, path, token).await
}

/// Parses an event's data after checking it against the spec's schema `name`, and the event
/// against the spec's model of its event name.
pub fn event_data<T: serde::de::DeserializeOwned>(event: &Event, name: &str) -> T {
    let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
    SPEC.assert_valid(SPEC.schema(name), &data, &format!("event {}", event.event));
    SPEC.assert_valid_event(&event.event, &event.id, &data);
    serde_json::from_value(data).unwrap()
}

pub async fn expect_problem(
    response: reqwest::Response,
    status: StatusCode,
) -> (Problem, HeaderMap) {
    assert_eq!(response.status(), status);
    let headers = response.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], PROBLEM_JSON);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    SPEC.assert_valid(SPEC.schema("Problem"), &body, "a problem");
    let problem: Problem = serde_json::from_value(body).unwrap();
    assert_eq!(problem.status, status.as_u16());
    (problem, headers)
}

pub async fn open_events(
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

pub async fn next_event(events: &mut (impl Stream<Item = Event> + Unpin)) -> Event {
    tokio::time::timeout(WAIT, events.next())
        .await
        .expect("an event in time")
        .expect("the stream stays open")
}

/// The lab's open (pending or claimed) escalations by priority, P1 first, as its API counts
/// them; asked again while it answers busy building its backlog.
pub async fn open_escalations_by_priority(lab: &LabServer, token: &str) -> [u64; 4] {
    let mut open = [0; 4];
    for (at, priority) in ["p1", "p2", "p3", "p4"].into_iter().enumerate() {
        let path = format!("/v1/escalations?state=pending,claimed&priority={priority}&limit=1");
        open[at] = loop {
            let response = get(lab, &path, Some(token), HeaderMap::new()).await;
            if response.status() == StatusCode::OK {
                let page: serde_json::Value =
                    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
                break page["total"].as_u64().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
    }
    open
}
